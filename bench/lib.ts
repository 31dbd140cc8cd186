/**
 * What the benchmark's parts share: where things are, CPU pinning, starting and
 * stopping processes, small HTTP helpers for the IdP's forms, and statistics.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OUT = path.join(ROOT, 'bench', 'out');

/** The server side (IdP, baselines, in-process measurements) runs on this CPU, the load generator on the other. */
export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;

/** Whether processes can be pinned: taskset exists and there are two CPUs to split. */
export const PINNED: boolean = (() => {
  if (os.availableParallelism() < 2) return false;
  const probe = spawnSync('taskset', ['-c', String(SERVER_CPU), 'true'], { stdio: 'ignore' });
  return probe.status === 0;
})();

/** Pins this process (every thread, and so the load generator in it) to the client CPU. */
export function pinSelfToClientCpu(): void {
  if (!PINNED) return;
  spawnSync('taskset', ['-a', '-cp', String(CLIENT_CPU), String(process.pid)], { stdio: 'ignore' });
}

type SpawnOptions = { env?: NodeJS.ProcessEnv; cwd?: string; stdout?: 'ignore' | 'pipe' | number; stderr?: 'ignore' | 'pipe' | number };

/** Starts `command args…` on the server CPU (taskset execs the command, so the pid is the command's). */
export function spawnOnServerCpu(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(PINNED ? 'taskset' : command, PINNED ? ['-c', String(SERVER_CPU), command, ...args] : args, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    stdio: ['ignore', options.stdout ?? 'ignore', options.stderr ?? 'pipe'],
  });
}

/** Starts `node args…` on the server CPU. */
export function spawnNode(args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawnOnServerCpu(process.execPath, args, options);
}

/** Stops a child: SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Collects a child's stderr, to show when something goes wrong. */
export function stderrOf(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    text = (text + d).slice(-20_000);
  });
  return () => text;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const tempDirs: string[] = [];

/** A fresh folder under the system's temp directory, removed by `removeTempDirs`. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes the folders `tempDir` made (data directories, keys, the soak's store). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Polls `url` until it answers 200 and returns the milliseconds since `startedAt`
 * (a performance.now() value). Gives up after `timeoutMs`, or when `child` exits.
 */
export async function waitFor200(url: string, startedAt: number, timeoutMs: number, child?: ChildProcess): Promise<number> {
  for (;;) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - startedAt;
    } catch {
      // not listening yet
    }
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${url}: the process exited (${child.exitCode ?? child.signalCode})`);
    if (performance.now() - startedAt > timeoutMs) throw new Error(`${url}: no 200 within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Resident set size of a process, in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for pid ${pid}`);
  return kb / 1024;
}

// ---- the IdP's forms --------------------------------------------------------------

export const SESSION_COOKIE = 'mockidp.sid';

/** The session cookie (name=value) a response sets, if any. */
export function sessionCookie(setCookie: string[] | string | undefined): string | undefined {
  const list = Array.isArray(setCookie) ? setCookie : setCookie === undefined ? [] : [setCookie];
  for (const c of list) {
    const first = c.split(';')[0]!;
    if (first.startsWith(`${SESSION_COOKIE}=`)) return first;
  }
  return undefined;
}

export function hiddenField(html: string, name: string): string | undefined {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m?.[1]?.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A fresh login form: its session cookie and CSRF token. */
export async function loginForm(base: string): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${base}/login`, { redirect: 'manual' });
  const html = await res.text();
  const cookie = sessionCookie(res.headers.getSetCookie());
  const csrf = hiddenField(html, 'csrf');
  if (res.status !== 200 || !cookie || !csrf) throw new Error(`GET /login: ${res.status}, cookie ${cookie ? 'set' : 'missing'}, csrf ${csrf ? 'found' : 'missing'}`);
  return { cookie, csrf };
}

export function loginBody(csrf: string, email: string, password: string): string {
  return new URLSearchParams({ csrf, continue: '', email, password }).toString();
}

/**
 * Signs in through the form and returns the signed-in session's cookie. With
 * `postTo`, the form is opened on `base` and posted to `postTo` (another replica).
 */
export async function signIn(base: string, email: string, password: string, postTo = base): Promise<string> {
  const { cookie, csrf } = await loginForm(base);
  const res = await fetch(`${postTo}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: loginBody(csrf, email, password),
  });
  await res.arrayBuffer();
  const signedIn = sessionCookie(res.headers.getSetCookie());
  if (res.status !== 303 || !signedIn) throw new Error(`POST /login for ${email}: ${res.status}, expected 303 with a new session cookie`);
  return signedIn;
}

// ---- statistics -------------------------------------------------------------------

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: number[]): Spread {
  if (values.length === 0) throw new Error('spread of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: values };
}

/** Calls `fn` repeatedly for `ms` milliseconds and returns calls per second. */
export function rateOf(fn: () => unknown, ms: number): number {
  const start = performance.now();
  let n = 0;
  let now = start;
  while (now - start < ms) {
    fn();
    n += 1;
    if ((n & 7) === 0) now = performance.now();
  }
  return n / ((performance.now() - start) / 1000);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
