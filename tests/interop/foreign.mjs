// A Node BullMQ producer that is careless or hostile: it adds jobs Sentinel must refuse at once
// (a huge or absurd `seconds`, another job name), then one good task, and prints each job's end
// as one JSON line: [{id, name, state, failedReason, ms}].
import { Queue, QueueEvents } from 'bullmq';
import { QUEUE, PREFIX, connectionFrom, fail } from './common.mjs';

const [url] = process.argv.slice(2);
if (!url) fail('usage: foreign.mjs <redis-url>');
const connection = connectionFrom(url);
const events = new QueueEvents(QUEUE, { connection, prefix: PREFIX });
await events.waitUntilReady();
const queue = new Queue(QUEUE, { connection, prefix: PREFIX });

const timer = setTimeout(() => fail('timed out waiting for the jobs to end'), 30000);
const specs = [
  ['longTask', { seconds: 1e300 }],
  ['longTask', { seconds: '9'.repeat(1 << 20) }],
  ['sendEmail', { to: 'someone@example.com' }],
  ['longTask', { seconds: 1 }],
];
const started = Date.now();
const jobs = [];
for (const [name, data] of specs) {
  jobs.push(await queue.add(name, data, { attempts: 3 }));
}
const ends = await Promise.all(jobs.map(async (job) => {
  let state;
  try {
    await job.waitUntilFinished(events, 30000);
    state = 'completed';
  } catch {
    state = 'failed';
  }
  const fresh = await queue.getJob(job.id);
  return {
    id: job.id,
    name: job.name,
    state,
    attemptsMade: fresh.attemptsMade,
    failedReason: fresh.failedReason ?? null,
    ms: Date.now() - started,
  };
}));
clearTimeout(timer);
console.log(JSON.stringify(ends));
await queue.close();
await events.close();
process.exit(0);
