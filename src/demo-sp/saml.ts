/**
 * The demo SP's SAML side, built on saml2-js as an SP developer would: "Sign in
 * with SAML" (SP-initiated, HTTP-Redirect), an ACS for the IdP's HTTP-POST, the
 * decoded assertion on the agent page, and single logout.
 *
 * saml2-js checks the signature, decrypts, and checks the Conditions' time window
 * and the audience (case-insensitively). It leaves the rest to the caller, so the
 * ACS does it too, on the signed assertion it extracts itself with xml-crypto
 * (saml-signed.ts): Destination, InResponseTo against the requests it sent (kept
 * server-side: the IdP's cross-site POST carries no SameSite cookie), the Issuer,
 * Recipient, the time window with this SP's clock, the exact audience, and a
 * replay check of assertion IDs (saml-checks.ts). It talks to the IdP only through
 * its public HTTP surface (saml-idp.ts): the metadata (fetched once), /saml/sso
 * and /saml/slo.
 */
import { Router, type Request, type Response } from 'express';
import session from 'express-session';
import type { ServiceProvider } from 'saml2-js';
import { systemClock, type Clock } from '../clock.js';
import type { ResolvedConfig } from '../config/load.js';
import { prettyXml } from '../inspect/pretty-xml.js';
import { parseUntrustedXml } from '../saml/xml.js';
import { MemoryStateStore } from '../state/memory.js';
import type { StateStore } from '../state/types.js';
import { shownTime } from '../time-format.js';
import { checkResponse, type DecodedAssertion } from './saml-checks.js';
import { samlPeers, verifyRedirect } from './saml-idp.js';
import { extractSigned, refuseUndecryptableKeyTransport } from './saml-signed.js';
import { agentLookup, DemoError, destroySession, localPath, regenerateSession, useOnce, type DemoAgent } from './shared.js';

const OUTSTANDING_TTL_MS = 10 * 60 * 1000;

export interface SamlDemoOptions {
  /** The IdP's public base URL (its metadata is at /saml/metadata). */
  idpUrl: string;
  /** This SP's public origin and base path, e.g. http://localhost:8081. */
  spBaseUrl: string;
  /** Where the router is mounted on the SP's origin, e.g. "/saml". */
  mount: string;
  /** The SP's entity ID, as registered at the IdP (and the Audience). */
  entityId: string;
  /** Display name. */
  name: string;
  agents: readonly DemoAgent[];
  /** Session storage, shared with the rest of the demo SP. */
  sessionStore: session.Store;
  sessionSecret: string;
  /**
   * Where the AuthnRequest IDs it sent and the assertion IDs it accepted are kept until
   * they expire (the demo SP's app gives its own). Default: a memory store on `clock`.
   */
  state?: StateStore;
  /** Accept IdP-initiated (unsolicited) Responses. Default true: the IdP home page offers them. */
  allowUnsolicited?: boolean;
  /** Clock skew tolerated in the time checks. Default 60 s. */
  clockSkewSeconds?: number;
  /** Private key to decrypt EncryptedAssertions (PEM), when the IdP encrypts for this SP. */
  decryptionKeyPem?: string | undefined;
  clock?: Clock;
  /** The SP id at the IdP; the demo SP's app marks the JWT tenant of the same SP as this side's. */
  spId?: string;
  /** The demo SP's JWT tenants, for the header's switcher (as on the JWT pages). */
  tenants?: { name: string; mount: string }[];
  /** The mount of the JWT tenant this SAML side belongs to: the switcher shows it as the current one. */
  tenantMount?: string;
}

declare module 'express-session' {
  interface SessionData {
    samlAgent?: { email: string; name: string | undefined };
    samlAssertion?: DecodedAssertion;
  }
}

export function samlDemoRouter(options: SamlDemoOptions): Router {
  const router = Router();
  const clock = options.clock ?? systemClock;
  const skewMs = (options.clockSkewSeconds ?? 60) * 1000;
  const base = `${options.spBaseUrl}${options.mount}`;
  const acsUrl = `${base}/acs`;
  const m = options.mount;
  const agentFor = agentLookup(options.agents);
  const state = options.state ?? new MemoryStateStore({ now: () => clock.now() });
  /** An AuthnRequest this SP sent and has not seen answered. */
  const requestKey = (id: string) => `pending:authn-request:${encodeURIComponent(m)}:${id}`;
  /** An assertion ID already used. */
  const assertionKey = (id: string) => `replay:assertion:${encodeURIComponent(m)}:${id}`;

  const identityProvider = samlPeers(options, acsUrl);

  const locals = { spName: options.name, mount: m, navMount: options.tenantMount, idpUrl: options.idpUrl, tenants: options.tenants ?? [], shownTime };
  const view = (res: Response, name: string, extra: Record<string, unknown>, status = 200): void => {
    res.set('Cache-Control', 'no-store');
    res.status(status).render(`saml-demo-${name}`, { ...locals, ...extra });
  };

  router.use(
    session({
      name: 'demosp-saml.sid',
      store: options.sessionStore,
      secret: options.sessionSecret,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: options.spBaseUrl.startsWith('https:'), path: m || '/' },
    }),
  );

  router.get('/', (req, res) => {
    if (req.session.samlAgent) {
      res.redirect(302, `${m}/agent`);
      return;
    }
    view(res, 'login', { title: `${options.name}: sign in with SAML`, signedOut: req.query.signedout === '1' });
  });

  // "Sign in with SAML": an AuthnRequest by HTTP-Redirect, its ID remembered server-side.
  router.get('/login', async (req, res) => {
    const { idp, sp } = await identityProvider();
    const relayState = localPath(req.query.returnUrl, `${m}/agent`);
    const { url, id } = await new Promise<{ url: string; id: string }>((resolve, reject) =>
      sp.create_login_request_url(idp, { relay_state: relayState }, (err, loginUrl, requestId) => (err ? reject(err) : resolve({ url: loginUrl, id: requestId }))),
    );
    await state.set(requestKey(id), true, OUTSTANDING_TTL_MS);
    res.redirect(302, url);
  });

  router.post('/acs', async (req, res) => {
    const { info, idp, sp } = await identityProvider();
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.SAMLResponse !== 'string') throw new DemoError(400, 'No SAMLResponse was posted.');
    const responseXml = Buffer.from(body.SAMLResponse, 'base64').toString('utf8');
    refuseUndecryptableKeyTransport(responseXml);
    // 1. saml2-js: signature, decryption, status, Conditions time window, audience.
    const checked = await new Promise<saml2AssertResult>((resolve, reject) =>
      sp.post_assert(idp, { request_body: body, allow_unencrypted_assertion: true }, (err, result) =>
        err ? reject(new DemoError(401, `saml2-js refused the Response: ${err.message}`)) : resolve(result),
      ),
    );
    // 2. What saml2-js leaves to the caller, on the signed content.
    const signed = await extractSigned(responseXml, info, options.decryptionKeyPem);
    const now = clock.now();
    const decoded = await checkResponse(signed, {
      idp: info,
      acsUrl,
      entityId: options.entityId,
      allowUnsolicited: options.allowUnsolicited !== false,
      skewMs,
      now,
      checkedBefore: [`saml2-js: signature, status Success, time window, audience (${checked.type})`],
      answer: async (id) => (await state.take(requestKey(id))) !== undefined,
      useOnce: (id, untilMs) => useOnce(state, assertionKey(id), untilMs, now),
    });
    const agent = agentFor(decoded.nameId);
    await regenerateSession(req);
    req.session.samlAgent = { email: agent.email, name: agent.name };
    req.session.samlAssertion = decoded;
    res.redirect(303, localPath(body.RelayState, `${m}/agent`));
  });

  router.get('/agent', (req, res) => {
    if (!req.session.samlAgent) {
      res.redirect(302, `${m}/login?returnUrl=${encodeURIComponent(`${m}/agent`)}`);
      return;
    }
    const assertion = req.session.samlAssertion;
    view(res, 'agent', { title: `${options.name}: agent console — signed in with SAML`, agent: req.session.samlAgent, assertion, assertionXml: assertion && shownXml(assertion.xml) });
  });

  // SP-initiated single logout: end this session, then ask the IdP (LogoutRequest by HTTP-Redirect).
  router.post('/logout', async (req, res) => {
    const assertion = req.session.samlAssertion;
    await destroySession(req);
    const { info, idp, sp } = await identityProvider();
    if (!assertion || !info.sloUrl) {
      res.redirect(303, `${m}/?signedout=1`);
      return;
    }
    const url = await new Promise<string>((resolve, reject) =>
      sp.create_logout_request_url(idp, { name_id: assertion.nameId, ...(assertion.sessionIndex ? { session_index: assertion.sessionIndex } : {}), relay_state: `${m}/?signedout=1` }, (err, u) =>
        err ? reject(err) : resolve(u),
      ),
    );
    res.redirect(303, url);
  });

  // The IdP's LogoutResponse (to our logout) or LogoutRequest (IdP-initiated), by HTTP-Redirect, signed.
  router.get('/slo', async (req, res) => {
    const { info, idp, sp } = await identityProvider();
    const rawQuery = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
    const param = typeof req.query.SAMLRequest === 'string' ? 'SAMLRequest' : 'SAMLResponse';
    if (!verifyRedirect(rawQuery, param, info)) throw new DemoError(401, `The ${param} is not signed by the IdP.`);
    const result = await new Promise<saml2AssertResult>((resolve, reject) =>
      sp.redirect_assert(idp, { request_body: req.query as Record<string, unknown> }, (err, r) => (err ? reject(new DemoError(400, `saml2-js refused the ${param}: ${err.message}`)) : resolve(r))),
    );
    if (result.type === 'logout_request') {
      const assertion = req.session.samlAssertion;
      if (assertion && assertion.nameId === result.name_id) await destroySession(req);
      const url = await new Promise<string>((resolve, reject) =>
        sp.create_logout_response_url(
          idp,
          { in_response_to: result.response_header.id ?? '', ...(typeof req.query.RelayState === 'string' ? { relay_state: req.query.RelayState } : {}) },
          (err, u) => (err ? reject(err) : resolve(u)),
        ),
      );
      res.redirect(303, url);
      return;
    }
    res.redirect(303, localPath(req.query.RelayState, `${m}/?signedout=1`));
  });

  router.use((err: unknown, _req: Request, res: Response, next: (err?: unknown) => void) => {
    if (!(err instanceof DemoError)) {
      next(err);
      return;
    }
    view(res, 'error', { title: 'SAML sign-in failed', message: err.message, status: err.status }, err.status);
  });

  return router;
}

/** The signed assertion for people: indented, one element a line, signature values cut (never replayable from the page). */
function shownXml(xml: string): string {
  try {
    return prettyXml(parseUntrustedXml(xml, 'Assertion').documentElement!, { truncateSignatureValues: true });
  } catch {
    return 'The assertion could not be laid out for display.';
  }
}

type saml2AssertResult = Parameters<Parameters<ServiceProvider['post_assert']>[2]>[1];

/** What the demo SP's app adds to a setup: its session storage and its state store. */
export type SamlDemoSetup = Omit<SamlDemoOptions, 'sessionStore' | 'sessionSecret' | 'state'>;

/**
 * The demo SP's SAML setup from the IdP config: the SAML SP whose ACS is
 * `<origin of demo.spBaseUrl><mount>/acs`, if any (e.g. http://localhost:8081/saml/acs).
 */
export function samlDemoFromConfig(config: ResolvedConfig): SamlDemoSetup | undefined {
  const origin = new URL(config.demo.spBaseUrl).origin;
  for (const sp of config.serviceProviders) {
    const acs = sp.saml?.acsUrls.map((u) => new URL(u)).find((u) => u.origin === origin && u.pathname.endsWith('/acs'));
    if (!sp.saml || !acs) continue;
    return {
      idpUrl: config.baseUrl,
      spBaseUrl: origin,
      mount: acs.pathname.slice(0, -'/acs'.length),
      entityId: sp.saml.entityId,
      spId: sp.id,
      // One app with the JWT tenants: the SP's own name; the pages say SAML where it matters.
      name: sp.name,
      agents: config.demo.agents,
    };
  }
  return undefined;
}
