/**
 * How long `npm start` takes to serve: from spawning the README's command to the
 * first 200 on /healthz, on free ports and a fresh data directory. Runs it `n` times
 * (default 5; first argument) and prints each time and the median. Warm means dist/
 * is already built; the first run builds it if it is not.
 *
 *   node --import tsx scripts/start-time.ts [n]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

async function once(): Promise<number> {
  const [port, spPort] = [await freePort(), await freePort()];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-idp-start-'));
  const started = performance.now();
  const child = spawn('npm', ['start'], { env: { ...process.env, PORT: String(port), DEMO_SP_PORT: String(spPort), DATA_DIR: dataDir }, stdio: 'ignore', detached: true });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
      if (ok) return performance.now() - started;
      if (performance.now() - started > 120_000) throw new Error('no 200 on /healthz within 120 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const n = Number(process.argv[2] ?? 5);
const times: number[] = [];
for (let i = 0; i < n; i++) {
  const ms = await once();
  times.push(ms);
  process.stdout.write(`npm start → 200 on /healthz: ${(ms / 1000).toFixed(2)} s\n`);
}
times.sort((a, b) => a - b);
process.stdout.write(`median of ${n}: ${(times[Math.floor(n / 2)]! / 1000).toFixed(2)} s\n`);
