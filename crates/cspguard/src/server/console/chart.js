// The daily spend chart: inline SVG bars, days with alerts in red. No library.
const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** days: [{date: 'YYYY-MM-DD', amount: '12.34', alert: bool}] of one currency. */
export function spendChart(days, currency) {
  const W = 1000, H = 220, left = 56, bottom = 24, top = 10;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Daily spend in ${currency}`, id: 'spend-chart' });
  const max = Math.max(1, ...days.map((d) => Number(d.amount)));
  const plotW = W - left - 8, plotH = H - bottom - top;
  const bw = days.length ? plotW / days.length : plotW;
  svg.append(el('line', { class: 'axis', x1: left, y1: top + plotH, x2: W - 8, y2: top + plotH }));
  for (const f of [0, 0.5, 1]) {
    const y = top + plotH - f * plotH;
    svg.append(el('text', { x: left - 6, y: y + 3, 'text-anchor': 'end' }, (max * f).toFixed(max < 10 ? 2 : 0)));
  }
  days.forEach((d, i) => {
    const v = Number(d.amount);
    const bh = (v / max) * plotH;
    const r = el('rect', { class: d.alert ? 'bar alert' : 'bar', x: left + i * bw + 1, y: top + plotH - bh,
      width: Math.max(1, bw - 2), height: Math.max(0, bh) });
    r.append(el('title', {}, `${d.date}: ${v.toFixed(2)} ${currency}${d.alert ? ' (alert)' : ''}`));
    svg.append(r);
    if (i % Math.ceil(days.length / 8 || 1) === 0) {
      svg.append(el('text', { x: left + i * bw + bw / 2, y: H - 8, 'text-anchor': 'middle' }, d.date.slice(5)));
    }
  });
  return svg;
}

/** Exposure against the credit limit as a small SVG bar: 0-150 % of the limit, a tick at 100 %, coloured by the
 * threshold reached (70, 85, 100 %). `pct` null (no limit) draws an empty track. */
export function usageBar(pct) {
  const p = pct === null || pct === undefined ? null : Number(pct);
  const label = p === null ? 'no limit' : `${p.toFixed(1)} % of the limit`;
  const svg = el('svg', { viewBox: '0 0 150 12', class: 'usage', role: 'img', 'aria-label': label });
  svg.append(el('rect', { class: 'track', x: 0, y: 2, width: 150, height: 8 }));
  if (p !== null && Number.isFinite(p)) {
    const cls = p >= 100 ? 'fill breach' : p >= 85 ? 'fill high' : p >= 70 ? 'fill warn' : 'fill';
    svg.append(el('rect', { class: cls, x: 0, y: 2, width: Math.max(0, Math.min(150, p)), height: 8 }));
  }
  svg.append(el('line', { class: 'limit', x1: 100, y1: 0, x2: 100, y2: 12 }));
  svg.append(el('title', {}, label));
  return svg;
}
