// Another program's queue on the same Redis (`bull:payments`), for Sentinel's dashboard to act
// on. `make`: a Node worker fails one job and completes another, a third is delayed an hour;
// prints their ids. `read <id>...`: prints what Node BullMQ says of the queue and each job.
import { Queue, Worker } from 'bullmq';
import { connectionFrom, fail } from './common.mjs';

const [mode, url, ...ids] = process.argv.slice(2);
if (!url || !['make', 'read'].includes(mode)) fail('usage: payments.mjs make|read <redis-url> [id...]');
const connection = connectionFrom(url);
const queue = new Queue('payments', { connection, prefix: 'bull' });
const timer = setTimeout(() => fail('timed out'), 20000);

if (mode === 'make') {
  const failed = await queue.add('charge', { fail: true });
  const completed = await queue.add('charge', { fail: false });
  const delayed = await queue.add('charge', { later: true }, { delay: 3600000 });
  const worker = new Worker('payments', async (job) => {
    if (job.data.fail) throw new Error('card declined');
    return { charged: true };
  }, { connection: connectionFrom(url), prefix: 'bull' });
  const ended = (id, state) => new Promise((resolve) => {
    const poll = async () => ((await queue.getJobState(id)) === state ? resolve() : setTimeout(poll, 50));
    poll();
  });
  await Promise.all([ended(failed.id, 'failed'), ended(completed.id, 'completed')]);
  await worker.close();
  console.log(JSON.stringify({ failed: failed.id, completed: completed.id, delayed: delayed.id }));
} else {
  const states = {};
  for (const id of ids) states[id] = await queue.getJobState(id);
  console.log(JSON.stringify({ paused: await queue.isPaused(), states, counts: await queue.getJobCounts() }));
}
clearTimeout(timer);
await queue.close();
process.exit(0);
