import { get, post, ApiError } from '/console/api.js';
import { h, mount, money, when, table, wide, customerLink } from '/console/dom.js';

function checkLink(target, label) {
  return h('a', { href: `#/exceptions/${encodeURIComponent(target)}`, class: 'check-link' }, label || target);
}

/** Microsoft fraud-credit exception requests, and the cases that could make one (Billing). */
export async function exceptions(me) {
  const [{ requests }, { cases }] = await Promise.all([get('/exceptions'), me.may('read_cases') ? get('/cases') : { cases: [] }]);
  const fraud = cases.filter((c) => c.verdict === 'fraud');
  const candidates = (fraud.length ? fraud : cases).slice(0, 25);
  const target = h('input', { id: 'check-target', placeholder: 'Case ID (CS-…) or customer tenant ID', required: true, size: 44 });
  return h('section', { id: 'exceptions-page' },
    h('h1', {}, 'Exception requests'),
    h('p', { class: 'muted' }, 'Microsoft grants each customer tenant one fraud-credit exception request, filed within 60 days of the first fraudulent usage.'),
    h('h2', {}, 'Requests'),
    wide(['Request', 'Customer', 'Case', 'Status', 'Ticket', 'Claimed ', 'Credited ', 'Updated'],
      requests.map((r) => [h('span', { class: 'mono' }, r.id), customerLink(me, r.customer_tenant_id, r.customer_name),
        checkLink(r.case_id), h('span', { class: `status-${r.status}` }, r.status), r.ticket || '—', money(r.claimed_total),
        money(r.credited), when(r.updated_at)])),
    h('h2', {}, 'Check a case'),
    h('form', { class: 'inline', id: 'check-form', onsubmit: (ev) => { ev.preventDefault(); if (target.value.trim()) location.hash = `#/exceptions/${encodeURIComponent(target.value.trim())}`; } },
      target, h('button', { type: 'submit', id: 'check-case' }, 'Check')),
    h('h2', {}, fraud.length ? 'Cases resolved as fraud' : 'Recent cases'),
    table(['Case', 'Customer', 'Kind', 'Status', 'Money at risk ', ''],
      candidates.map((c) => [c.id, customerLink(me, c.customer_tenant_id, c.customer_name), c.kind, c.status,
        money(c.money_at_risk), checkLink(c.id, 'Eligibility')])));
}

function deadlineText(d) {
  if (!d) return h('span', { class: 'muted' }, 'unknown (no first fraudulent usage found)');
  const cls = d.passed ? 'bad' : d.warn ? 'warn' : 'ok';
  const left = d.passed ? `passed ${-d.days_left} day(s) ago` : `${d.days_left} day(s) left`;
  return h('span', { class: cls, id: 'deadline' }, `${d.deadline} · ${left}`);
}

/** One case's claim: each eligibility rule pass/fail, the deadline and days left, totals, and the request's status. */
export async function exceptionCheck(me, target) {
  const root = h('section', { id: 'exception-check' });
  async function render(message) {
    const x = await get(`/exceptions/check/${encodeURIComponent(target)}`);
    const r = x.request && x.request.case_id === x.case_id ? x.request : null;
    mount(root,
      h('h1', {}, `Exception request · ${x.case_id}`),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Customer'), h('dd', {}, customerLink(me, x.customer_tenant_id, x.customer_name)),
        h('dt', {}, 'Eligible'), h('dd', { id: 'eligible', class: x.eligible ? 'ok' : 'bad' }, x.eligible ? 'yes' : 'no'),
        h('dt', {}, 'Filing deadline'), h('dd', {}, deadlineText(x.deadline)),
        h('dt', {}, 'First fraudulent usage'), h('dd', {}, x.first_fraudulent_usage || '—'),
        h('dt', {}, 'Claim window'), h('dd', {}, x.claim_window ? `${x.claim_window[0]} – ${x.claim_window[1]}` : '—'),
        h('dt', {}, 'Claim'), h('dd', {}, `${money(x.totals.total)} over ${x.totals.lines} line(s)`),
        h('dt', {}, 'Request'), h('dd', { id: 'request-status' }, r ? `${r.id} · ${r.status}${r.ticket ? ` · ticket ${r.ticket}` : ''}${r.credited ? ` · credited ${money(r.credited)}` : ''}` : 'none yet (`cspguard exception open CASE` opens the draft)')),
      h('h2', {}, 'Eligibility rules'),
      table(['Rule', 'Result', 'Why'],
        x.rules.map((q) => [q.rule, h('span', { class: q.pass ? 'pass' : 'fail' }, q.pass ? 'pass' : 'fail'), q.reason]),
        (i) => (x.rules[i].pass ? undefined : 'breached')),
      message ? h('p', { class: message.error ? 'error' : 'ok', id: 'status-message' }, message.text) : null,
      r && me.may('billing') ? statusForm(r, async (body) => {
        try {
          const v = await post(`/exceptions/${encodeURIComponent(r.id)}/status`, body);
          await render({ text: `Recorded: ${v.request.status}${v.warning ? ` (warning: ${v.warning})` : ''}` });
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          await render({ error: true, text: e.message });
        }
      }) : null);
  }
  await render();
  return root;
}

function statusForm(r, submit) {
  const status = h('select', { id: 'status-select' },
    h('option', { value: 'submitted' }, 'Submitted'), h('option', { value: 'approved' }, 'Approved'), h('option', { value: 'denied' }, 'Denied'));
  const ticket = h('input', { id: 'status-ticket', placeholder: 'Ticket (submitted)' });
  const credited = h('input', { id: 'status-credited', placeholder: 'Credited amount (approved)' });
  const note = h('input', { id: 'status-note', placeholder: 'Note (optional)' });
  return h('div', {}, h('h2', {}, 'Record the status'),
    h('form', { class: 'inline', id: 'status-form', onsubmit: (ev) => {
      ev.preventDefault();
      submit({ status: status.value, ticket: ticket.value || null, credited: credited.value || null, note: note.value || null });
    } }, status, ticket, credited, note, h('button', { type: 'submit', id: 'status-save' }, 'Save')));
}
