// The page for people on a bad day, in real headless Chromium against the release server and
// its own redis-server: Redis paused, the server restarted, two tabs, double clicks, a screen
// reader's view, the dark theme, a phone, no JavaScript, and a busy queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import {
  OUT, SERVER, SITE, freePort, launchBrowser, processes, start, startRedis, startSentinel, until,
} from './harness.mjs';

const TICK_MS = 400;
const KEY_PREFIX = 'sentinel:sentinel-tasks:';

let redisUrl;
let redisProcess;
let redis;
let base;
let server;
let browser;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  redisUrl = await startRedis();
  redisProcess = processes[processes.length - 1];
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  ({ server, base } = await startSentinel(redisUrl, { TASK_TICK_MS: String(TICK_MS), WORKER_CONCURRENCY: '4' }));
  browser = await launchBrowser();
});

after(async () => {
  if (server) writeFileSync(`${OUT}/people-server.log`, server.log());
  await browser?.close();
  redis?.disconnect();
  for (const child of processes) child.kill('SIGKILL');
});

// Every job hash in Redis: the tasks that exist.
async function jobsInRedis(client = redis) {
  const keys = await client.keys(`${KEY_PREFIX}*`);
  const ids = [];
  for (const key of keys) {
    const id = key.slice(KEY_PREFIX.length);
    if (id.includes(':')) continue;
    if ((await client.type(key)) === 'hash' && (await client.hexists(key, 'timestamp'))) ids.push(id);
  }
  return new Set(ids);
}

// A page that records console errors and what the announcer says.
async function openPage(context, { allow = () => false } = {}) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if ((m.type() === 'error' || m.type() === 'warning') && !allow(m)) problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.addInitScript(() => {
    // What the announcer says, once per change of its text (the observer fires on every change
    // of the document, so the same announcement would otherwise be recorded once per tick).
    window.__said = [];
    new MutationObserver(() => {
      const text = document.querySelector('#announcer')?.textContent;
      if (text && window.__said[window.__said.length - 1] !== text) window.__said.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  return { page, problems };
}

async function ready(page, url = base) {
  await page.goto(url);
  await page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
  await page.waitForSelector('[data-mode="live"]', { timeout: 10000 });
}

const listed = (page) => page.$$eval('li.task[data-id]', (items) => items.map((i) => i.dataset.id));

async function newRow(page, known) {
  const handle = await page.waitForFunction(
    (known) => [...document.querySelectorAll('li.task[data-id]')].map((i) => i.dataset.id).find((id) => !known.includes(id)),
    known,
    { timeout: 20000 },
  );
  return handle.jsonValue();
}

async function enqueue(page, seconds) {
  const known = await listed(page);
  await page.fill('#seconds', String(seconds));
  await page.click('button[type="submit"]');
  return newRow(page, known);
}

const mode = (page) => page.getAttribute('[data-mode]', 'data-mode');

async function modeWithin(page, wanted, ms) {
  const started = Date.now();
  await until(`the indicator to say ${wanted}`, async () => wanted.includes(await mode(page)), ms);
  return Date.now() - started;
}

test('a task enqueued while Redis is paused is listed exactly once when it is back; the indicator tells', async () => {
  const context = await browser.newContext();
  const stream = (m) => /Failed to load resource|ERR_|503/.test(m.text());
  const { page, problems } = await openPage(context, { allow: stream });
  await ready(page);
  const before = await jobsInRedis();

  process.kill(redisProcess.pid, 'SIGSTOP');
  let resumed = false;
  try {
    const noticed = await modeWithin(page, ['queue-down'], 5000);
    console.log(`Redis paused → indicator changed after ${noticed} ms`);
    assert.match(await page.textContent('[data-mode]'), /Queue unreachable for .*last update/);
    assert.equal(await page.getAttribute('section.tasks', 'data-stale'), 'true');

    await page.fill('#seconds', '2');
    await page.click('button[type="submit"]');
    // Shown at once as sent, and told plainly when the queue does not answer.
    await page.waitForSelector('li.task.pending', { timeout: 2000 });
    await page.waitForFunction(() => /Not confirmed/.test(document.querySelector('li.task.pending .info')?.textContent ?? ''), null, { timeout: 15000 });
    assert.deepEqual(await listed(page), []);

    process.kill(redisProcess.pid, 'SIGCONT');
    resumed = true;
    const back = await modeWithin(page, ['live'], 5000);
    console.log(`Redis resumed → indicator live after ${back} ms`);
  } finally {
    if (!resumed) process.kill(redisProcess.pid, 'SIGCONT');
  }
  const id = await newRow(page, []);
  await page.waitForSelector(`li.task[data-id="${id}"][data-state="completed"]`, { timeout: 20000 });
  assert.equal(await page.$('li.task.pending'), null, 'no submission is left unconfirmed');
  const made = [...(await jobsInRedis())].filter((job) => !before.has(job));
  assert.deepEqual(made, [id], 'exactly the task the page lists exists');
  assert.deepEqual(await listed(page), [id]);
  assert.equal(await page.textContent('#seconds-error'), '', 'no error is left on screen');
  assert.deepEqual(problems, []);
  await context.close();
});

test('two tabs share one list and see each other\'s tasks; a third tab lists them all', async () => {
  const context = await browser.newContext();
  const one = await openPage(context);
  const two = await openPage(context);
  await ready(one.page);
  await ready(two.page);
  const first = await enqueue(one.page, 1);
  await two.page.waitForSelector(`li.task[data-id="${first}"]`, { timeout: 5000 });
  const second = await enqueue(two.page, 1);
  await one.page.waitForSelector(`li.task[data-id="${second}"]`, { timeout: 5000 });
  const third = await openPage(context);
  await ready(third.page);
  for (const { page } of [one, two, third]) {
    await until('both tasks in every tab', async () => {
      const ids = await listed(page);
      return ids.includes(first) && ids.includes(second);
    }, 5000);
  }
  // Newest first, in every tab.
  assert.deepEqual((await listed(third.page)).slice(0, 2), [second, first]);
  for (const { problems } of [one, two, third]) assert.deepEqual(problems, []);
  await context.close();
});

test('a double click makes one task, and the button shows the submit in flight', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);
  await ready(page);
  const before = await jobsInRedis();
  await page.fill('#seconds', '1');
  await page.dblclick('button[type="submit"]');
  const id = await newRow(page, []);
  await page.waitForSelector(`li.task[data-id="${id}"][data-state="completed"]`, { timeout: 10000 });
  const made = [...(await jobsInRedis())].filter((job) => !before.has(job));
  assert.deepEqual(made, [id]);
  assert.deepEqual(await listed(page), [id]);
  assert.equal(await page.getAttribute('button[type="submit"]', 'disabled'), null);
  assert.deepEqual(problems, []);
  await context.close();
});

test('screen readers: bars named per task with value text; changes announced once', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);
  await ready(page);
  const id = await enqueue(page, 10);
  const item = `li.task[data-id="${id}"]`;
  await page.waitForFunction((sel) => document.querySelector(`${sel}[data-state="active"] progress`)?.getAttribute('data-step') >= 1, item, { timeout: 10000 });
  const label = (await page.textContent(`${item} .task-id`)).trim();
  const cdp = await context.newCDPSession(page);
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  const bars = nodes.filter((n) => n.role?.value === 'progressbar');
  const bar = bars.find((n) => n.name?.value === label);
  assert.ok(bar, `a progress bar named "${label}": ${JSON.stringify(bars.map((b) => b.name))}`);
  // Where the task is, as its description (Chromium's tree shows `aria-valuetext` as empty,
  // so the attribute itself is checked too).
  assert.match(bar.description?.value ?? '', /\d+ of 10 s done; about .* left/, JSON.stringify(bar));
  assert.ok(bar.properties.some((p) => p.name === 'valuemax' && p.value.value === 10), JSON.stringify(bar));
  assert.match(await page.getAttribute(`${item} [role="progressbar"]`, 'aria-valuetext'), /^\d+ of 10 s, running$/);
  await page.waitForSelector(`${item}[data-state="completed"]`, { timeout: 15000 });
  await until('the completion to be announced', async () =>
    (await page.evaluate(() => window.__said)).some((s) => s.includes('completed')), 5000);
  const said = await page.evaluate(() => window.__said);
  const completions = said.filter((s) => s === `Task ${label.replace('Task ', '')} completed.`);
  assert.equal(completions.length, 1, JSON.stringify(said));
  assert.ok(said.some((s) => s.endsWith('queued.')), JSON.stringify(said));
  assert.ok(!said.some((s) => /tick|of 10/.test(s)), 'ticks are not announced');
  assert.equal(await page.getAttribute('[data-mode]', 'role'), null);
  assert.deepEqual(problems, []);
  await context.close();
});

test('a refused value moves focus to the field and the message clears when it is edited', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);
  await ready(page);
  await page.$eval('#seconds', (input) => { input.removeAttribute('min'); input.removeAttribute('max'); });
  await page.fill('#seconds', '0');
  await page.click('button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('#seconds-error').textContent.includes('between 1 and'));
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'seconds');
  await page.fill('#seconds', '5');
  assert.equal(await page.textContent('#seconds-error'), '');
  assert.deepEqual(problems, []);
  await context.close();
});

test('the Options disclosure sends job options; a refused option is named', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);
  await ready(page);
  await page.click('summary:has-text("Options")');
  // Past the browser's own check, the page's (the server's rule) names the field.
  await page.$eval('#opt-timeout', (input) => input.removeAttribute('min'));
  await page.fill('#opt-timeout', '0');
  await page.fill('#seconds', '1');
  await page.click('button[type="submit"]');
  await page.waitForFunction(() => /Time limit must be/.test(document.querySelector('#seconds-error').textContent));
  assert.deepEqual(await listed(page), []);
  await page.fill('#opt-timeout', '');
  await page.fill('#opt-delay', '90');
  await page.fill('#opt-attempts', '3');
  await page.selectOption('#opt-backoff', 'exponential');
  await page.fill('#opt-backoff-s', '2');
  const known = await listed(page);
  await page.click('button[type="submit"]');
  const id = await newRow(page, known);
  await page.waitForFunction((sel) => /Delayed until/.test(document.querySelector(sel)?.textContent ?? ''), `li.task[data-id="${id}"] .info`, { timeout: 5000 });
  const job = await (await fetch(`${base}/admin/api/jobs/${id}`)).json();
  assert.equal(job.state, 'delayed');
  assert.equal(job.opts.attempts, 3);
  assert.deepEqual(job.opts.backoff, { type: 'exponential', delay: 2000 });
  assert.ok(job.delayedUntil - job.timestamp >= 89000, JSON.stringify(job));
  assert.deepEqual(problems, []);
  await context.close();
});

test('rows explain: duration, times, place in the queue, delayed until, removed from history', async (t) => {
  // A queue with one worker slot, so tasks wait.
  const port = await freePort();
  const narrow = start(SERVER, [], {
    REDIS_URL: redisUrl, LEPTOS_SITE_ADDR: `127.0.0.1:${port}`, LEPTOS_SITE_ROOT: SITE,
    TASK_TICK_MS: String(TICK_MS), WORKER_CONCURRENCY: '1', SENTINEL_QUEUE: 'narrow', RUST_LOG: 'info',
  });
  const narrowBase = `http://127.0.0.1:${port}`;
  await until('the narrow server', async () => (await fetch(`${narrowBase}/readyz`)).ok);
  const { Queue } = await import('bullmq');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('narrow', { connection, prefix: 'sentinel' });
  t.after(async () => {
    await queue.close();
    connection.disconnect();
    narrow.kill('SIGKILL');
  });
  const delayed = await queue.add('longTask', { seconds: 1 }, { delay: 120000 });

  const context = await browser.newContext();
  const { page, problems } = await openPage(context);
  await page.goto(narrowBase);
  await page.evaluate((entries) => localStorage.setItem('sentinel.tasks', JSON.stringify(entries)), [
    { id: delayed.id, at: 3 }, { id: 'no-such-task', at: 2 }, 'a:b', '', 17, { id: 'x'.repeat(300), at: 1 },
  ]);
  await ready(page, narrowBase);
  const running = await enqueue(page, 10);
  const next = await enqueue(page, 1);
  const last = await enqueue(page, 1);
  const row = (id) => `li.task[data-id="${id}"]`;
  await page.waitForFunction((sel) => /1 task ahead/.test(document.querySelector(sel)?.textContent ?? ''), row(last), { timeout: 10000 });
  await page.waitForFunction((sel) => /Next in line/.test(document.querySelector(sel)?.textContent ?? ''), row(next), { timeout: 10000 });
  assert.match(await page.textContent(`${row(last)} .meta`), /1 s task.*queued/);
  await page.waitForFunction((sel) => /about .* left/.test(document.querySelector(sel)?.textContent ?? ''), row(running), { timeout: 10000 });
  assert.match(await page.textContent(`${row(running)} .meta`), /10 s task.*started/);
  await page.waitForFunction((sel) => /Delayed until .*\(in (1|2) min\)/.test(document.querySelector(sel)?.textContent ?? ''), `${row(delayed.id)} .info`, { timeout: 5000 });
  // Ids that could name no job were never listed.
  assert.equal(await page.$$eval('li.task[data-id]', (items) => items.filter((i) => i.dataset.id === 'a:b' || i.dataset.id === '' || i.dataset.id.length > 256).length), 0);
  const gone = row('no-such-task');
  await page.waitForSelector(`${gone}[data-state="gone"]`, { timeout: 5000 });
  assert.match(await page.textContent(gone), /Removed from history.*last 100 completed/s);
  await page.click(`${gone} button:has-text("Dismiss")`);
  await page.waitForSelector(gone, { state: 'detached', timeout: 2000 });
  // Finished: run time and time since queued, in the page's words (Sentinel's own task's
  // French result message, which names the internal id, is not repeated).
  await page.waitForSelector(`${row(next)}[data-state="completed"]`, { timeout: 20000 });
  await page.waitForFunction((sel) => /ran for .* s, finished .* after it was queued/.test(document.querySelector(sel)?.textContent ?? ''), `${row(next)} .info`, { timeout: 3000 });
  assert.equal(await page.$(`${row(next)} .result`), null);
  assert.doesNotMatch(await page.textContent(row(next)), /terminée/);
  // "Clear finished" takes the finished ones off, in this tab and for a reload.
  await page.waitForSelector(`${row(last)}[data-state="completed"]`, { timeout: 20000 });
  await page.click('button.clear');
  await until('finished tasks cleared', async () => !(await listed(page)).includes(next), 2000);
  await page.reload();
  await page.waitForSelector('main[data-hydrated="true"]');
  const after = await listed(page);
  assert.ok(!after.includes(next) && !after.includes(last), after.join(','));
  assert.ok(after.includes(delayed.id), after.join(','));
  assert.deepEqual(problems, []);
  await context.close();
});

test('a paused queue and a due delayed task say what they are; the dashboard shows and finds a task by its label', async (t) => {
  // A server of its own with no worker on a queue of its own: nothing moves a task but the
  // operator's pause and resume.
  const port = await freePort();
  const idle = start(SERVER, [], {
    REDIS_URL: redisUrl, LEPTOS_SITE_ADDR: `127.0.0.1:${port}`, LEPTOS_SITE_ROOT: SITE,
    TASK_TICK_MS: String(TICK_MS), SENTINEL_ROLE: 'web', SENTINEL_QUEUE: 'idle', RUST_LOG: 'info',
  });
  t.after(() => idle.kill('SIGKILL'));
  const idleBase = `http://127.0.0.1:${port}`;
  await until('the idle server', async () => (await fetch(`${idleBase}/readyz`)).ok);
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);
  await ready(page, idleBase);
  const row = (id) => `li.task[data-id="${id}"]`;
  const says = (id, pattern, timeout = 8000) => page.waitForFunction(
    ([sel, source]) => new RegExp(source).test(document.querySelector(sel)?.textContent ?? ''),
    [`${row(id)} .info`, pattern.source], { timeout },
  );

  assert.equal((await fetch(`${idleBase}/admin/api/queue/pause`, { method: 'POST' })).status, 200);
  const held = await enqueue(page, 1);
  await says(held, /^Held: an operator has paused the queue/);
  assert.equal((await page.textContent(`${row(held)} .state`)).trim(), 'Held');
  // Focus stays in the form for the next task, and the outcome was announced.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'seconds');
  assert.ok((await page.evaluate(() => window.__said)).some((said) => /^Task #\S+ queued\.$/.test(said)));

  // A one-off option goes with one task only: the form is empty again afterwards.
  await page.click('summary:has-text("Options")');
  await page.fill('#opt-delay', '1');
  const due = await enqueue(page, 1);
  assert.equal(await page.inputValue('#opt-delay'), '');
  // Due, with no worker to move it: ready, not "delayed until … ago".
  await says(due, /^Ready since .* ago\): waiting for a worker to take it\.$/);
  // Times of day are the reader's own, named by their offset (UTC where the page is rendered
  // on the server, until its clock ticks in the browser).
  const abroad = await browser.newContext({ timezoneId: 'Asia/Kolkata' });
  await abroad.addInitScript((entries) => localStorage.setItem('sentinel.tasks', JSON.stringify(entries)), [{ id: due, at: 1 }]);
  const there = await abroad.newPage();
  await there.goto(idleBase);
  await there.waitForFunction((sel) => /^Ready since \d\d:\d\d:\d\d UTC\+5:30 /.test(document.querySelector(sel)?.textContent ?? ''), `${row(due)} .info`, { timeout: 8000 });
  await abroad.close();

  // Resumed: the held task's line changes without a reload (the stream carries the resume).
  assert.equal((await fetch(`${idleBase}/admin/api/queue/resume`, { method: 'POST' })).status, 200);
  await says(held, /^(Next in line for a worker|Waiting for a worker: 1 task ahead)\.$/, 5000);

  // The dashboard shows the id as the person sees it, and finds the task by it.
  const label = (await page.textContent(`${row(held)} .task-id`)).trim().replace(/^Task /, '');
  assert.match(label, /^#[0-9a-f]{8}$/);
  const admin = await context.newPage();
  await admin.goto(`${idleBase}/admin?in=all&q=${encodeURIComponent(label)}`);
  await admin.waitForSelector(`tr[data-id="${held}"]`, { timeout: 10000 });
  assert.equal((await admin.textContent(`tr[data-id="${held}"] td.id a`)).trim(), label);
  assert.equal(await admin.getAttribute(`tr[data-id="${held}"] td.id a`, 'title'), held);
  await admin.close();
  assert.deepEqual(problems, []);
  await context.close();
});

test('a failed task looks failed, says its attempts, and its owner runs it again from the row', async () => {
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);
  await ready(page);
  await page.click('summary:has-text("Options")');
  // A 5-tick task with a 1 s limit, twice: it fails after two attempts.
  await page.fill('#opt-timeout', '1');
  await page.fill('#opt-attempts', '2');
  const id = await enqueue(page, 5);
  const row = `li.task[data-id="${id}"]`;
  await page.waitForFunction((sel) => /^Failed after 2 attempts: timed out/.test(document.querySelector(sel)?.textContent ?? ''), `${row} .info`, { timeout: 20000 });
  assert.equal(await page.getAttribute(row, 'data-state'), 'failed');
  const looks = await page.$eval(row, (item) => {
    const style = getComputedStyle(item);
    const bar = getComputedStyle(item.querySelector('progress'));
    const bad = getComputedStyle(document.documentElement).getPropertyValue('--bad').trim();
    return { edge: style.borderLeftColor, width: style.borderLeftWidth, bar: bar.accentColor, bad };
  });
  // The theme's --bad (#a4161a) on the row's edge and on its bar.
  assert.equal(looks.width, '4px');
  assert.equal(looks.edge, 'rgb(164, 22, 26)', JSON.stringify(looks));
  assert.equal(looks.bar, 'rgb(164, 22, 26)', JSON.stringify(looks));
  await page.click(`${row} form.retry button`);
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.state !== 'failed', row, { timeout: 5000 });
  await page.waitForFunction((said) => window.__said.some((s) => s === said), `Task ${await page.evaluate((sel) => document.querySelector(sel).querySelector('.task-id').textContent.replace(/^Task /, ''), row)} queued again.`, { timeout: 5000 });
  // It runs again (and fails again: the same limit) and comes back failed, the Retry with it.
  await page.waitForSelector(`${row}[data-state="failed"] form.retry button`, { timeout: 20000 });
  assert.deepEqual(problems, []);
  await context.close();
});

test('server stopped and restarted: the indicator tells within 5 s both ways; a restarted task says so', async () => {
  const port = await freePort();
  const env = {
    REDIS_URL: redisUrl, LEPTOS_SITE_ADDR: `127.0.0.1:${port}`, LEPTOS_SITE_ROOT: SITE,
    TASK_TICK_MS: String(TICK_MS), SHUTDOWN_GRACE_MS: '300', SENTINEL_QUEUE: 'restarts', RUST_LOG: 'info',
  };
  const own = `http://127.0.0.1:${port}`;
  let first = start(SERVER, [], env);
  await until('the server', async () => (await fetch(`${own}/readyz`)).ok);
  const context = await browser.newContext();
  const offline = (m) => /Failed to load resource|ERR_CONNECTION_REFUSED|Failed to fetch|ERR_EMPTY/.test(m.text());
  const { page, problems } = await openPage(context, { allow: offline });
  const requests = [];
  page.on('request', (r) => requests.push({ url: r.url(), at: Date.now() }));
  await ready(page, own);
  const id = await enqueue(page, 12);
  await page.waitForSelector(`li.task[data-id="${id}"] progress[data-step="3"]`, { timeout: 10000 });

  first.kill('SIGTERM');
  const stoppedAt = Date.now();
  await modeWithin(page, ['reconnecting', 'server-down'], 5000);
  await modeWithin(page, ['server-down'], 8000);
  console.log(`server stopped → "server unreachable" after ${Date.now() - stoppedAt} ms`);
  assert.match(await page.textContent('[data-mode]'), /Server unreachable for .*last update/);
  // While it is down the page asks with back-off: no storm.
  const downFor = 6000;
  const windowStart = Date.now();
  await until('time to pass', async () => Date.now() - windowStart >= downFor, downFor + 1000);
  const asked = requests.filter((r) => r.at >= windowStart && r.at <= windowStart + downFor).length;
  assert.ok(asked <= 4, `requests in ${downFor} ms of outage: ${asked}`);

  const second = start(SERVER, [], env);
  await until('the server again', async () => (await fetch(`${own}/readyz`)).ok);
  const upAt = Date.now();
  await modeWithin(page, ['live'], 5000);
  console.log(`server back → indicator live after ${Date.now() - upAt} ms`);
  const item = `li.task[data-id="${id}"]`;
  await page.waitForFunction((sel) => /restarted/.test(document.querySelector(sel)?.textContent ?? ''), item, { timeout: 15000 });
  assert.match(await page.textContent(`${item} .note`), /Attempt 2: restarted from the beginning/);
  await page.waitForSelector(`${item}[data-state="completed"]`, { timeout: 20000 });
  assert.match(await page.textContent(`${item} .info`), /ran for .* finished .* after it was queued/);
  assert.deepEqual(problems, []);
  await context.close();
  second.kill('SIGKILL');
  first = null;
});

test('dark theme follows the system; on a phone the tasks come first; forced colours keep controls visible', async () => {
  const dark = await browser.newContext({ colorScheme: 'dark', viewport: { width: 1000, height: 700 } });
  const { page, problems } = await openPage(dark);
  await ready(page);
  await enqueue(page, 2);
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = background.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 120, `dark background: ${background}`);
  await page.screenshot({ path: `${OUT}/dark.png`, fullPage: true });
  assert.deepEqual(problems, []);
  await dark.close();

  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true });
  const small = await openPage(phone);
  await ready(small.page);
  await enqueue(small.page, 2);
  const tasksTop = await small.page.$eval('section.tasks', (s) => s.getBoundingClientRect().top);
  const countsTop = await small.page.$eval('section.counts', (s) => s.getBoundingClientRect().top);
  assert.ok(tasksTop < countsTop, `tasks (${tasksTop}) above counts (${countsTop})`);
  await small.page.screenshot({ path: `${OUT}/phone-tasks-first.png`, fullPage: true });
  assert.deepEqual(small.problems, []);
  await phone.close();

  // Forced colours (Windows high contrast): the button keeps a visible border and outline.
  const forced = await browser.newContext({ forcedColors: 'active' });
  const contrast = await openPage(forced);
  await ready(contrast.page);
  await contrast.page.focus('button[type="submit"]');
  await contrast.page.keyboard.press('Shift+Tab');
  await contrast.page.keyboard.press('Tab');
  const look = await contrast.page.$eval('button[type="submit"]', (b) => {
    const style = getComputedStyle(b);
    return { border: style.borderTopWidth, borderStyle: style.borderTopStyle, outline: style.outlineStyle, outlineWidth: style.outlineWidth };
  });
  assert.notEqual(look.border, '0px', JSON.stringify(look));
  assert.notEqual(look.borderStyle, 'none', JSON.stringify(look));
  assert.notEqual(look.outline, 'none', `focused button has an outline: ${JSON.stringify(look)}`);
  assert.deepEqual(contrast.problems, []);
  await forced.close();
});

test('without JavaScript the result page refreshes itself to completion and keeps earlier tasks', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(base);
  await page.fill('#seconds', '1');
  await Promise.all([page.waitForURL(/\?task=/), page.click('button[type="submit"]')]);
  const first = new URL(page.url()).searchParams.get('task');
  assert.ok(await page.$('meta[http-equiv="refresh"]'), 'a running task makes the page refresh itself');
  // The badge does not promise updates that need scripts.
  assert.match(await page.innerText('[data-mode]'), /Not live yet.*JavaScript is off: this page reloads itself every \d+ s/s);
  // No reload from the test: the page reloads itself until the task is done.
  await page.waitForSelector(`li.task[data-id="${first}"][data-state="completed"]`, { timeout: 15000 });
  await page.fill('#seconds', '1');
  await Promise.all([page.waitForURL((url) => url.searchParams.get('task') !== first), page.click('button[type="submit"]')]);
  const second = new URL(page.url()).searchParams.get('task');
  assert.ok(await page.$(`li.task[data-id="${first}"]`), 'the earlier task is still listed');
  await page.waitForSelector(`li.task[data-id="${second}"][data-state="completed"]`, { timeout: 15000 });
  assert.equal(await page.$('meta[http-equiv="refresh"]'), null, 'no refresh once everything finished');
  // A mistyped address gets a page, not JSON; the API keeps its JSON 404.
  const missing = await page.goto(`${base}/no-such-page`);
  assert.equal(missing.status(), 404);
  assert.match(await page.textContent('h1'), /Page not found/);
  const api = await fetch(`${base}/tasks/no-such-route`, { headers: { accept: 'text/html' } });
  assert.equal(api.status, 404);
  assert.match(api.headers.get('content-type'), /json/);
  await context.close();
});

test('quiet on the network: 100 running tasks, 60 s, at most about one request a second', async () => {
  const port = await freePort();
  const busy = start(SERVER, [], {
    REDIS_URL: redisUrl, LEPTOS_SITE_ADDR: `127.0.0.1:${port}`, LEPTOS_SITE_ROOT: SITE,
    TASK_TICK_MS: '500', WORKER_CONCURRENCY: '110', SENTINEL_QUEUE: 'busy', RUST_LOG: 'warn',
  });
  const busyBase = `http://127.0.0.1:${port}`;
  await until('the busy server', async () => (await fetch(`${busyBase}/readyz`)).ok);
  const ids = [];
  for (let i = 0; i < 100; i += 1) {
    const response = await fetch(`${busyBase}/tasks/enqueue?seconds=200`, { method: 'POST' });
    ids.push((await response.json()).id);
  }
  const context = await browser.newContext();
  const { page, problems } = await openPage(context);
  await page.goto(busyBase);
  await page.evaluate((ids) => localStorage.setItem('sentinel.tasks', JSON.stringify(ids.map((id, i) => ({ id, at: i + 1 })))), ids);
  await ready(page, busyBase);
  await until('the first rows to run', async () => (await page.$$('li.task[data-state="active"]')).length >= 10, 15000);
  const requests = [];
  page.on('request', (r) => { if (new URL(r.url()).pathname.startsWith('/api/')) requests.push(new URL(r.url()).pathname); });
  const windowMs = 60000;
  const started = Date.now();
  const moved = await page.evaluate(() => document.querySelectorAll('progress').length);
  await until('60 s to pass', async () => Date.now() - started >= windowMs, windowMs + 2000);
  const byPath = requests.reduce((all, path) => ({ ...all, [path]: (all[path] ?? 0) + 1 }), {});
  console.log(`requests in 60 s with 100 running tasks: ${requests.length} ${JSON.stringify(byPath)}`);
  assert.ok(requests.length <= 66, `${requests.length} requests in 60 s: ${JSON.stringify(byPath)}`);
  assert.ok(moved >= 20);
  // Still live, and the bars moved meanwhile.
  assert.equal(await mode(page), 'live');
  assert.deepEqual(problems, []);
  await context.close();
  busy.kill('SIGKILL');
});
