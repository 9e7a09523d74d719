import { get, post, api, ApiError } from '/console/api.js';
import { h, mount, table, when } from '/console/dom.js';

const ROLES = [
  ['admin_agent', 'Admin agent'],
  ['billing_admin', 'Billing admin'],
  ['user_management_admin', 'User management admin'],
  ['global_admin', 'Global admin'],
];

/** The users with Disable/Enable, their API tokens with Revoke, a form to create a token (shown once) and one to add a
 * user (Manage users). Only a global admin changes a global admin; nobody disables themself. */
export async function users(me) {
  const root = h('section', { id: 'users-page' });
  async function render(message) {
    const { users: list } = await get('/users');
    const mayChange = (u) => u.role !== 'global_admin' || me.role === 'global_admin';
    const act = async (fn, done) => {
      try {
        const v = await fn();
        await render(done(v));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        await render({ error: true, text: e.message });
      }
    };
    const u = encodeURIComponent;
    const stateButton = (x) => {
      if (!mayChange(x) || x.username === me.username) return '';
      return x.disabled
        ? h('button', { class: 'secondary enable-user', 'data-user': x.username,
          onclick: () => act(() => post(`/users/${u(x.username)}/enable`), () => ({ text: `User ${x.username} enabled.` })) }, 'Enable')
        : h('button', { class: 'secondary disable-user', 'data-user': x.username,
          onclick: () => act(() => post(`/users/${u(x.username)}/disable`),
            () => ({ text: `User ${x.username} disabled: signed out everywhere, API tokens refused.` })) }, 'Disable');
    };
    const tokens = list.flatMap((x) => (x.tokens || []).map((t) => ({ ...t, user: x })));
    mount(root,
      h('h1', {}, 'Users'),
      message && !message.token ? h('p', { class: message.error ? 'error' : 'ok',
        id: message.error ? 'user-error' : message.added ? 'user-added' : 'user-message' }, message.text) : null,
      table(['User', 'Role', 'Scope', 'Created', 'State', ''],
        list.map((x) => [h('span', { class: 'user-name' }, x.username), x.role.replaceAll('_', ' '),
          x.reseller_mpn_id ? `reseller ${x.reseller_mpn_id}` : 'partner-wide', when(x.created_at),
          h('span', { class: `user-state ${x.disabled ? 'bad' : 'ok'}`, 'data-user': x.username }, x.disabled ? 'disabled' : 'active'),
          stateButton(x)]),
        (i) => (list[i].disabled ? 'disabled' : undefined)),
      h('h2', {}, 'API tokens'),
      message && message.token ? h('div', { class: 'token-once', id: 'token-created' },
        h('strong', {}, `Token "${message.token.name}" for ${message.token.username} (ID ${message.token.id}). Copy it now: it is not shown again.`),
        h('code', { id: 'new-token-value' }, message.token.token)) : null,
      table(['User', 'Name', 'ID', 'Created', ''],
        tokens.map((t) => [t.user.username, t.name, h('span', { class: 'mono token-id' }, t.id), when(t.created_at),
          mayChange(t.user) ? h('button', { class: 'secondary revoke-token', 'data-id': t.id, 'data-user': t.user.username,
            onclick: () => act(() => api('DELETE', `/users/${u(t.user.username)}/tokens/${u(t.id)}`),
              (v) => ({ text: `Token ${v.id} (${v.name}) of ${v.username} revoked.` })) }, 'Revoke') : ''])),
      tokenForm(list.filter((x) => !x.disabled && mayChange(x)), (username, name) => act(
        () => post(`/users/${u(username)}/tokens`, { name }), (v) => ({ token: v }))),
      h('h2', {}, 'Add a user'),
      addForm(me, (body) => act(() => post('/users', body),
        (v) => ({ text: `User ${v.username} added (${v.role.replaceAll('_', ' ')}).`, added: true }))));
  }
  await render();
  return root;
}

function tokenForm(people, submit) {
  const user = h('select', { id: 'token-user', 'aria-label': 'User' }, people.map((x) => h('option', { value: x.username }, x.username)));
  const name = h('input', { id: 'token-name', placeholder: 'Name (which machine or job uses it)', value: 'api', maxlength: 64 });
  return h('form', { class: 'inline', id: 'token-form', onsubmit: (ev) => { ev.preventDefault(); submit(user.value, name.value.trim() || 'api'); } },
    h('label', { for: 'token-user', class: 'inline-label' }, 'New token for'), user, name,
    h('button', { type: 'submit', id: 'create-token', disabled: people.length ? undefined : true }, 'Create token'));
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
