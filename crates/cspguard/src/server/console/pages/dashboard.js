import { get } from '/console/api.js';
import { h, money, when, clock, sev, table, customerLink, brief } from '/console/dom.js';

function caseLink(id) {
  return h('a', { href: `#/cases/${encodeURIComponent(id)}` }, id);
}

/** Exposure, open cases by severity with SLA clocks, recent alerts, and the lead over Microsoft's alerts. */
export async function dashboard(me) {
  const d = await get('/dashboard');
  const nonzero = d.exposure.money_at_risk.filter((m) => Number(m.amount) !== 0);
  const risk = nonzero.length ? nonzero.map(money).join(' + ') : '0';
  const lead = d.earlier_than_microsoft;
  const breached = (c) => c.sla && ((c.sla.respond && c.sla.respond.breached) || (c.sla.mitigate && c.sla.mitigate.breached));
  const sevs = ['critical', 'high', 'medium', 'low'];
  return h('section', {},
    h('h1', {}, 'Dashboard'),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Money at risk (open cases)'), h('div', { class: 'value', id: 'money-at-risk' }, risk)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Open cases'), h('div', { class: 'value', id: 'open-cases' }, d.exposure.open_cases)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'SLA breached'),
        h('div', { class: d.exposure.sla_breached ? 'value bad' : 'value' }, d.exposure.sla_breached)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Earlier than Microsoft (median)'),
        h('div', { class: 'value', id: 'lead' }, lead.median_lead_hours === null ? '—' : `${lead.median_lead_hours.toFixed(1)} h`),
        h('div', { class: 'small muted' }, `${lead.earlier} of ${lead.linked} linked incidents caught first`))),
    h('h2', {}, 'Open cases by severity'),
    h('div', { class: 'cards' }, sevs.map((s) =>
      h('div', { class: 'card' }, h('div', { class: 'label' }, s), h('div', { class: 'value' }, d.by_severity[s] || 0)))),
    h('h2', {}, 'Open cases'),
    table(['Case', 'Severity', 'Customer', 'Kind', 'Status', 'Money at risk ', 'Respond', 'Mitigate'],
      d.open_cases.map((c) => [caseLink(c.id), sev(c.severity), customerLink(me, c.customer_tenant_id, c.customer_name),
        c.kind, c.status, money(c.money_at_risk), clock(c.sla && c.sla.respond), clock(c.sla && c.sla.mitigate)]),
      (i) => (breached(d.open_cases[i]) ? 'breached' : undefined)),
    h('div', { class: 'grid2' },
      h('div', {}, h('h2', {}, 'Recent alerts'),
        table(['Fired', 'Severity', 'Customer', 'Kind', 'Origin'],
          d.recent_alerts.map((a) => [when(a.fired_at), sev(a.severity), customerLink(me, a.customer_tenant_id, a.customer_name),
            a.kind, a.origin]))),
      h('div', {}, h('h2', {}, 'Caught before Microsoft'),
        table(['Customer', 'Kind', 'Lead ', 'Why'],
          lead.incidents.slice(0, 15).map((x) => [customerLink(me, x.customer_tenant_id, x.customer_name), x.kind,
            h('span', { class: x.lead_hours > 0 ? 'ok' : 'warn' }, `${x.lead_hours.toFixed(1)} h`),
            brief(x.summary)])))));
}
