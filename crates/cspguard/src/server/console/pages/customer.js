import { get } from '/console/api.js';
import { h, money, when, sev, table, brief } from '/console/dom.js';
import { spendChart } from '/console/chart.js';

function amount(x) {
  return money({ amount: x.amount, currency: x.currency });
}

/** One customer: risk, daily spend with alert days, regions and meters, sign-ins, payments, instruments. */
export async function customer(me, tenant) {
  const c = await get(`/customers/${encodeURIComponent(tenant)}`);
  const p = c.profile || {};
  const currencies = [...new Set(c.daily_cost.map((d) => d.currency))];
  const cur = currencies[0];
  const days = c.daily_cost.filter((d) => d.currency === cur);
  const drivers = c.risk ? Object.entries(c.risk.drivers || {}).map(([k, v]) => `${k} ${v}`).join(', ') : '';
  return h('section', { id: 'customer-page' },
    h('h1', {}, p.name || c.tenant_id),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Risk score'),
        h('div', { class: c.risk && c.risk.score >= 70 ? 'value bad' : 'value', id: 'risk-score' }, c.risk ? c.risk.score : '—'),
        h('div', { class: 'small muted' }, drivers)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Alerts'), h('div', { class: 'value' }, c.alerts.length)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Cases'), h('div', { class: 'value' }, c.cases.length)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Profile'),
        h('div', { class: 'small' }, h('span', { class: 'mono' }, c.tenant_id)),
        h('div', { class: 'small' }, [p.domain, p.country, p.reseller_mpn_id ? `reseller ${p.reseller_mpn_id}` : 'direct'].filter(Boolean).join(' · ')))),
    h('h2', {}, `Daily Azure spend${cur ? ` (${cur})` : ''}`, h('span', { class: 'small muted' }, ' — red: days with alerts')),
    days.length ? h('div', { class: 'chart' }, spendChart(days, cur)) : h('p', { class: 'muted' }, 'No Azure usage.'),
    currencies.length > 1 ? h('p', { class: 'muted small' }, `Also billed in ${currencies.slice(1).join(', ')}.`) : null,
    h('div', { class: 'grid2' },
      h('div', {}, h('h2', {}, 'Regions'), table(['Region', 'Spend '], c.regions.slice(0, 10).map((r) => [r.name, amount(r)]))),
      h('div', {}, h('h2', {}, 'Meters'), table(['Meter category', 'Spend '], c.meters.slice(0, 10).map((r) => [r.name, amount(r)])))),
    h('h2', {}, 'Alerts'),
    table(['Fired', 'Severity', 'Kind', 'Origin', 'Money at risk ', 'Summary'],
      c.alerts.map((a) => [when(a.fired_at), sev(a.severity), a.kind, a.origin, money(a.money_at_risk), brief(a.summary, 240)])),
    me.may('read_cases') ? [h('h2', {}, 'Cases'),
      table(['Case', 'Status', 'Severity', 'Money at risk '],
        c.cases.map((x) => [h('a', { href: `#/cases/${encodeURIComponent(x.id)}` }, x.id), x.status, sev(x.severity), money(x.money_at_risk)]))] : null,
    h('h2', {}, 'Recent sign-ins'),
    table(['When', 'User', 'Result', 'IP', 'Country', 'Client', 'Risk'],
      c.signins.map((s) => [when(s.at), s.user, s.succeeded ? h('span', { class: 'ok' }, 'ok') : h('span', { class: 'bad' }, s.failure_reason || 'failed'),
        s.ip || '', s.country || '', s.app || '', s.risk || ''])),
    h('div', { class: 'grid2' },
      h('div', {}, h('h2', {}, 'Payments'),
        table(['Submitted', 'Amount ', 'Status', 'Instrument'],
          c.payments.map((x) => [x.submitted_on, money(x.amount), h('span', { class: x.status === 'succeeded' ? 'ok' : 'bad' }, x.status, x.failure_reason ? `: ${x.failure_reason}` : ''),
            h('span', { class: 'mono' }, x.instrument || '')]))),
      h('div', {}, h('h2', {}, 'Payment instruments'),
        table(['When', 'Instrument', 'Kind', 'Change', 'Country'],
          c.instruments.map((x) => [when(x.at), h('span', { class: 'mono' }, x.instrument), x.kind, x.action, x.country || '']))))); 
}
