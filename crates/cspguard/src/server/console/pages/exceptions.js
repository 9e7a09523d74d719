import { get, post, ApiError } from '/console/api.js';
import { h, mount, money, when, table, wide, customerLink, brief } from '/console/dom.js';

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

/** One case's claim: each eligibility rule pass/fail, the deadline and days left, totals, the request's status; with
 * Billing, opening the request, taking lines out of the claim or back in, and downloading its package. */
export async function exceptionCheck(me, target) {
  const root = h('section', { id: 'exception-check' });
  async function render(message) {
    const x = await get(`/exceptions/check/${encodeURIComponent(target)}`);
    const r = x.request && x.request.case_id === x.case_id ? x.request : null;
    const other = x.request && !r ? x.request : null;
    const billing = me.may('billing');
    const act = async (fn, done) => {
      try {
        const v = await fn();
        await render({ text: done(v) });
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        await render({ error: true, text: e.message });
      }
    };
    mount(root,
      h('h1', {}, `Exception request · ${x.case_id}`),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Customer'), h('dd', {}, customerLink(me, x.customer_tenant_id, x.customer_name)),
        h('dt', {}, 'Eligible'), h('dd', { id: 'eligible', class: x.eligible ? 'ok' : 'bad' }, x.eligible ? 'yes' : 'no'),
        h('dt', {}, 'Filing deadline'), h('dd', {}, deadlineText(x.deadline)),
        h('dt', {}, 'First fraudulent usage'), h('dd', {}, x.first_fraudulent_usage || '—'),
        h('dt', {}, 'Claim window'), h('dd', {}, x.claim_window ? `${x.claim_window[0]} – ${x.claim_window[1]}` : '—'),
        h('dt', {}, 'Claim'), h('dd', { id: 'claim-total' }, `${money(x.totals.total)} over ${x.totals.lines} line(s)`),
        h('dt', {}, 'Request'), h('dd', { id: 'request-status' }, r ? `${r.id} · ${r.status}${r.ticket ? ` · ticket ${r.ticket}` : ''}${r.credited ? ` · credited ${money(r.credited)}` : ''}`
          : other ? `none for this case: the customer used its one request (${other.id}, case ${other.case_id}, ${other.status})` : 'none yet')),
      message ? h('p', { class: message.error ? 'error' : 'ok', id: 'status-message' }, message.text) : null,
      !r && !other && billing ? h('p', {}, h('button', { id: 'open-request', onclick: () => act(
        () => post('/exceptions', { case: x.case_id }), (v) => `Opened ${v.request.id} (draft).`) }, 'Open the request'),
      h('span', { class: 'muted small' }, ' Microsoft grants one request per customer tenant, ever.')) : null,
      r && billing ? downloads(r) : null,
      h('h2', {}, 'Eligibility rules'),
      table(['Rule', 'Result', 'Why'],
        x.rules.map((q) => [q.rule, h('span', { class: q.pass ? 'pass' : 'fail' }, q.pass ? 'pass' : 'fail'), q.reason]),
        (i) => (x.rules[i].pass ? undefined : 'breached')),
      r && billing ? statusForm(r, (body) => act(() => post(`/exceptions/${encodeURIComponent(r.id)}/status`, body),
        (v) => `Recorded: ${v.request.status}${v.warning ? ` (warning: ${v.warning})` : ''}`)) : null,
      claimLines(x, r && billing && r.status === 'draft' ? (line, included, reason) => act(
        () => post(`/exceptions/${encodeURIComponent(r.id)}/lines/${encodeURIComponent(line)}`, { included, reason }),
        (v) => `Line ${v.line.id} ${included ? 'included' : 'excluded'}.`) : null));
  }
  await render();
  return root;
}

/** Links to the package's files (the server builds each on request and audits it). */
function downloads(r) {
  const base = `/api/v1/exceptions/${encodeURIComponent(r.id)}/package`;
  const link = (f, label) => h('a', { href: `${base}/${f}`, download: '', id: `download-${f}`, class: 'download' }, label);
  return h('div', { id: 'package' }, h('h2', {}, 'Package for Microsoft'),
    h('p', {}, link('pdf', 'PDF document'), ' · ', link('csv', 'Charges (CSV)'), ' · ', link('md', 'Markdown'), ' · ',
      link('json', 'Evidence (JSON)')));
}

/** The lines of days 1-30, in or out of the claim and why; on a draft, each can be taken out or put back in with a reason. */
function claimLines(x, decide) {
  const lines = x.lines || [];
  if (!lines.length) return h('div', {}, h('h2', {}, 'Claim lines'), h('p', { class: 'muted' }, 'No usage line in the claim window.'));
  const reason = h('input', { id: 'line-reason', placeholder: 'Reason (goes into the claim and the audit log)', size: 50 });
  const err = h('span', { class: 'error', id: 'line-error' });
  const toggle = (l) => h('button', { class: `secondary line-toggle ${l.included ? 'exclude' : 'include'}`, 'data-line': l.id,
    onclick: () => {
      if (!reason.value.trim()) {
        err.textContent = ' Give a reason first.';
        reason.focus();
        return;
      }
      decide(l.id, !l.included, reason.value.trim());
    } }, l.included ? 'Exclude' : 'Include');
  return h('div', { id: 'claim-lines' },
    h('h2', {}, `Claim lines (${lines.filter((l) => l.included).length} of ${lines.length} in)`),
    decide ? h('p', {}, reason, err) : null,
    h('div', { class: 'scroll tall' }, table(['Line', 'Day ', 'Date', 'Meter', 'Region', 'Cost ', 'In', 'Why', ''],
      lines.map((l) => [h('span', { class: 'mono' }, l.id), l.day, h('span', { class: 'nowrap' }, l.usage_date),
        `${l.meter_category} / ${l.meter_name}`, l.region, h('span', { class: 'nowrap' }, money(l.cost)),
        h('span', { class: l.included ? 'pass line-state' : 'fail line-state', 'data-line': l.id }, l.included ? 'in' : 'out'),
        brief(`${l.reason}${l.overridden_by ? ` (by ${l.overridden_by})` : ''}`, 110), decide ? toggle(l) : '']),
      (i) => (lines[i].included ? undefined : 'excluded'))));
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
