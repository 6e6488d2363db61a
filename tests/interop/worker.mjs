// A Node BullMQ worker running longTask the way the original service did (with a short tick),
// marking its results so the test can tell who ran the job. Exits after `count` jobs.
import { Worker } from 'bullmq';
import { QUEUE, PREFIX, connectionFrom, fail } from './common.mjs';

const [url, countArg, tickArg] = process.argv.slice(2);
if (!url) fail('usage: worker.mjs <redis-url> [count] [tick-ms]');
const count = Number(countArg ?? 1);
const tick = Number(tickArg ?? 50);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let done = 0;
const worker = new Worker(QUEUE, async (job) => {
  const started = Date.now();
  const total = Math.max(1, Math.floor(job.data.seconds));
  for (let step = 1; step <= total; step++) {
    await sleep(tick);
    await job.updateProgress({ step, total, info: `tick ${step}/${total}` });
  }
  return { message: `Tâche ${job.id} terminée`, elapsedMs: Date.now() - started, by: 'node' };
}, { connection: connectionFrom(url), prefix: PREFIX, concurrency: 3 });

worker.on('completed', async () => {
  done += 1;
  if (done >= count) {
    await worker.close();
    process.exit(0);
  }
});
worker.on('error', (err) => console.error('worker error', err));
await worker.waitUntilReady();
console.log('ready');
setTimeout(() => fail('timed out waiting for jobs'), 60000);
