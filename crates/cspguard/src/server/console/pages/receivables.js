import { get } from '/console/api.js';
import { h, money, wide, customerLink } from '/console/dom.js';
import { usageBar } from '/console/chart.js';

const AGING = ['current', '1-30', '31-60', '61-90', '90+'];

function agingRows(rows, label) {
  return rows.map((r) => [label(r), r.currency, ...AGING.map((b) => money(r[b])), money(r.open), r.overdue_invoices,
    r.dso_days === null || r.dso_days === undefined ? '—' : Number(r.dso_days).toFixed(1)]);
}

const AGING_HEAD = ['Currency', 'Current ', '1-30 ', '31-60 ', '61-90 ', '90+ ', 'Open ', 'Overdue ', 'DSO '];

/** The aging of receivables and each customer's exposure against its credit limit (Billing). */
export async function receivables(me) {
  const [r, c] = await Promise.all([get('/receivables'), get('/credit')]);
  const names = new Map(c.customers.map((x) => [x.customer_tenant_id, x.name]));
  const breaches = new Set(c.breaches);
  const exposures = [...c.customers].sort((a, b) => Number(b.utilization_pct ?? -1) - Number(a.utilization_pct ?? -1));
  const byCustomer = r.by_customer.filter((x) => Number(x.open.amount) > 0)
    .sort((a, b) => Number(b.open.amount) - Number(a.open.amount));
  const overdue = r.open_invoices.filter((l) => l.status === 'overdue');
  return h('section', { id: 'receivables-page' },
    h('h1', {}, 'Receivables & credit'),
    h('p', { class: 'muted' }, `As of ${r.as_of}. Days past due; currencies are never added together.`),
    h('div', { class: 'cards' },
      r.totals.map((t) => h('div', { class: 'card' }, h('div', { class: 'label' }, `Open (${t.currency})`),
        h('div', { class: 'value' }, money(t.open)))),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Overdue invoices'),
        h('div', { class: overdue.length ? 'value bad' : 'value', id: 'overdue-count' }, overdue.length)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Credit limit breaches'),
        h('div', { class: breaches.size ? 'value bad' : 'value', id: 'breach-count' }, breaches.size))),
    h('h2', {}, 'Aging'),
    wide(['Total', ...AGING_HEAD], agingRows(r.totals, () => 'all')),
    r.by_reseller.some((x) => x.group !== '-')
      ? [h('h2', {}, 'By reseller'), wide(['Reseller', ...AGING_HEAD], agingRows(r.by_reseller, (x) => (x.group === '-' ? 'direct' : x.group)))]
      : null,
    h('h2', {}, 'By customer (open balance)'),
    wide(['Customer', ...AGING_HEAD], agingRows(byCustomer, (x) => customerLink(me, x.group, names.get(x.group)))),
    h('h2', {}, 'Exposure against the credit limit'),
    h('p', { class: 'muted small' }, 'Exposure = open invoices + unbilled usage + projected burn to the next invoice. The bar runs to 150 % of the limit; the tick is the limit.'),
    h('div', { id: 'exposure-table' },
      wide(['Customer', 'Reseller', 'Open invoices ', 'Unbilled ', 'Projected ', 'Exposure ', 'Limit ', 'Use % ', 'Against limit'],
        exposures.map((x) => [customerLink(me, x.customer_tenant_id, x.name), x.reseller_mpn_id || 'direct',
          money(x.open_invoices), money(x.unbilled_usage), money(x.projected_burn), money(x.exposure), money(x.limit),
          x.utilization_pct === null || x.utilization_pct === undefined ? '—' : `${Number(x.utilization_pct).toFixed(1)}`,
          usageBar(x.utilization_pct)]),
        (i) => (breaches.has(exposures[i].customer_tenant_id) ? 'breached' : undefined))),
    h('h2', {}, 'Credit alerts'),
    c.alerts.length
      ? h('ul', { class: 'plain' }, c.alerts.map((a) => h('li', { class: String(a.threshold) === '100' ? 'bad' : undefined }, a.message)))
      : h('p', { class: 'muted' }, 'No customer at 70 % or more of its limit.'),
    h('h2', {}, 'Open invoices'),
    wide(['Invoice', 'Customer', 'Due', 'Days past due ', 'Amount ', 'Open ', 'Status'],
      r.open_invoices.slice(0, 50).map((l) => [h('span', { class: 'mono' }, l.invoice_id),
        customerLink(me, l.customer_tenant_id, names.get(l.customer_tenant_id)), l.due_on, l.days_past_due,
        money(l.amount), money(l.open), h('span', { class: l.status === 'overdue' ? 'bad' : undefined }, l.status)]),
      (i) => (r.open_invoices[i].status === 'overdue' ? 'breached' : undefined)),
    r.open_invoices.length > 50 ? h('p', { class: 'muted small' }, `The 50 oldest of ${r.open_invoices.length} open invoices.`) : null);
}
