/**
 * Load runs with autocannon, from this process (pinned to the client CPU): a
 * warm-up, then N measured runs, each bounded in time; req/s counts only the
 * answers the scenario expects (302, 200, 303…), anything else is reported.
 * autocannon records latency in whole milliseconds.
 */
import autocannon, { type Options, type Result } from 'autocannon';
import { cpuMs } from './cpu.js';
import { spread, type Spread } from './lib.js';

/**
 * The answers a scenario expects: the status that counts (one per operation),
 * and statuses that are part of each operation but not counted (a sign-in's
 * GET /login 200 before its POST's 303). Any other status fails the run.
 */
export interface Expectation {
  counted: number;
  alsoAllowed?: readonly number[];
}

/**
 * Whose CPU time a run measures: the IdP processes (summed, e.g. two replicas)
 * and, apart, helpers on the same CPU such as redis-server.
 */
export interface CpuWatch {
  server: readonly number[];
  side?: readonly number[];
}

export interface RunResult {
  /** Expected (counted) answers per second. */
  rps: number;
  p50: number;
  p99: number;
  expected: number;
  unexpected: Record<string, number>;
  errors: number;
  seconds: number;
  /** CPU time the server processes used per counted answer (all their threads), when their pids are known. */
  cpuUs?: number | undefined;
  /** The same for the side processes (redis-server), when watched. */
  sideCpuUs?: number | undefined;
}

export interface Measured {
  rps: Spread;
  p50: Spread;
  p99: Spread;
  /** Server CPU µs per request, when measured. */
  cpuUs?: Spread | undefined;
  /** Side processes' CPU µs per request, when watched. */
  sideCpuUs?: Spread | undefined;
  runs: RunResult[];
}

function expectationOf(e: number | Expectation): Expectation {
  return typeof e === 'number' ? { counted: e } : e;
}

function watchOf(w: number | CpuWatch | undefined): CpuWatch | undefined {
  return typeof w === 'number' ? { server: [w] } : w;
}

const cpuOf = (pids: readonly number[]): number => pids.reduce((sum, pid) => sum + cpuMs(pid), 0);

/**
 * One run. With `watch`, also the server's CPU time per answer: on a machine
 * shared with other work, CPU time per request is what the server itself costs,
 * where req/s also reflects whatever else ran on its CPU meanwhile.
 */
export async function runOnce(options: Options, expectedStatus: number | Expectation, cpuWatch?: number | CpuWatch): Promise<RunResult> {
  const expectation = expectationOf(expectedStatus);
  const watch = watchOf(cpuWatch);
  const server0 = watch ? cpuOf(watch.server) : 0;
  const side0 = watch?.side ? cpuOf(watch.side) : 0;
  const result: Result = await autocannon({ timeout: 10, ...options });
  const server = watch ? cpuOf(watch.server) - server0 : undefined;
  const side = watch?.side ? cpuOf(watch.side) - side0 : undefined;
  const unexpected: Record<string, number> = {};
  let expected = 0;
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
    if (Number(code) === expectation.counted) expected += count;
    else if (!expectation.alsoAllowed?.includes(Number(code))) unexpected[code] = count;
  }
  const seconds = result.duration;
  const perAnswer = (ms: number | undefined) => (ms === undefined || expected === 0 ? undefined : (ms * 1000) / expected);
  return {
    rps: expected / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    expected,
    unexpected,
    errors: result.errors + result.timeouts,
    seconds,
    cpuUs: perAnswer(server),
    sideCpuUs: perAnswer(side),
  };
}

/** Logs a measured run and throws if it saw an unexpected answer, a socket error, or nothing expected. */
function checked(name: string, run: RunResult, i: number, expectation: Expectation, log: (line: string) => void, labels: { unit?: string; sideName?: string } = {}): RunResult {
  const per = labels.unit === undefined ? 'request' : labels.unit.replace(/s?\/s$/, '');
  const cpu = run.cpuUs === undefined ? '' : `, ${run.cpuUs.toFixed(0)} µs server CPU per ${per}`;
  const side = run.sideCpuUs === undefined ? '' : ` + ${run.sideCpuUs.toFixed(0)} µs ${labels.sideName ?? 'side'}`;
  log(`  ${name} run ${i + 1}: ${run.rps.toFixed(0)} ${labels.unit ?? 'req/s'}, p50 ${run.p50} ms, p99 ${run.p99} ms${cpu}${side}${run.errors ? `, ${run.errors} socket errors` : ''}`);
  if (Object.keys(run.unexpected).length > 0 || run.errors > 0 || run.expected === 0) {
    const allowed = [expectation.counted, ...(expectation.alsoAllowed ?? [])].join(' or ');
    throw new Error(`${name}: unexpected answers during load (expected ${allowed}): ${JSON.stringify(run.unexpected)}, ${run.errors} errors`);
  }
  return run;
}

function summarized(runs: RunResult[]): Measured {
  const all = <T>(values: (T | undefined)[]): values is T[] => values.every((v) => v !== undefined);
  const cpus = runs.map((r) => r.cpuUs);
  const sides = runs.map((r) => r.sideCpuUs);
  return {
    rps: spread(runs.map((r) => r.rps)),
    p50: spread(runs.map((r) => r.p50)),
    p99: spread(runs.map((r) => r.p99)),
    cpuUs: all(cpus) ? spread(cpus) : undefined,
    sideCpuUs: all(sides) ? spread(sides) : undefined,
    runs,
  };
}

export interface Plan {
  runs: number;
  seconds: number;
  warmupSeconds: number;
}

/** A warm-up run (not counted), then `runs` runs of `seconds` each. Throws if any run saw an unexpected answer. */
export async function measure(
  name: string,
  options: Options,
  expectedStatus: number | Expectation,
  plan: Plan,
  log: (line: string) => void,
  cpuWatch?: number | CpuWatch,
): Promise<Measured> {
  const expectation = expectationOf(expectedStatus);
  if (plan.warmupSeconds > 0) await runOnce({ ...options, duration: plan.warmupSeconds }, expectation);
  const runs: RunResult[] = [];
  for (let i = 0; i < plan.runs; i++) runs.push(checked(name, await runOnce({ ...options, duration: plan.seconds }, expectation, cpuWatch), i, expectation, log));
  return summarized(runs);
}

export interface Variant {
  name: string;
  options: Options;
  watch: CpuWatch;
  /** What the side processes are, for the log line. */
  sideName?: string;
  /** What is counted, for the log line ("sign-ins/s"); req/s unless given. */
  unit?: string;
}

/**
 * Variants of one scenario compared with each other: each warmed up, then their
 * runs interleaved (a1 b1 a2 b2 …), so that a change in the machine's load during
 * the measurement falls on every variant alike rather than on the last one.
 */
export async function measureInterleaved(variants: readonly Variant[], expectedStatus: number | Expectation, plan: Plan, log: (line: string) => void): Promise<Measured[]> {
  const expectation = expectationOf(expectedStatus);
  for (const v of variants) if (plan.warmupSeconds > 0) await runOnce({ ...v.options, duration: plan.warmupSeconds }, expectation);
  const runs: RunResult[][] = variants.map(() => []);
  for (let i = 0; i < plan.runs; i++) {
    for (const [k, v] of variants.entries()) {
      runs[k]!.push(checked(v.name, await runOnce({ ...v.options, duration: plan.seconds }, expectation, v.watch), i, expectation, log, v));
    }
  }
  return runs.map(summarized);
}
