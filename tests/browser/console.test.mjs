// The console in a real browser (Debian's Chromium through playwright-core), against `cspguard serve` started by
// run.sh. Every page visited must log no console error and throw no uncaught exception.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BASE = process.env.CSPGUARD_URL;
const PASSWORD = process.env.CSPGUARD_PASSWORD;
const RESELLER = process.env.CSPGUARD_RESELLER;
// Set to a folder to keep a full-page screenshot of every page the tests settle on (for looking at the layout).
const SHOTS = process.env.CSPGUARD_SCREENSHOTS;
let browser;
let shot = 0;

before(async () => {
  assert.ok(BASE && PASSWORD && RESELLER, 'run through tests/browser/run.sh');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
  });
});

after(async () => {
  await browser?.close();
});

/** A fresh browser context (no cookies) at laptop width (or `width`), recording console errors and uncaught exceptions. */
async function open(width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${page.url()}: console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: uncaught: ${e.message}`));
  return {
    page,
    errors,
    async close() {
      await context.close();
      assert.deepEqual(errors, [], 'no browser console errors on any page visited');
    },
  };
}

/** Waits until the page has rendered (its heading is there, no "Loading…") and shows no error. */
async function settled(page) {
  await page.waitForSelector('#main h1');
  await page.waitForFunction(() => !document.querySelector('#main').textContent.startsWith('Loading'));
  assert.equal(await page.locator('#page-error').count(), 0, await page.locator('#main').innerText());
  if (SHOTS) {
    const name = new URL(page.url()).hash.replace(/[^a-z0-9]+/gi, '-').slice(0, 40);
    await page.screenshot({ path: `${SHOTS}/${String(++shot).padStart(2, '0')}${name}.png`, fullPage: true });
  }
}

async function signIn(page, user) {
  await page.goto(`${BASE}/`);
  await page.waitForSelector('#username');
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await page.click('#signin');
  await page.waitForSelector('#whoami');
  await settled(page);
}

async function nav(page) {
  return page.$$eval('#nav a', (as) => as.map((a) => a.dataset.page));
}

async function visit(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await settled(page);
}

/** The page as it is now, narrowed to 1024 px, needs no horizontal scrolling. */
async function fits1024(page) {
  await page.setViewportSize({ width: 1024, height: 900 });
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(w <= 1024, `${page.url()} is ${w} px wide at 1024 px`);
  await page.setViewportSize({ width: 1280, height: 900 });
}

const ALL_PAGES = ['dashboard', 'cases', 'customers', 'receivables', 'exceptions', 'report', 'rules', 'audit', 'users'];
const ROLES = [
  { user: 'admin', pages: ALL_PAGES, works: true },
  { user: 'agent', pages: ['dashboard', 'cases', 'customers', 'rules'], works: true },
  { user: 'billing', pages: ['dashboard', 'cases', 'customers', 'receivables', 'exceptions', 'report', 'rules'], works: false },
  { user: 'usermgmt', pages: ['audit', 'users'], works: false },
];

for (const role of ROLES) {
  test(`${role.user} sees exactly its pages, and the buttons its role may use`, async () => {
    const s = await open();
    const { page } = s;
    await signIn(page, role.user);
    assert.deepEqual(await nav(page), role.pages);
    for (const p of role.pages) {
      await page.click(`#nav a[data-page="${p}"]`);
      await settled(page);
      assert.ok(page.url().endsWith(`#/${p}`), page.url());
    }
    // A page the role may not use is not shown: the console goes home instead (no request is made).
    for (const p of ALL_PAGES.filter((x) => !role.pages.includes(x))) {
      await visit(page, `#/${p}`);
      assert.ok(page.url().endsWith(`#/${role.pages[0]}`), `${p} -> ${page.url()}`);
      assert.equal(await page.locator('#main h1').innerText(), role.pages[0] === 'audit' ? 'Audit log' : 'Dashboard');
    }
    if (role.pages.includes('cases')) {
      await visit(page, '#/dashboard');
      assert.match(await page.locator('#money-at-risk').innerText(), /\d/);
      await visit(page, '#/cases');
      await page.locator('a.case-link').first().click();
      await page.waitForSelector('#case-header');
      await settled(page);
      assert.equal(await page.locator('#note-form').count() > 0, role.works, 'note form');
      assert.equal(await page.locator('#resolve-form').count() > 0, role.works, 'resolve form');
      if (!role.works) assert.equal(await page.locator('button.approve').count(), 0, 'no Approve for this role');
      // The customer of the case: risk, spend chart, sign-ins.
      await page.locator('#case-header a').first().click();
      await page.waitForSelector('#customer-page');
      await settled(page);
      assert.match(await page.locator('#risk-score').innerText(), /\d|—/);
    }
    await page.click('#signout');
    await page.waitForSelector('#username');
    assert.deepEqual(await nav(page), []);
    await s.close();
  });
}

test('an admin agent approves a suspension on the case page and sees the approval count change', async () => {
  const s = await open();
  const { page } = s;
  await signIn(page, 'agent');
  const { actions } = await (await page.request.get(`${BASE}/api/v1/actions?state=awaiting_approval`)).json();
  const a = actions.find((x) => x.kind.type === 'suspend_subscription' && x.approvals.length === 0);
  assert.ok(a, 'a suspension awaits approval');
  await visit(page, `#/cases/${encodeURIComponent(a.case_id)}`);
  const count = page.locator(`.approvals[data-key="${a.key}"]`);
  assert.equal(await count.innerText(), `0/${a.approvals_required}`);
  await page.locator(`button.approve[data-key="${a.key}"]`).click();
  await page.waitForFunction(
    ([key, want]) => document.querySelector(`.approvals[data-key="${key}"]`)?.textContent === want,
    [a.key, `1/${a.approvals_required}`],
  );
  assert.equal(await page.locator('#case-error').count(), 0);
  // The note form works too.
  await page.fill('#note-text', 'suspension approved from the console');
  await page.click('#add-note');
  await page.waitForFunction(() => document.querySelector('#notes').textContent.includes('approved from the console'));
  await s.close();
});

test('a reseller-scoped user sees only its customers and cases', async () => {
  const admin = await open();
  await signIn(admin.page, 'admin');
  const all = (await (await admin.page.request.get(`${BASE}/api/v1/customers`)).json()).customers;
  const allCases = (await (await admin.page.request.get(`${BASE}/api/v1/cases`)).json()).cases;
  await admin.close();
  const mine = new Set(all.filter((c) => c.reseller_mpn_id === RESELLER).map((c) => c.tenant_id));
  assert.ok(mine.size > 0 && mine.size < all.length);

  const s = await open();
  const { page } = s;
  await signIn(page, 'rita');
  assert.match(await page.locator('#whoami').innerText(), new RegExp(`reseller ${RESELLER}`));
  await visit(page, '#/customers');
  const shown = await page.$$eval('a.customer-link', (as) => as.map((a) => decodeURIComponent(a.getAttribute('href').split('/').pop())));
  assert.deepEqual(new Set(shown), mine);
  await visit(page, '#/cases');
  const caseIds = await page.$$eval('a.case-link', (as) => as.map((a) => a.textContent));
  for (const id of caseIds) {
    assert.ok(mine.has(allCases.find((c) => c.id === id).customer_tenant_id), id);
  }
  await visit(page, '#/dashboard');
  // Another reseller's case and customer do not exist for this user (asked outside the page: a 404 in the page
  // would be a console error by design).
  const foreign = allCases.find((c) => !mine.has(c.customer_tenant_id));
  assert.ok(foreign);
  assert.equal((await page.request.get(`${BASE}/api/v1/cases/${encodeURIComponent(foreign.id)}`)).status(), 404);
  assert.equal((await page.request.get(`${BASE}/api/v1/customers/${foreign.customer_tenant_id}`)).status(), 404);
  await s.close();
});

test('at 1024 px the pages fit the width (no horizontal scrolling)', async () => {
  const s = await open(1024);
  const { page } = s;
  await signIn(page, 'admin');
  const fits = async () => {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= 1024, `${page.url()} is ${w} px wide`);
  };
  await fits();
  for (const p of ['receivables', 'exceptions', 'report', 'rules', 'users', `exceptions/${encodeURIComponent(process.env.CSPGUARD_EXCEPTION_CASE)}`]) {
    await visit(page, `#/${p}`);
    await fits();
  }
  await visit(page, '#/cases');
  await page.locator('a.case-link').first().click();
  await page.waitForSelector('#case-header');
  await settled(page);
  await fits();
  await page.locator('#case-header a').first().click();
  await page.waitForSelector('#customer-page');
  await settled(page);
  await fits();
  await s.close();
});

test('a billing admin sees receivables, exceptions and the report, updates a request, and has no Approve button', async () => {
  const s = await open();
  const { page } = s;
  await signIn(page, 'billing');
  await visit(page, '#/receivables');
  assert.equal(await page.locator('#main h1').innerText(), 'Receivables & credit');
  assert.ok(await page.locator('#exposure-table svg.usage').count() > 0, 'a bar per customer');
  assert.match(await page.locator('#breach-count').innerText(), /^\d+$/);
  await visit(page, '#/report');
  assert.match(await page.locator('#report-exposure').innerText(), /\d/);
  await visit(page, '#/exceptions');
  const caseId = process.env.CSPGUARD_EXCEPTION_CASE;
  await page.locator(`#exceptions-page a.check-link[href="#/exceptions/${encodeURIComponent(caseId)}"]`).first().click();
  await page.waitForSelector('#exception-check');
  await settled(page);
  assert.ok(await page.locator('#exception-check .pass, #exception-check .fail').count() > 0, 'each rule pass or fail');
  assert.match(await page.locator('#request-status').innerText(), /draft/);
  await page.selectOption('#status-select', 'submitted');
  await page.fill('#status-ticket', 'MS-12345');
  await page.click('#status-save');
  await page.waitForSelector('#status-message');
  assert.match(await page.locator('#status-message').innerText(), /Recorded: submitted/);
  assert.match(await page.locator('#request-status').innerText(), /submitted · ticket MS-12345/);
  // Cases are read-only for this role: an action awaiting approval shows no Approve button.
  const { actions } = await (await page.request.get(`${BASE}/api/v1/actions?state=awaiting_approval`)).json();
  assert.ok(actions.length > 0);
  await visit(page, `#/cases/${encodeURIComponent(actions[0].case_id)}`);
  assert.ok(await page.locator('.approvals').count() > 0);
  assert.equal(await page.locator('button.approve').count(), 0);
  await s.close();
});

test('a user management admin adds a user on the Users page, and that user signs in', async () => {
  const s = await open();
  const { page } = s;
  await signIn(page, 'usermgmt');
  await visit(page, '#/users');
  assert.equal(await page.locator('#new-role option[value="global_admin"]').count(), 0, 'no global admin for this role');
  await page.fill('#new-username', 'browser-newbie');
  await page.selectOption('#new-role', 'billing_admin');
  await page.fill('#new-password', PASSWORD);
  await page.click('#add-user');
  await page.waitForSelector('#user-added');
  assert.ok((await page.$$eval('.user-name', (xs) => xs.map((x) => x.textContent))).includes('browser-newbie'));
  await s.close();

  const n = await open();
  await signIn(n.page, 'browser-newbie');
  assert.match(await n.page.locator('#whoami').innerText(), /browser-newbie · billing admin/);
  assert.ok((await nav(n.page)).includes('receivables'));
  await n.close();
});

test('an admin agent checks a rule change with a broken condition, sees the error, and runs a backtest', async () => {
  const s = await open();
  const { page } = s;
  await signIn(page, 'agent');
  await visit(page, '#/rules');
  await page.fill('#rules-toml', '[[rules]]\nname = "broken"\ncondition = "signal.score >"\n');
  await page.click('#rules-check');
  await page.waitForSelector('#rules-errors');
  assert.match(await page.locator('#rules-errors').innerText(), /broken/);
  await page.fill('#rules-toml', '[[rules]]\nname = "big"\ncondition = "signal.score > 90"\n');
  await page.click('#rules-check');
  await page.waitForSelector('#rules-valid');
  assert.match(await page.locator('#rules-valid').innerText(), /1 rule\(s\) \(big\)/);
  await page.fill('#backtest-from', '2000-01-01');
  await page.fill('#backtest-to', '2100-01-01');
  await page.click('#backtest-run');
  await page.waitForSelector('#backtest-summary', { timeout: 60000 });
  assert.match(await page.locator('#backtest-summary').innerText(), /Replayed \d+ events: \d+ alert/);
  await s.close();
});

test('an admin agent assigns a case from the select and ticks a checklist step', async () => {
  const s = await open();
  const { page } = s;
  await signIn(page, 'agent');
  const { cases } = await (await page.request.get(`${BASE}/api/v1/cases`)).json();
  const c = cases.find((x) => x.status !== 'resolved' && x.checklist.some((i) => !i.done_at));
  assert.ok(c, 'an open case with a step to do');
  const step = c.checklist.find((i) => !i.done_at);
  await visit(page, `#/cases/${encodeURIComponent(c.id)}`);
  // The select offers "me" and the people who may work cases (the admin), not the billing or user admins.
  const options = await page.$$eval('#assignee-select option', (os) => os.map((o) => o.value));
  assert.equal(options[0], 'agent');
  assert.ok(options.includes('admin'), options.join());
  assert.ok(!options.includes('billing') && !options.includes('usermgmt'), options.join());
  await page.selectOption('#assignee-select', 'admin');
  await page.click('#assign');
  await page.waitForFunction(() => document.querySelector('#case-assignee')?.textContent === 'admin');
  await page.selectOption('#assignee-select', 'agent');
  await page.click('#assign');
  await page.waitForFunction(() => document.querySelector('#case-assignee')?.textContent === 'agent');
  // Ticking a step records who did it, and the box stays ticked.
  const box = `input.tick[data-step="${step.id}"]`;
  assert.equal(await page.locator(box).isChecked(), false);
  await page.locator(box).check();
  await page.waitForFunction((sel) => {
    const b = document.querySelector(sel);
    return b && b.checked && b.disabled && b.closest('li').textContent.includes('— agent');
  }, box);
  assert.equal(await page.locator('#case-error').count(), 0);
  await fits1024(page);
  const after = await (await page.request.get(`${BASE}/api/v1/cases/${encodeURIComponent(c.id)}`)).json();
  assert.equal(after.assignee, 'agent');
  assert.equal(after.checklist.find((i) => i.id === step.id).done_by, 'agent');
  const verbs = after.audit.filter((e) => e.actor === 'agent').map((e) => e.verb);
  assert.ok(verbs.includes('case.assigned') && verbs.includes('case.checked'), verbs.join());
  await s.close();
});

test('a billing admin opens an exception request, excludes a line, and downloads the PDF and the CSV', async () => {
  const s = await open();
  const { page } = s;
  await signIn(page, 'billing');
  // A case with claimed lines whose customer has no request yet.
  const { requests } = await (await page.request.get(`${BASE}/api/v1/exceptions`)).json();
  const used = new Set(requests.map((r) => r.customer_tenant_id));
  const { cases } = await (await page.request.get(`${BASE}/api/v1/cases`)).json();
  let target = null;
  for (const c of cases.filter((x) => !used.has(x.customer_tenant_id) && x.azure_subscription_ids.length)) {
    const x = await (await page.request.get(`${BASE}/api/v1/exceptions/check/${encodeURIComponent(c.id)}`)).json();
    if ((x.lines || []).some((l) => l.included) && !x.request) { target = x; break; }
  }
  assert.ok(target, 'a case with a claim and no request');
  await visit(page, `#/exceptions/${encodeURIComponent(target.case_id)}`);
  assert.match(await page.locator('#request-status').innerText(), /none yet/);
  assert.equal(await page.locator('button.line-toggle').count(), 0, 'no line decisions before the request exists');
  await page.click('#open-request');
  await page.waitForSelector('#status-message');
  assert.match(await page.locator('#status-message').innerText(), /Opened EX-\w+ \(draft\)/);
  assert.match(await page.locator('#request-status').innerText(), /EX-\w+ · draft/);

  const line = target.lines.find((l) => l.included);
  const toggle = `button.line-toggle[data-line="${line.id}"]`;
  await page.click(toggle);
  assert.match(await page.locator('#line-error').innerText(), /reason/, 'a reason is asked for first');
  await page.fill('#line-reason', 'the customer’s own test VM');
  await page.click(toggle);
  await page.waitForFunction((id) => document.querySelector(`.line-state[data-line="${id}"]`)?.textContent === 'out', line.id);
  assert.match(await page.locator('#status-message').innerText(), new RegExp(`Line ${line.id} excluded`));
  assert.match(await page.locator('#claim-total').innerText(), new RegExp(`over ${target.totals.lines - 1} line\\(s\\)`));
  await fits1024(page);

  const fetchDownload = async (sel) => {
    const [d] = await Promise.all([page.waitForEvent('download'), page.click(sel)]);
    const chunks = [];
    for await (const c of await d.createReadStream()) chunks.push(c);
    return { name: d.suggestedFilename(), body: Buffer.concat(chunks) };
  };
  const pdf = await fetchDownload('#download-pdf');
  assert.match(pdf.name, /^EX-\w+\.pdf$/);
  assert.equal(pdf.body.subarray(0, 5).toString(), '%PDF-');
  const csv = await fetchDownload('#download-csv');
  assert.match(csv.name, /^EX-\w+-charges\.csv$/);
  const text = csv.body.toString();
  assert.ok(text.startsWith('line_id,usage_date,day,'));
  assert.ok(!text.includes(line.id), 'the excluded line is not in the charges');
  assert.equal(text.trim().split('\n').length, target.totals.lines, 'header + the lines still claimed');
  await s.close();
});

test('a user management admin disables a user who then cannot sign in, and creates and revokes a token', async () => {
  const s = await open();
  const { page } = s;
  await signIn(page, 'usermgmt');
  await visit(page, '#/users');
  assert.equal(await page.locator('button.disable-user[data-user="usermgmt"]').count(), 0, 'not oneself');
  assert.equal(await page.locator('button.disable-user[data-user="admin"]').count(), 0, 'not a global admin');
  await page.click('button.disable-user[data-user="dora"]');
  await page.waitForFunction(() => document.querySelector('.user-state[data-user="dora"]')?.textContent === 'disabled');
  assert.match(await page.locator('#user-message').innerText(), /dora disabled/);

  // dora cannot sign in (the refused sign-in is the one expected failed request in that browser).
  const d = await open();
  await d.page.goto(`${BASE}/`);
  await d.page.waitForSelector('#username');
  await d.page.fill('#username', 'dora');
  await d.page.fill('#password', PASSWORD);
  await d.page.click('#signin');
  await d.page.waitForFunction(() => document.querySelector('#signin-error')?.textContent.length > 0);
  assert.match(await d.page.locator('#signin-error').innerText(), /Wrong username or password/);
  assert.equal(await d.page.locator('#whoami').count(), 0);
  for (const e of d.errors.splice(0)) assert.match(e, /401/);
  await d.close();

  // Enabled again, dora gets a token, shown once, that works until it is revoked.
  await page.click('button.enable-user[data-user="dora"]');
  await page.waitForFunction(() => document.querySelector('.user-state[data-user="dora"]')?.textContent === 'active');
  await page.selectOption('#token-user', 'dora');
  await page.fill('#token-name', 'browser-ci');
  await page.click('#create-token');
  await page.waitForSelector('#token-created');
  const token = (await page.locator('#new-token-value').innerText()).trim();
  assert.match(token, /^cspg_[0-9a-f]{64}$/);
  await fits1024(page);
  const asDora = () => fetch(`${BASE}/api/v1/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal((await asDora()).status, 200);
  const { users } = await (await page.request.get(`${BASE}/api/v1/users`)).json();
  const t = users.find((u) => u.username === 'dora').tokens.find((x) => x.name === 'browser-ci');
  assert.ok(t, 'listed by ID and name');
  await page.click(`button.revoke-token[data-id="${t.id}"]`);
  await page.waitForFunction((id) => !document.querySelector(`button.revoke-token[data-id="${id}"]`), t.id);
  assert.match(await page.locator('#user-message').innerText(), /revoked/);
  assert.equal(await page.locator('#new-token-value').count(), 0, 'the token is not shown again');
  assert.equal((await asDora()).status, 401);
  await s.close();
});
