// Small DOM helpers: every value is set as text (never parsed as HTML), so API data cannot inject markup.

/** h('a', {href: '#/x', class: 'y', onclick: fn}, 'text', child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function money(m) {
  if (!m) return '—';
  const n = Number(m.amount);
  const s = Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 2, minimumFractionDigits: 2 }) : m.amount;
  return `${s} ${m.currency}`;
}

export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

export function minutes(m) {
  const a = Math.abs(m);
  const d = Math.floor(a / 1440), hh = Math.floor((a % 1440) / 60), mm = a % 60;
  return d > 0 ? `${d}d ${hh}h` : hh > 0 ? `${hh}h ${mm}m` : `${mm}m`;
}

/** One SLA clock ({due, met_at, breached, minutes_left}) as a short phrase with a class. */
export function clock(c) {
  if (!c) return h('span', { class: 'muted' }, '—');
  if (c.met_at) return h('span', { class: c.breached ? 'warn' : 'ok' }, c.breached ? 'met late' : 'met');
  if (c.breached) return h('span', { class: 'bad' }, `breached ${minutes(-c.minutes_left)} ago`);
  return h('span', {}, `${minutes(c.minutes_left)} left`);
}

export function sev(s) {
  const v = String(s || '').toLowerCase();
  return h('span', { class: `sev sev-${v}` }, v || '?');
}

export function table(headers, rows, rowClass) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { class: x.endsWith(' ') ? 'num' : undefined }, x.trim())))),
    h('tbody', {}, rows.length
      ? rows.map((r, i) => h('tr', { class: rowClass ? rowClass(i) : undefined }, r.map((c) => h('td', {}, c)))
      )
      : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'None.'))));
}

export function customerLink(me, tenant, name) {
  const label = name || tenant;
  return me.may('read_customers') ? h('a', { href: `#/customers/${encodeURIComponent(tenant)}` }, label) : label;
}

/** A long text cut to `n` characters, the whole of it in the tooltip. */
export function brief(text, n = 180) {
  const t = String(text || '');
  return t.length <= n ? h('span', { class: 'small' }, t) : h('span', { class: 'small', title: t }, `${t.slice(0, n)}…`);
}

/** Per-currency sums ({USD: '12.3', EUR: '4'}) as "12.30 USD + 4.00 EUR" (currencies are never added); '0' when empty. */
export function sums(s) {
  const parts = Object.entries(s || {}).filter(([, v]) => Number(v) !== 0).map(([c, v]) => money({ amount: v, currency: c }));
  return parts.length ? parts.join(' + ') : '0';
}

/** A table in a box that scrolls sideways on its own when it is wider than the page. */
export function wide(...args) {
  return h('div', { class: 'scroll' }, table(...args));
}
