// A Node BullMQ producer: adds a longTask as the original NestJS service did, follows it with
// QueueEvents, and prints what it saw as one JSON line.
import { Queue, QueueEvents } from 'bullmq';
import { QUEUE, PREFIX, connectionFrom, fail } from './common.mjs';

const [url, secondsArg, queueArg] = process.argv.slice(2);
if (!url) fail('usage: producer.mjs <redis-url> [seconds] [queue]');
const name = queueArg ?? QUEUE;
const seconds = Number(secondsArg ?? 3);
const connection = connectionFrom(url);

const events = new QueueEvents(name, { connection, prefix: PREFIX });
await events.waitUntilReady();
const queue = new Queue(name, { connection, prefix: PREFIX });

const progress = [];
let jobId;
events.on('progress', ({ jobId: id, data }) => {
  if (id === jobId) progress.push(data);
});

const timer = setTimeout(() => fail('timed out waiting for the job to finish'), 30000);
const job = await queue.add('longTask', { seconds }, {
  attempts: 1,
  removeOnComplete: { age: 3600, count: 100 },
  removeOnFail: { age: 3600, count: 100 },
});
jobId = job.id;
const returnvalue = await job.waitUntilFinished(events, 30000);
clearTimeout(timer);
console.log(JSON.stringify({ jobId, progress, returnvalue }));
await queue.close();
await events.close();
// The ioredis clients we handed in are ours to end.
process.exit(0);
