/** `mock-idp serve` (the default command) and `mock-idp check-config FILE`. */
import { INLINE_CONFIG_VARIABLE, loadConfig, writtenConfig } from '../config/load.js';
import { maskSecrets } from '../config/mask.js';
import { startAll } from '../server.js';
import { HELP_OPTION, UsageError, parse } from './args.js';
import { banner, warnings } from './banner.js';
import { json } from './output.js';

export const SERVE_HELP = `Usage: mock-idp [serve] [options]

Start the IdP. Without --config (or MOCK_IDP_CONFIG, or the config's text in
MOCK_IDP_CONFIG_JSON) it runs the embedded demo
config: the IdP on http://localhost:8080, the demo SP on http://localhost:8081
(--port and --demo-sp-port move them, and every demo URL with them).

Options:
  --config FILE      YAML or JSON config file (env MOCK_IDP_CONFIG; not with
                     MOCK_IDP_CONFIG_JSON, the config's text itself)
  --port N           port to listen on (env PORT); without a baseUrl in the
                     config, baseUrl becomes http://localhost:N
  --demo-sp-port N   port of the demo SP (env DEMO_SP_PORT); its URLs follow
                     unless demo.spBaseUrl is set
  --base-url URL     public URL of the IdP (env BASE_URL)
  --data-dir DIR     data directory for the store (env DATA_DIR)
  --demo             also start the demo service provider
  --https            serve https with a self-signed certificate for localhost and
                     127.0.0.1 (generated under the keys folder; trust instructions printed)
  -h, --help         show this help
`;

export async function serve(args: string[]): Promise<number> {
  const { values } = parse({
    args,
    options: {
      ...HELP_OPTION,
      config: { type: 'string' },
      port: { type: 'string' },
      'demo-sp-port': { type: 'string' },
      'base-url': { type: 'string' },
      'data-dir': { type: 'string' },
      demo: { type: 'boolean' },
      https: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const env = { ...process.env };
  if (values.port !== undefined) env.PORT = values.port;
  if (values['demo-sp-port'] !== undefined) env.DEMO_SP_PORT = values['demo-sp-port'];
  if (values['base-url'] !== undefined) env.BASE_URL = values['base-url'];
  if (values['data-dir'] !== undefined) env.DATA_DIR = values['data-dir'];
  const config = await loadConfig({ file: values.config, env, demo: values.demo === true, https: values.https === true });
  const running = await startAll(config);
  // A generated HS256 secret is shown once, on the console, when it is generated; it is kept in the store and never logged.
  const generated = running.idp.generatedSecrets.map(
    (g) => `  Generated HS256 shared secret for SP "${g.spId}" (shown once; configure your SP with it): ${g.secret}\n`,
  );
  process.stdout.write(banner(config, running) + generated.join(''));
  for (const w of warnings(config, running)) process.stderr.write(`warning: ${w}\n`);

  const { signal, ms } = await new Promise<{ signal: string; ms: number }>((resolve) => {
    const stop = (signal: string) => {
      const started = performance.now();
      process.stderr.write(`\n${signal} received: stopping\n`);
      const force = setTimeout(() => {
        process.stderr.write(`in-flight requests did not finish within 10 s; mock-idp stopped (${signal}) after 10 s\n`);
        process.exit(0);
      }, 10_000);
      force.unref();
      void running.close().then(() => resolve({ signal, ms: performance.now() - started }));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  process.stderr.write(`mock-idp stopped (${signal}) after ${(ms / 1000).toFixed(1)} s\n`);
  return 0;
}

const CHECK_CONFIG_HELP = `Usage: mock-idp check-config [FILE]

Validate a config file (without FILE: MOCK_IDP_CONFIG_JSON or MOCK_IDP_CONFIG) and
print it resolved: every key of the config, with the defaults filled in and the
environment applied, secrets masked.
`;

export async function checkConfig(args: string[]): Promise<number> {
  const { values, positionals } = parse({ args, options: { ...HELP_OPTION }, allowPositionals: true });
  if (values.help) {
    process.stdout.write(CHECK_CONFIG_HELP);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('check-config takes one FILE');
  if (positionals.length === 0 && !process.env.MOCK_IDP_CONFIG && !process.env[INLINE_CONFIG_VARIABLE]?.trim()) {
    throw new UsageError(`check-config needs a FILE (or MOCK_IDP_CONFIG or ${INLINE_CONFIG_VARIABLE} set)`);
  }
  const config = await loadConfig({ file: positionals[0], env: process.env });
  process.stdout.write(json(maskSecrets(writtenConfig(config))));
  return 0;
}
