/**
 * A small SVG bar chart: each figure that has a baseline, as a percentage of it,
 * with its target marked. Ratios above 100% (time and memory, where lower is
 * better) are drawn capped, with the value written out.
 */
import type { Row } from './table.js';

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function renderChart(rows: Row[], machine: Record<string, unknown>): string {
  const bars = rows.filter((r) => r.ratio !== undefined);
  const labelWidth = 390;
  const barWidth = 420;
  const rowHeight = 26;
  const top = 46;
  const height = top + bars.length * rowHeight + 40;
  const width = labelWidth + barWidth + 150;
  const scale = (x: number) => Math.min(x, 1.5) / 1.5 * barWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">mock-idp: each figure as a share of its baseline (same machine, same run)</text>`,
    `<text x="10" y="36" fill="#555">${escape(`${String(machine.cpus)} CPUs, ${String(machine.cpu)}, Node ${String(machine.node)}, ${String(machine.date)}`)}</text>`,
  ];
  for (const pctMark of [0, 0.25, 0.5, 1, 1.5]) {
    const x = labelWidth + scale(pctMark);
    parts.push(`<line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + bars.length * rowHeight}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${top + bars.length * rowHeight + 14}" text-anchor="middle" fill="#777">${(pctMark * 100).toFixed(0)}%</text>`);
  }
  bars.forEach((r, i) => {
    const y = top + i * rowHeight;
    const ratio = r.ratio!;
    const colour = r.met === undefined ? '#8aa4c8' : r.met ? '#4c9a5b' : '#c8554c';
    parts.push(`<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escape(r.name)}</text>`);
    parts.push(`<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(1, scale(ratio)).toFixed(1)}" height="${rowHeight - 8}" fill="${colour}"/>`);
    const t = r.targetRatio;
    if (t !== undefined) {
      const tx = labelWidth + scale(t);
      parts.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + rowHeight - 1}" stroke="#000" stroke-width="2"/>`);
    }
    parts.push(`<text x="${labelWidth + scale(ratio) + 6}" y="${y + 16}">${(ratio * 100).toFixed(0)}% of ${escape(r.baselineName ?? '')}</text>`);
  });
  parts.push(`<text x="10" y="${height - 8}" fill="#555">Green: target met; red: not met; blue: no target. Black tick: the target.</text>`);
  parts.push('</svg>\n');
  return parts.join('\n');
}
