/**
 * `node --import tsx bench/profile.ts SCENARIO [SECONDS]`: runs one scenario of the
 * bench against an IdP started with `node --cpu-prof`, then prints where the IdP's
 * CPU time went (self time by function and by package). The .cpuprofile is kept in
 * bench/out/profiles/ (open it in Chrome DevTools or speedscope).
 *
 * SCENARIO: jwt-hs | jwt-rs | saml-one | saml-both | login | bare, or the shared-store
 * figure's (bench/shared-store.ts; users seeded at scrypt 2^4): signin (browser
 * sign-ins, one IdP on SQLite), signin-redis (the same through two replicas on one
 * Redis), jwt-app (JWT HS256 SSO, one IdP on SQLite without its fast path),
 * jwt-redis (the same through two replicas). With several IdPs, their profiles
 * are summarized together (one file each is kept); redis-server's CPU time is
 * printed alongside.
 */
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import autocannon from 'autocannon';
import { cpuMs } from './cpu.js';
import { LOGIN_USERS, USER, startBenchIdp } from './idp.js';
import { OUT, ROOT, freePort, pinSelfToClientCpu, removeTempDirs, signIn, spawnNode, stop, tempDir, waitFor200 } from './lib.js';
import { Started, startRedis, startReplicas, startSeededIdp } from './replicas.js';
import { jwtScenario, loginScenario, openLoginForms, samlScenario, signInFlow, type Scenario } from './scenarios.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * The file and line a frame's code was written in: dist/cli.js is a bundle (scripts/bundle.ts),
 * so its frames, and those of other files with a source map, are mapped back through it.
 */
function originOf(cf: CallFrame, maps: Map<string, SourceMap | undefined>): { file: string; line: number } {
  const file = cf.url.replace(/^file:\/\//, '');
  if (!maps.has(file)) {
    let map: SourceMap | undefined;
    try {
      map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      map = undefined;
    }
    maps.set(file, map);
  }
  const entry = maps.get(file)?.findEntry(cf.lineNumber, cf.columnNumber);
  if (entry && 'originalSource' in entry) return { file: path.resolve(path.dirname(file), entry.originalSource), line: entry.originalLine };
  return { file, line: cf.lineNumber };
}

/** Several processes' profiles as one (node ids kept apart), for a summary over all of them. */
export function merged(profiles: readonly CpuProfile[]): CpuProfile {
  const out: CpuProfile = { nodes: [], samples: [], timeDeltas: [] };
  let offset = 0;
  for (const p of profiles) {
    let max = 0;
    for (const node of p.nodes) {
      out.nodes.push({ ...node, id: node.id + offset });
      max = Math.max(max, node.id);
    }
    for (const id of p.samples) out.samples.push(id + offset);
    for (const dt of p.timeDeltas) out.timeDeltas.push(dt);
    offset += max + 1;
  }
  return out;
}

const SHARED_STORE_SCENARIOS = ['signin', 'signin-redis', 'jwt-app', 'jwt-redis'];

/** The shared-store figure's setups under the profiler: one IdP on SQLite, or two replicas on a Redis. */
async function sharedStoreScenario(name: string, profArgs: string[]): Promise<{ scenario: Scenario; close: () => Promise<void>; redisPid?: number }> {
  const started = new Started();
  try {
    const keysDir = path.join(tempDir('mock-idp-bench-keys-'), 'keys');
    let bases: string[];
    let redisPid: number | undefined;
    if (name.endsWith('-redis')) {
      const redis = await startRedis(started);
      redisPid = redis.pid;
      bases = (await startReplicas(started, 2, redis, { keysDir, nodeArgs: profArgs })).map((r) => r.base);
    } else {
      bases = [(await startSeededIdp(started, { keysDir, nodeArgs: profArgs, ...(name === 'jwt-app' ? { env: { MOCK_IDP_FAST_PATH: '0' } } : {}) })).base];
    }
    let scenario: Scenario;
    if (name.startsWith('signin')) scenario = { options: signInFlow(bases, LOGIN_USERS, 8), expectedStatus: 303 };
    else scenario = jwtScenario(bases, await signIn(bases[0]!, USER.email, USER.password, bases.at(-1)), 'hs');
    return { scenario, close: () => started.close(), ...(redisPid === undefined ? {} : { redisPid }) };
  } catch (err) {
    await started.close();
    throw err;
  }
}

/** Self time by function and by package/file, the top `n` of each. */
export function summarize(profile: CpuProfile, n = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const maps = new Map<string, SourceMap | undefined>();
  for (const [id, t] of self) {
    const cf = byId.get(id)!.callFrame;
    const origin = cf.url.startsWith('file://') ? originOf(cf, maps) : { file: cf.url, line: cf.lineNumber };
    const where = origin.file.replace(`${ROOT}/`, '').replace(/^.*node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, '$1');
    const fnKey = `${cf.functionName || '(anonymous)'}  ${where}${where ? `:${origin.line + 1}` : ''}`;
    byFunction.set(fnKey, (byFunction.get(fnKey) ?? 0) + t);
    const pkg = where || cf.functionName;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + t);
  }
  const top = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, t]) => `${(t / 1000).toFixed(0).padStart(7)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return `total ${(total / 1000).toFixed(0)} ms sampled\n-- self time by package or file\n${top(byPackage)}\n-- self time by function\n${top(byFunction)}\n`;
}

async function main(): Promise<void> {
  const [scenarioName = 'jwt-hs', secondsArg = '8'] = process.argv.slice(2);
  const seconds = Math.min(10, Number(secondsArg));
  pinSelfToClientCpu();
  const dir = path.join(OUT, 'profiles', `${scenarioName}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.mkdirSync(dir, { recursive: true });
  const profArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];

  let scenario: Scenario;
  let close: () => Promise<void>;
  let redisPid: number | undefined;
  if (SHARED_STORE_SCENARIOS.includes(scenarioName)) {
    ({ scenario, close, redisPid } = await sharedStoreScenario(scenarioName, profArgs));
  } else if (scenarioName === 'bare') {
    const port = await freePort();
    const child = spawnNode([...profArgs, path.join(ROOT, 'bench', 'baselines', 'bare-node.mjs'), String(port)]);
    await waitFor200(`http://127.0.0.1:${port}/healthz`, performance.now(), 10_000, child);
    scenario = { options: { url: `http://127.0.0.1:${port}/sso`, connections: 32 }, expectedStatus: 302 };
    close = () => stop(child);
  } else {
    const idp = await startBenchIdp({ nodeArgs: profArgs });
    close = idp.close;
    const cookie = await signIn(idp.base, USER.email, USER.password);
    if (scenarioName === 'jwt-hs' || scenarioName === 'jwt-rs') scenario = jwtScenario(idp.base, cookie, scenarioName === 'jwt-hs' ? 'hs' : 'rs');
    else if (scenarioName === 'saml-one' || scenarioName === 'saml-both') scenario = samlScenario(idp.base, cookie, scenarioName === 'saml-one' ? 'one' : 'both');
    else if (scenarioName === 'login') scenario = loginScenario(idp.base, await openLoginForms(idp.base, 60 * seconds + 64));
    else throw new Error(`unknown scenario ${scenarioName}`);
  }
  try {
    const redis0 = redisPid === undefined ? 0 : cpuMs(redisPid);
    const result = await autocannon({ ...scenario.options, duration: seconds });
    const counted = result.statusCodeStats[String(scenario.expectedStatus)]?.count ?? 0;
    const redis = redisPid === undefined ? '' : `, redis-server ${(((cpuMs(redisPid) - redis0) * 1000) / Math.max(1, counted)).toFixed(0)} µs CPU per ${scenario.expectedStatus}`;
    process.stderr.write(`${scenarioName}: ${(result.requests.total / result.duration).toFixed(0)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, status ${JSON.stringify(result.statusCodeStats)}${redis}\n`);
  } finally {
    await close();
  }
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no profile written in ${dir}`);
  const profiles = files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as CpuProfile);
  const summary = summarize(profiles.length === 1 ? profiles[0]! : merged(profiles));
  fs.writeFileSync(path.join(dir, 'summary.txt'), summary);
  process.stdout.write(`${summary}${files.map((f) => `profile: ${path.relative(ROOT, path.join(dir, f))}`).join('\n')}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(removeTempDirs);
