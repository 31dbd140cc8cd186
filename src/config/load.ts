/**
 * Config loading: defaults <- file <- environment, validated once, resolved into
 * a frozen config the rest of the IdP reads. Every failure is a ConfigError whose
 * message names the file and the key.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { bundledKeysDir, packageRoot } from '../paths.js';
import { formatIssues } from './issues.js';
import { SECRET_KEYS } from './mask.js';
import { configSchema, serviceProvidersSchema, type ParsedConfig, type UserConfig } from './schema.js';
import { readPem, readSpsMetadata, resolveSp, withMetadataShown, type ResolvedServiceProvider } from './resolve-sp.js';
import type { MetadataCache, SpMetadataOrigin } from './sp-metadata.js';

export const DEMO_CONFIG_FILE = path.join(packageRoot, 'config', 'demo.yaml');

export type { ResolvedJwtSp, ResolvedSamlSp, ResolvedServiceProvider } from './resolve-sp.js';
export type { AcsEndpoint, SpMetadataOrigin } from './sp-metadata.js';

export interface ResolvedTls {
  /** PEM texts, or undefined for a self-signed certificate made under keysDir. */
  cert: string | undefined;
  key: string | undefined;
  selfSigned: boolean;
}

export interface ResolvedConfig extends Omit<ParsedConfig, 'serviceProviders' | 'keysDir' | 'saml' | 'port' | 'tls' | 'store' | 'sessionStore'> {
  /** store, or its former name sessionStore, or sqlite. */
  store: 'sqlite' | 'redis';
  tls: ResolvedTls | undefined;
  port: number;
  keysDir: string;
  /** True when keysDir is the package's own folder of labelled development keys. */
  usesBundledKeys: boolean;
  saml: { entityId: string };
  serviceProviders: ResolvedServiceProvider[];
  /** The service providers as written (file or API), to edit and re-validate at run time. */
  serviceProviderInputs: readonly unknown[];
  users: UserConfig[];
  /** Where the config came from, for messages. */
  source: string;
  /** The folder relative paths are read from (the config file's). */
  baseDir: string;
}

export interface LoadOptions {
  /** Serve https with a self-signed localhost certificate (as `--https` does). */
  https?: boolean;
  /** Config file; falls back to env MOCK_IDP_CONFIG, then the embedded demo config. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Force the demo apps on (as `--demo` does). */
  demo?: boolean;
}

export { formatIssues } from './issues.js';

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `Config file not found: ${file}` : `Cannot read config file ${file}: ${code ?? 'error'}`,
    );
  }
  return parseConfigText(text, file);
}

/** YAML or JSON text (JSON is YAML) as a value; `source` names the file or variable in errors. */
function parseConfigText(text: string, source: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = first.linePos?.[0];
    throw new ConfigError(
      `Invalid config in ${source}: not valid YAML or JSON${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}: ${first.message.split('\n')[0]}`,
    );
  }
  const value: unknown = doc.toJS();
  return value ?? {};
}

function applyEnv(input: unknown, env: NodeJS.ProcessEnv, source: string): Record<string, unknown> {
  if (!isMapping(input)) {
    throw new ConfigError(`Invalid config in ${source}: the top level must be a mapping of keys to values`);
  }
  const out: Record<string, unknown> = { ...input };
  if (env.BASE_URL) out.baseUrl = env.BASE_URL;
  if (env.HOST) out.host = env.HOST;
  // Paths from the environment are relative to the working directory, not to the config file.
  if (env.DATA_DIR) out.dataDir = path.resolve(env.DATA_DIR);
  if (env.KEYS_DIR) out.keysDir = path.resolve(env.KEYS_DIR);
  if (env.SESSION_SECRET) out.sessionSecret = env.SESSION_SECRET;
  if (env.REDIS_URL) out.redisUrl = env.REDIS_URL;
  if (env.MOCK_IDP_ADMIN_TOKEN) out.adminToken = env.MOCK_IDP_ADMIN_TOKEN;
  const port = envPort(env, 'PORT');
  if (port !== undefined) out.port = port;
  const spPort = envPort(env, 'DEMO_SP_PORT');
  if (spPort !== undefined) out.demo = { ...(isMapping(out.demo) ? out.demo : {}), spPort };
  return out;
}

/** A port number from the environment, if the variable is set. */
function envPort(env: NodeJS.ProcessEnv, name: 'PORT' | 'DEMO_SP_PORT'): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const port = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`Invalid environment variable ${name}: "${text}" is not a port number (0-65535)`);
  }
  return port;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The placeholder that stands for the demo SP's public URL in the config's URLs. */
export const DEMO_SP_PLACEHOLDER = '${demo.spBaseUrl}';

/**
 * The demo SP's public URL: demo.spBaseUrl as written, else derived from demo.spPort
 * (or DEMO_SP_PORT), so that moving the port moves the URL. Then `${demo.spBaseUrl}`
 * in the service providers', the console's and the website's strings becomes that URL, so the
 * demo SP's registered URLs (redirect, ACS, logout, origins, the console embed, the website's messenger) move
 * with it. Invalid values are left to the schema to report.
 */
function resolveDemoSpUrls(input: Record<string, unknown>, source: string): void {
  const demo = isMapping(input.demo) ? { ...input.demo } : {};
  const spPort = demo.spPort ?? 8081;
  if (demo.spBaseUrl === undefined && typeof spPort === 'number' && Number.isInteger(spPort) && spPort > 0 && spPort <= 65535) {
    demo.spBaseUrl = `http://localhost:${spPort}`;
    input.demo = demo;
  }
  const url = typeof demo.spBaseUrl === 'string' ? demo.spBaseUrl.replace(/\/+$/, '') : undefined;
  const substitute = (value: unknown, where: string): unknown => {
    // A URL with the placeholder starts with it; other strings (claims, names) are left alone.
    if (typeof value === 'string') {
      if (!value.startsWith('${')) return value;
      if (!value.startsWith(DEMO_SP_PLACEHOLDER)) {
        throw new ConfigError(`Invalid config in ${source}:\n  - ${where}: unknown placeholder ${/^\$\{[^}]{0,40}\}?/.exec(value)![0]} (the one placeholder is ${DEMO_SP_PLACEHOLDER})`);
      }
      if (url === undefined) {
        throw new ConfigError(`Invalid config in ${source}:\n  - ${where}: ${DEMO_SP_PLACEHOLDER} needs demo.spBaseUrl when demo.spPort is 0 (a random port)`);
      }
      return url + value.slice(DEMO_SP_PLACEHOLDER.length);
    }
    if (Array.isArray(value)) return value.map((v, i) => substitute(v, `${where}[${i}]`));
    // Secrets are never rewritten (nor quoted in a message).
    if (isMapping(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k) ? v : substitute(v, `${where}.${k}`)]));
    return value;
  };
  for (const key of ['serviceProviders', 'console', 'website'] as const) {
    if (input[key] !== undefined) input[key] = substitute(input[key], key);
  }
}

/**
 * A new config with another list of service providers (as the control API
 * changes them), validated with the same schema as the file. Errors name the
 * field, relative to the list ("serviceProviders[1].jwt.algorithm").
 */
export async function withServiceProviders(
  config: ResolvedConfig,
  inputs: readonly unknown[],
  source: string,
  options: { metadataCache?: MetadataCache | undefined } = {},
): Promise<ResolvedConfig> {
  const parsed = serviceProvidersSchema.safeParse(inputs);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ ...i, path: ['serviceProviders', ...i.path] }));
    throw new ConfigError(`Invalid service providers (${source}):\n${formatIssues({ issues } as z.ZodError, configSchema)}`);
  }
  const ctx = { baseUrl: config.baseUrl, baseDir: config.baseDir, source, metadataCache: options.metadataCache };
  const origins = await readSpsMetadata(parsed.data, ctx);
  return deepFreeze({
    ...config,
    serviceProviders: parsed.data.map((sp, i) => resolveSp(sp, `serviceProviders[${i}]`, ctx, origins[i])),
    serviceProviderInputs: structuredClone([...inputs]),
  });
}

interface ResolveOptions {
  source: string;
  baseDir: string;
  env?: NodeJS.ProcessEnv;
  demo?: boolean;
  https?: boolean;
}

/** The config input with the environment and the demo URLs applied, validated. */
function parseInput(input: unknown, options: ResolveOptions): { c: ParsedConfig; withEnv: Record<string, unknown> } {
  const { source } = options;
  const withEnv = applyEnv(input, options.env ?? {}, source);
  if (options.https && withEnv.tls === undefined) withEnv.tls = { selfSigned: true };
  resolveDemoSpUrls(withEnv, source);
  // A port given without a baseUrl moves the default baseUrl along with it.
  if (withEnv.baseUrl === undefined && typeof withEnv.port === 'number' && withEnv.port !== 0) {
    withEnv.baseUrl = `http://localhost:${withEnv.port}`;
  }
  const parsed = configSchema.safeParse(withEnv);
  if (!parsed.success) {
    throw new ConfigError(`Invalid config in ${source}:\n${formatIssues(parsed.error, configSchema)}`);
  }
  return { c: parsed.data, withEnv };
}

function publicBaseUrl(c: ParsedConfig, options: ResolveOptions): string {
  const baseUrl = c.baseUrl.replace(/\/+$/, '');
  // Serving https: the public URL says so too (unless a proxy in front already decides it).
  return c.tls && baseUrl.startsWith('http:') && options.env?.BASE_URL === undefined ? `https:${baseUrl.slice('http:'.length)}` : baseUrl;
}

/**
 * Validates a config object (as read from a file, or given to the library) and
 * resolves derived values. `baseDir` anchors relative paths. Synchronous, so it
 * cannot read SP metadata: a config that names some goes through
 * `resolveConfigWithMetadata`.
 */
export function resolveConfig(input: unknown, options: ResolveOptions): ResolvedConfig {
  const parsed = parseInput(input, options);
  return buildConfig(parsed, options, []);
}

/** `resolveConfig`, with the SAML SPs' metadata read (files), fetched (URLs, kept in `metadataCache`) and validated. */
export async function resolveConfigWithMetadata(input: unknown, options: ResolveOptions & { metadataCache?: MetadataCache }): Promise<ResolvedConfig> {
  const parsed = parseInput(input, options);
  const origins = await readSpsMetadata(parsed.c.serviceProviders, { baseUrl: publicBaseUrl(parsed.c, options), baseDir: options.baseDir, source: options.source, metadataCache: options.metadataCache });
  return buildConfig(parsed, options, origins);
}

function buildConfig({ c, withEnv }: { c: ParsedConfig; withEnv: Record<string, unknown> }, options: ResolveOptions, origins: readonly (SpMetadataOrigin | undefined)[]): ResolvedConfig {
  const { source, baseDir } = options;
  const baseUrl = publicBaseUrl(c, options);
  const base = new URL(baseUrl);
  const port = c.port ?? (base.port ? Number(base.port) : 8080);
  const keysDir = c.keysDir ? path.resolve(baseDir, c.keysDir) : bundledKeysDir;

  const spContext = { baseUrl, baseDir, source };
  const serviceProviders = c.serviceProviders.map((sp, i) => resolveSp(sp, `serviceProviders[${i}]`, spContext, origins[i]));

  const demo = options.demo ? { ...c.demo, enabled: true } : c.demo;
  const tls: ResolvedTls | undefined = c.tls && {
    cert: readPem(c.tls.cert ?? null, baseDir, 'tls.cert', source) ?? undefined,
    key: readPem(c.tls.key ?? null, baseDir, 'tls.key', source) ?? undefined,
    selfSigned: c.tls.cert === undefined,
  };
  const { sessionStore, ...rest } = c;
  const config: ResolvedConfig = {
    ...rest,
    store: c.store ?? sessionStore ?? 'sqlite',
    tls,
    baseUrl,
    port,
    dataDir: c.dataDir === ':memory:' ? ':memory:' : path.resolve(baseDir, c.dataDir),
    keysDir,
    usesBundledKeys: keysDir === bundledKeysDir,
    saml: { entityId: c.saml.entityId ?? `${baseUrl}/saml/metadata` },
    serviceProviders,
    baseDir,
    serviceProviderInputs: structuredClone((withEnv.serviceProviders as unknown[] | undefined) ?? []),
    demo,
    source,
  };
  return deepFreeze(config);
}

/**
 * The config as a user writes it: the keys of the config schema, with the defaults
 * filled in and the environment applied (what `check-config` prints, masked). Not
 * the internal fields (origins, sources, the inputs kept for the API).
 */
export function writtenConfig(config: ResolvedConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[]) {
    if (key === 'serviceProviders') out[key] = serviceProvidersSchema.parse(config.serviceProviderInputs).map((sp, i) => withMetadataShown(sp, config.serviceProviders[i]));
    else if (key === 'tls') out[key] = config.tls && { cert: config.tls.cert, key: config.tls.key, selfSigned: config.tls.selfSigned };
    // Written under its current name only.
    else if (key !== 'sessionStore') out[key] = config[key];
  }
  return out;
}

/** The environment variable that holds a whole config (JSON or YAML text), for containers. */
export const INLINE_CONFIG_VARIABLE = 'MOCK_IDP_CONFIG_JSON';

/**
 * Loads the config for the server and the CLI: the file (`file`, else
 * MOCK_IDP_CONFIG), or the text of MOCK_IDP_CONFIG_JSON, else the embedded demo
 * config. A file and MOCK_IDP_CONFIG_JSON together are refused: one of them would
 * be silently ignored.
 */
export async function loadConfig(options: LoadOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const file = options.file ?? (env.MOCK_IDP_CONFIG || undefined);
  const inline = env[INLINE_CONFIG_VARIABLE];
  if (inline !== undefined && inline.trim() !== '') {
    if (file !== undefined) {
      const given = options.file !== undefined ? `--config ${options.file}` : `MOCK_IDP_CONFIG=${file}`;
      throw new ConfigError(`Both ${given} and ${INLINE_CONFIG_VARIABLE} are set: give the config one way (unset one of them)`);
    }
    const input = parseConfigText(inline, INLINE_CONFIG_VARIABLE);
    // Relative paths in an inline config (dataDir, keysDir, PEM files) are relative to the working directory.
    return resolveConfigWithMetadata(input, { source: INLINE_CONFIG_VARIABLE, baseDir: process.cwd(), env, demo: options.demo ?? false, https: options.https ?? false });
  }
  if (file === undefined) {
    const input = readConfigFile(DEMO_CONFIG_FILE);
    // The demo config's relative paths (data directory) are relative to where the user runs it.
    return resolveConfigWithMetadata(input, { source: `${DEMO_CONFIG_FILE} (embedded demo config)`, baseDir: process.cwd(), env, demo: true, https: options.https ?? false });
  }
  const absolute = path.resolve(file);
  const input = readConfigFile(absolute);
  return resolveConfigWithMetadata(input, { source: absolute, baseDir: path.dirname(absolute), env, demo: options.demo ?? false, https: options.https ?? false });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
