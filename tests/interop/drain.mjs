// A Node BullMQ worker for the benchmark: runs `longTask` jobs as Sentinel's worker does with a
// zero tick (one progress update, then the result), at the given concurrency, until killed.
import { Worker } from 'bullmq';
import { QUEUE, PREFIX, connectionFrom, fail } from './common.mjs';

const [url, concurrencyArg] = process.argv.slice(2);
if (!url) fail('usage: drain.mjs <redis-url> [concurrency]');
const worker = new Worker(QUEUE, async (job) => {
  const started = Date.now();
  const total = Math.max(1, Math.floor(job.data.seconds));
  for (let step = 1; step <= total; step++) {
    await job.updateProgress({ step, total, info: `tick ${step}/${total}` });
  }
  return { message: `Tâche ${job.id} terminée`, elapsedMs: Date.now() - started };
}, { connection: connectionFrom(url), prefix: PREFIX, concurrency: Number(concurrencyArg ?? 10) });
worker.on('error', (err) => console.error('worker error', err));
await worker.waitUntilReady();
console.log('ready');
