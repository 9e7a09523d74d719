import { get, post } from '/console/api.js';
import { h, mount, money, when, clock, sev, table, customerLink } from '/console/dom.js';

function actionLabel(k) {
  const t = k.type || '?';
  const target = k.subscription_id || k.channel || k.user_id || k.status || k.amount || '';
  return target ? `${t} (${target})` : t;
}

/** One case: header, evidence, timeline, checklist, notes, actions with Approve, resolve. */
export async function casePage(me, id) {
  const root = h('section', { id: 'case-page' });
  const path = `/cases/${encodeURIComponent(id)}`;
  async function render(flash) {
    const c = await get(path);
    const open = c.status !== 'resolved';
    const works = me.may('work_cases');
    const [{ alerts }, people] = await Promise.all([
      me.may('read_alerts') ? get(`/alerts?customer=${encodeURIComponent(c.customer_tenant_id)}`) : { alerts: [] },
      works && open ? get(`${path}/assignees`) : null,
    ]);
    const mine = alerts.filter((a) => c.alert_ids.includes(a.id));
    const act = async (fn) => {
      try {
        await fn();
        await render();
      } catch (e) {
        await render(e.message);
      }
    };
    mount(root,
      h('h1', {}, `Case ${c.id}`),
      flash ? h('p', { class: 'error', id: 'case-error' }, flash) : null,
      h('dl', { class: 'kv', id: 'case-header' },
        h('dt', {}, 'Customer'), h('dd', {}, customerLink(me, c.customer_tenant_id, c.customer_name)),
        h('dt', {}, 'Status'), h('dd', { id: 'case-status' }, c.status, c.verdict ? ` · verdict ${c.verdict}` : ''),
        h('dt', {}, 'Severity'), h('dd', {}, sev(c.severity), ` score ${c.score}`),
        h('dt', {}, 'Kind'), h('dd', {}, c.kind, c.microsoft_alerted ? ' · Microsoft alerted' : ''),
        h('dt', {}, 'Money at risk'), h('dd', {}, money(c.money_at_risk)),
        h('dt', {}, 'Respond SLA'), h('dd', {}, clock(c.sla.respond), ` (due ${when(c.sla.respond.due)})`),
        h('dt', {}, 'Mitigate SLA'), h('dd', {}, clock(c.sla.mitigate), ` (due ${when(c.sla.mitigate.due)})`),
        h('dt', {}, 'Assignee'), h('dd', { id: 'case-assignee' }, c.assignee || '—'),
        h('dt', {}, 'First evidence'), h('dd', {}, when(c.first_evidence_at))),
      people ? assignForm(me, c, people.assignees, (assignee) => act(() => post(`${path}/assign`, { assignee }))) : null,
      h('h2', {}, 'Actions'),
      table(['Action', 'State', 'Approvals ', 'Reason', ''],
        (c.actions || []).map((a) => [
          actionLabel(a.kind), a.state + (a.dry_run ? ' (dry run)' : ''),
          h('span', { class: 'approvals', 'data-key': a.key }, `${a.approvals.length}/${a.approvals_required}`),
          h('span', { class: 'small' }, a.reason, a.last_error ? h('span', { class: 'error' }, ` ${a.last_error}`) : null),
          me.may('approve_actions') && a.state === 'awaiting_approval'
            ? h('button', { class: 'approve', 'data-key': a.key,
              onclick: () => act(() => post(`/actions/${encodeURIComponent(a.key)}/approve`)) }, 'Approve')
            : '',
        ])),
      h('h2', {}, 'Evidence'),
      mine.length ? mine.map((a) => h('div', { class: 'evidence' },
        h('div', {}, sev(a.severity), ` ${a.kind} · ${a.origin} · fired ${when(a.fired_at)}`),
        h('p', {}, a.explanation.summary),
        h('p', { class: 'small muted' }, a.explanation.rule, ' ', a.explanation.money),
        h('ul', { class: 'plain small' }, a.explanation.signals.map((s) =>
          h('li', {}, `${when(s.at)} · ${s.detector} (+${s.points}): ${s.summary}`)))))
        : h('p', { class: 'muted' }, 'No alert details visible.'),
      h('div', { class: 'grid2' },
        h('div', {},
          h('h2', {}, 'Checklist'),
          h('ul', { class: 'plain', id: 'checklist' }, c.checklist.map((i) => h('li', {},
            h('label', { class: 'step' },
              h('input', { type: 'checkbox', class: 'tick', 'data-step': i.id, checked: Boolean(i.done_at),
                disabled: Boolean(i.done_at) || !works,
                title: i.done_at ? undefined : works ? 'Tick: done by you, now' : 'Your role cannot tick steps',
                onchange: () => act(() => post(`${path}/checklist/${encodeURIComponent(i.id)}`)) }),
              h('span', {}, i.text)),
            i.done_by ? h('span', { class: 'muted small done-by' }, ` — ${i.done_by}, ${when(i.done_at)}`) : null))),
          h('h2', {}, 'Notes'),
          h('ul', { class: 'plain', id: 'notes' }, c.notes.length ? c.notes.map((n) =>
            h('li', {}, h('span', { class: 'muted small' }, `${n.by}, ${when(n.at)}: `), n.text)) : h('li', { class: 'muted' }, 'No notes.')),
          me.may('work_cases') && open ? noteForm((text) => act(() => post(`${path}/notes`, { text }))) : null,
          me.may('work_cases') && open ? resolveForm((verdict, note) => act(() => post(`${path}/resolve`, { verdict, note: note || null }))) : null),
        h('div', {},
          h('h2', {}, 'Timeline'),
          h('ul', { class: 'plain timeline small' }, (c.timeline || []).map((e) =>
            h('li', {}, h('span', { class: 'muted' }, `${when(e.at)} · ${e.kind}: `), e.summary))))));
  }
  await render();
  return root;
}

/** Assign to me or to a user who may work this case (the server lists them); the current assignee is preselected. */
function assignForm(me, c, people, submit) {
  const names = new Set(people.map((u) => u.username));
  const select = h('select', { id: 'assignee-select', 'aria-label': 'Assignee' },
    h('option', { value: me.username }, `me (${me.username})`),
    people.filter((u) => u.username !== me.username).map((u) =>
      h('option', { value: u.username }, `${u.username} · ${u.role.replaceAll('_', ' ')}${u.reseller_mpn_id ? ` · reseller ${u.reseller_mpn_id}` : ''}`)),
    c.assignee && !names.has(c.assignee) && c.assignee !== me.username ? h('option', { value: c.assignee }, c.assignee) : null);
  if (c.assignee) select.value = c.assignee;
  return h('form', { class: 'inline', id: 'assign-form', onsubmit: (ev) => { ev.preventDefault(); submit(select.value); } },
    h('label', { for: 'assignee-select', class: 'inline-label' }, 'Assign to'), select, h('button', { type: 'submit', id: 'assign' }, 'Assign'));
}

function noteForm(submit) {
  const text = h('textarea', { id: 'note-text', placeholder: 'Add a note', required: true });
  return h('form', { class: 'inline', id: 'note-form', onsubmit: (ev) => { ev.preventDefault(); if (text.value.trim()) submit(text.value.trim()); } },
    text, h('button', { type: 'submit', id: 'add-note' }, 'Add note'));
}

function resolveForm(submit) {
  const verdict = h('select', { id: 'verdict' },
    h('option', { value: 'legitimate' }, 'Legitimate'), h('option', { value: 'fraud' }, 'Fraud'), h('option', { value: 'ignore' }, 'Ignore'));
  const note = h('input', { id: 'resolve-note', placeholder: 'Why (optional)' });
  return h('div', {}, h('h2', {}, 'Resolve'),
    h('form', { class: 'inline', id: 'resolve-form', onsubmit: (ev) => { ev.preventDefault(); submit(verdict.value, note.value); } },
      verdict, note, h('button', { type: 'submit', id: 'resolve' }, 'Resolve')));
}
