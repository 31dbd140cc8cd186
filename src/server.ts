/**
 * Starting and stopping the IdP (and the demo SP when enabled) as HTTP servers.
 * Used by main.ts, the library API and end-to-end tests.
 */
import http from 'node:http';
import https from 'node:https';
import { loadTls, type TlsCredentials } from './keys/tls.js';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { createIdp, type Idp, type IdpDeps } from './app.js';
import type { ResolvedConfig } from './config/load.js';
import crypto from 'node:crypto';
import { readPem } from './config/resolve-sp.js';
import { createDemoSp, type DemoSp, type DemoTenant, type MessengerOptions } from './demo-sp/index.js';
import { samlDemoFromConfig } from './demo-sp/saml.js';

export interface Running {
  idp: Idp;
  idpServer: http.Server;
  idpPort: number;
  /** The HTTPS certificate in use, when serving https. */
  tls: TlsCredentials | undefined;
  demoSp: DemoSp | undefined;
  demoServer: http.Server | undefined;
  demoPort: number | undefined;
  close(): Promise<void>;
}

/** A server could not listen (port taken, not allowed): which server, so the message names the option that moves it. */
export class ListenError extends Error {
  constructor(
    readonly server: 'idp' | 'demo-sp',
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
    cause: Error,
  ) {
    super(cause.message, { cause });
    this.name = 'ListenError';
  }
}

function listenFailed(server: ListenError['server'], host: string, port: number, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EADDRINUSE' || code === 'EACCES' ? new ListenError(server, host, port, code, err as Error) : (err as Error);
}

export function listen(app: Express | http.RequestListener, port: number, host: string, tls?: TlsCredentials): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, app) : http.createServer(app);
    server.keepAliveTimeout = 5_000;
    // Requests Node's parser refuses (no Host, oversized headers, a bare CR) get a plain,
    // labelled answer instead of a bare status line.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return;
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${status.slice(4)}: the request could not be read.\n`);
    });
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** How long after listening the config users' password hashing starts, unless a sign-in of one of them starts it first. */
const HASHING_DELAY_MS = 250;

/**
 * Starts hashing the config users' passwords shortly after the server listens: four
 * scrypt jobs at the configured cost would otherwise share the CPU with the first
 * requests (a health check, the first page) for a couple of hundred milliseconds.
 * A sign-in or edit of such a user starts it at once; /readyz waits for it.
 */
export function hashConfigPasswordsSoon(idp: Idp): void {
  setTimeout(() => void idp.context.users.hashConfigPasswords(), HASHING_DELAY_MS).unref();
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/** The demo SP's tenants: every JWT SP whose consumer lives on the demo SP's origin. */
export function demoTenants(config: ResolvedConfig, secrets: ReadonlyMap<string, string>): DemoTenant[] {
  const origin = new URL(config.demo.spBaseUrl).origin;
  const tenants: DemoTenant[] = [];
  for (const sp of config.serviceProviders) {
    const consumer = sp.jwt?.redirectUrls.map((u) => new URL(u)).find((u) => u.origin === origin && u.pathname.endsWith('/sso/jwt/consumer'));
    if (!sp.jwt || !consumer) continue;
    const mount = consumer.pathname.slice(0, -'/sso/jwt/consumer'.length);
    const verify = sp.jwt.algorithm === 'HS256' ? { alg: 'HS256' as const, secret: secrets.get(sp.id)! } : { alg: sp.jwt.algorithm };
    tenants.push({ spId: sp.id, name: sp.name, mount, verify, issuer: sp.jwt.issuer, audience: sp.jwt.audience });
  }
  return tenants;
}

/**
 * The demo SP's Secure Messenger (demo.messenger), its defaults taken from the IdP SP that mints
 * the Contact JWT (demo.messenger.spId): HS256 → the shared token is that SP's secret, RS256 → the
 * IdP's JWKS. None when neither that SP nor a validation method is configured.
 */
export function demoMessenger(config: ResolvedConfig, secrets: ReadonlyMap<string, string>): MessengerOptions | undefined {
  const m = config.demo.messenger;
  const jwt = config.serviceProviders.find((sp) => sp.id === m.spId)?.jwt;
  const validation =
    m.validation ??
    (jwt ? (jwt.algorithm === 'HS256' ? 'sharedToken' : 'jwks') : m.sharedToken ? 'sharedToken' : m.publicKey ? 'publicKey' : m.jwksUrl ? 'jwks' : undefined);
  if (!validation) return undefined;
  return {
    siteId: m.siteId ?? config.demo.siteId,
    messengerId: m.messengerId,
    validation,
    sharedToken: m.sharedToken ?? (jwt?.algorithm === 'HS256' ? secrets.get(m.spId) : undefined),
    publicKey: readPem(m.publicKey ?? null, config.baseDir, 'demo.messenger.publicKey', config.source) ?? undefined,
    jwksUrl: m.jwksUrl ?? `${config.baseUrl}/.well-known/jwks.json`,
    identityKey: m.identityKey ?? jwt?.identityClaim ?? 'identity',
    allowedUrls: m.allowedUrls ?? [`${config.baseUrl}/website`],
    accessTokenTtlSeconds: m.accessTokenTtlSeconds,
    accessTokenSecret: m.accessTokenSecret ?? crypto.randomBytes(32).toString('base64url'),
  };
}

/** The reset of the messenger's shared token, passed on: the IdP's SP signs with the new token from then on. */
function sharedTokenReset(idp: Idp, spId: string): (token: string) => Promise<void> {
  return async (token) => {
    await idp.context.changes.editServiceProviders((list) => {
      if (!list.some((sp) => sp.id === spId)) throw new Error(`there is no service provider ${spId} to give the new shared token`);
      return list.map((sp) => (sp.id === spId ? { ...sp, jwt: { ...(sp.jwt as Record<string, unknown>), secret: token } } : sp));
    });
  };
}

export async function startAll(config: ResolvedConfig, deps: IdpDeps = {}): Promise<Running> {
  const tls = await loadTls(config);
  const idp = await createIdp(config, deps);
  let idpServer: http.Server;
  try {
    idpServer = await listen(idp.handler, config.port, config.host, tls);
  } catch (err) {
    await idp.close();
    throw listenFailed('idp', config.host, config.port, err);
  }
  const idpPort = (idpServer.address() as AddressInfo).port;
  let demoSp: DemoSp | undefined;
  let demoServer: http.Server | undefined;
  if (config.demo.enabled) {
    demoSp = createDemoSp({
      idpUrl: config.baseUrl,
      baseUrl: config.demo.spBaseUrl,
      siteId: config.demo.siteId,
      agents: config.demo.agents,
      tenants: demoTenants(config, idp.context.jwtSigner.secrets),
      ...(tls ? { idpCa: tls.cert } : {}),
      saml: samlDemoFromConfig(config),
      deskAuthenticationServiceName: config.demo.desk.authenticationServiceName,
      messenger: demoMessenger(config, idp.context.jwtSigner.secrets),
      onSharedTokenReset: sharedTokenReset(idp, config.demo.messenger.spId),
    });
    try {
      demoServer = await listen(demoSp.app, config.demo.spPort, config.host);
    } catch (err) {
      await closeServer(idpServer);
      await idp.close();
      demoSp.close();
      throw listenFailed('demo-sp', config.host, config.demo.spPort, err);
    }
  }
  hashConfigPasswordsSoon(idp);
  return {
    idp,
    idpServer,
    idpPort,
    tls,
    demoSp,
    demoServer,
    demoPort: demoServer ? (demoServer.address() as AddressInfo).port : undefined,
    close: async () => {
      await Promise.all([closeServer(idpServer), demoServer ? closeServer(demoServer) : Promise.resolve()]);
      demoSp?.close();
      await idp.close();
    },
  };
}
