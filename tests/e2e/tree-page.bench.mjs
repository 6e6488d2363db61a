// A benchmark (not a test): the job page of a child in a 10,000-child flow with the flow's tree
// open (`?tree=0`: 1,000 rows) in headless Chromium against the release server, as a person
// opens it cold: when the load event fires, when the 1,000th row is on screen, when the page is
// hydrated, and the HTML's size; p50 and max of 5 loads. Run by `scripts/bench tree`.
import { Redis } from 'ioredis';
import { killAll, launchBrowser, startRedis, startSentinel } from './harness.mjs';

const ROUNDS = 5;
const redisUrl = await startRedis();
const { base } = await startSentinel(redisUrl, { SENTINEL_ROLE: 'web' });
const redis = new Redis(redisUrl);
const write = redis.pipeline();
write.hset('bull:orders:meta', 'opts.maxLenEvents', 10000);
write.hset('bull:payments:meta', 'opts.maxLenEvents', 10000);
write.hset('bull:orders:p1', 'name', 'invoice', 'data', '{}', 'opts', '{}', 'timestamp', 1);
write.zadd('bull:orders:waiting-children', 1, 'p1');
for (let n = 0; n < 10000; n += 1) {
  const key = `bull:payments:c${n}`;
  write.hset(key, 'name', 'charge', 'data', '{}', 'opts', '{}', 'timestamp', 1, 'parentKey', 'bull:orders:p1',
    'parent', '{"id":"p1","queueKey":"bull:orders"}');
  write.sadd('bull:orders:p1:dependencies', key);
  write.lpush('bull:payments:wait', `c${n}`);
}
await write.exec();
const url = `${base}/admin/jobs/c7?queue=bull%3Apayments&tree=0`;
const html = await (await fetch(url)).text();
const browser = await launchBrowser();
const runs = [];
for (let i = 0; i < ROUNDS; i += 1) {
  const page = await browser.newPage();
  const began = Date.now();
  await page.goto(url);
  const loaded = Date.now() - began;
  await page.waitForSelector('table.tree tbody tr:nth-child(1000)');
  const rows = Date.now() - began;
  await page.waitForSelector('main[data-hydrated="true"]', { timeout: 20000 });
  runs.push({ loaded, rows, hydrated: Date.now() - began });
  await page.close();
}
const stat = (key) => {
  const values = runs.map((r) => r[key]).sort((a, b) => a - b);
  return `${values[Math.floor(values.length / 2)]} ms p50, ${values[values.length - 1]} ms max`;
};
console.log(`the page of a child of a 10,000-child flow with its tree (1,000 rows; HTML ${Math.round(html.length / 1024)} KiB), ${ROUNDS} cold loads:`);
console.log(`  load event ${stat('loaded')}; 1,000th row shown ${stat('rows')}; hydrated ${stat('hydrated')}`);
await browser.close();
redis.disconnect();
killAll();
