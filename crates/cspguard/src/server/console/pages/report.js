import { get } from '/console/api.js';
import { h, sums, wide, customerLink, when } from '/console/dom.js';

function card(label, value, id) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value', id }, value));
}

/** The liability report: what the partner is liable for and what cspguard did about it (Billing). */
export async function report(me) {
  const r = await get('/report/liability');
  return h('section', { id: 'report-page' },
    h('h1', {}, 'Liability report'),
    h('p', { class: 'muted' }, `As of ${r.as_of}. Money is per currency and never converted.`),
    h('div', { class: 'cards' },
      card('Exposure', sums(r.exposure), 'report-exposure'),
      card('Money at risk (open cases)', sums(r.money_at_risk)),
      card('Saved by early action', sums(r.saved_by_early_action)),
      card('Credits claimed', sums(r.credits_claimed)),
      card('Credits received', sums(r.credits_received)),
      card('Cases Microsoft never alerted', r.cases_microsoft_never_alerted)),
    h('h2', {}, 'By reseller'),
    wide(['Reseller', 'Customers ', 'Exposure ', 'Money at risk ', 'Open cases '],
      r.by_reseller.map((x) => [x.reseller_mpn_id === '-' ? 'direct' : x.reseller_mpn_id, x.customers, sums(x.exposure),
        sums(x.money_at_risk), x.open_cases])),
    h('h2', {}, 'By month (first evidence)'),
    wide(['Month', 'Cases ', 'Money at risk ', 'Saved ', 'Claimed ', 'Credited '],
      r.by_month.map((m) => [m.month, m.cases, sums(m.money_at_risk), sums(m.saved), sums(m.claimed), sums(m.credited)])),
    h('h2', {}, 'Top customers'),
    wide(['Customer', 'Reseller', 'Exposure ', 'Money at risk ', 'Open cases '],
      r.top_customers.map((c) => [customerLink(me, c.customer_tenant_id, c.name), c.reseller_mpn_id || 'direct',
        sums(c.exposure), sums(c.money_at_risk), c.open_cases])),
    h('h2', {}, 'Early actions'),
    wide(['Case', 'cspguard alert', 'Microsoft alert', 'Hours earlier ', 'Saved '],
      r.early_actions.slice(0, 25).map((e) => [h('a', { href: `#/cases/${encodeURIComponent(e.case_id)}` }, e.case_id),
        when(e.cspguard_alert_at), when(e.microsoft_alert_at),
        e.hours_earlier === null || e.hours_earlier === undefined ? '—' : e.hours_earlier.toFixed(1), sums(e.saved)])),
    h('h2', {}, 'Credits'),
    wide(['Request', 'Customer', 'Status', 'Claimed ', 'Credited '],
      r.credits.map((c) => [c.request_id, c.customer_tenant_id, c.status, c.claimed || '—', c.credited || '—'])));
}
