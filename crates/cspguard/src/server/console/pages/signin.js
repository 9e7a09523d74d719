import { api, ApiError } from '/console/api.js';
import { h } from '/console/dom.js';

/** The sign-in form; `done` runs once the session cookie is set. */
export function signin(done) {
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'error', id: 'signin-error' });
  const form = h('form', {
    class: 'signin',
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      try {
        await api('POST', '/session', { username: user.value, password: pass.value });
        await done();
      } catch (e) {
        err.textContent = e instanceof ApiError && e.status === 401 ? 'Wrong username or password.' : e.message;
      }
    },
  },
  h('h1', {}, 'Sign in to cspguard'),
  h('label', { for: 'username' }, 'Username'), user,
  h('label', { for: 'password' }, 'Password'), pass,
  h('button', { type: 'submit', id: 'signin' }, 'Sign in'),
  err);
  return form;
}
