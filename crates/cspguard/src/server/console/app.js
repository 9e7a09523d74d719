// The console's shell: who is signed in, the navigation their role allows, and a hash router over the pages.
import { get, api, ApiError } from '/console/api.js';
import { h, mount } from '/console/dom.js';
import { signin } from '/console/pages/signin.js';
import { dashboard } from '/console/pages/dashboard.js';
import { cases } from '/console/pages/cases.js';
import { casePage } from '/console/pages/case.js';
import { customers } from '/console/pages/customers.js';
import { customer } from '/console/pages/customer.js';
import { audit } from '/console/pages/audit.js';
import { receivables } from '/console/pages/receivables.js';
import { exceptions, exceptionCheck } from '/console/pages/exceptions.js';
import { report } from '/console/pages/report.js';
import { rules } from '/console/pages/rules.js';
import { users } from '/console/pages/users.js';

// Set after a successful sign-in, so a fresh visit shows the sign-in form without a request that would answer 401.
const SIGNED_IN = 'cspguard.signed_in';

// Pages in the navigation, each with the permission that lets a role see it.
const PAGES = [
  { path: 'dashboard', label: 'Dashboard', need: 'read_cases', render: dashboard },
  { path: 'cases', label: 'Cases', need: 'read_cases', render: cases },
  { path: 'customers', label: 'Customers', need: 'read_customers', render: customers },
  { path: 'receivables', label: 'Receivables & credit', need: 'billing', render: receivables },
  { path: 'exceptions', label: 'Exceptions', need: 'billing', render: exceptions },
  { path: 'report', label: 'Report', need: 'billing', render: report },
  { path: 'rules', label: 'Rules', need: 'read_cases', render: rules },
  { path: 'audit', label: 'Audit', need: 'read_audit', render: audit },
  { path: 'users', label: 'Users', need: 'manage_users', render: users },
];
// Detail pages: reached by links, same permission as their list.
const DETAILS = { cases: casePage, customers: customer, exceptions: exceptionCheck };

let me = null;

async function loadMe() {
  if (!sessionStorage.getItem(SIGNED_IN)) return null;
  try {
    const m = await get('/me');
    const perms = new Set(m.permissions || []);
    return { ...m, may: (p) => perms.has(p) };
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      sessionStorage.removeItem(SIGNED_IN);
      return null;
    }
    throw e;
  }
}

function renderChrome(active) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!me) {
    mount(nav);
    mount(who);
    return;
  }
  mount(nav, PAGES.filter((p) => me.may(p.need)).map((p) =>
    h('a', { href: `#/${p.path}`, class: p.path === active ? 'active' : undefined, 'data-page': p.path }, p.label)));
  mount(who,
    h('span', { id: 'whoami' }, `${me.username} · ${me.role.replaceAll('_', ' ')}`,
      me.reseller_mpn_id ? ` · reseller ${me.reseller_mpn_id}` : ''),
    h('button', { id: 'signout', class: 'secondary', onclick: signOut }, 'Sign out'));
}

async function signOut() {
  try {
    await api('DELETE', '/session');
  } finally {
    sessionStorage.removeItem(SIGNED_IN);
    me = null;
    location.hash = '#/signin';
    route();
  }
}

function home() {
  const first = me && PAGES.find((p) => me.may(p.need));
  return first ? first.path : 'signin';
}

async function route() {
  const main = document.getElementById('main');
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (!me) me = await loadMe();
  if (!me) {
    renderChrome(null);
    mount(main, signin(async () => {
      sessionStorage.setItem(SIGNED_IN, '1');
      me = await loadMe();
      location.hash = `#/${home()}`;
      route();
    }));
    return;
  }
  const page = PAGES.find((p) => p.path === parts[0]);
  if (!page || !me.may(page.need)) {
    location.replace(`#/${home()}`);
    return;
  }
  renderChrome(page.path);
  mount(main, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const view = parts[1] && DETAILS[page.path] ? await DETAILS[page.path](me, parts[1]) : await page.render(me);
    mount(main, view);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      sessionStorage.removeItem(SIGNED_IN);
      me = null;
      route();
      return;
    }
    const msg = e instanceof ApiError && e.status === 404 ? 'Not found (or not visible to you).' : `Error: ${e.message}`;
    mount(main, h('p', { class: 'error', id: 'page-error' }, msg));
  }
}

window.addEventListener('hashchange', route);
route();
