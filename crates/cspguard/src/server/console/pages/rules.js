import { get, post, ApiError } from '/console/api.js';
import { h, mount, table, wide } from '/console/dom.js';

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

/** The rules in force; for those who work cases, a settings checker and a backtest. Nothing here writes the file. */
export async function rules(me) {
  const r = await get('/rules');
  const section = h('section', { id: 'rules-page' },
    h('h1', {}, 'Rules'),
    h('p', { class: 'muted' }, `In force: ${r.source} · ${r.rules.length} rule(s), ${r.suppressions.length} suppression window(s), ${r.overrides} per-customer override(s).`),
    h('h2', {}, 'Rules in force'),
    wide(['Name', 'Action', 'Points ', 'Condition', 'Description'],
      r.rules.map((x) => [x.name, x.action, x.action === 'add' ? x.points : '—', h('span', { class: 'mono' }, x.condition), x.description || ''])),
    h('h2', {}, 'Suppression windows'),
    wide(['Customer', 'Detector', 'From', 'To', 'Reason'],
      r.suppressions.map((s) => [s.customer || 'every customer', s.detector || 'every detector', s.from, s.to, s.reason])));
  if (me.may('work_cases')) section.append(editor(r), backtest());
  return section;
}

function editor(r) {
  const text = h('textarea', { id: 'rules-toml', class: 'code', spellcheck: 'false', 'aria-label': 'proposed cspguard.toml' });
  text.value = r.toml || '# No rules in force yet. An example:\n[[rules]]\nname = "example"\ncondition = \'signal.score > 80\'\naction = "add"\npoints = 30\n';
  const result = h('div', { id: 'rules-check-result' });
  async function check() {
    mount(result, h('p', { class: 'muted' }, 'Checking…'));
    try {
      const v = await post('/rules/check', { toml: text.value });
      mount(result, v.valid
        ? h('p', { class: 'ok', id: 'rules-valid' }, `Valid: ${v.rules.length} rule(s)${v.rules.length ? ` (${v.rules.join(', ')})` : ''}.`)
        : h('ul', { class: 'errors error', id: 'rules-errors' }, v.errors.map((e) => h('li', {}, e))));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      mount(result, h('p', { class: 'error', id: 'rules-errors' }, e.message));
    }
  }
  return h('div', {},
    h('h2', {}, 'Check a change'),
    h('p', { class: 'muted small' }, 'Edit the [[rules]] and [[suppress]] sections below (the ones in force), or paste a whole proposed cspguard.toml, and check it: thresholds, allow-lists, suppressions, playbooks and every CEL condition. The console never writes the file: the operator who owns cspguard.toml applies a change (edit it, `cspguard rules check`, restart `cspguard serve`).'),
    h('form', { class: 'stack', id: 'rules-form', onsubmit: (ev) => { ev.preventDefault(); check(); } },
      text, h('div', {}, h('button', { type: 'submit', id: 'rules-check' }, 'Check'))),
    result);
}

function backtest() {
  const now = new Date();
  const from = h('input', { type: 'date', id: 'backtest-from', required: true, value: isoDay(new Date(now.getTime() - 60 * 86400000)) });
  const to = h('input', { type: 'date', id: 'backtest-to', required: true, value: isoDay(now) });
  const result = h('div', { id: 'backtest-result' });
  const button = h('button', { type: 'submit', id: 'backtest-run' }, 'Backtest');
  async function run() {
    button.disabled = true;
    mount(result, h('p', { class: 'muted' }, 'Replaying the stored events…'));
    try {
      const b = await post('/rules/backtest', { from: from.value, to: to.value });
      const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 100)} %`);
      mount(result,
        h('p', { id: 'backtest-summary' }, `Replayed ${b.events} events: ${b.alerts} alert(s) would have fired between ${from.value} and ${to.value}.`),
        table(['Detector or rule', 'Signals ', 'Suppressed ', 'Alerts ', 'Precision ', 'Recall '],
          b.rows.map((x) => [x.name, x.signals, x.suppressed, x.alerts, pct(x.precision), pct(x.recall)])));
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      mount(result, h('p', { class: 'error' }, e.message));
    } finally {
      button.disabled = false;
    }
  }
  return h('div', {},
    h('h2', {}, 'Backtest'),
    h('p', { class: 'muted small' }, 'Replays every stored event with the rules in force and counts what each detector and rule would have fired in the window.'),
    h('form', { class: 'inline', id: 'backtest-form', onsubmit: (ev) => { ev.preventDefault(); run(); } },
      h('label', {}, 'From ', from), h('label', {}, 'To ', to), button),
    result);
}
