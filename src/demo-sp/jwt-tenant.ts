/**
 * One JWT tenant of the demo SP (the Comm100-like one at the root, the Desk-like
 * one under /desk): its sign-in page in Comm100's shape (LoginSSO.aspx?siteid=…),
 * the redirect to the IdP's remote login, the consumer that checks the token and
 * signs the agent in once per jti, the agent console, and the remote logout.
 */
import { Router, type Request, type Response } from 'express';
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import type { StateStore } from '../state/types.js';
import { tokenVerifier } from './jwt-verify.js';
import type { DemoSpOptions, DemoTenant } from './options.js';
import { layoutLocals, type TenantLocals } from './pages.js';
import { refusalDetail, shown } from './refusal.js';
import { agentLookup, DemoError, destroySession, localPath, regenerateSession, useOnce, type RefusalCheck } from './shared.js';

declare module 'express-session' {
  interface SessionData {
    agent?: { email: string; name: string | undefined };
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
    const { header, claims } = await verifyToken(token);
    const refuse = (message: string, check: RefusalCheck) => new DemoError(401, `Sign-in refused: ${message}`, refusalDetail(token, header, claims, [check]));
    if (typeof claims.email !== 'string') throw refuse('the token lacks an email or jti.', { name: 'email', expected: 'a string', actual: shown(claims.email) });
    if (typeof claims.jti !== 'string') throw refuse('the token lacks an email or jti.', { name: 'jti', expected: 'a string', actual: shown(claims.jti) });
    if (!(await useOnce(state, jtiKey(claims.jti), (claims.exp ?? 0) * 1000, Date.now()))) {
      throw refuse('this token was already used (replayed jti).', { name: 'jti', expected: `a jti ${tenant.name} has not accepted before`, actual: `${claims.jti}, already used for a sign-in` });
    }
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
