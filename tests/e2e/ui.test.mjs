// Sentinel in a real browser: Debian's headless Chromium (driven by playwright-core) against the
// release server (`cargo leptos build --release`) with its own redis-server and a short tick.
// Any console error or warning (hydration warnings included) fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { Redis } from 'ioredis';
import { CHROMIUM, OUT, SERVER, SITE, enqueueFrom, freePort, processes, sleep, start, until } from './harness.mjs';
import { chromium } from 'playwright-core';

const TICK_MS = 400;

let redis;
let redisUrl;
let server;
let base;
let browser;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  const redisPort = await freePort();
  const dir = mkdtempSync(`${tmpdir()}/sentinel-e2e-redis-`);
  start('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  redisUrl = `redis://127.0.0.1:${redisPort}/0`;
  await until('redis-server to listen', () => new Promise((resolve) => {
    const socket = net.connect(redisPort, '127.0.0.1', () => { socket.end(); resolve(true); });
    socket.on('error', () => resolve(false));
  }));
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  assert.equal(await redis.ping(), 'PONG');

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = start(SERVER, [], {
    REDIS_URL: redisUrl,
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: SITE,
    TASK_TICK_MS: String(TICK_MS),
    RUST_LOG: 'info',
  });
  await until('the server to be ready', async () => (await fetch(`${base}/readyz`)).ok);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  // Kept for whoever has to read a failure.
  if (server) writeFileSync(`${OUT}/server.log`, server.log());
  await browser?.close();
  redis?.disconnect();
  for (const child of processes) child.kill('SIGKILL');
});

// A page that records every console error or warning, and the moments the bars move.
async function openPage(options = {}, { allow = () => false } = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if ((message.type() === 'error' || message.type() === 'warning') && !allow(message)) {
      problems.push(`${message.type()}: ${message.text()} (${message.location().url})`);
    }
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  await page.addInitScript(() => {
    window.__steps = [];
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        if (m.attributeName === 'data-step' && m.target.closest('li.task')) {
          window.__steps.push({
            id: m.target.closest('li.task').dataset.id,
            step: Number(m.target.getAttribute('data-step')),
            at: performance.timeOrigin + performance.now(),
          });
        }
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-step'] });
  });
  return { context, page, problems };
}

async function hydrated(page) {
  await page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
}

const enqueue = enqueueFrom;

async function stepOf(page, id) {
  return page.$eval(`li.task[data-id="${id}"] progress`, (p) => Number(p.getAttribute('value')));
}

test('enqueue from the form, watch the bar move live, reload and still see the task', async () => {
  const { context, page, problems } = await openPage({ viewport: { width: 1100, height: 800 } });
  const wasm = [];
  page.on('request', (request) => {
    // Each build's files are under an address of their own, `/pkg/<hash>/pkg/…`.
    const path = new URL(request.url()).pathname.replace(/^\/pkg\/[0-9a-f]{16}(?=\/pkg\/)/, '');
    if (path.endsWith('.wasm')) wasm.push(path);
  });
  await page.goto(base);
  await hydrated(page);
  await page.waitForSelector('[data-mode="live"]', { timeout: 10000 });
  // The home page runs on its own bundle (scripts/build-home): neither the main bundle nor the
  // router's and the dashboard's lazily loaded modules are fetched here.
  assert.deepEqual(wasm, ['/pkg/home.wasm']);
  assert.equal(await page.getAttribute('#seconds', 'value'), '20');
  assert.equal(await page.getAttribute('#seconds', 'min'), '1');
  assert.equal(await page.getAttribute('#seconds', 'max'), '3600');

  const id = await enqueue(page, 2);
  const item = `li.task[data-id="${id}"]`;
  // The page's own retry keys make long ids; people see a short label, the full id on hover.
  assert.match((await page.textContent(`${item} .task-id`)).trim(), /^Task #[0-9a-z]{1,8}$/);
  assert.ok((await page.getAttribute(item, 'title')).includes(id));
  await page.waitForSelector(`${item}[data-state="completed"]`, { timeout: 10000 });
  assert.equal(await page.getAttribute(`${item} progress`, 'max'), '2');
  assert.equal(await stepOf(page, id), 2);
  // The bar moved on each tick, in order.
  const steps = (await page.evaluate(() => window.__steps)).filter((s) => s.id === id).map((s) => s.step);
  assert.deepEqual(steps, [1, 2], `steps the bar showed: ${steps}`);
  // Completion in the page's own words; the seed's French result message stays in the API.
  assert.match(await page.textContent(`${item} .info`), /^Done: ran for /);
  assert.doesNotMatch(await page.textContent(item), /terminée/);

  // Progress update in Redis → bar moved in the page, per tick.
  const entries = await redis.xrange('sentinel:sentinel-tasks:events', '-', '+');
  const written = entries
    .map(([entryId, fields]) => ({ at: Number(entryId.split('-')[0]), fields: Object.fromEntries(fields.reduce((pairs, v, i, all) => (i % 2 ? pairs : [...pairs, [v, all[i + 1]]]), [])) }))
    .filter((e) => e.fields.event === 'progress' && e.fields.jobId === id)
    .map((e) => ({ step: JSON.parse(e.fields.data).step, at: e.at }));
  const moved = await page.evaluate(() => window.__steps);
  const delays = written.map((w) => {
    const m = moved.find((s) => s.step === w.step);
    return m ? m.at - w.at : NaN;
  });
  console.log(`progress update → bar moved: ${delays.map((d) => `${d.toFixed(1)} ms`).join(', ')}`);
  assert.ok(delays.every((d) => Number.isFinite(d)), `every step moved the bar: ${JSON.stringify({ written, moved })}`);

  // A longer task, caught mid-way for the README's screenshot.
  const shown = await enqueue(page, 5);
  await page.waitForSelector(`li.task[data-id="${shown}"] progress[data-step="2"]`, { timeout: 10000 });
  await page.screenshot({ path: `${OUT}/screenshot.png`, fullPage: true });

  await page.reload();
  await hydrated(page);
  await page.waitForSelector(`${item}[data-state="completed"]`, { timeout: 10000 });
  assert.match(await page.textContent(`${item} .info`), /^Done: ran for /);
  assert.ok(await page.$(`li.task[data-id="${shown}"]`), 'the second task survived the reload too');
  await page.waitForSelector(`li.task[data-id="${shown}"][data-state="completed"]`, { timeout: 10000 });
  // Counts follow through the page's one-request-a-second throttle.
  await until('the counts panel to show both completed jobs', async () =>
    Number(await page.textContent('.counts [data-state="completed"] dd')) >= 2, 5000);
  assert.deepEqual(problems, []);
  await context.close();
});

test('falls back to polling when the event stream is blocked', async () => {
  const blocked = (message) => message.location().url.includes('/tasks/stream') || message.text().includes('/tasks/stream');
  const { context, page, problems } = await openPage({}, { allow: blocked });
  await context.route('**/tasks/stream**', (route) => route.abort());
  await page.goto(base);
  await hydrated(page);
  await page.waitForSelector('[data-mode="polling"]', { timeout: 10000 });
  const id = await enqueue(page, 8);
  const item = `li.task[data-id="${id}"]`;
  const seen = new Set();
  await until('the bar to move while polling', async () => {
    seen.add(await stepOf(page, id));
    return (await page.getAttribute(item, 'data-state')) === 'completed';
  }, 15000);
  assert.ok([...seen].some((step) => step > 0 && step < 8), `an intermediate step was shown: ${[...seen]}`);
  assert.equal(await stepOf(page, id), 8);
  assert.equal(await page.getAttribute('[data-mode]', 'data-mode'), 'polling');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a rejected value shows the server message next to the field', async () => {
  const { context, page, problems } = await openPage();
  await page.goto(base);
  await hydrated(page);
  // Let the browser send what its own validation would stop, so the server decides.
  await page.$eval('#seconds', (input) => { input.removeAttribute('min'); input.removeAttribute('max'); });
  await page.fill('#seconds', '0');
  await page.click('button:has-text("Enqueue")');
  await page.waitForFunction(() => document.querySelector('#seconds-error').textContent.includes('between 1 and'), null, { timeout: 10000 });
  assert.equal(await page.getAttribute('#seconds', 'aria-invalid'), 'true');
  assert.equal(await page.$$eval('li.task', (items) => items.length), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

test('the form works without JavaScript (the server renders the result)', async () => {
  const { context, page } = await openPage({ javaScriptEnabled: false });
  await page.goto(base);
  assert.ok(await page.$('.counts'), 'counts are server-rendered');
  await page.fill('#seconds', '1');
  await Promise.all([page.waitForURL(/\?task=/), page.click('button:has-text("Enqueue")')]);
  const id = new URL(page.url()).searchParams.get('task');
  assert.ok(await page.$(`li.task[data-id="${id}"]`), 'the new task is server-rendered');
  await until('the task to complete', async () => {
    await page.reload();
    return (await page.getAttribute(`li.task[data-id="${id}"]`, 'data-state')) === 'completed';
  }, 15000);
  assert.match(await page.textContent(`li.task[data-id="${id}"] .info`), /^Done: ran for /);
  assert.doesNotMatch(await page.textContent(`li.task[data-id="${id}"]`), /terminée/);

  await page.goto(base);
  await page.fill('#seconds', '99999');
  await page.$eval('#seconds', (input) => input.removeAttribute('max'));
  await Promise.all([page.waitForURL(/\?error=/), page.click('button:has-text("Enqueue")')]);
  assert.match(await page.textContent('#seconds-error'), /between 1 and 3600/);
  await context.close();
});

test('usable at phone width: nothing overflows sideways', async () => {
  const { context, page, problems } = await openPage({ viewport: { width: 375, height: 740 }, isMobile: true });
  await page.goto(base);
  await hydrated(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: `${OUT}/phone.png`, fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('a failed task shows its reason', async () => {
  // A job no Sentinel form would send, as another BullMQ producer might add it.
  const { Queue } = await import('bullmq');
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('sentinel-tasks', { connection, prefix: 'sentinel' });
  const job = await queue.add('longTask', { seconds: 'soon' }, { attempts: 1 });
  await queue.close();
  connection.disconnect();
  const { context, page, problems } = await openPage();
  await page.goto(base);
  await hydrated(page);
  await page.evaluate((id) => localStorage.setItem('sentinel.tasks', JSON.stringify([id])), job.id);
  await page.reload();
  await hydrated(page);
  const item = `li.task[data-id="${job.id}"]`;
  await page.waitForSelector(`${item}[data-state="failed"]`, { timeout: 10000 });
  assert.match(await page.textContent(`${item} .failure`), /seconds/);
  assert.deepEqual(problems, []);
  await context.close();
});
