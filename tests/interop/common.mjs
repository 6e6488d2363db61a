// Shared settings of the Node peers: the same queue, prefix and Redis as the Sentinel under test.
export const QUEUE = 'sentinel-tasks';
export const PREFIX = 'sentinel';

// bullmq 6 loads ioredis lazily, which native ESM cannot do: hand it a client we built.
import { Redis } from 'ioredis';

export function connectionFrom(url) {
  return new Redis(url, { maxRetriesPerRequest: null });
}

export function fail(message) {
  console.error(message);
  process.exit(1);
}
