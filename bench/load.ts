/**
 * Load runs with autocannon, from this process (pinned to the client CPU): a
 * warm-up, then N measured runs, each bounded in time; req/s counts only the
 * answers the scenario expects (302, 200, 303…), anything else is reported.
 * autocannon records latency in whole milliseconds.
 */
import autocannon, { type Options, type Result } from 'autocannon';
import { cpuMs } from './cpu.js';
import { spread, type Spread } from './lib.js';

export interface RunResult {
  /** Expected answers per second. */
  rps: number;
  p50: number;
  p99: number;
  expected: number;
  unexpected: Record<string, number>;
  errors: number;
  seconds: number;
  /** CPU time the server process used per expected answer (all its threads), when its pid is known. */
  cpuUs?: number | undefined;
}

export interface Measured {
  rps: Spread;
  p50: Spread;
  p99: Spread;
  /** Server CPU µs per request, when measured. */
  cpuUs?: Spread | undefined;
  runs: RunResult[];
}

/**
 * One run. With `serverPid`, also the server's CPU time per answer: on a machine
 * shared with other work, CPU time per request is what the server itself costs,
 * where req/s also reflects whatever else ran on its CPU meanwhile.
 */
export async function runOnce(options: Options, expectedStatus: number, serverPid?: number): Promise<RunResult> {
  const cpu0 = serverPid === undefined ? 0 : cpuMs(serverPid);
  const result: Result = await autocannon({ timeout: 10, ...options });
  const cpu = serverPid === undefined ? undefined : cpuMs(serverPid) - cpu0;
  const unexpected: Record<string, number> = {};
  let expected = 0;
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
    if (Number(code) === expectedStatus) expected += count;
    else unexpected[code] = count;
  }
  const seconds = result.duration;
  return {
    rps: expected / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    expected,
    unexpected,
    errors: result.errors + result.timeouts,
    seconds,
    cpuUs: cpu === undefined || expected === 0 ? undefined : (cpu * 1000) / expected,
  };
}

/** A warm-up run (not counted), then `runs` runs of `seconds` each. Throws if any run saw an unexpected answer. */
export async function measure(
  name: string,
  options: Options,
  expectedStatus: number,
  plan: { runs: number; seconds: number; warmupSeconds: number },
  log: (line: string) => void,
  serverPid?: number,
): Promise<Measured> {
  if (plan.warmupSeconds > 0) await runOnce({ ...options, duration: plan.warmupSeconds }, expectedStatus);
  const runs: RunResult[] = [];
  for (let i = 0; i < plan.runs; i++) {
    const run = await runOnce({ ...options, duration: plan.seconds }, expectedStatus, serverPid);
    const cpu = run.cpuUs === undefined ? '' : `, ${run.cpuUs.toFixed(0)} µs server CPU per request`;
    log(`  ${name} run ${i + 1}: ${run.rps.toFixed(0)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms${cpu}${run.errors ? `, ${run.errors} socket errors` : ''}`);
    if (Object.keys(run.unexpected).length > 0 || run.errors > 0 || run.expected === 0) {
      throw new Error(`${name}: unexpected answers during load (expected ${expectedStatus}): ${JSON.stringify(run.unexpected)}, ${run.errors} errors`);
    }
    runs.push(run);
  }
  const cpus = runs.map((r) => r.cpuUs).filter((c): c is number => c !== undefined);
  return {
    rps: spread(runs.map((r) => r.rps)),
    p50: spread(runs.map((r) => r.p50)),
    p99: spread(runs.map((r) => r.p99)),
    cpuUs: cpus.length === runs.length ? spread(cpus) : undefined,
    runs,
  };
}
