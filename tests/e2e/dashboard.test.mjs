// The operations dashboard in real headless Chromium against the release server: an operator's
// actions and their effect in a second tab without reload, search and paging through the URL,
// the job page following a job to completion, a viewer who sees no action (and whose forced
// action is refused), someone who may not see it at all. Any console error or warning fails
// the test. Screenshots of the overview, the jobs list and a job page (light and dark) are
// written to target/e2e/ (the README's come from there).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { FlowProducer, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  OUT, createToken, killAll, launchBrowser, processes, startRedis, startSentinel, until,
} from './harness.mjs';

let server;
let redisUrl;
let redisProcess;
let base;
let browser;
const tokens = {};

before(async () => {
  mkdirSync(OUT, { recursive: true });
  const lines = [createToken(tokens, 'ops', 'operator'), createToken(tokens, 'watch', 'viewer')];
  const dir = mkdtempSync(`${tmpdir()}/sentinel-e2e-dashboard-`);
  writeFileSync(`${dir}/tokens`, `${lines.join('\n')}\n`);
  redisUrl = await startRedis();
  redisProcess = processes[processes.length - 1];
  ({ server, base } = await startSentinel(redisUrl, {
    SENTINEL_AUTH: 'on',
    SENTINEL_TOKENS_FILE: `${dir}/tokens`,
    SENTINEL_SESSION_SECRET: 'e2e-session-secret-of-at-least-32-chars',
    SENTINEL_ANONYMOUS_ROLE: 'submitter',
    TASK_TICK_MS: '250',
    WORKER_CONCURRENCY: '2',
    ENQUEUE_RATE_PER_MINUTE: '1000',
    SENTINEL_HISTORY_EVERY_MS: '500',
  }));
  browser = await launchBrowser();
});

after(async () => {
  if (server) writeFileSync(`${OUT}/dashboard-server.log`, server.log());
  await browser?.close();
  killAll();
});

// A browser context signed in with `token` (or anonymous), and a way to open pages in it that
// records every console error or warning.
async function person(token, colorScheme = 'light', viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ colorScheme, viewport });
  const problems = [];
  const dialogs = [];
  const open = async (path, { hydrated = true } = {}) => {
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('dialog', (d) => { dialogs.push(d.message()); d.accept(); });
    await page.goto(`${base}${path}`);
    if (hydrated) await page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
    return page;
  };
  if (token) {
    const page = await open('/signin', { hydrated: false });
    await page.fill('#token', token);
    await page.click('button:has-text("Sign in")');
    await page.waitForURL(`${base}/`);
    await page.close();
  }
  return { context, open, problems, dialogs };
}

// Enqueues over the API with the context's cookies; resolves to the job id.
async function enqueue(context, body) {
  const response = await context.request.post(`${base}/tasks/enqueue`, { data: body });
  assert.equal(response.status(), 201, await response.text());
  return (await response.json()).id;
}

const row = (id) => `tr[data-id="${id}"]`;
const rowState = (page, id) => page.$eval(row(id), (tr) => tr.dataset.state).catch(() => null);

async function live(page) {
  await page.waitForSelector('[data-feed="live"]', { timeout: 15000 });
}

test('an operator acts from the dashboard and a second tab sees each change without reload', async () => {
  const ops = await person(tokens.ops);
  const later = await enqueue(ops.context, { seconds: 1, delay: 600000 });
  const long = await enqueue(ops.context, { seconds: 400 });
  const a = await ops.open('/admin');
  const b = await ops.open('/admin');
  await live(a);
  await live(b);
  await until('the long job to run', async () => (await rowState(b, long)) === 'active');

  // Promote the delayed job: it runs and completes; the other tab follows.
  await a.goto(`${base}/admin?state=delayed`);
  await a.waitForSelector('main[data-hydrated="true"]');
  await a.click(`button[aria-label="Promote job ${later}"]`);
  await a.waitForSelector(`.notice :text("Job ${later}: promote done")`, { timeout: 10000 });
  await until('the second tab to see the promoted job complete',
    async () => (await rowState(b, later)) === 'completed', 20000);

  // Cancel the running one: it fails as cancelled, in both tabs.
  await a.goto(`${base}/admin?state=active`);
  await a.waitForSelector('main[data-hydrated="true"]');
  await a.click(`button[aria-label="Cancel job ${long}"]`);
  await until('the second tab to see the cancelled job fail',
    async () => (await rowState(b, long)) === 'failed', 20000);
  assert.match(await b.textContent(`${row(long)} .reason`), /cancelled/);

  // Retry it from the failed tab: the second tab sees it running again.
  await a.goto(`${base}/admin?state=failed`);
  await a.waitForSelector('main[data-hydrated="true"]');
  await a.click(`button[aria-label="Retry job ${long}"]`);
  await until('the second tab to see the retried job run',
    async () => ['active', 'waiting'].includes(await rowState(b, long)), 20000);

  // One embedded worker, said in the singular.
  assert.match(await a.textContent('.queue-line .muted'), /^1 worker, \d+ jobs? running$/);
  // Pause (asked first: it stops every worker) and resume the queue.
  await a.click('button:has-text("Pause the queue")');
  assert.ok(ops.dialogs.some((d) => d.startsWith('Pause the queue? Workers of every process stop')), ops.dialogs.join());
  await b.waitForSelector('[data-paused="true"]', { timeout: 10000 });
  await a.click('button:has-text("Resume the queue")');
  await b.waitForSelector('.badge.running', { timeout: 10000 });

  // Remove the completed one: its row leaves the other tab.
  await a.goto(`${base}/admin?state=completed`);
  await a.waitForSelector('main[data-hydrated="true"]');
  await a.click(`button[aria-label="Remove job ${later}"]`);
  await until('the removed job to leave the second tab', async () => (await rowState(b, later)) === null, 20000);

  // Cancel the long job again so that it does not hold a worker.
  await a.goto(`${base}/admin?state=active`);
  await a.waitForSelector('main[data-hydrated="true"]');
  await a.click(`button[aria-label="Cancel job ${long}"]`);
  await until('the long job to stop', async () => (await rowState(b, long)) === 'failed', 20000);

  await b.screenshot({ path: `${OUT}/dashboard-overview-light.png`, fullPage: true });
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
});

test('search and paging go through the URL, and "/" jumps to the search box', async () => {
  const ops = await person(tokens.ops);
  const ids = [];
  for (let i = 0; i < 23; i += 1) ids.push(await enqueue(ops.context, { seconds: 1 }));
  const page = await ops.open('/admin?state=completed');
  await until('23 completed jobs', async () => {
    await page.reload();
    await page.waitForSelector('main[data-hydrated="true"]');
    return /of (2[3-9]|[3-9]\d)\./.test(await page.textContent('.jobs .muted'));
  }, 30000);
  assert.equal(await page.$$eval('.job-table tbody tr', (rows) => rows.length), 20);
  await page.click('a[rel="next"]');
  await page.waitForURL(/state=completed&page=1/);
  assert.ok(await page.$$eval('.job-table tbody tr', (rows) => rows.length) >= 3);

  // "/" focuses the search box; a search lands in the URL and survives a reload.
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'job-search');
  await page.keyboard.type(`id:${ids[4]}`);
  await page.keyboard.press('Enter');
  await page.waitForURL(/q=id%3A/);
  await page.waitForSelector(row(ids[4]));
  await page.reload();
  await page.waitForSelector('main[data-hydrated="true"]');
  assert.equal(await page.inputValue('#job-search'), `id:${ids[4]}`);
  assert.deepEqual(await page.$$eval('.job-table tbody tr', (rows) => rows.map((r) => r.dataset.id)), [ids[4]]);

  // A search that is not the language says why, where it was asked.
  await page.fill('#job-search', 'foo:bar');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.jobs [role="alert"]:has-text("not a qualifier")', { timeout: 10000 });

  await page.goto(`${base}/admin?state=completed`);
  await page.waitForSelector('main[data-hydrated="true"]');
  await page.screenshot({ path: `${OUT}/dashboard-jobs-light.png`, fullPage: true });
  // Console errors from the refused search's server function are the only ones allowed.
  assert.ok(ops.problems.every((p) => /400|500|admin\/jobs/.test(p)), ops.problems.join('\n'));
  await ops.context.close();
});

test('a bulk retry of a search asks with the count, then shows its progress to the end', async () => {
  const ops = await person(tokens.ops);
  // Five jobs that time out at once: failed, with "timed out" in their reason.
  for (let i = 0; i < 5; i += 1) await enqueue(ops.context, { seconds: 50, timeoutMs: 100 });
  const page = await ops.open('/admin?state=failed&q=timed');
  await until('five failed jobs found', async () => {
    await page.reload();
    await page.waitForSelector('main[data-hydrated="true"]');
    return (await page.$$('.job-table tbody tr')).length >= 5;
  }, 30000);
  const count = await page.$$eval('.job-table tbody tr', (rows) => rows.length);
  // Ids and durations do not wrap mid-word.
  assert.deepEqual(await page.$eval('.job-table tbody tr', (tr) => [
    getComputedStyle(tr.querySelector('td.id a')).whiteSpace,
    ...[...tr.querySelectorAll('td.nowrap')].map((td) => getComputedStyle(td).whiteSpace),
  ]), ['nowrap', 'nowrap', 'nowrap']);
  // Only what applies to failed jobs is offered, folded under the rows; no bar for a
  // selection before there is one.
  assert.equal(await page.$('.bulk.selection'), null);
  await page.click('summary:has-text("Act on all")');
  assert.deepEqual(await page.$$eval('.bulk.all button', (bs) => bs.map((b) => b.textContent.trim())), ['Retry all', 'Remove all']);
  // Destructive actions look destructive, in rows and in bulk.
  const bad = await page.evaluate(() => getComputedStyle(document.querySelector('.job-table tbody tr button[aria-label^="Remove"]')).color);
  assert.equal(bad, await page.evaluate(() => getComputedStyle(document.querySelector('.bulk.all button.danger')).color));
  assert.notEqual(bad, await page.evaluate(() => getComputedStyle(document.querySelector('.job-table tbody tr button[aria-label^="Retry"]')).color));
  await page.click('button:has-text("Retry all")');
  await page.waitForSelector(`.notice :text("Done: ${count} of ${count} jobs")`, { timeout: 20000 }).catch(async (e) => {
    await page.screenshot({ path: `${OUT}/bulk-failure.png`, fullPage: true });
    throw new Error(`${e.message}\nnotice: ${await page.textContent('.notice')}\ndialogs: ${ops.dialogs.join(' | ')}`);
  });
  assert.match(ops.dialogs.at(-1), new RegExp(`Retry every job matching “state:failed timed”: ${count} jobs\\?`));

  // Select two, cancel them: the selection's count is asked.
  await until('the retried jobs to fail again', async () => {
    await page.reload();
    await page.waitForSelector('main[data-hydrated="true"]');
    return (await page.$$('.job-table tbody tr')).length >= 2;
  }, 30000);
  const boxes = await page.$$('.job-table tbody input[type="checkbox"]');
  await boxes[0].check();
  await boxes[1].check();
  // The selection's bar: only the actions a selected job's state takes, stuck to the window.
  await page.waitForSelector('.bulk.selection');
  assert.deepEqual(await page.$$eval('.bulk.selection button:not(.link)', (bs) => bs.map((b) => b.textContent.trim())), ['Retry selected', 'Remove selected']);
  assert.equal(await page.$eval('.bulk.selection', (bar) => getComputedStyle(bar).position), 'sticky');
  await page.click('button:has-text("Remove selected")');
  await page.waitForSelector('.notice :text("Done: 2 of 2 jobs")', { timeout: 20000 });
  assert.equal(ops.dialogs.at(-1), 'Remove the 2 selected jobs?');
  await page.waitForSelector('.bulk.selection', { state: 'detached', timeout: 5000 });
  // From the top of the page the keyboard reaches the rows in two steps: the page's skip link
  // first, then the jobs section's.
  await page.goto(`${base}/admin?state=failed`);
  await page.waitForSelector('main[data-hydrated="true"]');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to the content');
  await page.focus('.jobs .skip-link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'job-rows');
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
});

test('clean previews the count before removing; a job is added with options from the dashboard', async () => {
  const ops = await person(tokens.ops);
  const page = await ops.open('/admin');
  // Add a delayed, prioritized job with a custom id and retries.
  await page.fill('#add-seconds', '1');
  await page.fill('#add-delay', '600');
  await page.fill('#add-priority', '3');
  await page.fill('#add-attempts', '2');
  await page.selectOption('#add-backoff', 'fixed');
  await page.fill('#add-backoff-s', '1');
  await page.fill('#add-job-id', 'nightly-export');
  await page.click('button:has-text("Add the job")');
  await page.waitForSelector('.add-job .ok:has-text("Added job nightly-export")', { timeout: 10000 });
  const detail = await (await ops.context.request.get(`${base}/admin/api/jobs/nightly-export`)).json();
  assert.equal(detail.state, 'delayed');
  assert.equal(detail.opts.attempts, 2);
  // A refused value is said by the form.
  await page.fill('#add-attempts', '0');
  await page.click('button:has-text("Add the job")');
  await page.waitForSelector('.add-job .error', { timeout: 10000 });

  // The delayed job's data is changed from its page: refused while it is not a task's (said
  // by the form, focus kept there), then saved; the page shows the new data.
  const jobPage = await ops.open('/admin/jobs/nightly-export');
  await jobPage.click('button:has-text("Edit data")');
  await jobPage.waitForSelector('#edit-data');
  await jobPage.waitForFunction((id) => document.activeElement?.id === id, 'edit-data', { timeout: 2000 });
  assert.equal(JSON.parse(await jobPage.inputValue('#edit-data')).seconds, 1);
  await jobPage.fill('#edit-data', '{"note": "no seconds"}');
  await jobPage.click('button:has-text("Save the data")');
  await jobPage.waitForSelector('.edit-data .error:has-text("seconds")', { timeout: 10000 });
  await jobPage.fill('#edit-data', '{"seconds": 2, "note": "rush"}');
  await jobPage.click('button:has-text("Save the data")');
  await jobPage.waitForSelector('.edit-data .ok:has-text("Data changed.")', { timeout: 10000 });
  await jobPage.waitForFunction(() => /"note": "rush"/.test(document.querySelector('details.json pre')?.textContent ?? ''), null, { timeout: 10000 });
  const edited = await (await ops.context.request.get(`${base}/admin/api/jobs/nightly-export`)).json();
  assert.equal(edited.data.seconds, 2);
  assert.equal(edited.state, 'delayed');
  // Duplicate: a copy with its data and options editable first, a job of its own.
  await jobPage.click('button:has-text("Duplicate")');
  await jobPage.waitForSelector('#copy-data');
  await jobPage.waitForFunction((id) => document.activeElement?.id === id, 'copy-data', { timeout: 2000 });
  assert.deepEqual(JSON.parse(await jobPage.inputValue('#copy-opts')).attempts, 2);
  await jobPage.fill('#copy-data', '{"seconds": 3}');
  await jobPage.fill('#copy-opts', '{"attempts": 4, "delay": 600000}');
  await jobPage.click('button:has-text("Add the copy")');
  await jobPage.waitForSelector('.copy .ok:has-text("Added job")', { timeout: 10000 });
  const copyHref = await jobPage.getAttribute('.copy .ok a', 'href');
  const copyId = decodeURIComponent(copyHref.replace(/^\/admin\/jobs\//, ''));
  assert.notEqual(copyId, 'nightly-export');
  const copied = await (await ops.context.request.get(`${base}/admin/api/jobs/${encodeURIComponent(copyId)}`)).json();
  assert.equal(copied.data.seconds, 3);
  assert.equal(copied.opts.attempts, 4);
  assert.equal(copied.state, 'delayed');
  await jobPage.close();

  // Clean: the preview counts the completed jobs; removing asks with that count.
  const before = (await (await ops.context.request.get(`${base}/admin/api/jobs?state=completed&size=1`)).json()).total;
  assert.ok(before > 0, 'earlier tests left completed jobs');
  await page.fill('#clean-age', '0');
  await page.click('button:has-text("Preview")');
  await page.waitForSelector('.clean .preview', { timeout: 10000 });
  const count = Number(await page.getAttribute('.clean .preview', 'data-count'));
  assert.equal(count, before);
  await page.click(`button:has-text("Remove ${count} jobs")`);
  await page.waitForSelector(`.clean .ok:has-text("Removed ${count} completed jobs")`, { timeout: 10000 });
  assert.match(ops.dialogs.at(-1), new RegExp(`^Remove ${count} completed jobs`));
  const after = (await (await ops.context.request.get(`${base}/admin/api/jobs?state=completed&size=1`)).json()).total;
  assert.equal(after, 0);
  // The error of the refused add is the only console message allowed.
  assert.ok(ops.problems.every((p) => /400|500|admin|enqueue/.test(p)), ops.problems.join('\n'));
  await ops.context.close();
});

test('the job page follows a running job to completion, its logs included', async () => {
  const ops = await person(tokens.ops, 'dark');
  // 24 ticks of 250 ms: long enough to be seen running.
  const id = await enqueue(ops.context, { seconds: 24 });
  const page = await ops.open(`/admin/jobs/${id}`);
  await live(page);
  await page.waitForSelector('section.job[data-state="active"]', { timeout: 10000 });
  await until('log lines while it runs', async () => (await page.$$('.logs li')).length >= 2);
  await page.waitForSelector('section.job[data-state="completed"]', { timeout: 20000 });
  await until('every tick in the log', async () => (await page.$$('.logs li')).length >= 24);
  assert.match(await page.textContent('.timeline'), /Created.*Started.*Finished/s);
  // Its events from the stream, each start and tick included, the completion last.
  await until('the completion among its events', async () =>
    /Completed/.test(await page.textContent('.timeline.history')));
  const events = await page.$$eval('.timeline.history li', (items) => items.map((li) => li.textContent));
  assert.match(events.join('\n'), /Added[\s\S]*Started[\s\S]*Progress 1\/24[\s\S]*Progress 24\/24[\s\S]*Completed/);
  assert.match(events.at(-1), /^Completed/);
  await page.screenshot({ path: `${OUT}/dashboard-job-dark.png`, fullPage: true });
  const overview = await ops.open('/admin');
  await live(overview);
  await overview.screenshot({ path: `${OUT}/dashboard-overview-dark.png`, fullPage: true });
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
});

test('an action\'s message on the job page goes once the job reaches a new end', async () => {
  const ops = await person(tokens.ops);
  // A job that fails after 1.5 s, each time it runs.
  const id = await enqueue(ops.context, { seconds: 50, timeoutMs: 1500 });
  const page = await ops.open(`/admin/jobs/${id}`);
  await page.waitForSelector('section.job[data-state="failed"]', { timeout: 15000 });
  await page.click(`button[aria-label="Retry job ${id}"]`);
  await page.waitForSelector(`section.job .notice :text("Job ${id}: retry done")`, { timeout: 10000 });
  // It runs again and fails again: "retry done" does not stay under the new failure.
  await page.waitForSelector('section.job[data-state="active"]', { timeout: 10000 });
  await page.waitForSelector('section.job[data-state="failed"]', { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector('section.job .notice').textContent.trim() === '', null, { timeout: 5000 });
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
});

test('a job or queue that is not there is a 404 page that says so once', async () => {
  const ops = await person(tokens.ops);
  const page = await ops.context.newPage();
  const missingQueue = await page.goto(`${base}/admin?queue=nope%3Anothing`);
  assert.equal(missingQueue.status(), 404);
  await page.waitForSelector('main[data-hydrated="true"]');
  assert.equal(await page.locator('[data-missing="queue"]').count(), 1);
  assert.equal(await page.locator('text=/no BullMQ queue/').count(), 1);
  assert.equal(await page.$('.job-table'), null);
  assert.equal(await page.$('form.scheduler-form'), null);
  const missingJob = await page.goto(`${base}/admin/jobs/no-such-job-anywhere`);
  assert.equal(missingJob.status(), 404);
  await page.waitForSelector('main[data-hydrated="true"]');
  assert.match(await page.textContent('section.panel'), /There is no such job/);
  await ops.context.close();
});

test('a viewer sees no action and a forced one is refused; a submitter sees nothing', async () => {
  const ops = await person(tokens.ops);
  const id = await enqueue(ops.context, { seconds: 1, delay: 600000 });
  const watcher = await person(tokens.watch);
  const page = await watcher.open('/admin?state=delayed');
  await page.waitForSelector(row(id));
  assert.equal(await page.$$eval('button.action', (b) => b.length), 0);
  const forced = await watcher.context.request.post(`${base}/admin/api/jobs/${id}/promote`);
  assert.equal(forced.status(), 403);
  const viaPage = await watcher.context.request.post(`${base}/api/admin/act`, {
    form: { id, action: 'promote' },
  });
  assert.ok(viaPage.status() >= 400, `the page's action endpoint refuses a viewer: ${viaPage.status()}`);
  assert.equal(await rowState(page, id), 'delayed');

  const anonymous = await person(null);
  const denied = await anonymous.open('/admin');
  await denied.waitForSelector('.denied');
  assert.equal(await denied.$('.job-table'), null);
  assert.deepEqual(watcher.problems, []);
  assert.deepEqual(anonymous.problems, []);
  await ops.context.close();
  await watcher.context.close();
  await anonymous.context.close();
});

test('on a 375 px phone nothing overflows sideways and every control is reachable', async () => {
  const ops = await person(tokens.ops, 'light', { width: 375, height: 800 });
  const id = await enqueue(ops.context, { seconds: 1, delay: 600000 });
  for (const path of ['/admin', '/admin?state=delayed', `/admin/jobs/${id}`, '/admin/queues', '/admin/alerts', '/admin/audit']) {
    const page = await ops.open(path);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 375, `${path} is ${width} px wide`);
    // Closed: each open dashboard page holds an event stream, and a browser opens at most six
    // connections to one server.
    await page.close();
  }
  const page = await ops.open('/admin?state=delayed');
  // The page's sections are a jump away: the link takes focus to its section.
  assert.deepEqual(await page.$$eval('nav.sections a', (links) => links.map((a) => a.textContent)), ['Overview', 'Jobs', 'Schedulers', 'Clean and add']);
  await page.click('nav.sections a:has-text("Schedulers")');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'schedulers-title');
  await page.waitForSelector(row(id));
  // The job's actions and the search box are on screen and usable.
  assert.ok(await page.isVisible(`button[aria-label="Promote job ${id}"]`));
  assert.ok(await page.isVisible('#job-search'));
  await page.screenshot({ path: `${OUT}/dashboard-phone.png`, fullPage: true });
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
});

test('the queues page lists a Node queue; its own dashboard acts on it and Node sees each change', async () => {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const node = new Queue('invoices', { connection, prefix: 'billing' });
  const later = await node.add('send', { n: 1 }, { delay: 3600000 });
  await node.add('send', { n: 2 });
  const ops = await person(tokens.ops);
  const page = await ops.open('/admin/queues');
  // Made just now: listed once a scan is asked for.
  await page.click('button:has-text("Look for new queues now")');
  const line = 'tr[data-queue="billing:invoices"]';
  await page.waitForSelector(line, { timeout: 15000 });
  assert.equal((await page.textContent(`${line} [data-count="delayed"]`)).trim(), '1');
  assert.equal((await page.textContent(`${line} [data-count="waiting"]`)).trim(), '1');
  // A job waits and no worker is connected: marked, and listed before the healthy queues.
  assert.match(await page.getAttribute(`${line} [data-trouble]`, 'data-trouble'), /no-worker/);
  assert.match(await page.textContent(`${line} .badge.trouble`), /Needs a look: jobs wait and no worker is connected/);
  assert.equal(await page.$eval('tbody tr', (tr) => tr.dataset.queue), 'billing:invoices');
  // Every column sorts, and says how.
  await page.click('th:has-text("Delayed") button');
  const delayed = () => page.$$eval('tbody tr [data-count="delayed"]', (cells) => cells.map((c) => Number(c.textContent)));
  assert.equal(await page.getAttribute('th:has-text("Delayed")', 'aria-sort'), 'descending');
  assert.deepEqual(await delayed(), [...(await delayed())].sort((a, b) => b - a));
  await page.click('th:has-text("Delayed") button');
  assert.equal(await page.getAttribute('th:has-text("Delayed")', 'aria-sort'), 'ascending');
  assert.deepEqual(await delayed(), [...(await delayed())].sort((a, b) => a - b));
  assert.equal(await page.getAttribute('th:has-text("State")', 'aria-sort'), 'none');
  // The filter hides the other queues.
  await page.fill('#queue-filter', 'invoi');
  await until('the filter to hide the other queues', async () =>
    (await page.$$eval('tbody tr:not(.hidden)', (rows) => rows.map((r) => r.dataset.queue)))
      .join() === 'billing:invoices');
  await page.screenshot({ path: `${OUT}/dashboard-queues.png`, fullPage: true });

  // Its dashboard: the queue in the URL and the header, read every 2 s (no event stream).
  await page.click(`${line} a`);
  await page.waitForURL(/\/admin\?queue=billing%3Ainvoices$/);
  await page.waitForSelector('main[data-hydrated="true"]');
  await page.waitForSelector('.queue-name[data-queue="billing:invoices"]');
  await page.waitForSelector('[data-feed="reading"]');
  await page.goto(`${base}/admin?queue=billing%3Ainvoices&state=delayed`);
  await page.waitForSelector('main[data-hydrated="true"]');
  await page.click(`button[aria-label="Promote job ${later.id}"]`);
  await page.waitForSelector(`.notice :text("Job ${later.id}: promote done")`, { timeout: 10000 });
  await until('Node to see the promoted job waiting', async () => (await node.getJobState(later.id)) === 'waiting');
  await page.click('button:has-text("Pause the queue")');
  await until('Node to see its queue paused', () => node.isPaused());
  await page.waitForSelector('[data-paused="true"]', { timeout: 10000 });
  // The job page of that queue, from its row.
  await page.goto(`${base}/admin?queue=billing%3Ainvoices`);
  await page.waitForSelector('main[data-hydrated="true"]');
  await page.click(`a[href="/admin/jobs/${later.id}?queue=billing%3Ainvoices"]`);
  await page.waitForURL(new RegExp(`/admin/jobs/${later.id}\\?queue=billing%3Ainvoices$`));
  await page.waitForSelector('dd:text-is("send")', { timeout: 10000 });
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
  await node.close();
  connection.disconnect();
});

test('a Node scheduler is edited, paused and resumed from the dashboard; Node reads each change', async () => {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const node = new Queue('reports', { connection, prefix: 'billing' });
  await node.add('warm-up', {});
  await node.upsertJobScheduler('daily', { pattern: '0 0 6 * * *', tz: 'UTC' }, { name: 'digest', data: { a: 1 } });
  const ops = await person(tokens.ops);
  const page = await ops.open('/admin?queue=billing%3Areports');
  const line = 'tr[data-scheduler="daily"]';
  await page.waitForSelector(line, { timeout: 15000 });
  assert.match(await page.textContent(`${line} .schedule`), /0 0 6 \* \* \* \(UTC\)/);
  // The next run as a time and how far it is; no run counted for one that never ran (BullMQ
  // counts the job it scheduled next among its iterations).
  assert.match(await page.textContent(`${line} .next`), /^06:00:00 UTC \(in .+\)$/);
  assert.equal((await page.textContent(`${line} .runs`)).trim(), '–');

  // Edit: the form takes the scheduler, the change is saved through BullMQ's upsert.
  // Editing says so, keeps the id fixed (a new id would be a second scheduler) and takes
  // focus to the schedule.
  await page.click('button[aria-label="Edit scheduler daily"]');
  assert.equal(await page.inputValue('#scheduler-pattern'), '0 0 6 * * *');
  assert.equal((await page.textContent('#scheduler-form-title')).trim(), 'Editing scheduler daily');
  assert.equal(await page.getAttribute('#scheduler-id', 'readonly'), '');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'scheduler-pattern');
  await page.fill('#scheduler-pattern', '0 30 7 * * *');
  await page.fill('#scheduler-tz', 'Europe/Paris');
  await page.click('button:has-text("Save changes")');
  await page.waitForSelector('.schedulers .notice :text("daily: saved")', { timeout: 10000 });
  // Saved: the form is a new scheduler's again.
  assert.equal((await page.textContent('#scheduler-form-title')).trim(), 'New scheduler');
  assert.equal(await page.getAttribute('#scheduler-id', 'readonly'), null);
  await until('Node to read the new pattern', async () => {
    const read = await node.getJobScheduler('daily');
    return read?.pattern === '0 30 7 * * *' && read?.tz === 'Europe/Paris';
  });
  await page.waitForSelector(`${line} .schedule:text("0 30 7 * * * (Europe/Paris)")`, { timeout: 10000 });

  // A pattern that is not cron is refused in plain words next to its field, which gets the
  // focus; nothing changes.
  await page.click('button[aria-label="Edit scheduler daily"]');
  await page.fill('#scheduler-pattern', 'every morning');
  await page.click('button:has-text("Save changes")');
  await page.waitForSelector('#scheduler-pattern-error:has-text("not a cron pattern: give 5 fields")', { timeout: 10000 });
  assert.equal(await page.getAttribute('#scheduler-pattern', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'scheduler-pattern');
  assert.equal((await node.getJobScheduler('daily')).pattern, '0 30 7 * * *');
  await page.click('button:has-text("Cancel editing")');

  // Pause: gone from BullMQ (no worker can run it), kept by Sentinel; resume brings it back.
  await page.click('button[aria-label="Pause scheduler daily"]');
  await page.waitForSelector(`${line}[data-paused="true"]`, { timeout: 10000 });
  assert.ok(!(await node.getJobScheduler('daily')), 'gone from BullMQ while paused');
  await page.click('button[aria-label="Resume scheduler daily"]');
  await page.waitForSelector(`${line}[data-paused="false"]`, { timeout: 10000 });
  await until('Node to read it again', async () => (await node.getJobScheduler('daily'))?.pattern === '0 30 7 * * *');
  await page.screenshot({ path: `${OUT}/dashboard-schedulers.png`, fullPage: true });
  // The refused pattern's answer (400) is the one message the browser logs.
  const refused = (m) => /status of 400/.test(m);
  assert.equal(ops.problems.filter(refused).length, 1, ops.problems.join('\n'));
  assert.deepEqual(ops.problems.filter((m) => !refused(m)), []);
  await ops.context.close();
  await node.close();
  connection.disconnect();
});

// Last: Redis is frozen for 20 s (SIGSTOP) with three dashboard pages open, as an on-call
// operator meets an outage.
test('a search from any dashboard page looks in every queue, and an empty one says where else', async () => {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const node = new Queue('ledger', { connection, prefix: 'billing' });
  for (const n of [1, 2, 3]) await node.add('reconcile', { n }, { delay: 3600000 });
  try {
    const ops = await person(tokens.ops);
    // The new queue is found by the next scan (at most one per 10 s for the whole deployment).
    await until('the search to find the Node queue', async () => {
      await ops.context.request.get(`${base}/admin/api/queues?rescan=true`);
      const answer = await ops.context.request.get(`${base}/admin/api/search?q=name%3Areconcile`);
      const body = await answer.json();
      return answer.status() === 200 && body.jobs.length === 3 && body.complete;
    }, 30000);

    // From the audit page's header: the results name their queue and link to the job.
    const page = await ops.open('/admin/audit');
    await page.fill('input[aria-label="Search every queue"]', 'name:reconcile');
    await page.press('input[aria-label="Search every queue"]', 'Enter');
    await page.waitForURL(/\/admin\?in=all&q=name%3Areconcile$/);
    await page.waitForSelector('tr[data-queue="billing:ledger"]', { timeout: 10000 });
    assert.equal(await page.locator('tr[data-queue="billing:ledger"]').count(), 3);
    assert.equal((await page.textContent('[data-across="summary"]')).trim(), '3 matches in 1 queue.');
    assert.equal(await page.inputValue('#search-in'), 'all');
    await page.screenshot({ path: `${OUT}/dashboard-search-across.png`, fullPage: true });
    // Loaded whole, the same results (the server renders them, the page hydrates them).
    await page.goto(page.url());
    await page.waitForSelector('main[data-hydrated="true"]');
    assert.equal(await page.locator('tr[data-queue="billing:ledger"]').count(), 3);
    await page.click('tr[data-queue="billing:ledger"] td:nth-child(2) a');
    await page.waitForURL(/\/admin\/jobs\/[^?]+\?queue=billing%3Aledger$/);
    await page.waitForSelector('dd:text-is("reconcile")', { timeout: 10000 });

    // Searched in Sentinel's own queue only: nothing there, and it says where there is.
    await page.goto(`${base}/admin?q=name%3Areconcile`);
    await page.waitForSelector('main[data-hydrated="true"]');
    await page.waitForSelector('[data-elsewhere="some"] a[data-queue="billing:ledger"]', { timeout: 10000 });
    assert.match(await page.textContent('[data-elsewhere="some"]'), /billing:ledger 3/);
    await page.click('[data-elsewhere="some"] a[data-queue="billing:ledger"]');
    await page.waitForURL(/\/admin\?queue=billing%3Aledger&q=name%3Areconcile$/);
    await until('the three jobs in their queue', async () =>
      (await page.locator('table.job-table tbody tr').count()) === 3);
    assert.deepEqual(ops.problems, []);
    await ops.context.close();
  } finally {
    await node.close().catch(() => {});
    connection.disconnect();
  }
});

test('a Node flow across two queues: the parent names the failed child it will wait for for ever, and retrying the child frees it', async () => {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const flows = new FlowProducer({ connection, prefix: 'shop' });
  let charges = 0;
  // The payments worker fails the first charge, completes everything else.
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker('payments', async (job) => {
    if (job.name === 'charge' && charges++ === 0) throw new Error('GatewayError card_declined');
    return { ok: true };
  }, { connection: workerConnection, prefix: 'shop' });
  try {
    const tree = await flows.add({
      name: 'invoice', queueName: 'orders', prefix: 'shop', data: { order: 7 },
      children: [
        {
          name: 'charge', queueName: 'payments', prefix: 'shop', data: { amount: 12 },
          children: [{ name: 'fraud-check', queueName: 'payments', prefix: 'shop', data: {} }],
        },
        { name: 'email', queueName: 'orders', prefix: 'shop', data: {} },
      ],
    });
    const invoice = tree.job.id;
    const charge = tree.children.find((c) => c.job.name === 'charge').job;
    const payments = new Queue('payments', { connection, prefix: 'shop' });
    await until('the charge to fail', async () => (await payments.getJobState(charge.id)) === 'failed');

    const ops = await person(tokens.ops);
    const page = await ops.open(`/admin/jobs/${invoice}?queue=shop%3Aorders`);
    const never = '[data-flow="never-finishes"]';
    await page.waitForSelector(never, { timeout: 10000 });
    assert.match(await page.textContent(never), /will never finish: its child shop:payments .* failed \(GatewayError card_declined\)/);
    assert.equal(await page.getAttribute(`${never} a`, 'href'), `/admin/jobs/${charge.id}?queue=shop%3Apayments`);
    assert.equal(await page.$eval(`tr[data-id="${charge.id}"][data-queue="shop:payments"]`, (tr) => tr.dataset.state), 'failed');
    assert.equal(await page.$eval('tr[data-queue="shop:orders"]', (tr) => tr.dataset.state), 'waiting');
    assert.match(await page.textContent('[data-flow="children"]'), /^2 children/);
    // The "why" panel says it first, and its deciding sentence stands under the title.
    await page.waitForSelector('.why li[data-code="never-finishes"]:first-child');
    await page.waitForSelector('section.job .deciding[data-code="never-finishes"]');
    assert.equal((await page.textContent('#why-title')).trim(), "Why isn't it running?");
    await page.screenshot({ path: `${OUT}/dashboard-flow.png`, fullPage: true });

    // The child's page names its parent and its own child (done).
    const child = await ops.open(`/admin/jobs/${charge.id}?queue=shop%3Apayments`);
    await child.waitForSelector('[data-flow="parent"]');
    // A failed job: the why panel is titled for it; its stack trace is named by attempt; its
    // id and its data are copied with a click.
    await child.waitForSelector('#why-title');
    assert.equal((await child.textContent('#why-title')).trim(), 'Why is it not running any more?');
    assert.match(await child.textContent('details.stack[open] summary'), /^Stack trace of attempt 1$/);
    await ops.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await child.click('button:has-text("Copy id")');
    assert.equal(await child.evaluate(() => navigator.clipboard.readText()), charge.id);
    await child.click('button:has-text("Copy the data")');
    assert.deepEqual(JSON.parse(await child.evaluate(() => navigator.clipboard.readText())), charge.data);
    assert.equal(await child.getAttribute('[data-flow="parent"] a', 'href'), `/admin/jobs/${invoice}?queue=shop%3Aorders`);
    assert.match(await child.textContent('table.children'), /fraud-check.*done; the parent has its result/);
    // The whole flow as a tree, from the child: the top, then every level depth first.
    await child.click('[data-flow="tree"]');
    await child.waitForURL(/tree=0$/);
    await child.waitForSelector('table.tree tbody tr', { timeout: 10000 });
    const rows = () => child.$$eval('table.tree tbody tr', (trs) => trs.map((tr) => [tr.dataset.queue, tr.dataset.depth, tr.dataset.state, tr.getAttribute('aria-current')]));
    const drawn = await rows();
    assert.deepEqual(drawn.map((r) => r[1]), ['0', '1', '1', '2']);
    assert.deepEqual(drawn.map((r) => r[0]), ['shop:orders', 'shop:orders', 'shop:payments', 'shop:payments']);
    assert.deepEqual(drawn[2].slice(2), ['failed', 'true'], 'the failed charge, the node the tree was opened from');
    assert.match(await child.textContent(`table.tree tr[data-id="${charge.id}"]`), /Its parent will never finish/);
    assert.equal(await child.getAttribute('[data-tree-total]', 'data-tree-total'), '4');
    // Any node's link opens its page with the tree around it.
    await child.click('table.tree tr[data-depth="2"] a');
    await child.waitForSelector('table.tree tr[data-depth="2"][aria-current="true"]', { timeout: 10000 });
    assert.equal((await rows()).length, 4);
    await child.close();

    // Retried from the parent's page: the child completes, the parent no longer waits on it.
    await page.click(`button[aria-label="Retry child job ${charge.id}"]`);
    await until('the charge to complete', async () => (await payments.getJobState(charge.id)) === 'completed');
    await page.waitForSelector(never, { state: 'detached', timeout: 10000 });
    await until('the invoice to wait for its email only', async () =>
      (await page.$eval(`tr[data-id="${charge.id}"]`, (tr) => tr.dataset.state).catch(() => null)) === 'completed');
    assert.ok(ops.dialogs.some((d) => d.startsWith(`Retry job ${charge.id}?`)), ops.dialogs.join());
    assert.deepEqual(ops.problems, []);
    await ops.context.close();
    await payments.close();
  } finally {
    await worker.close().catch(() => {});
    await flows.close().catch(() => {});
    // A connection handed to BullMQ stays open after close(): it would keep this file running.
    workerConnection.disconnect();
    connection.disconnect();
  }
});

test("a Node queue's charts count what its workers did, removed jobs included, over every range; the queues page agrees", async () => {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const node = new Queue('ledger', { connection, prefix: 'acct' });
  const ran = { completed: 0, failed: 0 };
  const worker = new Worker('ledger', async (job) => {
    if (job.data.n % 3 === 0) throw new Error('GatewayError card_declined');
    return job.data.n;
  }, { connection: workerConnection, prefix: 'acct', concurrency: 4 });
  worker.on('completed', () => { ran.completed += 1; });
  worker.on('failed', () => { ran.failed += 1; });
  // Half of them removed on completion: the history still counts them.
  for (let n = 1; n <= 12; n += 1) {
    await node.add('post', { n }, { removeOnComplete: n % 2 === 0 });
  }
  await until("Node's worker to finish the 12 jobs", async () => ran.completed + ran.failed === 12);
  await worker.close();
  assert.deepEqual(ran, { completed: 8, failed: 4 });

  const ops = await person(tokens.ops);
  const page = await ops.open('/admin?queue=acct%3Aledger');
  const throughput = 'figure[data-chart="throughput"] svg';
  const said = () => page.getAttribute(throughput, 'aria-label');
  await until('the hour chart to count what Node did', async () =>
    /per minute over the last hour: 8 completed and 4 failed/.test(await said()), 30000);
  for (const [range, words] of [['24h', 'per minute over the last 24 hours'], ['7d', 'per 30 minutes over the last 7 days'], ['90d', 'per 6 hours over the last 90 days']]) {
    await page.click(`a[data-range="${range}"]`);
    await page.waitForURL(new RegExp(`range=${range}`));
    assert.equal(await page.getAttribute(`a[data-range="${range}"]`, 'aria-current'), 'true');
    await until(`the ${range} chart`, async () => (await said()).includes(`${words}: 8 completed and 4 failed`), 10000);
    assert.equal(await page.getAttribute('[data-history-total]', 'data-history-total'), '8/4');
  }
  await page.screenshot({ path: `${OUT}/dashboard-history.png`, fullPage: true });
  // The queues page counts the last hour as the charts do (the removed jobs included).
  const queues = await ops.open('/admin/queues');
  await queues.click('button:has-text("Look for new queues now")');
  const line = 'tr[data-queue="acct:ledger"]';
  await queues.waitForSelector(line, { timeout: 15000 });
  await until('the queues page to agree', async () => (await queues.textContent(line)).includes('8 done, 4 failed'), 10000);
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
  await node.close();
  connection.disconnect();
  workerConnection.disconnect();
});

test("the dashboard's code loads once: each build's files have their own address and are kept, so a warm page load fetches none", async () => {
  const ops = await person(tokens.ops);
  const page = await ops.context.newPage();
  const cdp = await ops.context.newCDPSession(page);
  await cdp.send('Network.enable');
  const seen = new Map();
  cdp.on('Network.responseReceived', (e) => seen.set(e.requestId, { url: e.response.url, status: e.response.status, cached: e.response.fromDiskCache || e.response.fromMemoryCache, headers: e.response.headers }));
  const bytes = new Map();
  cdp.on('Network.loadingFinished', (e) => bytes.set(e.requestId, e.encodedDataLength));
  // A module script the memory cache answers is reported by this event alone.
  const fromCache = new Set();
  cdp.on('Network.requestServedFromCache', (e) => fromCache.add(e.requestId));
  const isCode = (url) => /\.(js|wasm)$/.test(new URL(url).pathname);
  const measure = async (path) => {
    seen.clear();
    bytes.clear();
    fromCache.clear();
    await page.goto(`${base}${path}`);
    await page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
    await page.waitForLoadState('networkidle');
    const fetched = [...seen.entries()].filter(([id, r]) => !r.cached && !fromCache.has(id));
    return {
      requests: fetched.length,
      kib: Math.round(fetched.reduce((n, [id]) => n + (bytes.get(id) ?? 0), 0) / 1024),
      code: fetched.filter(([, r]) => isCode(r.url)).map(([id, r]) => `${r.status} ${new URL(r.url).pathname} ${bytes.get(id)} B`),
      all: [...seen.values()],
    };
  };
  const cold = await measure('/admin');
  const code = cold.all.filter((r) => isCode(r.url));
  assert.ok(code.length > 0);
  for (const r of code) {
    assert.match(new URL(r.url).pathname, /^\/pkg\/[0-9a-f]{16}\/pkg\//, r.url);
    assert.equal(r.headers['cache-control'] ?? r.headers['Cache-Control'], 'public, max-age=31536000, immutable', r.url);
  }
  // The queues page's own modules come with its first visit; after that, moving between the
  // two fetches no code at all.
  const first = await measure('/admin/queues');
  const again = await measure('/admin');
  const queues = await measure('/admin/queues');
  console.log(`/admin cold: ${cold.requests} requests, ${cold.kib} KiB; /admin/queues first: ${first.requests} requests, ${first.kib} KiB (${first.code.length} code files); warm: /admin ${again.requests} requests, ${again.kib} KiB, ${again.code.length} code files; /admin/queues ${queues.requests} requests, ${queues.kib} KiB, ${queues.code.length} code files`);
  assert.deepEqual(again.code, [], 'no code fetched on a warm load of /admin');
  assert.deepEqual(queues.code, [], 'no code fetched on a warm load of /admin/queues');
  assert.deepEqual(ops.problems, []);
  await ops.context.close();
});

test('in a Redis outage every dashboard page says so, keeps what it showed and comes back', async () => {
  const ops = await person(tokens.ops);
  const id = await enqueue(ops.context, { seconds: 1, delay: 600000 });
  const failures = [];
  const pages = {
    overview: await ops.open('/admin'),
    queues: await ops.open('/admin/queues'),
    job: await ops.open(`/admin/jobs/${id}`),
  };
  const shown = {
    overview: '.overview .queue-line',
    queues: 'tr[data-queue="sentinel:sentinel-tasks"]',
    job: `section.job[data-state="delayed"]`,
  };
  for (const [name, page] of Object.entries(pages)) {
    page.on('response', (r) => { if (r.status() >= 500 && r.status() !== 503) failures.push(`${name}: ${r.status()} ${r.url()}`); });
    await page.waitForSelector(shown[name], { timeout: 15000 });
  }
  // Refused loads of the reads are expected while Redis is away (503), nothing else.
  const refused = (p) => p.replace(/^error: Failed to load resource: the server responded with a status of 503.*$/, '');
  const frozenAt = Date.now();
  process.kill(redisProcess.pid, 'SIGSTOP');
  let resumed = false;
  try {
    for (const [name, page] of Object.entries(pages)) {
      await page.waitForSelector('[data-feed="down"]', { timeout: 8000 });
      assert.match(await page.textContent('[data-feed]'),
        /Redis unreachable since \d\d:\d\d:\d\d UTC; last good read \d\d:\d\d:\d\d UTC/, name);
      // What was on screen stays, marked stale with its age.
      await page.waitForSelector('[data-stale="true"] .banner.stale', { timeout: 8000 });
      assert.match(await page.textContent('.banner.stale'), /Redis does not answer\. Showing what was read at .* ago/, name);
      assert.ok(await page.$(shown[name]), `${name} keeps what it showed`);
    }
    console.log(`every page said so ${Date.now() - frozenAt} ms after the freeze`);
    await pages.overview.screenshot({ path: `${OUT}/dashboard-outage.png`, fullPage: true });
    const left = 20000 - (Date.now() - frozenAt);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
    for (const [name, page] of Object.entries(pages)) {
      assert.ok(await page.$(shown[name]), `${name} still shows its last data after 20 s`);
      assert.equal(await page.getAttribute('[data-feed]', 'data-feed'), 'down', name);
    }
    process.kill(redisProcess.pid, 'SIGCONT');
    resumed = true;
  } finally {
    if (!resumed) process.kill(redisProcess.pid, 'SIGCONT');
  }
  const thawedAt = Date.now();
  for (const [name, page] of Object.entries(pages)) {
    await until(`${name} to recover`, async () =>
      (await page.getAttribute('[data-feed]', 'data-feed')) !== 'down' && !(await page.$('[data-stale="true"]')), 10000);
  }
  console.log(`every page recovered ${Date.now() - thawedAt} ms after Redis answered again`);
  assert.deepEqual(failures, [], 'no read answered a 5xx other than 503');
  assert.deepEqual(ops.problems.map(refused).filter(Boolean), []);
  await ops.context.close();
});
