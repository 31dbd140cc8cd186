/**
 * The demo service provider ("Comm100-like"). It runs on its own origin and
 * talks to the IdP only through the IdP's public HTTP surface: the remote login
 * URL, the JWKS and the remote logout URL. It checks a token the way a careful
 * SP must (signature with a pinned algorithm, iss, aud, exp, a one-time jti),
 * so people can copy what it does.
 */
import crypto from 'node:crypto';
import https from 'node:https';
import express, { Router, type Express, type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import type { FetchImplementation, JWTVerifyGetKey, JWTHeaderParameters, JWTPayload } from 'jose';
import { openDb } from '../store/db.js';
import { SqliteSessionStore } from '../store/session-store.js';
import { publicDir, viewsDir } from '../paths.js';
import { samlDemoRouter, type SamlDemoSetup } from './saml.js';
import { agentLookup, DemoError, destroySession, localPath, regenerateSession, type DemoAgent } from './shared.js';

export { COMM100_INACTIVE_MESSAGE, type DemoAgent } from './shared.js';

export interface DemoTenant {
  /** The SP id at the IdP. */
  spId: string;
  /** Display name. */
  name: string;
  /** Mount path on the demo SP origin: '' for the Comm100-like SP, '/desk' for the Desk-like one. */
  mount: string;
  verify: { alg: 'HS256'; secret: string } | { alg: 'RS256' | 'ES256' };
  issuer: string;
  audience: string;
}

export interface DemoSpOptions {
  /** The IdP's public base URL. */
  idpUrl: string;
  /** This SP's public base URL. */
  baseUrl: string;
  siteId: string;
  agents: readonly DemoAgent[];
  tenants: readonly DemoTenant[];
  /** A CA certificate (PEM) to trust for the IdP's https, e.g. its self-signed certificate. */
  idpCa?: string;
  /** Seconds of clock skew tolerated when checking exp/nbf/iat. */
  clockToleranceSeconds?: number;
  /** The SAML side (src/demo-sp/saml.ts, `samlDemoFromConfig`), when a SAML SP is registered on this origin. */
  saml?: SamlDemoSetup | undefined;
}

export interface DemoSp {
  app: Express;
  close(): void;
}

declare module 'express-session' {
  interface SessionData {
    agent?: { email: string; name: string | undefined };
    token?: { header: JWTHeaderParameters; claims: JWTPayload; receivedAt: string; via: string };
  }
}

/** A one-time jti cache: a token id is accepted once until it expires. */
class ReplayCache {
  readonly #seen = new Map<string, number>();
  constructor(private readonly max = 10_000) {}

  /** True when the id was new (and is now remembered). */
  use(id: string, expiresAtMs: number): boolean {
    const now = Date.now();
    if (this.#seen.size >= this.max) {
      for (const [k, exp] of this.#seen) if (exp <= now) this.#seen.delete(k);
      if (this.#seen.size >= this.max) this.#seen.delete(this.#seen.keys().next().value!);
    }
    const known = this.#seen.get(id);
    if (known !== undefined && known > now) return false;
    this.#seen.set(id, expiresAtMs);
    return true;
  }
}

/** A fetch for the JWKS that trusts the given CA (the IdP's self-signed certificate). */
function fetchTrusting(ca: string): FetchImplementation {
  return (url, options) =>
    new Promise<globalThis.Response>((resolve, reject) => {
      const req = https.get(url, { ca, headers: Object.fromEntries(options.headers), signal: options.signal }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(new globalThis.Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers: { 'content-type': String(res.headers['content-type'] ?? '') } })));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
}

/** jose, loaded by the first sign-in rather than at start-up. */
const loadJose = () => import('jose');

function explain(err: unknown, joseErrors: typeof import('jose').errors): string {
  if (err instanceof joseErrors.JWTExpired) return 'The token has expired.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `The token's "${err.claim}" claim is not acceptable (${err.reason}).`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature does not verify.';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'The token is signed with an algorithm this SP does not accept.';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'No key in the IdP JWKS matches the token.';
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) return 'The token is malformed.';
  if (err instanceof joseErrors.JOSEError) return `The token was rejected (${err.code}).`;
  return 'The token could not be checked.';
}

/** What every demo SP page's layout shows: this tenant, and links to the others on this origin. */
interface TenantLocals {
  spName: string;
  mount: string;
  idpUrl: string;
  tenants: { name: string; mount: string }[];
  /** The IdP's remote logout, back to this tenant's sign-in page. */
  switchAccountUrl?: string;
}

function layoutLocals(options: DemoSpOptions, tenant: DemoTenant): TenantLocals {
  return {
    spName: tenant.name,
    mount: tenant.mount,
    idpUrl: options.idpUrl,
    tenants: [...options.tenants].sort((a, b) => a.mount.length - b.mount.length).map((t) => ({ name: t.name, mount: t.mount })),
  };
}

function tenantRouter(options: DemoSpOptions, tenant: DemoTenant): Router {
  const router = Router();
  const m = tenant.mount;
  const consumerUrl = `${options.baseUrl}${m}/sso/jwt/consumer`;
  const replay = new ReplayCache();
  const verify = tenant.verify;
  // Made by the first sign-in; a remote JWKS keeps its cache from then on.
  let key: Promise<Uint8Array | JWTVerifyGetKey> | undefined;
  const verificationKey = () =>
    (key ??=
      verify.alg === 'HS256'
        ? Promise.resolve(new TextEncoder().encode(verify.secret))
        : loadJose().then(({ createRemoteJWKSet, customFetch }) =>
            createRemoteJWKSet(new URL(`${options.idpUrl}/.well-known/jwks.json`), {
              cooldownDuration: 5_000,
              ...(options.idpCa ? { [customFetch]: fetchTrusting(options.idpCa) } : {}),
            }),
          ));
  const agentFor = agentLookup(options.agents);
  // Where the IdP's remote logout sends the browser back to: this tenant's registered logoutUrl
  // (the allow-list compares scheme, host, port and path; the query is ours).
  const signedOutUrl = `${options.baseUrl}${m}/?signedout=1`;
  const remoteLogoutUrl = `${options.idpUrl}/logout?redirect_url=${encodeURIComponent(signedOutUrl)}`;
  const view = (res: Response, name: string, locals: Record<string, unknown>, status = 200): void => {
    // The Comm100-like tenant can also sign in with SAML when the demo SP has a SAML side.
    const samlLoginUrl = options.saml && tenant.mount === '' ? `${options.saml.mount}/login` : undefined;
    res.status(status).render(`demo-sp/${name}`, { ...layoutLocals(options, tenant), samlLoginUrl, ...locals });
  };

  // The error handler names the tenant the failing request was for (the first router to see it).
  router.use((_req, res, next) => {
    res.locals.tenant ??= { ...layoutLocals(options, tenant), switchAccountUrl: remoteLogoutUrl } satisfies TenantLocals;
    next();
  });

  const startSso = (res: Response, returnPath: string): void => {
    const redirectUrl = `${consumerUrl}?relayState=${encodeURIComponent(returnPath)}`;
    res.redirect(302, `${options.idpUrl}/sso/jwt/${encodeURIComponent(tenant.spId)}?redirect_url=${encodeURIComponent(redirectUrl)}`);
  };

  router.get('/', (req, res) => {
    if (req.session.agent) {
      res.redirect(302, `${m}/agent`);
      return;
    }
    const signedOut = req.query.signedout === '1' ? '&signedout=1' : '';
    res.redirect(302, `${m}/LoginSSO.aspx?siteid=${encodeURIComponent(options.siteId)}${signedOut}`);
  });

  // Mirrors Comm100's LoginSSO.aspx?siteid=…: the agent gives a site id and goes to the IdP.
  router.get('/LoginSSO.aspx', (req, res) => {
    const siteId = typeof req.query.siteid === 'string' ? req.query.siteid : options.siteId;
    const signedOut = req.query.signedout === '1' && !req.session.agent;
    view(res, 'login', { title: `${tenant.name}: agent sign-in`, siteId, error: undefined, signedOut });
  });

  router.get('/sso/start', (req, res) => {
    const siteId = typeof req.query.siteid === 'string' ? req.query.siteid.trim() : '';
    if (siteId !== options.siteId) {
      view(res, 'login', { title: `${tenant.name}: agent sign-in`, siteId, error: 'Site ID is invalid.', signedOut: false }, 400);
      return;
    }
    startSso(res, localPath(req.query.returnUrl, `${m}/agent`));
  });

  const consume = async (req: Request, res: Response, via: string): Promise<void> => {
    const source = via === 'POST' ? (req.body as Record<string, unknown>) : (req.query as Record<string, unknown>);
    const token = source.jwt;
    if (typeof token !== 'string' || token === '') throw new DemoError(400, 'No jwt parameter was received.');
    let header: JWTHeaderParameters;
    let claims: JWTPayload;
    const { jwtVerify, errors } = await loadJose();
    try {
      const verified = await jwtVerify(token, (await verificationKey()) as Uint8Array, {
        algorithms: [tenant.verify.alg],
        issuer: tenant.issuer,
        audience: tenant.audience,
        requiredClaims: ['jti', 'exp', 'email'],
        clockTolerance: options.clockToleranceSeconds ?? 30,
      });
      header = verified.protectedHeader;
      claims = verified.payload;
    } catch (err) {
      throw new DemoError(401, `Sign-in refused: ${explain(err, errors)}`);
    }
    if (typeof claims.email !== 'string' || typeof claims.jti !== 'string') throw new DemoError(401, 'Sign-in refused: the token lacks an email or jti.');
    if (!replay.use(claims.jti, (claims.exp ?? 0) * 1000)) throw new DemoError(401, 'Sign-in refused: this token was already used (replayed jti).');
    const agent = agentFor(claims.email);
    const relay = source.relayState ?? source.RelayState;
    await regenerateSession(req);
    req.session.agent = { email: agent.email, name: agent.name };
    req.session.token = { header, claims, receivedAt: new Date().toISOString(), via };
    res.redirect(303, localPath(relay, `${m}/agent`));
  };

  router.get('/sso/jwt/consumer', (req, res) => consume(req, res, 'GET'));
  router.post('/sso/jwt/consumer', (req, res) => consume(req, res, 'POST'));

  // The agent console. Without an SP session it goes through SSO at once, which is what the
  // third-party console's iframe relies on (extended authentication).
  router.get('/agent', (req, res) => {
    if (!req.session.agent) {
      startSso(res, `${m}/agent`);
      return;
    }
    res.set('Cache-Control', 'no-store');
    view(res, 'agent', { title: `${tenant.name}: agent console`, agent: req.session.agent, token: req.session.token });
  });

  // Remote logout: end the SP session, then the IdP's.
  router.post('/logout', async (req, res) => {
    await destroySession(req);
    res.redirect(303, remoteLogoutUrl);
  });

  return router;
}

export function createDemoSp(options: DemoSpOptions): DemoSp {
  const app = express();
  const db = openDb(':memory:');
  // One store per session middleware: express-session writes its cookie options into the store it is
  // given (store.generate), so middlewares sharing a store all issue the last one's cookie path.
  const stores: SqliteSessionStore[] = [];
  const newStore = (): SqliteSessionStore => {
    const store = new SqliteSessionStore(db, { defaultTtlMs: 8 * 3600_000 });
    stores.push(store);
    return store;
  };
  const idpOrigin = new URL(options.idpUrl).origin;
  const secure = options.baseUrl.startsWith('https:');

  app.disable('x-powered-by');
  app.set('views', viewsDir);
  app.set('view engine', 'ejs');
  app.enable('view cache');
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'", idpOrigin],
          frameAncestors: ["'self'", idpOrigin],
        },
      },
      strictTransportSecurity: secure,
      xFrameOptions: false,
    }),
  );
  app.use('/static', express.static(publicDir, { maxAge: '1h', index: false }));
  app.use(express.urlencoded({ extended: false, limit: '64kb' }));

  const secret = crypto.randomBytes(32).toString('base64url');
  // The SAML side first: a tenant mounted at "/" would otherwise give its requests the
  // JWT tenant's session, and express-session skips any later session middleware.
  if (options.saml) app.use(options.saml.mount, samlDemoRouter({ ...options.saml, sessionStore: newStore(), sessionSecret: secret }));
  const tenants = [...options.tenants].sort((a, b) => b.mount.length - a.mount.length);
  for (const tenant of tenants) {
    const mountPath = tenant.mount || '/';
    app.use(
      mountPath,
      session({
        name: tenant.mount ? `demosp${tenant.mount.replace(/\W/g, '-')}.sid` : 'demosp.sid',
        store: newStore(),
        secret,
        resave: false,
        saveUninitialized: false,
        cookie: { httpOnly: true, sameSite: 'lax', secure, path: mountPath },
      }),
      tenantRouter(options, tenant),
    );
  }

  app.use((_req: Request, _res: Response, next: NextFunction) => next(new DemoError(404, 'There is no such page on the demo SP.')));
  const fallbackTenant: TenantLocals = {
    spName: 'Demo SP',
    mount: '',
    idpUrl: options.idpUrl,
    tenants: [...options.tenants].sort((a, b) => a.mount.length - b.mount.length).map((t) => ({ name: t.name, mount: t.mount })),
  };
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = err instanceof DemoError ? err.status : 500;
    const message = err instanceof DemoError ? err.message : 'The demo SP hit an unexpected error.';
    if (!(err instanceof DemoError)) console.error('demo SP error', err);
    const tenant = (res.locals.tenant as TenantLocals | undefined) ?? fallbackTenant;
    res.set('Cache-Control', 'no-store');
    res.status(status).render('demo-sp/error', {
      ...tenant,
      title: status === 404 ? 'Page not found' : status >= 500 ? 'Something went wrong' : 'Sign-in failed',
      message,
      status,
      // Offered when the IdP signed in someone this SP refuses: signing in again would only repeat it.
      switchAccountUrl: status === 403 ? tenant.switchAccountUrl : undefined,
    });
  });

  return {
    app,
    close: () => {
      for (const store of stores) store.close();
      db.close();
    },
  };
}
