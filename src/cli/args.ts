/**
 * What the commands share: the usage error (exit code 2), strict option parsing,
 * the options every offline command takes, and loading the config and services
 * the way a server start would.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type ResolvedConfig } from '../config/load.js';
import { createServices, type Services } from '../services.js';

/** A wrong command line: reported with the main help, exit code 2. */
export class UsageError extends Error {}

export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;
/** The options every offline command (keys, mint, users, conformance) takes. */
export const OFFLINE_OPTIONS = { ...HELP_OPTION, config: { type: 'string' }, 'data-dir': { type: 'string' } } as const;
/** The help text of OFFLINE_OPTIONS. */
export const COMMON_OPTIONS = `  --config FILE      YAML or JSON config file (env MOCK_IDP_CONFIG, or the text in
                     MOCK_IDP_CONFIG_JSON; default: the demo config)
  --data-dir DIR     data directory (env DATA_DIR)
`;

/** parseArgs, strict, with its errors as usage errors. */
export function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ ...config, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Repeated K=V options (--claim, --attr) as pairs; `what` names the option in the error. */
export function pairs(list: string[] | undefined, what: string): [string, string][] {
  return (list ?? []).map((item) => {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`${what} takes K=V, not "${item}"`);
    return [item.slice(0, i), item.slice(i + 1)];
  });
}

export interface OfflineValues {
  config?: string | undefined;
  'data-dir'?: string | undefined;
  'keys-dir'?: string | undefined;
}

/** Loads the config for an offline command: --config, MOCK_IDP_CONFIG, MOCK_IDP_CONFIG_JSON, or the demo config. */
export function offlineConfig(values: OfflineValues): Promise<ResolvedConfig> {
  const env = { ...process.env };
  if (values['data-dir'] !== undefined) env.DATA_DIR = values['data-dir'];
  if (values['keys-dir'] !== undefined) env.KEYS_DIR = values['keys-dir'];
  return loadConfig({ file: values.config, env });
}

/** The services for an offline command, with the config users' password hashes written as a server start would. */
export async function offlineServices(values: OfflineValues): Promise<Services> {
  const services = await createServices(await offlineConfig(values));
  await services.users.hashConfigPasswords();
  return services;
}

/** An unknown SP id is a usage error (exit 2) naming the known ones. */
export function requireKnownSp(services: Services, id: string): void {
  if (!services.sp(id)) throw new UsageError(`there is no service provider "${id}" (known: ${services.config.serviceProviders.map((s) => s.id).join(', ') || 'none'})`);
}
