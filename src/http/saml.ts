/**
 * SAML 2.0 over HTTP: metadata and certificate downloads, single sign-on (SP- and
 * IdP-initiated) and single logout. This file only turns requests into the typed
 * values of src/saml/ and renders what comes back; the protocol lives there.
 *
 * Cross-site POSTs (an SP's auto-submitted form) arrive without the IdP's
 * SameSite=Lax session cookie, so a message received by HTTP-POST is parked under
 * an unguessable key and the browser is sent on with a top-level GET to
 * `/saml/continue/:key`, which does see the session.
 */
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import { nameIdPolicyStatus, receiveAuthnRequest, type AuthnRequest } from '../saml/authn-request.js';
import { encodePost, type IncomingMessage } from '../saml/binding.js';
import { LIMITS, type SamlStatus } from '../saml/constants.js';
import { isSamlSp, type SamlServiceProvider } from '../saml/inbound.js';
import {
  buildLogoutRequest,
  buildLogoutResponse,
  deliver,
  receiveLogoutRequest,
  receiveLogoutResponse,
  type Delivery,
  type LogoutRequest,
} from '../saml/logout.js';
import { buildMetadata, samlEndpoints } from '../saml/metadata.js';
import { ReplayCache } from '../saml/replay.js';
import { buildStatusResponse, nameIdFor, type SamlIdpContext } from '../saml/response.js';
import type { User } from '../users/store.js';
import type { AppContext } from './context.js';
import { completeSaml, queryOf, recordingRefusals, samlDeliveryChoice, samlFlow, type DeliveryChoice, type SamlSend } from './deliver.js';
import { currentUser, redirectToLogin, signInByHint } from './login.js';
import { holdSamlForReview } from './review.js';
import type { SamlFault } from '../faults/catalog.js';
import { SESSION_COOKIE } from './session.js';
import { checkCsrf, csrfToken, field, noStore, refuseCrossSite } from './security.js';

declare module 'express-session' {
  interface SessionData {
    /** SAML state of this IdP session: its SessionIndex and the SPs it sent assertions to. */
    saml?: { sessionIndex: string; sps: Record<string, { nameId: string }> };
    /** A single logout in progress (IdP- or SP-initiated), one SP after the other. */
    samlLogout?: LogoutChain;
  }
}

interface LogoutChain {
  /** SP ids still to be sent a LogoutRequest. */
  queue: string[];
  /** The LogoutRequest awaiting its LogoutResponse. */
  current?: { spId: string; requestId: string } | undefined;
  results: { spId: string; name: string; ok: boolean; detail: string }[];
  /** SP-initiated: the LogoutResponse owed to the SP that started it. */
  answer?: { spId: string; inResponseTo: string; relayState: string | undefined; binding: 'redirect' | 'post' } | undefined;
}

/** How long a request may wait for its user to sign in, and IDs are remembered against replay. */
export const PENDING_TTL_MS = 10 * 60 * 1000;

/** Messages parked between a cross-site POST (or a sign-in) and the GET that continues them. */
class PendingStore<T> {
  readonly #items = new Map<string, { value: T; expires: number }>();
  constructor(
    private readonly now: () => number,
    private readonly max = 10_000,
  ) {}

  put(value: T): string {
    const now = this.now();
    for (const [k, v] of this.#items) {
      if (v.expires > now && this.#items.size < this.max) break;
      this.#items.delete(k);
    }
    const key = crypto.randomBytes(18).toString('base64url');
    this.#items.set(key, { value, expires: now + PENDING_TTL_MS });
    return key;
  }

  /** The value, once: continuing a message consumes it. */
  take(key: string): T | undefined {
    const item = this.#items.get(key);
    this.#items.delete(key);
    return item && item.expires > this.now() ? item.value : undefined;
  }
}

type Pending =
  | { kind: 'authn'; request: AuthnRequest; receivedAt: number; choice: DeliveryChoice<SamlFault> }
  | { kind: 'message'; message: IncomingMessage };

/** The raw query string exactly as received (the Redirect binding's signature covers it). */
function rawQueryString(req: Request): string {
  const i = req.originalUrl.indexOf('?');
  return i === -1 ? '' : req.originalUrl.slice(i + 1);
}

function samlSpById(ctx: AppContext, id: string): SamlServiceProvider {
  const sp = ctx.sp(id);
  if (!sp) throw new IdpError('unknown_sp', `There is no service provider "${id}".`);
  if (!isSamlSp(sp)) throw new IdpError('sp_protocol_disabled', `Service provider "${sp.name}" is not set up for SAML single sign-on.`);
  return sp;
}

function singleQueryParam(req: Request, name: string): string | undefined {
  const values = new URLSearchParams(rawQueryString(req)).getAll(name);
  if (values.length > 1) throw new IdpError('bad_request', `The ${name} parameter is given ${values.length} times; give it once.`);
  const value = values[0];
  if (value !== undefined && value.length > LIMITS.maxRelayStateChars) {
    throw new IdpError('bad_request', `The ${name} parameter is longer than ${LIMITS.maxRelayStateChars} characters.`);
  }
  return value;
}

/** What the SAML routes and the sign-in fast path share: the IdP's signing context, its endpoints, the replay cache of request IDs. */
export interface SamlShared {
  idp: SamlIdpContext;
  endpoints: ReturnType<typeof samlEndpoints>;
  replay: ReplayCache;
}

export function samlShared(ctx: Pick<AppContext, 'config' | 'keystore' | 'clock' | 'ids'>): SamlShared {
  const { config } = ctx;
  return {
    idp: { entityId: config.saml.entityId, credentials: ctx.keystore.saml, clock: ctx.clock, newId: ctx.ids.samlId },
    endpoints: samlEndpoints(config.baseUrl),
    replay: new ReplayCache(ctx.clock),
  };
}

export function samlRouter(ctx: AppContext): Router {
  const router = Router();
  const { config } = ctx;
  const { idp, endpoints, replay } = ctx.saml;
  const pending = new PendingStore<Pending>(() => ctx.clock.now());
  // Metadata depends on the registered SPs (WantAuthnRequestsSigned): built once, again after they change.
  let metadataCache: string | undefined;
  ctx.onChange(() => (metadataCache = undefined));
  const metadata = (): string => {
    const samlSps = ctx.config.serviceProviders.filter(isSamlSp);
    metadataCache ??= buildMetadata({
      entityId: config.saml.entityId,
      baseUrl: config.baseUrl,
      certificateBase64: ctx.keystore.saml.certificateBase64,
      retiredCertificatesBase64: ctx.keystore.retired.samlCertificates.map((c) => c.certificateBase64),
      wantAuthnRequestsSigned: samlSps.length > 0 && samlSps.every((sp) => sp.saml.requestSigningCert !== null),
    });
    return metadataCache;
  };

  /** The auto-submitting form that carries a message to an SP (no inline script: /static/autopost.js). */
  const post = (res: Response, url: string, fields: Record<string, string>, sp: ResolvedServiceProvider, what: string): void => {
    noStore(res);
    res.render('saml-post', { title: `${what} ${sp.name}`, action: url, fields, spName: sp.name });
  };

  const send = (res: Response, delivery: Delivery, sp: ResolvedServiceProvider, what: string): void => {
    if (delivery.binding === 'redirect') {
      noStore(res);
      res.redirect(303, delivery.url);
      return;
    }
    post(res, delivery.url, delivery.fields, sp, what);
  };

  const sendStatus = (res: Response, sp: SamlServiceProvider, acsUrl: string, inResponseTo: string | undefined, status: SamlStatus, relayState: string | undefined): void => {
    const { xml } = buildStatusResponse(idp, { sp, acsUrl, inResponseTo, status });
    const fields: Record<string, string> = { SAMLResponse: encodePost(xml) };
    if (relayState !== undefined) fields.RelayState = relayState;
    ctx.flows.record(samlFlow(sp, undefined, { acsUrl, xml, relayState, spName: sp.name }, { xml }, inResponseTo, { outcome: 'status', detail: status.message }));
    post(res, acsUrl, fields, sp, 'Returning to');
  };

  /**
   * Builds the Response for the signed-in user (with the faults asked for) and sends it to
   * the ACS, or holds it on the review page; remembers the SP for logout, records the flow.
   */
  const sendAssertion = (
    req: Request,
    res: Response,
    user: User,
    sp: SamlServiceProvider,
    acsUrl: string,
    inResponseTo: string | undefined,
    relayState: string | undefined,
    choice: DeliveryChoice<SamlFault>,
  ): Promise<void> =>
    recordingRefusals(ctx, req, { sp, protocol: 'saml', binding: 'post', initiator: inResponseTo === undefined ? 'idp' : 'sp', destination: acsUrl }, async () => {
      const sessionIndex = req.session.saml?.sessionIndex ?? ctx.ids.samlId();
      const request = { acsUrl, inResponseTo, sessionIndex, authnInstant: req.session.user?.authTime ?? ctx.clock.now() };
      const issued = await ctx.faults.samlResponse(idp, { sp, user, ...request }, { faults: choice.faults, wantAssertionXml: choice.review });
      const send: SamlSend = { acsUrl, xml: issued.xml, relayState, spName: sp.name };
      if (choice.review) {
        req.session.saml ??= { sessionIndex, sps: {} };
        holdSamlForReview(ctx, req, res, sp, user, send, issued, request);
        return;
      }
      completeSaml(ctx, req, res, sp, user.email, send, issued, request);
    });

  /** The login form, even for a signed-in user (ForceAuthn), coming back to `next`. */
  const askForPassword = (req: Request, res: Response, next: string, sp: SamlServiceProvider, user: User | undefined): void => {
    if (!user) {
      res.redirect(303, `/login?continue=${encodeURIComponent(next)}&sp=${encodeURIComponent(sp.id)}`);
      return;
    }
    noStore(res);
    res.render('login', { title: 'Sign in', csrf: csrfToken(req), error: undefined, email: user.email, next, target: sp.name });
  };

  /** Answers a checked AuthnRequest: an assertion, a status, or a sign-in first. */
  const answerAuthnRequest = async (req: Request, res: Response, request: AuthnRequest, receivedAt: number, choice: DeliveryChoice<SamlFault>): Promise<void> => {
    const { sp, acsUrl } = request;
    const policy = nameIdPolicyStatus(request);
    if (policy) {
      sendStatus(res, sp, acsUrl, request.id, policy, request.relayState);
      return;
    }
    const user = (await signInByHint(ctx, req)) ?? currentUser(ctx, req);
    const authTime = req.session.user?.authTime ?? 0;
    const fresh = user !== undefined && (!request.forceAuthn || authTime >= receivedAt);
    if (fresh) {
      await sendAssertion(req, res, user, sp, acsUrl, request.id, request.relayState, choice);
      return;
    }
    if (request.isPassive) {
      const message = user ? 'The request asks for a new sign-in (ForceAuthn) without any interaction (IsPassive).' : 'The user is not signed in to the IdP, and the request is passive.';
      sendStatus(res, sp, acsUrl, request.id, { code: 'Responder', subCode: 'NoPassive', message }, request.relayState);
      return;
    }
    const key = pending.put({ kind: 'authn', request, receivedAt, choice });
    askForPassword(req, res, `/saml/continue/${key}`, sp, user);
  };

  const receiveSso = async (req: Request, res: Response, message: IncomingMessage): Promise<void> => {
    const request = receiveAuthnRequest(message, { serviceProviders: ctx.config.serviceProviders, ssoUrl: endpoints.sso });
    // fault= and review= on the SSO URL (for either binding), checked before anything is answered.
    const choice = await recordingRefusals(ctx, req, { sp: request.sp, protocol: 'saml', binding: 'post', initiator: 'sp', destination: request.acsUrl }, async () =>
      samlDeliveryChoice(ctx, queryOf(req), request.sp),
    );
    replay.use(request.id, PENDING_TTL_MS, 'AuthnRequest', request.issuer);
    const receivedAt = ctx.clock.now();
    if (message.binding === 'post') {
      // Cross-site POST: no session cookie here. Continue with a top-level GET that has it.
      const key = pending.put({ kind: 'authn', request, receivedAt, choice });
      noStore(res);
      res.redirect(303, `/saml/continue/${key}`);
      return;
    }
    await answerAuthnRequest(req, res, request, receivedAt, choice);
  };

  // ---- logout ------------------------------------------------------------------

  /** Ends the IdP session's sign-in (the chain state stays until it is done). */
  const signOutLocally = (req: Request): void => {
    delete req.session.user;
  };

  /** Sends the next LogoutRequest of the chain, or finishes it. */
  const continueLogout = (req: Request, res: Response): void => {
    const chain = req.session.samlLogout;
    if (!chain) throw new IdpError('bad_request', 'There is no single logout in progress.');
    const spsState = req.session.saml?.sps ?? {};
    while (chain.queue.length > 0) {
      const spId = chain.queue.shift()!;
      const sp = ctx.sp(spId);
      const participant = spsState[spId];
      if (!sp || !isSamlSp(sp) || sp.saml.sloUrl === null || !participant) continue;
      const built = buildLogoutRequest(idp, { sp, nameId: participant.nameId, sessionIndex: req.session.saml?.sessionIndex });
      chain.current = { spId, requestId: built.id };
      send(res, deliver(idp, built, 'SAMLRequest', 'redirect'), sp, 'Signing out of');
      return;
    }
    finishLogout(req, res, chain);
  };

  const finishLogout = (req: Request, res: Response, chain: LogoutChain): void => {
    const answer = chain.answer;
    const partial = chain.results.some((r) => !r.ok);
    // The session is over: drop it (its sign-in was already removed when the logout started).
    req.session.destroy(() => undefined);
    res.clearCookie(SESSION_COOKIE);
    if (answer) {
      const sp = samlSpById(ctx, answer.spId);
      const status: SamlStatus | 'Success' = partial
        ? { code: 'Responder', subCode: 'PartialLogout', message: 'Not every service provider confirmed the logout.' }
        : 'Success';
      const built = buildLogoutResponse(idp, { sp, inResponseTo: answer.inResponseTo, status });
      send(res, deliver(idp, built, 'SAMLResponse', answer.binding, answer.relayState), sp, 'Returning to');
      return;
    }
    noStore(res);
    res.render('saml-signed-out', { title: 'Signed out', results: chain.results });
  };

  /** Whether a LogoutRequest's NameID names the signed-in user, as this SP knows them. */
  const sameSubject = (req: Request, user: User, sp: SamlServiceProvider, nameId: string): boolean => {
    const sent = req.session.saml?.sps[sp.id]?.nameId;
    if (sent !== undefined) return sent === nameId;
    try {
      return nameIdFor(sp, user) === nameId;
    } catch {
      return false;
    }
  };

  /** The SP-initiated LogoutRequest: end the IdP session, log the other SPs out, answer the SP. */
  const answerLogoutRequest = (req: Request, res: Response, request: LogoutRequest): void => {
    const sp = request.sp;
    if (sp.saml.sloUrl === null) {
      throw new IdpError('bad_request', `The service provider "${sp.id}" has no saml.sloUrl to send the LogoutResponse to.`);
    }
    const user = currentUser(ctx, req);
    const answer = { spId: sp.id, inResponseTo: request.id, relayState: request.relayState, binding: request.binding };
    if (user && !sameSubject(req, user, sp, request.nameId)) {
      // Another user's session in this browser: leave it alone.
      const built = buildLogoutResponse(idp, {
        sp,
        inResponseTo: request.id,
        status: { code: 'Requester', subCode: 'UnknownPrincipal', message: 'The IdP session in this browser belongs to someone else.' },
      });
      send(res, deliver(idp, built, 'SAMLResponse', request.binding, request.relayState), sp, 'Returning to');
      return;
    }
    signOutLocally(req);
    const others = Object.keys(req.session.saml?.sps ?? {}).filter((id) => id !== sp.id);
    req.session.samlLogout = { queue: others, results: [], answer };
    continueLogout(req, res);
  };

  const answerLogoutResponse = (req: Request, res: Response, message: IncomingMessage): void => {
    const response = receiveLogoutResponse(message, { serviceProviders: ctx.config.serviceProviders, sloUrl: endpoints.slo, now: ctx.clock.now() });
    const chain = req.session.samlLogout;
    if (!chain?.current || chain.current.spId !== response.sp.id || chain.current.requestId !== response.inResponseTo) {
      throw new IdpError('invalid_saml_request', `This LogoutResponse from "${response.sp.id}" does not answer a LogoutRequest this session is waiting for.`);
    }
    chain.results.push({
      spId: response.sp.id,
      name: response.sp.name,
      ok: response.success,
      detail: response.success ? 'signed out' : `answered ${response.statusCode}${response.subStatusCode ? ` / ${response.subStatusCode}` : ''}`,
    });
    chain.current = undefined;
    continueLogout(req, res);
  };

  const receiveSlo = (req: Request, res: Response, message: IncomingMessage): void => {
    const has = (name: string): boolean =>
      message.binding === 'redirect' ? new URLSearchParams(message.rawQuery).has(name) : (message.body as Record<string, unknown>)[name] !== undefined;
    if (has('SAMLRequest') === has('SAMLResponse')) {
      throw new IdpError('invalid_saml_request', 'A single logout message carries either a SAMLRequest or a SAMLResponse parameter.');
    }
    if (message.binding === 'post') {
      // Decode now, so that a bad message fails here; continue with a GET that carries the session cookie.
      const options = { serviceProviders: ctx.config.serviceProviders, sloUrl: endpoints.slo, now: ctx.clock.now() };
      if (has('SAMLRequest')) {
        const request = receiveLogoutRequest(message, options);
        replay.use(request.id, PENDING_TTL_MS, 'LogoutRequest', request.issuer);
      } else {
        receiveLogoutResponse(message, options);
      }
      const key = pending.put({ kind: 'message', message });
      noStore(res);
      res.redirect(303, `/saml/continue/${key}`);
      return;
    }
    handleSlo(req, res, message, true);
  };

  const handleSlo = (req: Request, res: Response, message: IncomingMessage, checkReplay: boolean): void => {
    const isRequest = message.binding === 'redirect' ? new URLSearchParams(message.rawQuery).has('SAMLRequest') : (message.body as Record<string, unknown>).SAMLRequest !== undefined;
    if (!isRequest) {
      answerLogoutResponse(req, res, message);
      return;
    }
    const request = receiveLogoutRequest(message, { serviceProviders: ctx.config.serviceProviders, sloUrl: endpoints.slo, now: ctx.clock.now() });
    if (checkReplay) replay.use(request.id, PENDING_TTL_MS, 'LogoutRequest', request.issuer);
    answerLogoutRequest(req, res, request);
  };

  // ---- routes ------------------------------------------------------------------

  router.get('/saml/metadata', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.type('application/samlmetadata+xml').send(metadata());
  });

  router.get('/saml/cert.pem', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.set('Content-Disposition', 'inline; filename="mock-idp-saml-signing.pem"');
    res.type('application/x-pem-file').send(ctx.keystore.saml.certificatePem);
  });

  router.get('/saml/cert.cer', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.set('Content-Disposition', 'attachment; filename="mock-idp-saml-signing.cer"');
    res.type('application/pkix-cert').send(ctx.keystore.saml.certificateDer);
  });

  router.get('/saml/sso', async (req, res) => {
    await receiveSso(req, res, { binding: 'redirect', rawQuery: rawQueryString(req) });
  });

  router.post('/saml/sso', async (req, res) => {
    await receiveSso(req, res, { binding: 'post', body: (req.body ?? {}) as Record<string, unknown> });
  });

  router.get('/saml/continue/:key', async (req, res) => {
    const item = pending.take(req.params.key);
    if (!item) {
      throw new IdpError('bad_request', 'This SAML request has expired or was already answered. Start the sign-in again from the service provider.');
    }
    if (item.kind === 'authn') {
      await answerAuthnRequest(req, res, item.request, item.receivedAt, item.choice);
      return;
    }
    handleSlo(req, res, item.message, false);
  });

  router.get('/saml/idp-init/:spId', async (req, res) => {
    const sp = samlSpById(ctx, req.params.spId);
    const relayState = singleQueryParam(req, 'RelayState');
    const choice = await recordingRefusals(ctx, req, { sp, protocol: 'saml', binding: 'post', initiator: 'idp', destination: sp.saml.acsUrls[0] }, async () =>
      samlDeliveryChoice(ctx, queryOf(req), sp),
    );
    const user = currentUser(ctx, req);
    if (!user) {
      redirectToLogin(req, res);
      return;
    }
    await sendAssertion(req, res, user, sp, sp.saml.acsUrls[0]!, undefined, relayState, choice);
  });

  router.get('/saml/slo', (req, res) => {
    receiveSlo(req, res, { binding: 'redirect', rawQuery: rawQueryString(req) });
  });

  router.post('/saml/slo', (req, res) => {
    receiveSlo(req, res, { binding: 'post', body: (req.body ?? {}) as Record<string, unknown> });
  });

  // IdP-initiated single logout: a confirmation page, then LogoutRequests to each SP in turn.
  router.get('/saml/logout', (req, res) => {
    const sps = Object.keys(req.session.saml?.sps ?? {})
      .map((id) => ctx.sp(id))
      .filter((sp): sp is SamlServiceProvider => sp !== undefined && isSamlSp(sp));
    noStore(res);
    res.render('saml-logout', { title: 'Sign out everywhere', csrf: csrfToken(req), sps, signedIn: currentUser(ctx, req) !== undefined });
  });

  router.post('/saml/logout', (req, res) => {
    refuseCrossSite(req);
    checkCsrf(req, field(req.body, 'csrf'));
    signOutLocally(req);
    req.session.samlLogout = { queue: Object.keys(req.session.saml?.sps ?? {}), results: [] };
    continueLogout(req, res);
  });

  return router;
}
