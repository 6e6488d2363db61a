// The alerts page and the audit log page in real headless Chromium against the release server:
// a rule of the alerts file fires (no worker for the queue: this server is a `web` process) and
// the page shows it firing, its target and the delivery the test's webhook receiver got; the
// audit page follows an operator's actions without reload and filters them. Any console error
// or warning fails the test. Screenshots go to target/e2e/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { OUT, createToken, killAll, launchBrowser, startRedis, startSentinel, until } from './harness.mjs';

let server;
let base;
let browser;
let receiver;
const received = [];
const tokens = {};

before(async () => {
  mkdirSync(OUT, { recursive: true });
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      received.push({ path: request.url, body: JSON.parse(body || 'null') });
      response.end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(`${tmpdir()}/sentinel-e2e-records-`);
  const lines = [createToken(tokens, 'boss', 'admin'), createToken(tokens, 'ops', 'operator')];
  writeFileSync(`${dir}/tokens`, `${lines.join('\n')}\n`);
  writeFileSync(`${dir}/alerts.toml`, [
    'time_scale = 60',
    '[[targets]]',
    'name = "hook"',
    'type = "webhook"',
    `url = "http://127.0.0.1:${receiver.address().port}/hook"`,
    'secret = "e2e-secret"',
    '[[rules]]',
    'name = "nobody-works"',
    'when = "no_worker"',
    'seconds = 60',
    '',
  ].join('\n'));
  const redisUrl = await startRedis();
  ({ server, base } = await startSentinel(redisUrl, {
    SENTINEL_ROLE: 'web',
    SENTINEL_AUTH: 'on',
    SENTINEL_TOKENS_FILE: `${dir}/tokens`,
    SENTINEL_SESSION_SECRET: 'e2e-session-secret-of-at-least-32-chars',
    SENTINEL_ALERTS_FILE: `${dir}/alerts.toml`,
  }));
  browser = await launchBrowser();
});

after(async () => {
  if (server) writeFileSync(`${OUT}/records-server.log`, server.log());
  await browser?.close();
  receiver?.close();
  killAll();
});

async function person(token) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  const open = async (path) => {
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(`${base}${path}`);
    await page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
    return page;
  };
  const page = await context.newPage();
  await page.goto(`${base}/signin`);
  await page.fill('#token', token);
  await page.click('button:has-text("Sign in")');
  await page.waitForURL(`${base}/`);
  await page.close();
  return { context, open, problems };
}

const asOps = (path) => fetch(`${base}${path}`, {
  method: 'POST',
  headers: { authorization: `Bearer ${tokens.ops}` },
});

test('the alerts page shows the rule firing, its target and the delivery the receiver got', async () => {
  const ops = await person(tokens.ops);
  const page = await ops.open('/admin/alerts');
  await page.waitForSelector('tr[data-rule="nobody-works"][data-status="firing"]', { timeout: 15000 });
  await page.waitForSelector('tr[data-target="hook"][data-failures="0"]', { timeout: 10000 });
  await page.waitForSelector('tr[data-delivery="sent"]', { timeout: 10000 });
  const rule = await page.textContent('tr[data-rule="nobody-works"]');
  assert.match(rule, /0 workers attached to sentinel:sentinel-tasks/);
  const firing = received.filter((r) => r.path === '/hook' && r.body.status === 'firing');
  assert.equal(firing.length, 1, JSON.stringify(received));
  assert.equal(firing[0].body.alert, 'nobody-works');
  await page.screenshot({ path: `${OUT}/dashboard-alerts.png`, fullPage: true });
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
});

test('the audit page follows actions live and filters them by action', async () => {
  const boss = await person(tokens.boss);
  const page = await boss.open('/admin/audit');
  // The admin's own sign-in is on record.
  await page.waitForSelector('tr[data-action="sign-in"][data-who="token:boss"]', { timeout: 10000 });
  // An operator's actions appear without reload (the newest page is read every 2 s).
  assert.equal((await asOps('/admin/api/queue/pause')).status, 200);
  await page.waitForSelector('tr[data-action="pause"][data-who="token:ops"]', { timeout: 10000 });
  assert.equal((await asOps('/admin/api/queue/resume')).status, 200);
  await page.waitForSelector('tr[data-action="resume"][data-who="token:ops"]', { timeout: 10000 });
  // Entries link to what they name: the paused queue here, a job below.
  assert.equal(await page.getAttribute('tr[data-action="pause"] td.target a', 'href'), '/admin?queue=sentinel%3Asentinel-tasks');
  assert.equal((await asOps('/admin/api/jobs/no-such-job/retry')).status, 404);
  await page.waitForSelector('tr[data-action="retry"] td.target a[href="/admin/jobs/no-such-job"]', { timeout: 10000 });
  // Filtered by action: only that action's entries.
  await page.fill('#audit-action', 'resume');
  await page.press('#audit-action', 'Enter');
  await until('only resume entries', async () => {
    const actions = await page.$$eval('tbody tr[data-action]', (rows) => rows.map((r) => r.dataset.action));
    return actions.length === 1 && actions[0] === 'resume';
  });
  await page.screenshot({ path: `${OUT}/dashboard-audit.png`, fullPage: true });
  assert.deepEqual(boss.problems, []);
  await boss.context.close();
});
