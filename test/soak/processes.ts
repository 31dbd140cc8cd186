/**
 * What the soak runs against: one `mock-idp serve` process with the demo SP (the
 * default), or N replicas on one redis-server (`--replicas N`). Replicas share
 * the config (`store: redis`, one sessionSecret, one keysDir) and differ only in
 * `demo`: the first serves the demo SP and is the public URL (`baseUrl`); each
 * has its own port and data directory. They start one after the other, so the
 * first generates the keys the others then read. Each process logs to its own
 * file in the soak's work folder. The soak stops only what it started, by PID:
 * at the end, on a failure to start, on SIGINT/SIGTERM (then exits 130/143), and
 * (a last resort, SIGTERM without waiting) when the soak's own process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { startTestRedis, type TestRedis } from '../helpers/redis.js';
import { freePort } from '../helpers/idp.js';
import { stopChild as stopReplica } from '../helpers/replicas.js';

export interface IdpProcess {
  /** "a", "b", …; the single process of a one-replica soak is "idp". */
  name: string;
  url: string;
  pid: number;
  logFile: string;
  /** "exited with <code or signal>" once the process has ended. */
  readonly exit: string | undefined;
  /** Resident set size from /proc, in MB; undefined once the process is gone. */
  rssMb(): number | undefined;
  stop(): Promise<void>;
}

export interface SoakTarget {
  /** The IdP processes; the first is the public URL and serves the demo SP. */
  idps: readonly IdpProcess[];
  /** With two replicas or more, the redis-server they share. */
  redis: TestRedis | undefined;
  /** Redis's INFO memory used_memory, in bytes (undefined without Redis). */
  redisUsedMemory(): Promise<number | undefined>;
  /** Stops every process this soak started (the IdPs, then Redis), by PID; safe to call twice. */
  stop(): Promise<void>;
}

/** The targets started and not yet stopped. */
const live = new Set<{ stop(): Promise<void>; pids(): number[] }>();
// A last resort when the soak's process ends with processes still running (an exception, a second Ctrl-C): SIGTERM, no waiting.
process.once('exit', () => {
  for (const target of live)
    for (const pid of target.pids()) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`\nsoak: ${signal}; stopping the processes it started`);
    void Promise.allSettled([...live].map((t) => t.stop())).then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

/** A replica under load may take a while to drain its requests. */
const stopChild = (child: ChildProcess) => stopReplica(child, 15_000);

function spawnIdp(name: string, url: string, configFile: string, logFile: string, env: NodeJS.ProcessEnv): IdpProcess {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/cli.ts'), 'serve', '--config', configFile], {
    stdio: ['ignore', log, log],
    // JSON lines whatever the caller's LOG_FORMAT: the verdict looks for "level":50 and 60.
    env: { ...process.env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', ...env },
  });
  fs.closeSync(log);
  let exit: string | undefined;
  child.once('exit', (code, signal) => (exit = `exited with ${code ?? signal}`));
  return {
    name,
    url,
    pid: child.pid!,
    logFile,
    get exit() {
      return exit;
    },
    rssMb() {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
        return Number.isFinite(kb) ? kb / 1024 : undefined;
      } catch {
        return undefined;
      }
    },
    stop: () => stopChild(child),
  };
}

async function waitForReady(idp: IdpProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (idp.exit) throw new Error(`the IdP ${idp.name} ${idp.exit} during start-up; see ${idp.logFile}`);
    try {
      // Plain fetch, not the soak's counted browser: the 503s of a starting IdP (config users still
      // being hashed) are the readiness check working, not answers of the soak's traffic.
      const res = await fetch(`${idp.url}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the IdP ${idp.name} did not become ready within 30 s; see ${idp.logFile}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function usedMemory(url: string): Promise<number | undefined> {
  const client = createClient({ url });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.info('memory');
    const bytes = Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
    return Number.isFinite(bytes) ? bytes : undefined;
  } catch {
    return undefined;
  } finally {
    if (client.isOpen) await client.close();
  }
}

export interface TargetOptions {
  work: string;
  replicas: number;
  /** The public URL's port: the single process's, or the first replica's. */
  idpPort: number;
  /** The IdP config without `demo`. */
  config: Record<string, unknown>;
  /** The demo SP's config; only the first process has it. */
  demo: Record<string, unknown>;
}

/** Starts the processes, one after the other, each ready (/readyz 200) before the next; on a failure stops what started and throws. */
export async function startTarget(options: TargetOptions): Promise<SoakTarget> {
  const { work, replicas: count } = options;
  const idps: IdpProcess[] = [];
  let redis: TestRedis | undefined;
  let stopping: Promise<void> | undefined;
  const handle = {
    pids: () => [...idps.filter((idp) => !idp.exit).map((idp) => idp.pid), ...(redis?.pid !== undefined ? [redis.pid] : [])],
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all(idps.map((idp) => idp.stop()));
        await redis?.stop();
        if (redis) fs.rmSync(redis.dir, { recursive: true, force: true });
        live.delete(handle);
      })()),
  };
  live.add(handle);
  const target: SoakTarget = {
    idps,
    get redis() {
      return redis;
    },
    redisUsedMemory: async () => (redis ? usedMemory(redis.url) : undefined),
    stop: handle.stop,
  };
  const write = (file: string, config: Record<string, unknown>): string => {
    fs.writeFileSync(path.join(work, file), JSON.stringify(config, null, 2));
    return path.join(work, file);
  };
  try {
    if (count === 1) {
      const file = write('soak.yaml', { ...options.config, demo: options.demo });
      idps.push(spawnIdp('idp', `http://127.0.0.1:${options.idpPort}`, file, path.join(work, 'idp.log'), {}));
      await waitForReady(idps[0]!);
      return target;
    }
    redis = await startTestRedis();
    const keysDir = path.join(work, 'keys');
    fs.mkdirSync(keysDir);
    const shared = { ...options.config, store: 'redis', redisUrl: redis.url, sessionSecret: 'soak-replicas-session-secret-0123456789', keysDir };
    const files = [write('soak-public.yaml', { ...shared, demo: options.demo }), write('soak-replica.yaml', { ...shared, demo: { enabled: false } })];
    for (let i = 0; i < count; i++) {
      const name = String.fromCharCode(97 + i);
      const port = i === 0 ? options.idpPort : await freePort();
      const dataDir = path.join(work, `data-${name}`);
      const idp = spawnIdp(name, `http://127.0.0.1:${port}`, files[i === 0 ? 0 : 1]!, path.join(work, `idp-${name}.log`), {
        PORT: String(port),
        DATA_DIR: dataDir,
        REDIS_URL: redis.url,
      });
      idps.push(idp);
      await waitForReady(idp);
    }
    return target;
  } catch (err) {
    await handle.stop();
    throw err;
  }
}
