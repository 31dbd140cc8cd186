/** The conformance report as text, JSON, JUnit XML and HTML. */
import { xmlbuilder2 } from '../saml/xml.js';
import { cutAtWord } from './answer-text.js';
import type { CaseResult, ConformanceReport } from './runner.js';

export type ReportFormat = 'text' | 'json' | 'junit' | 'html';
export const REPORT_FORMATS: readonly ReportFormat[] = ['text', 'json', 'junit', 'html'];

/** How each verdict is shown; "UNREACHABLE" is the network's doing, not the SP's answer. */
export const VERDICT_LABEL = { pass: 'ok', fail: 'WRONG', error: 'ERROR', unreachable: 'UNREACHABLE', 'not-run': 'not run' } as const;

function observedText(c: CaseResult): string {
  if (c.observed === 'not run') return 'not run';
  if (c.observed === 'error') return `error: ${c.firstLine}`;
  if (c.observed === 'unreachable') return c.firstLine;
  return `${c.observed} (${c.status}${c.note ? `, ${c.note}` : ''}${c.firstLine ? `: ${c.firstLine}` : ''})`;
}

function headline(r: ConformanceReport): string {
  const s = r.summary;
  if (r.outcome === 'unreachable') {
    // Not the SP's verdict: say what the network said and how much could be judged at all.
    const which = r.stopped ?? `${r.unreachable} (${s.unreachable} case(s))`;
    return `UNREACHABLE: ${which}. The run could not be made, so this says nothing about the SP — ${s.passed + s.failed}/${s.total} cases judged, ${r.durationMs} ms`;
  }
  const unreachable = s.unreachable ? `, ${s.unreachable} case(s) could not reach the SP` : '';
  const verdict =
    r.outcome === 'pass'
      ? 'PASS: the SP accepted the valid case and rejected every bad one'
      : r.outcome === 'stopped'
        ? `STOPPED: ${r.stopped}`
        : `FAIL: ${s.failed} case(s) answered wrongly${s.errors ? `, ${s.errors} error(s)` : ''}${unreachable}`;
  return `${verdict} — ${s.passed}/${s.total} as expected, ${r.durationMs} ms`;
}

export function formatText(r: ConformanceReport): string {
  const rows = [['case', 'expected', 'observed', 'verdict', 'what it tests'], ...r.cases.map((c) => [c.id, c.expected, cutAtWord(observedText(c), 70), VERDICT_LABEL[c.verdict], `${c.title} [${c.reference}]`])];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join('  '));
  return [`Conformance of ${r.spName} (${r.sp}), ${r.startedAt}`, '', ...lines, '', headline(r), ''].join('\n');
}

export function formatJson(r: ConformanceReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function formatJunit(r: ConformanceReport): string {
  const doc = xmlbuilder2().create({ version: '1.0', encoding: 'UTF-8' });
  const suites = doc.ele('testsuites', { name: `mock-idp conformance: ${r.sp}`, tests: r.summary.total, failures: r.summary.failed, errors: r.summary.errors + r.summary.unreachable, skipped: r.summary.notRun, time: (r.durationMs / 1000).toFixed(3) });
  for (const protocol of ['jwt', 'saml'] as const) {
    const cases = r.cases.filter((c) => c.protocol === protocol);
    if (cases.length === 0) continue;
    const count = (v: CaseResult['verdict']) => cases.filter((c) => c.verdict === v).length;
    const suite = suites.ele('testsuite', { name: `${r.sp}.${protocol}`, tests: cases.length, failures: count('fail'), errors: count('error') + count('unreachable'), skipped: count('not-run'), timestamp: r.startedAt });
    for (const c of cases) {
      const tc = suite.ele('testcase', { classname: `${r.sp}.${protocol}`, name: `${c.id}: ${c.title}` });
      const message = `expected ${c.expected}, observed ${observedText(c)} — ${c.reference}`;
      if (c.verdict === 'fail') tc.ele('failure', { message, type: 'accepted-a-bad-case' }).txt(message);
      if (c.verdict === 'error') tc.ele('error', { message }).txt(message);
      // JUnit has no "unreachable": an error of its own type, never a failure of the SP.
      if (c.verdict === 'unreachable') tc.ele('error', { message: c.firstLine, type: 'sp-unreachable' }).txt(c.firstLine);
      if (c.verdict === 'not-run') tc.ele('skipped', { message: r.stopped ?? 'not run' });
    }
  }
  return doc.end({ prettyPrint: true });
}

const escape = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A standalone HTML page (the CLI's --format html); the IdP's /conformance page renders the same rows with its layout. */
export function formatHtml(r: ConformanceReport): string {
  const rows = r.cases
    .map(
      (c) =>
        `<tr class="${c.verdict}"><td><code>${escape(c.id)}</code></td><td>${escape(c.title)}<br><small>${escape(c.reference)}</small></td><td>${c.expected}</td><td>${escape(observedText(c))}</td><td>${VERDICT_LABEL[c.verdict]}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance of ${escape(r.spName)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d9dee8;padding:6px 8px;text-align:left;vertical-align:top}tr.fail td,tr.error td{background:#fef3f2}tr.unreachable td{background:#fffaeb}tr.pass td:last-child{color:#067647}small{color:#5b6475}</style></head>
<body><h1>Conformance of ${escape(r.spName)} (${escape(r.sp)})</h1><p><strong>${escape(headline(r))}</strong></p><p>${escape(r.startedAt)}</p>
<table><thead><tr><th>case</th><th>what it tests</th><th>expected</th><th>observed</th><th>verdict</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}

export function formatReport(r: ConformanceReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return formatJson(r);
    case 'junit':
      return formatJunit(r);
    case 'html':
      return formatHtml(r);
    default:
      return formatText(r);
  }
}

export { headline, observedText };
