import { get, post, ApiError } from '/console/api.js';
import { h, mount, table, when } from '/console/dom.js';

const ROLES = [
  ['admin_agent', 'Admin agent'],
  ['billing_admin', 'Billing admin'],
  ['user_management_admin', 'User management admin'],
  ['global_admin', 'Global admin'],
];

/** The users and a form to add one (Manage users). */
export async function users(me) {
  const root = h('section', { id: 'users-page' });
  async function render(message) {
    const { users: list } = await get('/users');
    mount(root,
      h('h1', {}, 'Users'),
      table(['User', 'Role', 'Scope', 'Created', 'State'],
        list.map((u) => [h('span', { class: 'user-name' }, u.username), u.role.replaceAll('_', ' '),
          u.reseller_mpn_id ? `reseller ${u.reseller_mpn_id}` : 'partner-wide', when(u.created_at), u.disabled ? 'disabled' : 'active'])),
      h('h2', {}, 'Add a user'),
      message ? h('p', { class: message.error ? 'error' : 'ok', id: message.error ? 'user-error' : 'user-added' }, message.text) : null,
      addForm(me, async (body) => {
        try {
          const v = await post('/users', body);
          await render({ text: `User ${v.username} added (${v.role.replaceAll('_', ' ')}).` });
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          await render({ error: true, text: e.message });
        }
      }));
  }
  await render();
  return root;
}

function addForm(me, submit) {
  const username = h('input', { id: 'new-username', required: true, autocomplete: 'off', maxlength: 64 });
  const role = h('select', { id: 'new-role' },
    ROLES.filter(([r]) => r !== 'global_admin' || me.role === 'global_admin').map(([v, label]) => h('option', { value: v }, label)));
  const reseller = h('input', { id: 'new-reseller', placeholder: 'partner-wide', value: me.reseller_mpn_id || '',
    readonly: me.reseller_mpn_id ? true : undefined });
  const password = h('input', { id: 'new-password', type: 'password', required: true, minlength: 10, autocomplete: 'new-password' });
  return h('form', { class: 'stack', id: 'user-form', onsubmit: (ev) => {
    ev.preventDefault();
    submit({ username: username.value.trim(), role: role.value, reseller_mpn_id: reseller.value.trim() || null, password: password.value });
  } },
  h('label', {}, 'Username', username), h('label', {}, 'Role', role),
  h('label', {}, 'Reseller MPN ID (empty: partner-wide)', reseller),
  h('label', {}, 'Password (at least 10 characters; give it to the user by a separate channel)', password),
  h('div', {}, h('button', { type: 'submit', id: 'add-user' }, 'Add user')));
}
