// Shared settings of the Node peers: the same queue, prefix and Redis as the Sentinel under test.
export const QUEUE = 'sentinel-tasks';
export const PREFIX = 'sentinel';

export function connectionFrom(url) {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return { host: parsed.hostname, port: Number(parsed.port || 6379), db, maxRetriesPerRequest: null };
}

export function fail(message) {
  console.error(message);
  process.exit(1);
}
