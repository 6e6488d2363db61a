// Shared pieces of the browser tests: free ports, polling with a deadline, child processes that
// are killed at the end, a private redis-server, a Sentinel server, and Debian's Chromium.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { chromium } from 'playwright-core';

export const root = new URL('../../', import.meta.url).pathname;
export const SERVER = process.env.SENTINEL_SERVER_BIN ?? `${root}target/release/server`;
export const SITE = process.env.LEPTOS_SITE_ROOT ?? `${root}target/site`;
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const OUT = `${root}target/e2e`;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function until(what, check, limitMs = 15000) {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export const processes = [];
export function start(command, args, env) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  child.log = () => log.join('');
  processes.push(child);
  return child;
}

export function killAll() {
  for (const child of processes) child.kill('SIGKILL');
}

// A redis-server of our own on a free port; resolves to its URL once it listens.
// Makes an API token with `role` for `name` (`server token create`): the token goes into
// `tokens[name]`, the tokens file's line is returned.
export function createToken(tokens, name, role) {
  const created = execFileSync(SERVER, ['token', 'create', '--name', name, '--role', role]).toString();
  tokens[name] = created.split('\n')[0].split(' ').pop();
  return created.trim().split('\n').pop();
}

export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(`${tmpdir()}/sentinel-e2e-redis-`);
  start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]);
  await until('redis-server to listen', () => new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
    socket.on('error', () => resolve(false));
  }));
  return `redis://127.0.0.1:${port}/0`;
}

// A Sentinel server with `env`; resolves to { server, base } once /readyz answers 200.
export async function startSentinel(redisUrl, env) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = start(SERVER, [], {
    REDIS_URL: redisUrl,
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    LEPTOS_SITE_ROOT: SITE,
    RUST_LOG: 'info',
    ...env,
  });
  await until('the server to be ready', async () => (await fetch(`${base}/readyz`)).ok);
  return { server, base };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// Types `seconds` into the form, presses Enqueue, and resolves to the id of the row that
// appears.
export async function enqueueFrom(page, seconds) {
  const before = await page.$$eval('li.task', (items) => items.map((i) => i.dataset.id));
  await page.fill('#seconds', String(seconds));
  await page.click('button:has-text("Enqueue")');
  const handle = await page.waitForFunction(
    (known) => [...document.querySelectorAll('li.task')].map((i) => i.dataset.id).find((id) => !known.includes(id)),
    before,
    { timeout: 10000 },
  );
  return handle.jsonValue();
}
