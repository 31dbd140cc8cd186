/** The results as rows: printed as a table, written as markdown. */
import type { Spread } from './lib.js';

export interface Row {
  name: string;
  value: Spread;
  unit: string;
  p50?: number;
  p99?: number;
  baseline?: number;
  baselineName?: string;
  /** value / baseline */
  ratio?: number;
  /** Server CPU µs per request (or per operation, in-process); summed over the IdP processes when there are several. */
  cpuUs?: number | undefined;
  /** CPU µs per request of a helper on the server CPU (redis-server), shown after the IdP's. */
  sideCpu?: { name: string; us: number } | undefined;
  /** The baseline's CPU per operation over this figure's: the ratio on a quiet machine. */
  cpuRatio?: number | undefined;
  /** Login only: cost per sign-in over cost per hash, minus one, by CPU time and by req/s. */
  overhead?: { cpu: number; wall: number };
  target: string;
  /** The target as a ratio to the baseline, for the chart's tick. */
  targetRatio?: number | undefined;
  met: boolean | undefined;
}

function num(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function cpu(us: number | undefined): string {
  if (us === undefined) return '';
  return us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`;
}

function cells(r: Row): string[] {
  const v = `${num(r.value.median)} ${r.unit}${r.value.runs.length > 1 ? ` (${num(r.value.min)}–${num(r.value.max)})` : ''}`;
  const lat = r.p50 === undefined ? '' : `${r.p50} / ${r.p99} ms`;
  const base = r.baseline === undefined ? '' : `${num(r.baseline)} (${r.baselineName})`;
  const ratio = r.ratio === undefined ? '' : `${(100 * r.ratio).toFixed(0)}%`;
  const cpuRatio =
    r.overhead !== undefined
      ? `overhead ${(100 * r.overhead.cpu).toFixed(1)}% (req/s: ${(100 * r.overhead.wall).toFixed(1)}%)`
      : r.cpuRatio === undefined
        ? ''
        : `${(100 * r.cpuRatio).toFixed(0)}%`;
  const met = r.met === undefined ? '' : r.met ? 'met' : 'NOT met';
  const cpuCell = r.sideCpu === undefined ? cpu(r.cpuUs) : `${cpu(r.cpuUs)} + ${cpu(r.sideCpu.us)} ${r.sideCpu.name}`;
  return [r.name, v, lat, cpuCell, base, ratio, cpuRatio, r.target, met];
}

const HEAD = ['figure', 'median (min–max)', 'p50 / p99', 'CPU/op', 'baseline', 'ratio', 'ratio by CPU', 'target', ''];

export function renderTable(rows: Row[]): string {
  const all = [HEAD, ...rows.map(cells)];
  const widths = HEAD.map((_, i) => Math.max(...all.map((r) => [...r[i]!].length)));
  const line = (r: string[]) => r.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join('  ').trimEnd();
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

export function renderMarkdown(rows: Row[], all: Record<string, unknown>): string {
  const machine = all.machine as Record<string, unknown>;
  const out = [
    `Machine: ${String(machine.cpus)} CPUs (${String(machine.cpu)}), ${String(machine.memoryGiB)} GiB, Node ${String(machine.node)}, ` +
      `${machine.pinned ? 'IdP pinned to CPU 0, load generator on CPU 1' : 'not pinned'}; load average at start ${(machine.loadAverageAtStart as number[]).join(' ')}; ${String(machine.date)}.`,
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cells(r).join(' | ')} |`),
    '',
  ];
  return out.join('\n');
}
