/** `mock-idp conformance --sp ID`: good and bad tokens and assertions fired at an SP, and the report. */
import fs from 'node:fs';
import { REPORT_FORMATS, formatReport, headline, type ReportFormat } from '../conformance/report.js';
import { runConformance } from '../conformance/runner.js';
import { COMMON_OPTIONS, OFFLINE_OPTIONS, UsageError, offlineServices, parse, requireKnownSp } from './args.js';

const CONFORMANCE_HELP = `Usage: mock-idp conformance --sp ID [options]

Deliver one valid token or assertion to the service provider as a browser would,
then every fault mock-idp can inject (and a replay of the valid one), each in a
fresh cookie jar, and report what the SP wrongly accepts. Only the SP's
registered URLs are contacted. For an SP with conformance.messenger, the JWT
cases are POSTed to the messenger's Authorize API instead (a valid Contact JWT
must get 200 with an accessToken, every bad one a 4xx, 401 expected). Exit code 0 only if the valid case was accepted
and every bad case rejected; 1 if the SP answered a case wrongly (or rejects even
the valid one); 3 if the SP could not be reached (connection refused, DNS, TLS,
timeout), so the run could not be made; 2 for a usage or config error.

Options:
${COMMON_OPTIONS}  --sp ID            the service provider (its conformance section says how to tell acceptance)
  --user EMAIL       whose tokens to send (default: the first active user)
  --protocol P       jwt or saml (default: both, as the SP has them)
  --format F         text (default), json, junit or html
  --out FILE         write the report there instead of standard output
`;

export async function conformance(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    options: { ...OFFLINE_OPTIONS, sp: { type: 'string' }, user: { type: 'string' }, protocol: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(CONFORMANCE_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.sp) throw new UsageError('conformance needs --sp ID');
  const format = (values.format ?? 'text') as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) throw new UsageError(`--format takes ${REPORT_FORMATS.join(', ')}, not "${values.format}"`);
  if (values.protocol !== undefined && values.protocol !== 'jwt' && values.protocol !== 'saml') throw new UsageError('--protocol takes jwt or saml');
  const services = await offlineServices(values);
  try {
    requireKnownSp(services, values.sp);
    const report = await runConformance(services, values.sp, {
      ...(values.user ? { user: values.user } : {}),
      ...(values.protocol ? { protocols: [values.protocol as 'jwt' | 'saml'] } : {}),
    });
    const text = formatReport(report, format);
    if (values.out) {
      fs.writeFileSync(values.out, text);
      process.stderr.write(`${headline(report)}\nreport written to ${values.out}\n`);
    } else {
      process.stdout.write(text);
    }
    return report.ok ? 0 : report.outcome === 'unreachable' ? 3 : 1;
  } finally {
    await services.close();
  }
}
