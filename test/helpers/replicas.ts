/**
 * Several real IdP processes on one config and one redis-server, as replicas
 * behind a load balancer; and a browser that sends every request of a flow to
 * the next replica in turn (no stickiness), following redirects by hand.
 * Replicas listen on 127.0.0.1; each has its own data and keys folders. Tests stop only
 * the processes they started, by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, tempDir } from './idp.js';
import { unescapeHtml } from './http.js';

export interface Replica {
  name: string;
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** SIGTERM, then SIGKILL when the process has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Starts one replica on `configFile` with its own data directory; resolves once it serves. */
export async function startReplica(name: string, configFile: string, env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<Replica> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), 'serve', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Each replica its own data and keys folders (as in separate containers), unless `env` says otherwise.
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', PORT: String(port), DATA_DIR: tempDir(`mock-idp-replica-${name}-`), KEYS_DIR: tempDir(`mock-idp-replica-keys-${name}-`), ...env },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica ${name} did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      if (!/mock-idp is running/.test(out)) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve();
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica ${name} exited with ${code}:\n${out}`));
    });
  });
  return { name, url: `http://127.0.0.1:${port}`, pid: child.pid!, child, output: () => out, stop: () => stopChild(child) };
}

/** Writes `yaml` to a config file in a fresh folder and starts `count` replicas on it, one after the other. */
export async function startReplicas(count: number, yaml: string, env: NodeJS.ProcessEnv): Promise<Replica[]> {
  const file = path.join(tempDir('mock-idp-replicas-'), 'idp.yaml');
  fs.writeFileSync(file, yaml);
  const replicas: Replica[] = [];
  try {
    for (let i = 0; i < count; i++) replicas.push(await startReplica(String.fromCharCode(97 + i), file, env));
  } catch (err) {
    await Promise.all(replicas.map((r) => r.stop()));
    throw err;
  }
  return replicas;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The replica that answered. */
  replica: string;
}

/**
 * A browser with one cookie jar whose every request goes to the next replica in
 * turn. URLs are paths, or absolute URLs on the IdP's public origin (`publicUrl`):
 * either way the origin is the next replica's.
 */
export class RoundRobinBrowser {
  readonly #replicas: readonly Replica[];
  readonly #publicOrigin: string;
  readonly #cookies = new Map<string, string>();
  #next = 0;
  /** Which replica answered each request, in order. */
  readonly seen: string[] = [];

  constructor(replicas: readonly Replica[], publicUrl: string, start = 0) {
    this.#replicas = replicas;
    this.#publicOrigin = new URL(publicUrl).origin;
    this.#next = start;
  }

  /** True when `url` is on the IdP (a path, or the public origin), i.e. a replica would answer it. */
  isIdp(url: string): boolean {
    return url.startsWith('/') || new URL(url).origin === this.#publicOrigin;
  }

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>, headers: Record<string, string> = {}): Promise<Answer> {
    const replica = this.#replicas[this.#next++ % this.#replicas.length]!;
    const target = new URL(url, this.#publicOrigin);
    const res = await fetch(`${replica.url}${target.pathname}${target.search}`, {
      method,
      redirect: 'manual',
      headers: {
        accept: 'text/html',
        ...(this.#cookies.size ? { cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') } : {}),
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...headers,
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair!.indexOf('=');
      const [name, value] = [pair!.slice(0, i), pair!.slice(i + 1)];
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    this.seen.push(replica.name);
    return { status: res.status, headers: res.headers, text: await res.text(), replica: replica.name };
  }

  get(url: string): Promise<Answer> {
    return this.request('GET', url);
  }

  post(url: string, form: Record<string, string>): Promise<Answer> {
    return this.request('POST', url, form);
  }

  /** Follows IdP redirects (each hop to the next replica) until an answer that is not one, or a redirect off the IdP. */
  async follow(answer: Answer, max = 10): Promise<Answer> {
    let current = answer;
    for (let i = 0; i < max && current.status >= 301 && current.status <= 308; i++) {
      const location = current.headers.get('location')!;
      if (!this.isIdp(location)) return current;
      current = await this.get(location);
    }
    return current;
  }

  /** Signs in through the login form the last answer shows: GET it if it is a redirect to /login, then POST. */
  async submitLogin(loginPage: Answer, email: string, password: string): Promise<Answer> {
    const csrf = /name="csrf" value="([^"]+)"/.exec(loginPage.text)?.[1];
    if (!csrf) throw new Error(`not a login form (from ${loginPage.replica}, ${loginPage.status}): ${loginPage.text.slice(0, 300)}`);
    const next = /name="continue" value="([^"]*)"/.exec(loginPage.text)?.[1];
    return this.post('/login', { csrf, email, password, ...(next !== undefined ? { continue: unescapeHtml(next) } : {}) });
  }
}
