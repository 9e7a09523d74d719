import { get } from '/console/api.js';
import { h } from '/console/dom.js';

/** The audit log's hash chain, recomputed by the server. */
export async function audit() {
  const v = await get('/audit/verify');
  return h('section', {},
    h('h1', {}, 'Audit log'),
    h('dl', { class: 'kv' },
      h('dt', {}, 'Chain'), h('dd', { id: 'audit-status', class: v.ok ? 'ok' : 'bad' }, v.ok ? 'intact' : 'BROKEN'),
      h('dt', {}, 'Entries checked'), h('dd', {}, v.checked),
      h('dt', {}, 'Head hash'), h('dd', { class: 'mono' }, v.head || '—'),
      v.broken ? [h('dt', {}, 'First bad entry'), h('dd', { class: 'bad' }, `#${v.broken.seq}: ${v.broken.reason}`)] : null),
    h('p', { class: 'muted' }, 'Keep the head hash somewhere else too: `cspguard audit verify` prints it.'));
}
