// Job schedulers made by Node BullMQ, and read by it: `make <url>` upserts `node-made` (every
// minute) and `twin` (the same definition Sentinel's test gives `ours`) on `bull:crons`;
// `read <url> <id>...` prints what Node's getJobScheduler says of each; `run <url> <id>` runs a
// Node worker until three jobs of scheduler <id> completed, and prints their ids.
import { Queue, Worker } from 'bullmq';
import { connectionFrom, fail } from './common.mjs';

const [mode, url, ...ids] = process.argv.slice(2);
if (!url || !['make', 'read', 'run'].includes(mode)) fail('usage: schedulers.mjs make|read|run <redis-url> [id...]');
const connection = connectionFrom(url);
const queue = new Queue('crons', { connection, prefix: 'bull' });
const timer = setTimeout(() => fail("timed out"), 25000);

if (mode === 'make') {
  await queue.add('warm-up', {});
  await queue.upsertJobScheduler('node-made', { every: 60000 }, { name: 'tick', data: { from: 'node' } });
  await queue.upsertJobScheduler('twin', { pattern: '0 0 * * * *', tz: 'UTC' }, { name: 'hourly', data: { from: 'x' } });
  console.log(JSON.stringify({ made: ['node-made', 'twin'] }));
} else if (mode === 'run') {
  const done = [];
  await new Promise((resolve) => {
    const worker = new Worker('crons', async (job) => {
      if (job.repeatJobKey === ids[0]) done.push(job.id);
      if (done.length >= 3) resolve(worker);
    }, { connection: connectionFrom(url), prefix: 'bull' });
  }).then((worker) => worker.close());
  console.log(JSON.stringify({ done }));
} else {
  const read = {};
  for (const id of ids) read[id] = (await queue.getJobScheduler(id)) ?? null;
  console.log(JSON.stringify(read));
}
clearTimeout(timer);
await queue.close();
process.exit(0);
