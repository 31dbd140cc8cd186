#!/usr/bin/env node
/**
 * The command line: `mock-idp [serve] [options]`, `mock-idp check-config FILE`.
 * Exit codes: 0 success, 1 runtime failure, 2 usage or config error.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { DEMO_CONFIG_FILE, formatIssues, loadConfig, type ResolvedConfig } from './config/load.js';
import { userSchema } from './config/schema.js';
import { ConfigError, IdpError } from './errors.js';
import { listRetired, loadKeystore, rotateKeys } from './keys/keystore.js';
import { createServices, type Services } from './services.js';
import { mintJwtFor, samlResponseFor } from './mint.js';
import { runConformance } from './conformance/runner.js';
import { parseFaults } from './faults/index.js';
import { REPORT_FORMATS, formatReport, headline, type ReportFormat } from './conformance/report.js';
import { trustInstructions } from './keys/tls.js';
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
  --https            serve https with a self-signed certificate for localhost and
                     127.0.0.1 (generated under the keys folder; trust instructions printed)
  -h, --help         show this help
`;

const MAIN_HELP = `Usage: mock-idp <command> [options]

Commands:
  serve                          start the IdP (the default command)
  check-config FILE              validate a config file and print it resolved, secrets masked
  keys list|generate|rotate      show, create or rotate the signing keys
  mint jwt --sp ID --user EMAIL  print a token without a server
  users list|add|disable|enable  manage users in the data directory's store
  conformance --sp ID            fire good and bad tokens/assertions at an SP and report

Run "mock-idp <command> --help" for a command's options.
`;

const COMMON_OPTIONS = `  --config FILE      YAML or JSON config file (env MOCK_IDP_CONFIG; default: the demo config)
  --data-dir DIR     data directory (env DATA_DIR)
`;

const KEYS_HELP = `Usage: mock-idp keys list|generate|rotate [options]

  list       the signing keys: current, retired (still published) and expired
  generate   create the keys that are missing in the keys folder
  rotate     make new keys current; the previous ones stay in the JWKS and SAML
             metadata for keyRotationGraceSeconds, so SPs that cache keys keep working

Options:
${COMMON_OPTIONS}  --keys-dir DIR     keys folder (env KEYS_DIR; default: the config's keysDir)
`;

const MINT_HELP = `Usage: mock-idp mint jwt --sp ID --user EMAIL [options]
       mock-idp mint saml --sp ID --user EMAIL [--acs-url URL] [--in-response-to ID] [--xml|--json]

Print a token (or a base64 SAMLResponse) for a user and a service provider, made
by the same code as the server (signed with the same keys and secrets).

Options:
${COMMON_OPTIONS}  --sp ID            the service provider
  --user EMAIL       the user (from the config or the store)
  --claim K=V        set a claim (repeatable; a JSON value is parsed: --claim exp=0);
                     K= with no value removes the claim
  --fault F          inject a fault (repeatable), e.g. --fault expired, --fault clock-skew=120
  --json             print { token, header, claims } (jwt) or { samlResponse, xml, … } (saml)
  --xml              saml: print the XML instead of base64
  --acs-url URL      saml: one of the SP's acsUrls (default: its first)
  --in-response-to ID  saml: the AuthnRequest ID it answers (default: unsolicited)
`;

const USERS_HELP = `Usage: mock-idp users list|add|disable|enable [options]

  list                          the users in the store
  add --email E (--password P | --password-stdin) [--name N] [--attr K=V]...
  disable EMAIL | enable EMAIL

Changes are written to the store in the data directory and survive restarts
(unless the config file's entry for that user changes).

Options:
${COMMON_OPTIONS}`;

class UsageError extends Error {}

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
/** The options every offline command (keys, mint, users) takes. */
const OFFLINE_OPTIONS = { ...HELP_OPTION, config: { type: 'string' }, 'data-dir': { type: 'string' } } as const;

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
  if (running.tls?.certFile) lines.push(trustInstructions(running.tls.certFile));
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
  if (config.allowLoginHint) {
    out.push('allowLoginHint is on: login_hint=<email> signs any user in without a password. Use it only for test suites.');
  }
  if (config.showUserPicker && !config.source.startsWith(DEMO_CONFIG_FILE)) {
    out.push('showUserPicker is on: the login form lets anyone sign in as a listed user without a password.');
  }
  if (config.sessionStore === 'redis' && !config.sessionSecret) {
    out.push('sessionStore is redis but sessionSecret (SESSION_SECRET) is not set: each replica signs cookies with its own generated secret, so they cannot share sessions. Give every replica the same sessionSecret.');
  }
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
      https: { type: 'boolean' },
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
  const config = loadConfig({ file: values.config, env, demo: values.demo === true, https: values.https === true });
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

/** Loads the config for an offline command: --config, MOCK_IDP_CONFIG, or the demo config. */
function offlineConfig(values: { config?: string | undefined; 'data-dir'?: string | undefined; 'keys-dir'?: string | undefined }): ResolvedConfig {
  const env = { ...process.env };
  if (values['data-dir'] !== undefined) env.DATA_DIR = values['data-dir'];
  if (values['keys-dir'] !== undefined) env.KEYS_DIR = values['keys-dir'];
  return loadConfig({ file: values.config, env });
}

/** The services for an offline command, with the config users' password hashes written as a server start would. */
async function offlineServices(values: Parameters<typeof offlineConfig>[0]): Promise<Services> {
  const services = await createServices(offlineConfig(values));
  await services.users.hashConfigPasswords();
  return services;
}

function pairs(list: string[] | undefined, what: string): [string, string][] {
  return (list ?? []).map((item) => {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`${what} takes K=V, not "${item}"`);
    return [item.slice(0, i), item.slice(i + 1)];
  });
}

async function keys(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    options: { ...OFFLINE_OPTIONS, 'keys-dir': { type: 'string' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(KEYS_HELP);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (!action || !['list', 'generate', 'rotate'].includes(action) || extra.length > 0) throw new UsageError('keys takes one of list, generate, rotate');
  const config = offlineConfig(values);
  if (action === 'rotate') {
    if (config.usesBundledKeys) {
      throw new UsageError(`keys rotate would change the development keys shipped in ${config.keysDir}; give your own folder with --keys-dir or KEYS_DIR`);
    }
    const rotations = await rotateKeys(config.keysDir, { graceSeconds: config.keyRotationGraceSeconds });
    for (const r of rotations) {
      process.stdout.write(`${r.what}: ${r.retiredFile ? `retired to ${r.retiredFile}` : 'none before'}; a new one is current\n`);
    }
    process.stdout.write(`Retired keys stay published for ${config.keyRotationGraceSeconds} s (keyRotationGraceSeconds). Restart the IdP to sign with the new keys.\n`);
    return 0;
  }
  const ks = await loadKeystore({ keysDir: config.keysDir, graceSeconds: config.keyRotationGraceSeconds, seed: config.deterministicSeed });
  if (action === 'generate') {
    process.stdout.write(ks.generated.length ? ks.generated.map((f) => `generated ${f}\n`).join('') : `all keys already exist in ${config.keysDir}\n`);
    return 0;
  }
  const nowSec = Math.floor(Date.now() / 1000);
  const rows: string[][] = [['status', 'use', 'kid / certificate', 'file']];
  for (const alg of ['RS256', 'ES256'] as const) {
    const k = ks.jwtKey(alg);
    rows.push([k.isDevKey ? 'current (DEVELOPMENT KEY)' : 'current', `JWT ${alg}`, k.kid, k.origin]);
  }
  const fingerprint = (pem: string) => new crypto.X509Certificate(pem).fingerprint256.slice(0, 23);
  rows.push([ks.saml.isDevKey ? 'current (DEVELOPMENT KEY)' : 'current', 'SAML signing', `sha256 ${fingerprint(ks.saml.certificatePem)}`, ks.saml.origin]);
  for (const r of listRetired(config.keysDir).sort((a, b) => b.retiredAt - a.retiredAt)) {
    const until = r.retiredAt + config.keyRotationGraceSeconds;
    const status = until > nowSec ? `retired, published until ${new Date(until * 1000).toISOString()}` : 'expired (removed at the next rotate)';
    rows.push([status, r.original.replace(/\.pem$/, ''), '', r.file]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n');
  return 0;
}

/** An unknown SP id is a usage error (exit 2) naming the known ones. */
function requireKnownSp(services: Services, id: string): void {
  if (!services.sp(id)) throw new UsageError(`there is no service provider "${id}" (known: ${services.config.serviceProviders.map((s) => s.id).join(', ') || 'none'})`);
}

async function mint(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    options: {
      ...OFFLINE_OPTIONS,
      sp: { type: 'string' },
      user: { type: 'string' },
      claim: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      xml: { type: 'boolean' },
      fault: { type: 'string', multiple: true },
      'acs-url': { type: 'string' },
      'in-response-to': { type: 'string' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(MINT_HELP);
    return 0;
  }
  const kind = positionals[0];
  if (positionals.length !== 1 || (kind !== 'jwt' && kind !== 'saml')) throw new UsageError('mint takes "jwt" or "saml" (see mock-idp mint --help)');
  if (!values.sp || !values.user) throw new UsageError(`mint ${kind} needs --sp ID and --user EMAIL`);
  if (kind === 'saml') {
    const services = await offlineServices(values);
    try {
      requireKnownSp(services, values.sp);
      const built = await samlResponseFor(services, values.sp, values.user, { acsUrl: values['acs-url'], inResponseTo: values['in-response-to'], faults: parseFaults('saml', values.fault) });
      const { issued: _issued, ...printable } = built;
      process.stdout.write(values.json ? `${JSON.stringify(printable, null, 2)}\n` : `${values.xml ? built.xml : built.samlResponse}\n`);
      return 0;
    } finally {
      services.close();
    }
  }
  const overrides: Record<string, unknown> = {};
  for (const [k, v] of pairs(values.claim, '--claim')) {
    if (v === '') overrides[k] = null;
    else {
      try {
        overrides[k] = JSON.parse(v) as unknown;
      } catch {
        overrides[k] = v;
      }
    }
  }
  const services = await offlineServices(values);
  try {
    requireKnownSp(services, values.sp);
    const minted = await mintJwtFor(services, values.sp, values.user, overrides, parseFaults('jwt', values.fault));
    process.stdout.write(values.json ? `${JSON.stringify(minted, null, 2)}\n` : `${minted.token}\n`);
    return 0;
  } finally {
    services.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function users(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    options: {
      ...OFFLINE_OPTIONS,
      email: { type: 'string' },
      password: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      name: { type: 'string' },
      attr: { type: 'string', multiple: true },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(USERS_HELP);
    return 0;
  }
  const [action, target, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (!action || !['list', 'add', 'disable', 'enable'].includes(action)) throw new UsageError('users takes one of list, add, disable, enable');
  const services = await offlineServices(values);
  try {
    if (action === 'list') {
      const rows = services.users.list().map((u) => `${u.email}\t${u.name ?? ''}\t${u.disabled ? 'disabled' : 'active'}\t${JSON.stringify(u.attributes)}`);
      process.stdout.write(['email\tname\tstatus\tattributes', ...rows].join('\n') + '\n');
      return 0;
    }
    if (action === 'add') {
      if (!values.email) throw new UsageError('users add needs --email');
      if (values.password !== undefined && values['password-stdin']) throw new UsageError('give --password or --password-stdin, not both');
      const password = values['password-stdin'] ? await readStdin() : values.password;
      if (!password) throw new UsageError('users add needs --password P or --password-stdin');
      const parsed = userSchema.safeParse({ email: values.email, password, name: values.name, attributes: Object.fromEntries(pairs(values.attr, '--attr')) });
      if (!parsed.success) throw new UsageError(`invalid user:\n${formatIssues(parsed.error)}`);
      const user = await services.users.create(parsed.data);
      process.stdout.write(`added ${user.email}\n`);
      return 0;
    }
    if (!target) throw new UsageError(`users ${action} needs an EMAIL`);
    const user = await services.users.update(target, { disabled: action === 'disable' });
    process.stdout.write(`${user.email} is ${user.disabled ? 'disabled' : 'enabled'}\n`);
    return 0;
  } finally {
    services.close();
  }
}

const CONFORMANCE_HELP = `Usage: mock-idp conformance --sp ID [options]

Deliver one valid token or assertion to the service provider as a browser would,
then every fault mock-idp can inject (and a replay of the valid one), each in a
fresh cookie jar, and report what the SP wrongly accepts. Only the SP's
registered URLs are contacted. Exit code 0 only if the valid case was accepted
and every bad case rejected; 1 otherwise.

Options:
${COMMON_OPTIONS}  --sp ID            the service provider (its conformance section says how to tell acceptance)
  --user EMAIL       whose tokens to send (default: the first active user)
  --protocol P       jwt or saml (default: both, as the SP has them)
  --format F         text (default), json, junit or html
  --out FILE         write the report there instead of standard output
`;

async function conformance(args: string[]): Promise<number> {
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
    return report.ok ? 0 : 1;
  } finally {
    services.close();
  }
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
    if (first === 'keys') return await keys(rest);
    if (first === 'mint') return await mint(rest);
    if (first === 'users') return await users(rest);
    if (first === 'conformance') return await conformance(rest);
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
    if (err instanceof IdpError && err.expose) {
      process.stderr.write(`mock-idp: ${err.message}\n`);
      // A bad --fault value is a usage error; anything else failed at run time.
      return err.code === 'invalid_fault' ? 2 : 1;
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
