/**
 * Run-time changes: users and service providers added, changed or removed
 * through the control API, the CLI or the library, and the reset to the config
 * file. One interface, two implementations: `localChanges` (store: sqlite)
 * writes the local store, as it always did; with store: redis,
 * src/replicas/redis.ts writes Redis first and every replica follows it.
 * Config-file users and SPs are no changes: each process reads its file.
 *
 * A new kind of run-time setting (there are none besides users and SPs today:
 * faults and claims are given per request) is one more method here, one more
 * key and change kind in src/replicas/shared.ts, and its `apply` in redis.ts.
 */
import crypto from 'node:crypto';
import type { ResolvedConfig } from '../config/load.js';
import type { GeneratedSecret } from '../jwt/secrets.js';
import type { Logger } from '../logger.js';
import type { User, UserInput, UserPatch, UserStore } from '../users/store.js';

/** An edit of the SP list: the new list from the current one (throws to refuse, e.g. an unknown id). */
export type ServiceProvidersEdit = (current: readonly Record<string, unknown>[]) => unknown[];

export interface RuntimeChanges {
  createUser(input: UserInput): Promise<User>;
  updateUser(email: string, patch: UserPatch): Promise<User>;
  deleteUser(email: string): Promise<void>;
  /**
   * Replaces the service providers with `edit(current)`. `edit` may run more
   * than once (when another replica changed the list meanwhile). Throws a
   * ConfigError naming the field when the new list is invalid; returns the
   * HS256 secrets generated for new SPs.
   */
  editServiceProviders(edit: ServiceProvidersEdit): Promise<GeneratedSecret[]>;
  /** Back to the config file: its users and its service providers. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** A checked list of service providers, not yet applied. */
export interface PlannedServiceProviders {
  /** HS256 secrets this change generates (shown once, to the caller). */
  generated: GeneratedSecret[];
  /** The generated secrets (now or before) of SPs that are not in the config file, and those generated now: what other replicas need to sign with the same secret. */
  runtimeSecrets: GeneratedSecret[];
}

/** What the changes act on: the services (src/services.ts), seen through what they need. */
export interface RuntimeHost {
  readonly users: UserStore;
  readonly fileConfig: ResolvedConfig;
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  /** Checks a list of SPs (ConfigError naming the field) without applying it. */
  planServiceProviders(inputs: readonly unknown[]): Promise<PlannedServiceProviders>;
  /** Applies a list of SPs, keeping the given generated secrets first. */
  setServiceProviders(inputs: readonly unknown[], options?: { secrets?: readonly GeneratedSecret[] }): Promise<GeneratedSecret[]>;
  /** Back to the config file's SPs, the run-time list forgotten. */
  restoreFileServiceProviders(): Promise<void>;
  /** Back to the config file (users and SPs), the issuer's state and the flow history cleared. */
  reset(): Promise<void>;
}

/** The SP list as `edit` sees it. */
export function currentInputs(host: RuntimeHost): readonly Record<string, unknown>[] {
  return host.config.serviceProviderInputs as Record<string, unknown>[];
}

/** A digest of a list of SP inputs: which config file's list a run-time list was made against. */
export function inputsDigest(inputs: readonly unknown[]): string {
  return crypto.createHash('sha256').update(JSON.stringify(inputs)).digest('base64url');
}

/** store: sqlite: the changes are this process's (and its data directory's). */
export function localChanges(host: RuntimeHost): RuntimeChanges {
  return {
    createUser: (input) => host.users.create(input),
    updateUser: (email, patch) => host.users.update(email, patch),
    deleteUser: async (email) => host.users.delete(email),
    editServiceProviders: (edit) => host.setServiceProviders(edit(currentInputs(host))),
    reset: () => host.reset(),
    close: async () => undefined,
  };
}
