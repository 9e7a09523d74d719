import { get } from '/console/api.js';
import { h, table } from '/console/dom.js';

/** Every visible customer. */
export async function customers() {
  const { customers: list } = await get('/customers');
  list.sort((a, b) => String(a.name || a.tenant_id).localeCompare(String(b.name || b.tenant_id)));
  return h('section', {},
    h('h1', {}, 'Customers'),
    table(['Customer', 'Tenant', 'Domain', 'Country', 'Reseller'],
      list.map((c) => [h('a', { href: `#/customers/${encodeURIComponent(c.tenant_id)}`, class: 'customer-link' }, c.name || c.tenant_id),
        h('span', { class: 'mono' }, c.tenant_id), c.domain || '', c.country || '', c.reseller_mpn_id || 'direct'])));
}
