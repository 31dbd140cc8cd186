/**
 * A real redis-server (Debian's, installed by scripts/setup.sh) on a free loopback
 * port, for the tests that share state through Redis. Append-only persistence in
 * its own temp folder, so a stopped and started server keeps what was written.
 * Each test stops only the server it started, by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, tempDir } from './idp.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface TestRedis {
  port: number;
  url: string;
  /** Its folder (the append-only file); left in place by stop(). */
  dir: string;
  /** The running server's PID (to pause it with SIGSTOP and SIGCONT, or stop it without waiting); undefined while stopped. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s); what it wrote stays in its folder. */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder. */
  start(): Promise<void>;
  readonly running: boolean;
}

function waitForReady(child: ChildProcess, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = tempDir('mock-idp-redis-');
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForReady(child);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child !== undefined && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    stop,
    start,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
  };
}
