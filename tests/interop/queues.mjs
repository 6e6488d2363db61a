// Many Node BullMQ queues under several prefixes, each with a few jobs (waiting, delayed) and
// every tenth paused; prints each queue's prefix, name and Node's own getJobCounts as one JSON
// line, for Sentinel's discovery to be compared with.
import { Queue } from 'bullmq';
import { connectionFrom, fail } from './common.mjs';

const [url, perPrefixArg, ...prefixes] = process.argv.slice(2);
if (!url || prefixes.length === 0) fail('usage: queues.mjs <redis-url> <queues per prefix> <prefix>...');
const perPrefix = Number(perPrefixArg);
const connection = connectionFrom(url);

const seen = [];
for (const prefix of prefixes) {
  for (let i = 0; i < perPrefix; i++) {
    const name = `orders-${i}`;
    const queue = new Queue(name, { connection, prefix });
    for (let j = 0; j < i % 4; j++) {
      await queue.add('work', { j });
    }
    await queue.add('later', { i }, { delay: 3600000 });
    if (i % 10 === 0) {
      await queue.pause();
    }
    seen.push({ prefix, name, paused: await queue.isPaused(), counts: await queue.getJobCounts() });
    await queue.close();
  }
}
console.log(JSON.stringify(seen));
process.exit(0);
