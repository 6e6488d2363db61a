// Access in a real browser: anonymous visitors in two browser contexts each see only their own
// tasks (across reloads, even with the browser's storage cleared), and a person signs in with a
// token and out again. Any console error or warning fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { OUT, SERVER, enqueueFrom, killAll, launchBrowser, startRedis, startSentinel } from './harness.mjs';

let server;
let base;
let browser;
let token;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  const created = execFileSync(SERVER, ['token', 'create', '--name', 'ops', '--role', 'operator']).toString();
  token = created.split('\n')[0].split(' ').pop();
  const line = created.trim().split('\n').pop();
  const dir = mkdtempSync(`${tmpdir()}/sentinel-e2e-tokens-`);
  writeFileSync(`${dir}/tokens`, `${line}\n`);
  const redisUrl = await startRedis();
  ({ server, base } = await startSentinel(redisUrl, {
    SENTINEL_AUTH: 'on',
    SENTINEL_TOKENS_FILE: `${dir}/tokens`,
    SENTINEL_SESSION_SECRET: 'e2e-session-secret-of-at-least-32-chars',
    SENTINEL_ANONYMOUS_ROLE: 'submitter',
    TASK_TICK_MS: '200',
  }));
  browser = await launchBrowser();
});

after(async () => {
  if (server) writeFileSync(`${OUT}/access-server.log`, server.log());
  await browser?.close();
  killAll();
});

async function visitor() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { context, page, problems };
}

const ids = (page) => page.$$eval('li.task', (items) => items.map((i) => i.dataset.id));

test('anonymous visitors each see only their own tasks, across reloads', async () => {
  const a = await visitor();
  const b = await visitor();
  for (const v of [a, b]) {
    await v.page.goto(base);
    await v.page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
  }
  const mine = await enqueueFrom(a.page, 1);
  const theirs = await enqueueFrom(b.page, 1);
  await a.page.waitForSelector(`li.task[data-id="${mine}"][data-state="completed"]`, { timeout: 10000 });
  assert.deepEqual(await ids(a.page), [mine]);
  assert.deepEqual(await ids(b.page), [theirs]);
  // A submitter is not shown the whole queue.
  assert.equal(await a.page.$('.counts'), null);
  // The list follows the identity (the signed cookie), not this browser's storage.
  await a.page.evaluate(() => localStorage.clear());
  await a.page.reload();
  await a.page.waitForSelector(`li.task[data-id="${mine}"]`, { timeout: 10000 });
  assert.deepEqual(await ids(a.page), [mine]);
  // Typing another visitor's task into the URL shows nothing of it.
  await b.page.goto(`${base}/?task=${mine}`);
  await b.page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
  const shown = await b.page.$eval(`li.task[data-id="${mine}"]`, (li) => li.dataset.state).catch(() => null);
  assert.ok(shown === null || shown === 'gone', `another visitor's task is not shown: ${shown}`);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test('a person signs in with a token, sees who they are, and signs out', async () => {
  const v = await visitor();
  await v.page.goto(`${base}/signin`);
  await v.page.fill('#token', 'not-a-valid-token-but-long-enough-to-try');
  await v.page.click('button:has-text("Sign in")');
  await v.page.waitForSelector('#token-error', { timeout: 5000 });
  await v.page.fill('#token', token);
  await v.page.click('button:has-text("Sign in")');
  await v.page.waitForURL(`${base}/`);
  await v.page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
  assert.match(await v.page.textContent('.who'), /token:ops \(operator\)/);
  // An operator sees the queue's counts.
  await v.page.waitForSelector('.counts', { timeout: 5000 });
  await v.page.click('button:has-text("Sign out")');
  await v.page.waitForURL(`${base}/signin`);
  assert.ok(await v.page.$('#token'));
  // The failed attempt's 401 is the only console message allowed.
  assert.ok(v.problems.every((p) => p.includes('401')), v.problems.join('\n'));
  await v.context.close();
});
