#!/usr/bin/env node
/**
 * The command line: `mock-idp [serve] [options]`, `mock-idp check-config FILE`.
 * Exit codes: 0 success, 1 runtime failure, 2 usage or config error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
import { DEMO_CONFIG_FILE, loadConfig, type ResolvedConfig } from './config/load.js';
import { ConfigError } from './errors.js';
import { startAll, type Running } from './server.js';

const SERVE_HELP = `Usage: mock-idp [serve] [options]

Start the IdP. Without --config (or MOCK_IDP_CONFIG) it runs the embedded demo
config: the IdP on http://localhost:8080, the demo SP on http://localhost:8081.

Options:
  --config FILE      YAML or JSON config file (env MOCK_IDP_CONFIG)
  --port N           port to listen on (env PORT)
  --base-url URL     public URL of the IdP (env BASE_URL)
  --data-dir DIR     data directory for the store (env DATA_DIR)
  --demo             also start the demo service provider
  -h, --help         show this help
`;

const MAIN_HELP = `Usage: mock-idp <command> [options]

Commands:
  serve              start the IdP (the default command)
  check-config FILE  validate a config file and print it resolved, secrets masked

Run "mock-idp <command> --help" for a command's options.
`;

class UsageError extends Error {}

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ ...config, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function masked(config: ResolvedConfig): unknown {
  const SECRET_KEYS = new Set(['password', 'secret', 'sessionSecret', 'privateKey', 'privateKeyPem', 'adminToken']);
  return JSON.parse(
    JSON.stringify(config, (k, v: unknown) => (SECRET_KEYS.has(k) && typeof v === 'string' ? '********' : v)),
  ) as unknown;
}

function banner(config: ResolvedConfig, running: Running): string {
  const isDemoConfig = config.source.startsWith(DEMO_CONFIG_FILE);
  const lines = ['', 'mock-idp is running', `  IdP:       ${config.baseUrl}  (listening on ${config.host}:${running.idpPort})`];
  if (config.console.embedUrl) lines.push(`  Console:   ${config.baseUrl}/  ("Vincall"-style console embedding ${config.console.embedUrl})`);
  if (running.demoServer) {
    lines.push(`  Demo SP:   ${config.demo.spBaseUrl}/LoginSSO.aspx?siteid=${encodeURIComponent(config.demo.siteId)}  (Comm100-like)`);
  }
  lines.push(`  JWKS:      ${config.baseUrl}/.well-known/jwks.json`);
  for (const sp of config.serviceProviders) {
    if (sp.jwt) lines.push(`  SP ${sp.id}: remote login URL ${config.baseUrl}/sso/jwt/${sp.id}?redirect_url=…  (${sp.jwt.algorithm}, ${sp.jwt.delivery})`);
  }
  lines.push(`  Config:    ${config.source}`, `  Data:      ${config.dataDir}`);
  if (config.users.length > 0) {
    lines.push(isDemoConfig ? '  Demo users (email / password):' : '  Users:');
    for (const u of config.users) {
      // Passwords are shown only for the public demo config, whose passwords are in the repository anyway.
      const pw = isDemoConfig ? ` / ${u.password}` : '';
      lines.push(`    ${u.email}${pw}${u.disabled ? '  (disabled)' : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

function warnings(config: ResolvedConfig, running: Running): string[] {
  const out: string[] = [];
  if (running.idp.context.keystore.usesDevKeys) {
    out.push(`Using the DEVELOPMENT keys shipped in ${config.keysDir} (CHANGE-ME): anyone can sign as this IdP. Set keysDir or KEYS_DIR to an empty folder to generate your own.`);
  }
  const base = new URL(config.baseUrl);
  if (base.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(base.hostname)) {
    out.push(`baseUrl ${config.baseUrl} is plain http on a non-local host: tokens travel in clear text. Use https.`);
  }
  for (const f of running.idp.context.keystore.generated) out.push(`Generated a new key: ${f}`);
  return out;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parse({
    args,
    options: {
      ...HELP_OPTION,
      config: { type: 'string' },
      port: { type: 'string' },
      'base-url': { type: 'string' },
      'data-dir': { type: 'string' },
      demo: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  const env = { ...process.env };
  if (values.port !== undefined) env.PORT = values.port;
  if (values['base-url'] !== undefined) env.BASE_URL = values['base-url'];
  if (values['data-dir'] !== undefined) env.DATA_DIR = values['data-dir'];
  const config = loadConfig({ file: values.config, env, demo: values.demo === true });
  const running = await startAll(config);
  // A generated HS256 secret is shown once, on the console, when it is generated; it is kept in the store and never logged.
  const generated = running.idp.generatedSecrets.map(
    (g) => `  Generated HS256 shared secret for SP "${g.spId}" (shown once; configure your SP with it): ${g.secret}\n`,
  );
  process.stdout.write(banner(config, running) + generated.join(''));
  for (const w of warnings(config, running)) process.stderr.write(`warning: ${w}\n`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`\n${signal} received: stopping\n`);
      const force = setTimeout(() => {
        process.stderr.write('in-flight requests did not finish within 10 s; exiting\n');
        process.exit(0);
      }, 10_000);
      force.unref();
      void running.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

function checkConfig(args: string[]): number {
  const { values, positionals } = parse({ args, options: { ...HELP_OPTION }, allowPositionals: true });
  if (values.help) {
    process.stdout.write('Usage: mock-idp check-config FILE\n\nValidate a config file and print the resolved config with secrets masked.\n');
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('check-config takes exactly one FILE');
  const config = loadConfig({ file: positionals[0], env: process.env });
  process.stdout.write(`${JSON.stringify(masked(config), null, 2)}\n`);
  return 0;
}

export async function runCli(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined || first.startsWith('-')) {
      if (first === '--help' || first === '-h') {
        process.stdout.write(`${MAIN_HELP}\n${SERVE_HELP}`);
        return 0;
      }
      return await serve(argv);
    }
    if (first === 'serve') return await serve(rest);
    if (first === 'check-config') return checkConfig(rest);
    if (first === 'help') {
      process.stdout.write(MAIN_HELP);
      return 0;
    }
    throw new UsageError(`unknown command "${first}"`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`mock-idp: ${err.message}\n\n${MAIN_HELP}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`mock-idp: ${err.message}\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      process.stderr.write(`mock-idp: cannot listen: ${(err as Error).message}. Set another port with --port or PORT.\n`);
      return 1;
    }
    process.stderr.write(`mock-idp: failed to start: ${(err as Error).message}\n`);
    return 1;
  }
}

// Run when executed directly (the package bin), not when imported.
const invoked = process.argv[1] && fs.existsSync(process.argv[1]) ? pathToFileURL(fs.realpathSync(process.argv[1])).href : '';
if (invoked === import.meta.url) {
  process.exitCode = await runCli(process.argv.slice(2));
}
