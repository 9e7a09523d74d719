import { get } from '/console/api.js';
import { h, money, when, clock, sev, table, customerLink } from '/console/dom.js';

/** Every visible case, newest first. */
export async function cases(me) {
  const { cases: list } = await get('/cases');
  const breached = (c) => c.status !== 'resolved' && c.sla && (c.sla.respond.breached || c.sla.mitigate.breached);
  return h('section', {},
    h('h1', {}, 'Cases'),
    table(['Case', 'Opened', 'Severity', 'Customer', 'Kind', 'Status', 'Money at risk ', 'Respond', 'Mitigate'],
      list.map((c) => [h('a', { href: `#/cases/${encodeURIComponent(c.id)}`, class: 'case-link' }, c.id), when(c.opened_at),
        sev(c.severity), customerLink(me, c.customer_tenant_id, c.customer_name), c.kind, c.status, money(c.money_at_risk),
        clock(c.sla.respond), clock(c.sla.mitigate)]),
      (i) => (breached(list[i]) ? 'breached' : undefined)));
}
