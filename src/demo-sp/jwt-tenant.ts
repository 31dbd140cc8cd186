/**
 * One JWT tenant of the demo SP (the Comm100-like one at the root, the Desk-like
 * one under /desk): its sign-in page in Comm100's shape (LoginSSO.aspx?siteid=…,
 * which goes straight to the IdP once this browser gave a valid site ID), the SP's
 * own email and password form (admins only, agent-rules.ts), the redirect to the
 * IdP's remote login, the consumer that checks the token and signs the agent in once
 * per jti (or redirects with Comm100's errorcode), the agent console, and the remote
 * logout.
 */
import { Router, type Request, type Response } from 'express';
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import type { StateStore } from '../state/types.js';
import { cookieValue, passwordSignIn, SITE_ID_COOKIE_MAX_AGE_MS, siteIdCookieName, SSO_ERROR_REASONS, ssoErrorCode, type SsoErrorReason } from './agent-rules.js';
import { tokenVerifier } from './jwt-verify.js';
import type { DemoSpOptions, DemoTenant } from './options.js';
import { layoutLocals, type TenantLocals } from './pages.js';
import { refusalDetail, shown } from './refusal.js';
import { activeAgentFinder, DemoError, destroySession, localPath, regenerateSession, useOnce, type RefusalCheck } from './shared.js';

declare module 'express-session' {
  interface SessionData {
    /** `withPassword`: signed in with the SP's own password (an admin), not SSO. */
    agent?: { email: string; name: string | undefined; withPassword?: boolean };
    token?: { header: JWTHeaderParameters; claims: JWTPayload; receivedAt: string; via: string };
  }
}

/** The tenant's routes; `state` keeps the jti of every token it accepted until the token expires. */
export function tenantRouter(options: DemoSpOptions, tenant: DemoTenant, state: StateStore): Router {
  const router = Router();
  const m = tenant.mount;
  const consumerUrl = `${options.baseUrl}${m}/sso/jwt/consumer`;
  const jtiKey = (jti: string) => `replay:jti:${encodeURIComponent(m)}:${jti}`;
  const verifyToken = tokenVerifier(options, tenant);
  const activeAgent = activeAgentFinder(options.agents);
  const checkPassword = passwordSignIn(options.agents);
  const siteIdCookie = siteIdCookieName(m);
  // "Login with <Authentication Service Name>" on the Desk-style tenant's sign-in page, when configured.
  const loginWith = m === '/desk' ? options.deskAuthenticationServiceName : undefined;
  // "Sign in with custom SSO" under the non-admin message: the SSO start with this SP's site ID.
  const ssoLoginUrl = `${m}/sso/start?siteid=${encodeURIComponent(options.siteId)}`;
  // Where the IdP's remote logout sends the browser back to: this tenant's registered logoutUrl
  // (the allow-list compares scheme, host, port and path; the query is ours).
  const signedOutUrl = `${options.baseUrl}${m}/?signedout=1`;
  const remoteLogoutUrl = `${options.idpUrl}/logout?redirect_url=${encodeURIComponent(signedOutUrl)}`;
  const view = (res: Response, name: string, locals: Record<string, unknown>, status = 200): void => {
    // The Comm100-like tenant can also sign in with SAML when the demo SP has a SAML side.
    const samlLoginUrl = options.saml && tenant.mount === '' ? `${options.saml.mount}/login` : undefined;
    res.status(status).render(`demo-sp/${name}`, { ...layoutLocals(options, tenant), samlLoginUrl, loginWith, ssoLoginUrl, ...locals });
  };

  // The error handler names the tenant the failing request was for (the first router to see it).
  router.use((_req, res, next) => {
    res.locals.tenant ??= { ...layoutLocals(options, tenant), switchAccountUrl: remoteLogoutUrl } satisfies TenantLocals;
    next();
  });

  const rememberSiteId = (res: Response): void => {
    res.cookie(siteIdCookie, options.siteId, { httpOnly: true, sameSite: 'lax', secure: options.baseUrl.startsWith('https:'), path: m || '/', maxAge: SITE_ID_COOKIE_MAX_AGE_MS });
  };
  const signInPage = (res: Response, siteId: string, error: string | undefined, signedOut: boolean, status = 200): void =>
    view(res, 'login', { title: `${tenant.name}: agent sign-in`, siteId, error, signedOut }, status);

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
  // "Only the first login requires inputting the site ID": once this browser gave a valid one
  // (the cookie), the page goes straight to the IdP, which signs an agent already signed in
  // there straight in. Just after a sign-out it shows the form, with the notice.
  router.get('/LoginSSO.aspx', (req, res) => {
    const given = typeof req.query.siteid === 'string' ? req.query.siteid.trim() : undefined;
    const signedOut = req.query.signedout === '1' && !req.session.agent;
    if (given !== undefined && given !== options.siteId) {
      signInPage(res, given, 'Site ID is invalid.', false, 400);
      return;
    }
    if (!signedOut && cookieValue(req.headers.cookie, siteIdCookie) === options.siteId) {
      startSso(res, `${m}/agent`);
      return;
    }
    signInPage(res, given ?? options.siteId, undefined, signedOut);
  });

  router.get('/sso/start', (req, res) => {
    const siteId = typeof req.query.siteid === 'string' ? req.query.siteid.trim() : '';
    if (siteId !== options.siteId) {
      signInPage(res, siteId, 'Site ID is invalid.', false, 400);
      return;
    }
    rememberSiteId(res);
    startSso(res, localPath(req.query.returnUrl, `${m}/agent`));
  });

  // The SP's own email and password form. With Agent SSO enabled only the account
  // administrator may use it; a non-admin gets Comm100's message and the SSO link.
  const passwordPage = (res: Response, locals: { email: string; error?: string; offerSso?: boolean }, status = 200): void => {
    res.set('Cache-Control', 'no-store');
    view(res, 'password-login', { title: `${tenant.name}: sign in with email and password`, error: undefined, offerSso: false, ...locals }, status);
  };
  router.get('/login', (_req, res) => passwordPage(res, { email: '' }));
  router.post('/login', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email.slice(0, 320) : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const outcome = checkPassword(email, password);
    if (!outcome.ok) {
      passwordPage(res, { email, error: outcome.message, offerSso: outcome.offerSso }, outcome.status);
      return;
    }
    await regenerateSession(req);
    req.session.agent = { email: outcome.agent.email, name: outcome.agent.name, withPassword: true };
    delete req.session.token;
    res.redirect(303, `${m}/agent`);
  });

  // Where the consumer's error redirect lands, with Comm100's errorcode and the reason in a fixed word.
  router.get('/sso/error', (req) => {
    const errorCode = ssoErrorCode(req.query.errorcode);
    if (!errorCode) throw new DemoError(400, 'The sign-in failed, but no errorcode was given.');
    const reason = typeof req.query.reason === 'string' && Object.hasOwn(SSO_ERROR_REASONS, req.query.reason) ? SSO_ERROR_REASONS[req.query.reason as SsoErrorReason] : undefined;
    throw new DemoError(403, reason ?? 'Error signing into the account.', undefined, errorCode);
  });

  const consume = async (req: Request, res: Response, via: string): Promise<void> => {
    const source = via === 'POST' ? (req.body as Record<string, unknown>) : (req.query as Record<string, unknown>);
    const token = source.jwt;
    if (typeof token !== 'string' || token === '') throw new DemoError(400, 'No jwt parameter was received.');
    const { header, claims } = await verifyToken(token);
    const refuse = (message: string, check: RefusalCheck) => new DemoError(401, `Sign-in refused: ${message}`, refusalDetail(token, header, claims, [check]));
    if (typeof claims.email !== 'string') throw refuse('the token lacks an email or jti.', { name: 'email', expected: 'a string', actual: shown(claims.email) });
    if (typeof claims.jti !== 'string') throw refuse('the token lacks an email or jti.', { name: 'jti', expected: 'a string', actual: shown(claims.jti) });
    if (!(await useOnce(state, jtiKey(claims.jti), (claims.exp ?? 0) * 1000, Date.now()))) {
      throw refuse('this token was already used (replayed jti).', { name: 'jti', expected: `a jti ${tenant.name} has not accepted before`, actual: `${claims.jti}, already used for a sign-in` });
    }
    const agent = activeAgent(claims.email);
    if (!agent) {
      // As Comm100 does: a redirect with errorcode 3 ("Normal Error"), the page explains it.
      const reason: SsoErrorReason = 'no-active-agent';
      res.redirect(303, `${m}/sso/error?errorcode=3&reason=${reason}`);
      return;
    }
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
