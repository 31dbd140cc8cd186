/**
 * `npm run bench`: mock-idp's hot paths, side by side with the limits of the same
 * machine measured in the same run. See bench/RESULTS.md for what each figure is
 * and this machine's results.
 *
 * Options: --runs N (3), --seconds S per run (4), --warmup S (1),
 *          --sign-ins N for the memory soak (100000), --no-build, --quick,
 *          --soak-only (only the memory soak, with the whole time budget).
 *
 * The IdP and the baselines run on CPU 0, this process (the load generator) on
 * CPU 1, when taskset exists; so do the shared-store figure's IdPs, replicas and
 * redis-server (bench/shared-store.ts). Everything targets 127.0.0.1; every run is
 * bounded in time and the whole bench in count and time (each load run ≤ 10 s).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { checkJwtRedirect, checkSamlSso } from './checks.js';
import { renderChart } from './chart.js';
import { SAML_SPS, USER, seedUsers, startBenchIdp, type BenchIdp } from './idp.js';
import {
  OUT,
  PINNED,
  ROOT,
  freePort,
  pinSelfToClientCpu,
  removeTempDirs,
  rssMiB,
  signIn,
  sleep,
  spawnNode,
  spread,
  stderrOf,
  stop,
  tempDir,
  waitFor200,
  type Spread,
} from './lib.js';
import { measure, type Measured } from './load.js';
import { jwtScenario, loginScenario, openLoginForms, samlScenario, signInFlow } from './scenarios.js';
import { sharedStoreFigures, sharedStoreRows, type SharedStoreResults } from './shared-store.js';
import { renderMarkdown, renderTable, type Row } from './table.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '1' },
    'sign-ins': { type: 'string', default: '100000' },
    'no-build': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    'soak-only': { type: 'boolean', default: false },
  },
});

const RUNS = Math.max(3, Number(args.runs));
const SECONDS = Math.min(10, Number(args.quick ? 2 : args.seconds));
const WARMUP = Math.min(10, Number(args.quick ? 1 : args.warmup));
const SIGN_INS = Number(args.quick ? 10_000 : args['sign-ins']);
/**
 * The whole bench stays within this; the soak stops early (and says so) when it would not.
 * 290 s before the shared-store figure, which takes about 70 s of a default run (five
 * variants of 1 + 3 × 4 s, and starting Redis and four IdPs) and was given as much.
 */
const BUDGET_MS = 360_000;
const started = performance.now();
const plan = { runs: RUNS, seconds: SECONDS, warmupSeconds: WARMUP };

function log(line: string): void {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}\n`);
}

async function main(): Promise<void> {
  pinSelfToClientCpu();
  fs.mkdirSync(OUT, { recursive: true });
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    pinned: PINNED,
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    date: new Date().toISOString(),
  };
  log(`machine: ${machine.cpus} CPUs (${machine.cpu}), node ${machine.node}, ${PINNED ? 'IdP on CPU 0, load generator on CPU 1' : 'no taskset: not pinned'}, load average ${machine.loadAverageAtStart.join(' ')}`);

  if (!args['no-build']) {
    log('npm run build');
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) throw new Error('npm run build failed');
  }

  if (args['soak-only']) {
    const soak = await signInSoak();
    fs.writeFileSync(path.join(OUT, 'soak.json'), `${JSON.stringify({ machine, soak, elapsedSeconds: (performance.now() - started) / 1000 }, null, 2)}\n`);
    log(`wrote ${path.relative(ROOT, OUT)}/soak.json`);
    return;
  }

  // ---- the IdP under test, and correctness before load ------------------------------
  const idp = await startBenchIdp();
  const configFile = path.join(path.dirname(idp.dataDir), 'bench-config.json');
  let results: Record<string, unknown>;
  try {
    const cookie = await signIn(idp.base, USER.email, USER.password);
    log('correctness: JWT HS256 and RS256 redirects verify; SAML forms carry Responses that verify, signed where configured');
    await checkJwtRedirect(idp.base, cookie, 'jwt-hs256', 'HS256');
    await checkJwtRedirect(idp.base, cookie, 'jwt-rs256', 'RS256');
    await checkSamlSso(idp.base, cookie, SAML_SPS.one, { assertion: true, response: false });
    await checkSamlSso(idp.base, cookie, SAML_SPS.both, { assertion: true, response: true });

    // ---- in-process baselines on the server CPU (the IdP is idle meanwhile) ----------
    log('in-process: RSA-2048 signing, xml-crypto signing, the fast path, scrypt at the configured cost');
    const inproc = spawnNode([path.join(ROOT, 'bench', 'baselines', 'inproc.mjs'), configFile, '700', String(RUNS), '8'], { stdout: 'pipe' });
    const inprocErr = stderrOf(inproc);
    let inprocOut = '';
    inproc.stdout!.setEncoding('utf8').on('data', (d: string) => (inprocOut += d));
    const code = await new Promise<number | null>((resolve) => inproc.once('exit', resolve));
    if (code !== 0) throw new Error(`inproc.mjs failed: ${inprocErr()}`);
    const ip = JSON.parse(inprocOut) as InProc;
    const rsa = spread(ip.rsa.perSecond);
    const scrypt = spread(ip.scrypt.perSecond);
    const med = (x: number[]) => spread(x).median.toFixed(0);
    log(
      `  RSA-2048 ${med(ip.rsa.perSecond)}/s (${med(ip.rsa.cpuUs)} µs CPU), xml-crypto ${med(ip.xmlcrypto.perSecond)}/s, ` +
        `fast path ${med(ip.fastOne.perSecond)}/s (one) ${med(ip.fastBoth.perSecond)}/s (both), scrypt 2^${ip.scryptCost} ${scrypt.median.toFixed(1)}/s (${(spread(ip.scrypt.cpuUs).median / 1000).toFixed(1)} ms CPU)`,
    );

    // ---- the bare node:http baseline ---------------------------------------------------
    log('baseline: bare node:http answering 302 with a fresh HS256 JWT');
    const barePort = await freePort();
    const bare = spawnNode([path.join(ROOT, 'bench', 'baselines', 'bare-node.mjs'), String(barePort)]);
    await waitFor200(`http://127.0.0.1:${barePort}/healthz`, performance.now(), 10_000, bare);
    let bareJwt: Measured;
    try {
      bareJwt = await measure('bare node 302+HS256', { url: `http://127.0.0.1:${barePort}/sso`, connections: 32 }, 302, plan, log, bare.pid);
    } finally {
      await stop(bare);
    }

    // ---- the IdP's hot paths -------------------------------------------------------------
    const run = async (name: string, s: { options: Parameters<typeof measure>[1]; expectedStatus: number }) => {
      log(name);
      return measure(name, s.options, s.expectedStatus, plan, log, idp.pid);
    };
    const jwtHs = await run('JWT redirect HS256 (32 connections)', jwtScenario(idp.base, cookie, 'hs'));
    const jwtRs = await run('JWT redirect RS256 (32 connections)', jwtScenario(idp.base, cookie, 'rs'));
    const samlOne = await run('SAML SSO, assertion signed (8 connections)', samlScenario(idp.base, cookie, 'one'));
    const samlBoth = await run('SAML SSO, assertion and response signed (8 connections)', samlScenario(idp.base, cookie, 'both'));

    // Each POST /login uses up a form; open enough for every run (at 3x the hashing rate, to be safe).
    const formsNeeded = Math.ceil(scrypt.median * 3 * (WARMUP + RUNS * SECONDS)) + 64;
    log(`POST /login at the default cost 2^${ip.scryptCost} (8 connections; ${formsNeeded} login forms opened first)`);
    const forms = await openLoginForms(idp.base, formsNeeded);
    const login = await measure('POST /login', loginScenario(idp.base, forms).options, 303, plan, log, idp.pid);
    // Cost per sign-in over cost per hash, both on the same CPU with 8 in flight:
    // by CPU time (what the sign-in itself costs), and by wall-clock rates.
    const loginOverhead = {
      cpu: login.cpuUs!.median / spread(ip.scrypt.cpuUs).median - 1,
      wall: scrypt.median / login.rps.median - 1,
    };
    log(`  login overhead over hashing alone: ${(100 * loginOverhead.cpu).toFixed(1)}% by CPU time, ${(100 * loginOverhead.wall).toFixed(1)}% by req/s`);

    await checkJwtRedirect(idp.base, cookie, 'jwt-hs256', 'HS256');
    const rssAfterLoad = rssMiB(idp.pid);

    results = { machine, plan, inproc: ip, rsa, scrypt, bareJwt, jwtHs, jwtRs, samlOne, samlBoth, login, loginOverhead, rssAfterLoad };
  } finally {
    await idp.close();
  }

  // ---- two replicas on one Redis against one IdP on SQLite --------------------------------
  const sharedStore = await sharedStoreFigures(plan, log);
  // ---- cold start and idle RSS on the embedded default config ---------------------------
  const cold = await coldStarts();
  // ---- RSS after many sign-ins ---------------------------------------------------------
  const soak = await signInSoak();

  const all = { ...results, sharedStore, cold, soak, elapsedSeconds: (performance.now() - started) / 1000 };
  const rows = toRows(all);
  process.stdout.write(`\n${renderTable(rows)}\n`);
  fs.writeFileSync(path.join(OUT, 'results.json'), `${JSON.stringify({ ...all, rows }, null, 2)}\n`);
  fs.writeFileSync(path.join(OUT, 'results.svg'), renderChart(rows, machine));
  fs.writeFileSync(path.join(OUT, 'results.md'), renderMarkdown(rows, all));
  log(`wrote ${path.relative(ROOT, OUT)}/results.json, results.svg, results.md in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

/** Spawn → first 200 on /healthz, then idle RSS; the IdP on the embedded default config, and a bare node:http server. */
async function coldStarts(): Promise<{ idpMs: Spread; idpRssMiB: Spread; bareMs: Spread; bareRssMiB: Spread; note?: string }> {
  const demoPortFree = await new Promise<boolean>((resolve) => {
    fetch('http://127.0.0.1:8081/', { signal: AbortSignal.timeout(500) }).then(
      () => resolve(false),
      () => resolve(true),
    );
  });
  if (!demoPortFree) throw new Error('port 8081 is in use: the embedded default config starts its demo SP there; free it to measure the cold start');
  const one = async (args: string[], env: NodeJS.ProcessEnv, url: string) => {
    const t0 = performance.now();
    const child = spawnNode(args, { env });
    const err = stderrOf(child);
    try {
      const ms = await waitFor200(url, t0, 20_000, child);
      await sleep(1000);
      return { ms, rss: rssMiB(child.pid!) };
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${err()}`);
    } finally {
      await stop(child);
    }
  };
  log('cold start: `node dist/cli.js serve` on the embedded default config (IdP + demo SP), fresh data directory each time');
  const idp: { ms: number; rss: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const port = await freePort();
    const r = await one([path.join(ROOT, 'dist', 'cli.js'), 'serve'], { ...process.env, PORT: String(port), DATA_DIR: tempDir('mock-idp-cold-') }, `http://127.0.0.1:${port}/healthz`);
    log(`  ${r.ms.toFixed(0)} ms to the first 200, idle RSS ${r.rss.toFixed(0)} MiB`);
    idp.push(r);
  }
  const bare: { ms: number; rss: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const port = await freePort();
    bare.push(await one([path.join(ROOT, 'bench', 'baselines', 'bare-node.mjs'), String(port)], process.env, `http://127.0.0.1:${port}/healthz`));
  }
  log(`  bare node:http: ${spread(bare.map((b) => b.ms)).median.toFixed(0)} ms, ${spread(bare.map((b) => b.rss)).median.toFixed(0)} MiB`);
  return {
    idpMs: spread(idp.map((r) => r.ms)),
    idpRssMiB: spread(idp.map((r) => r.rss)),
    bareMs: spread(bare.map((r) => r.ms)),
    bareRssMiB: spread(bare.map((r) => r.rss)),
  };
}

/**
 * RSS after 1,000 and after SIGN_INS sign-ins, each a new browser session, with a
 * user whose stored hash has a tiny scrypt cost (2^4): the soak is about memory,
 * and at the configured cost 100,000 sign-ins would take more than an hour. The
 * login path is otherwise the one measured above.
 */
async function signInSoak(): Promise<Record<string, unknown>> {
  const dir = tempDir('mock-idp-soak-');
  const connections = 8;
  // One user per connection (the login throttle locks an account with 5 attempts in flight).
  const soakUsers = Array.from({ length: connections }, (_, i) => ({ email: `soak${i + 1}@bench.test`, password: `soak-password-${i + 1}` }));
  await seedUsers(dir, soakUsers);
  // No config users: only the seeded ones, so that start-up hashing does not weigh on the RSS compared.
  const idp: BenchIdp = await startBenchIdp({ dir, extra: { users: [], passwordHashCost: 10 } });
  try {
    const signIns = async (n: number): Promise<number> => {
      const amount = Math.max(2 * connections, Math.round(n / connections) * 2 * connections);
      const t0 = performance.now();
      const result = await autocannon({ ...signInFlow(idp.base, soakUsers, connections), amount, timeout: 10 });
      const codes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([k, v]) => [k, v.count]));
      if (codes['200'] !== amount / 2 || codes['303'] !== amount / 2 || result.errors > 0) {
        throw new Error(`sign-in soak: expected ${amount / 2} × 200 and 303, got ${JSON.stringify(codes)}, ${result.errors} errors`);
      }
      return (amount / 2) / ((performance.now() - t0) / 1000);
    };
    const sessions = (): number => {
      const db = new Database(path.join(idp.dataDir, 'mock-idp.sqlite'), { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const rssIdle = rssMiB(idp.pid);
    log(`sign-in soak: ${SIGN_INS} sign-ins, each GET /login + POST /login on a new session (idle RSS ${rssIdle.toFixed(0)} MiB)`);
    const rate = await signIns(1000);
    await sleep(1000);
    const rss1k = rssMiB(idp.pid);
    let done = 1000;
    log(`  1,000 sign-ins (${rate.toFixed(0)}/s): RSS ${rss1k.toFixed(0)} MiB, ${sessions()} sessions in SQLite`);
    let stoppedEarly = false;
    let lastRate = rate;
    while (done < SIGN_INS) {
      const remainingMs = BUDGET_MS - (performance.now() - started);
      if (remainingMs < 15_000) {
        stoppedEarly = true;
        break;
      }
      // Chunks of at most ~8 s each, and never past the time budget.
      const chunk = Math.min(SIGN_INS - done, Math.floor(lastRate * Math.min(8, (remainingMs - 10_000) / 1000)));
      if (chunk < 100) {
        stoppedEarly = true;
        break;
      }
      lastRate = await signIns(chunk);
      done += Math.max(2 * connections, Math.round(chunk / connections) * 2 * connections) / 2;
      log(`  ${done.toLocaleString('en')} sign-ins (${lastRate.toFixed(0)}/s): RSS ${rssMiB(idp.pid).toFixed(0)} MiB`);
    }
    await sleep(1000);
    const rssEnd = rssMiB(idp.pid);
    const count = sessions();
    log(`  ${done.toLocaleString('en')} sign-ins: RSS ${rssEnd.toFixed(0)} MiB, ${count} sessions in SQLite${stoppedEarly ? ' (stopped early: time budget)' : ''}`);
    return { signIns: done, target: SIGN_INS, stoppedEarly, rssIdle, rss1k, rssEnd, sessions: count, ratePerSecond: lastRate };
  } finally {
    await idp.close();
  }
}

interface InProc {
  rsa: { perSecond: number[]; cpuUs: number[] };
  xmlcrypto: { perSecond: number[]; cpuUs: number[] };
  fastOne: { perSecond: number[]; cpuUs: number[] };
  fastBoth: { perSecond: number[]; cpuUs: number[] };
  scrypt: { perSecond: number[]; cpuUs: number[] };
  scryptCost: number;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(0)}%`;
}

function toRows(r: Record<string, unknown>): Row[] {
  const m = r as unknown as {
    rsa: Spread;
    scrypt: Spread;
    inproc: InProc;
    bareJwt: Measured;
    jwtHs: Measured;
    jwtRs: Measured;
    samlOne: Measured;
    samlBoth: Measured;
    login: Measured;
    loginOverhead: { cpu: number; wall: number };
    cold: { idpMs: Spread; idpRssMiB: Spread; bareMs: Spread; bareRssMiB: Spread };
    soak: { signIns: number; rss1k: number; rssEnd: number; sessions: number; stoppedEarly: boolean };
    sharedStore: SharedStoreResults;
  };
  const rsaRate = m.rsa.median;
  const rsaCpu = spread(m.inproc.rsa.cpuUs).median;
  const bare = m.bareJwt.rps.median;
  const bareCpu = m.bareJwt.cpuUs!.median;
  /** A load figure: req/s against a baseline rate, and server CPU per request against the baseline's CPU per operation. */
  const load = (name: string, x: Measured, base: number, baseCpu: number, baseName: string, target?: { ratio?: number; p99?: number }): Row => {
    const ratio = x.rps.median / base;
    const met =
      target === undefined ? undefined : (target.ratio === undefined || ratio >= target.ratio) && (target.p99 === undefined || x.p99.median <= target.p99);
    const targetText =
      target === undefined ? '' : [target.ratio !== undefined ? `≥ ${pct(target.ratio)}` : '', target.p99 !== undefined ? `p99 ≤ ${target.p99} ms` : ''].filter(Boolean).join(', ');
    return {
      name,
      targetRatio: target?.ratio,
      value: x.rps,
      unit: 'req/s',
      p50: x.p50.median,
      p99: x.p99.median,
      cpuUs: x.cpuUs?.median,
      baseline: base,
      baselineName: baseName,
      ratio,
      cpuRatio: x.cpuUs ? baseCpu / x.cpuUs.median : undefined,
      target: targetText,
      met,
    };
  };
  const inproc = (name: string, x: { perSecond: number[]; cpuUs: number[] }): Row => {
    const s = spread(x.perSecond);
    const cpu = spread(x.cpuUs).median;
    return { name, value: s, unit: '/s', cpuUs: cpu, baseline: rsaRate, baselineName: 'RSA', ratio: s.median / rsaRate, cpuRatio: rsaCpu / cpu, target: '', met: undefined };
  };
  const scryptCpu = spread(m.inproc.scrypt.cpuUs).median;
  const rows: Row[] = [
    { name: 'bare node:http 302 + HS256 JWT (baseline)', value: m.bareJwt.rps, unit: 'req/s', p50: m.bareJwt.p50.median, p99: m.bareJwt.p99.median, cpuUs: bareCpu, target: '', met: undefined },
    { name: 'RSA-2048 signing, crypto.sign (baseline)', value: m.rsa, unit: '/s', cpuUs: rsaCpu, target: '', met: undefined },
    inproc('xml-crypto signing the assertion, in-process', m.inproc.xmlcrypto),
    inproc('fast path: Response, assertion signed, in-process', m.inproc.fastOne),
    inproc('fast path: Response, both signed, in-process', m.inproc.fastBoth),
    load('JWT redirect HS256 with a session, 32 conns', m.jwtHs, bare, bareCpu, 'bare node', { ratio: 0.35, p99: 30 }),
    load('JWT redirect RS256 with a session, 32 conns', m.jwtRs, rsaRate, rsaCpu, 'RSA'),
    load('SAML SSO, one signature, 8 conns', m.samlOne, rsaRate, rsaCpu, 'RSA', { ratio: 0.5 }),
    load('SAML SSO, both signatures, 8 conns', m.samlBoth, rsaRate, rsaCpu, 'RSA', { ratio: 0.25 }),
    { name: `scrypt 2^${m.inproc.scryptCost} alone, 8 at a time (baseline)`, value: m.scrypt, unit: '/s', cpuUs: scryptCpu, target: '', met: undefined },
    {
      ...load(`POST /login, scrypt 2^${m.inproc.scryptCost}, 8 conns`, m.login, m.scrypt.median, scryptCpu, 'scrypt'),
      overhead: m.loginOverhead,
      target: 'overhead ≤ 10% (CPU)',
      targetRatio: 1 / 1.1,
      met: m.loginOverhead.cpu <= 0.1,
    },
    ...sharedStoreRows(m.sharedStore),
    {
      name: 'cold start to first 200 on /healthz (default config)',
      value: m.cold.idpMs,
      unit: 'ms',
      baseline: m.cold.bareMs.median,
      baselineName: 'bare node',
      ratio: m.cold.idpMs.median / m.cold.bareMs.median,
      target: '≤ 400 ms',
      targetRatio: 400 / m.cold.bareMs.median,
      met: m.cold.idpMs.median <= 400,
    },
    {
      name: 'idle RSS (default config)',
      value: m.cold.idpRssMiB,
      unit: 'MiB',
      baseline: m.cold.bareRssMiB.median,
      baselineName: 'bare node',
      ratio: m.cold.idpRssMiB.median / m.cold.bareRssMiB.median,
      target: '≤ 100 MB',
      targetRatio: 100 / 1.048576 / m.cold.bareRssMiB.median,
      met: m.cold.idpRssMiB.median * 1.048576 <= 100,
    },
    {
      name: `RSS after ${m.soak.signIns.toLocaleString('en')} sign-ins (${m.soak.sessions.toLocaleString('en')} sessions in SQLite)`,
      value: spread([m.soak.rssEnd]),
      unit: 'MiB',
      baseline: m.soak.rss1k,
      baselineName: 'after 1,000',
      ratio: m.soak.rssEnd / m.soak.rss1k,
      target: '≤ 120% of 1,000',
      targetRatio: 1.2,
      met: !m.soak.stoppedEarly && m.soak.rssEnd / m.soak.rss1k <= 1.2,
    },
  ];
  return rows;
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(removeTempDirs);
