// Node BullMQ operating the same queue as Sentinel, one step per call, printing one JSON line:
//   logs <url> <id>       the job's log lines as Node's Queue.getJobLogs reads them
//   paused <url>          whether Node sees the queue paused
//   act <url>             resume the queue, add two delayed jobs and remove a third
//   promote <url> <id>    promote a delayed job
//   exists <url> <id>     whether Node finds the job
import { Queue } from 'bullmq';
import { QUEUE, PREFIX, connectionFrom, fail } from './common.mjs';

const [step, url, id] = process.argv.slice(2);
if (!step || !url) fail('usage: operate.mjs <logs|paused|act|promote> <redis-url> [id]');
const connection = connectionFrom(url);
const queue = new Queue(QUEUE, { connection, prefix: PREFIX });
let out;
switch (step) {
  case 'logs':
    out = await queue.getJobLogs(id);
    break;
  case 'paused':
    out = { paused: await queue.isPaused() };
    break;
  case 'act': {
    await queue.resume();
    const delayed = await queue.add('longTask', { seconds: 1 }, { delay: 60000 });
    const gone = await queue.add('longTask', { seconds: 1 }, { delay: 60000 });
    await gone.remove();
    const invoice = await queue.add('invoice', { customer: 'acme corp', total: 12.5 }, { delay: 600000 });
    out = { delayed: delayed.id, removed: gone.id, invoice: invoice.id };
    break;
  }
  case 'promote': {
    const job = await queue.getJob(id);
    await job.promote();
    out = { promoted: id };
    break;
  }
  case 'exists':
    out = { exists: Boolean(await queue.getJob(id)) };
    break;
  default:
    fail(`unknown step ${step}`);
}
console.log(JSON.stringify(out));
await queue.close();
await connection.quit();
