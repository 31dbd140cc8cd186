/**
 * mock-idp as a library: start a disposable IdP inside a test suite.
 *
 *   import { startIdp } from 'mock-idp';
 *   const idp = await startIdp({ config: { users: [...], serviceProviders: [...] } });
 *   const token = await idp.mintJwt('myapp', 'alice@example.com');
 *   await idp.close();
 *
 * By default it listens on a free port of 127.0.0.1, keeps its store in memory,
 * logs nothing, and uses the labelled development keys.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIdp, type Idp } from './app.js';
import { fixedClock, offsetClock, type Clock } from './clock.js';
import { resolveConfigWithMetadata, type ResolvedConfig, type ResolvedServiceProvider } from './config/load.js';
import type { ConfigInput } from './config/schema.js';
import type { IssuedSession } from './http/session.js';
import type { MintedToken } from './jwt/signer.js';
import { silentLogger, type Logger } from './logger.js';
import { mintJwtFor, samlResponseFor, type BuiltSamlResponse, type SamlResponseOptions } from './mint.js';
import type { User, UserInput, UserPatch } from './users/store.js';
import { closeServer, hashConfigPasswordsSoon } from './server.js';

export type { ConfigInput } from './config/schema.js';
export type { ResolvedConfig, ResolvedServiceProvider } from './config/load.js';
export type { MintedToken } from './jwt/signer.js';
export type { BuiltSamlResponse, SamlResponseOptions } from './mint.js';
export type { IssuedSession } from './http/session.js';
export type { User, UserInput, UserPatch } from './users/store.js';
export type { Clock } from './clock.js';
export { fixedClock, offsetClock } from './clock.js';
export { IdpError, ConfigError } from './errors.js';

export interface StartIdpOptions {
  /** The config, as an object with the config file's schema. Default: no users, no SPs. */
  config?: ConfigInput;
  /** Port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
  /**
   * Where the SQLite store lives: ':memory:' (the default, gone at close) or a
   * folder. A `dataDir` in `config` is used when this is not given.
   */
  dataDir?: string;
  /** A fixed or shifted clock for reproducible tokens: a Clock, an ISO time, or an offset in ms. */
  clock?: Clock | string | number;
  /** A pino logger. Default: silent. */
  logger?: Logger;
}

export interface RunningIdp {
  /** The IdP's base URL, e.g. http://127.0.0.1:39123 */
  url: string;
  config: ResolvedConfig;
  /** Users in the store (created, changed and deleted at run time as with the control API). */
  users: {
    list(): User[];
    get(email: string): User | undefined;
    create(user: UserInput): Promise<User>;
    update(email: string, patch: UserPatch): Promise<User>;
    /** Resolves once deleted (with store: redis, in the shared store too). */
    delete(email: string): Promise<void>;
  };
  /** The registered service providers (resolved). */
  readonly serviceProviders: readonly ResolvedServiceProvider[];
  /** A JWT for an SP and a user, with claims overridden (null removes one). */
  mintJwt(spId: string, user: string | User, overrides?: Record<string, unknown>): Promise<string>;
  /** The same, with its header and claims. */
  mintJwtDetailed(spId: string, user: string | User, overrides?: Record<string, unknown>): Promise<MintedToken>;
  /** A signed SAML Response for an SP and a user (base64 `samlResponse` and `xml`). */
  samlResponse(spId: string, user: string | User, options?: SamlResponseOptions): Promise<BuiltSamlResponse>;
  /** Signs a user in without the form; returns the session cookie to give a browser or an HTTP client. */
  login(user?: string): Promise<IssuedSession>;
  /** Stops listening and frees the store. */
  close(): Promise<void>;
}

function toClock(clock: NonNullable<StartIdpOptions['clock']>): Clock {
  if (typeof clock === 'object') return clock;
  if (typeof clock === 'number') return offsetClock(clock);
  return fixedClock(clock);
}

/** Starts an IdP on a free port (or the one given) and resolves once it listens. */
export async function startIdp(options: StartIdpOptions = {}): Promise<RunningIdp> {
  const host = options.host ?? '127.0.0.1';
  // Listen first: with port 0 the base URL is known only then, and the config's defaults depend on it.
  const server = http.createServer();
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let idp: Idp | undefined;
  try {
    const input: ConfigInput = {
      baseUrl: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
      ...options.config,
      port,
      host,
      dataDir: options.dataDir ?? options.config?.dataDir ?? ':memory:',
    };
    const config = await resolveConfigWithMetadata(input, { source: 'startIdp({ config })', baseDir: process.cwd() });
    // Without a clock option, the config's `clock` (or the real time) applies.
    idp = await createIdp(config, { ...(options.clock !== undefined ? { clock: toClock(options.clock) } : {}), logger: options.logger ?? silentLogger });
    server.on('request', idp.handler);
    hashConfigPasswordsSoon(idp);
  } catch (err) {
    await closeServer(server);
    throw err;
  }
  const running = idp;
  const ctx = running.context;
  return {
    url: ctx.config.baseUrl,
    config: ctx.config,
    users: {
      list: () => ctx.users.list(),
      get: (email) => ctx.users.find(email),
      create: (user) => ctx.changes.createUser(user),
      update: (email, patch) => ctx.changes.updateUser(email, patch),
      delete: (email) => ctx.changes.deleteUser(email),
    },
    get serviceProviders() {
      return ctx.config.serviceProviders;
    },
    mintJwt: async (spId, user, overrides) => (await mintJwtFor(ctx, spId, user, overrides)).token,
    mintJwtDetailed: (spId, user, overrides) => mintJwtFor(ctx, spId, user, overrides),
    samlResponse: (spId, user, opts) => samlResponseFor(ctx, spId, user, opts),
    login: async (user) => {
      const email = user ?? ctx.users.list().find((u) => !u.disabled)?.email;
      const found = email === undefined ? undefined : ctx.users.find(email);
      if (!found || found.disabled) throw new Error(email === undefined ? 'login(): there are no active users' : `login(): there is no active user ${email}`);
      return ctx.sessions.issue(found.email, ctx.clock.now());
    },
    close: async () => {
      await closeServer(server);
      await running.close();
    },
  };
}
