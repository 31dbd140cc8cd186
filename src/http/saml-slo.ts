/**
 * SAML single logout over HTTP: SP-initiated (a LogoutRequest to /saml/slo) and
 * IdP-initiated (/saml/logout), each SP told in turn with a LogoutRequest, the
 * chain kept in the session.
 */
import { Router, type Request, type Response } from 'express';
import { IdpError } from '../errors.js';
import { rawQueryOf } from '../params.js';
import type { IncomingMessage } from '../saml/binding.js';
import { NAMEID_FORMAT, type SamlStatus } from '../saml/constants.js';
import { buildLogoutRequest, buildLogoutResponse, deliver, receiveLogoutRequest, receiveLogoutResponse, type Delivery, type LogoutRequest } from '../saml/logout.js';
import { samlEndpoints } from '../saml/metadata.js';
import { nameIdOf, namesSent, rememberedNameId, type SamlNameId } from '../saml/nameid.js';
import { acceptOnce } from '../sso/saml.js';
import { isSamlSp, requireSp, type SamlSp } from '../sps.js';
import type { User } from '../users/store.js';
import { postAnswer, writeAnswer } from './answer.js';
import type { AppContext } from './context.js';
import { park } from './saml-pending.js';
import { SESSION_COOKIE } from './session.js';
import { currentUser } from './session-user.js';
import type { LogoutChain } from './session-types.js';
import { checkCsrf, csrfToken, field, noStore, refuseCrossSite } from './security.js';

export interface SloHandler {
  router: Router;
  /** A logout message continued after its cross-site POST. */
  continueMessage(req: Request, res: Response, message: IncomingMessage): Promise<void>;
}

export function samlSlo(ctx: AppContext): SloHandler {
  const router = Router();
  const endpoints = () => samlEndpoints(ctx.config.baseUrl);
  const options = () => ({ serviceProviders: ctx.config.serviceProviders, sloUrl: endpoints().slo, now: ctx.clock.now() });

  const send = async (res: Response, delivery: Delivery, sp: SamlSp, what: string): Promise<void> => {
    noStore(res);
    if (delivery.binding === 'redirect') {
      res.redirect(303, delivery.url);
      return;
    }
    writeAnswer(res, await postAnswer(ctx.render, 'saml-post', `${what} ${sp.name}`, delivery.url, delivery.fields, sp.name));
  };

  /** Ends the IdP session's sign-in (the chain state stays until it is done). */
  const signOutLocally = (req: Request): void => {
    delete req.session.user;
  };

  /** Sends the next LogoutRequest of the chain, or finishes it. */
  const continueLogout = async (req: Request, res: Response): Promise<void> => {
    const chain = req.session.samlLogout;
    if (!chain) throw new IdpError('bad_request', 'There is no single logout in progress.');
    const spsState = req.session.saml?.sps ?? {};
    const idp = ctx.issuer.samlIdp;
    while (chain.queue.length > 0) {
      const spId = chain.queue.shift()!;
      const sp = ctx.sp(spId);
      const participant = sp && isSamlSp(sp) ? rememberedNameId(spsState[spId], sp) : undefined;
      if (!sp || !isSamlSp(sp) || sp.saml.sloUrl === null || !participant) continue;
      // The NameID exactly as the SP received it: value, Format and qualifiers.
      const built = buildLogoutRequest(idp, { sp, nameId: participant, sessionIndex: req.session.saml?.sessionIndex });
      chain.current = { spId, requestId: built.id };
      await send(res, deliver(idp, built, 'SAMLRequest', 'redirect'), sp, 'Signing out of');
      return;
    }
    await finishLogout(req, res, chain);
  };

  const finishLogout = async (req: Request, res: Response, chain: LogoutChain): Promise<void> => {
    const answer = chain.answer;
    const partial = chain.results.some((r) => !r.ok);
    const notTold = untoldSps(req.session.sps ?? [], chain);
    // The session is over: drop it (its sign-in was already removed when the logout started).
    req.session.destroy(() => undefined);
    res.clearCookie(SESSION_COOKIE);
    if (answer) {
      const sp = requireSp(ctx, answer.spId, 'saml');
      const status: SamlStatus | 'Success' = partial ? { code: 'Responder', subCode: 'PartialLogout', message: 'Not every service provider confirmed the logout.' } : 'Success';
      const idp = ctx.issuer.samlIdp;
      const built = buildLogoutResponse(idp, { sp, inResponseTo: answer.inResponseTo, status });
      await send(res, deliver(idp, built, 'SAMLResponse', answer.binding, answer.relayState), sp, 'Returning to');
      return;
    }
    noStore(res);
    res.render('saml-signed-out', { title: 'Signed out', results: chain.results, notTold });
  };

  /**
   * The SPs this session signed in to that single logout did not sign out, and why: JWT has no
   * single logout (an SP told over SAML may still hold a JWT sign-in), a SAML SP without an sloUrl.
   */
  const untoldSps = (signedInTo: readonly string[], chain: LogoutChain): { name: string; why: string }[] => {
    const told = new Set(chain.results.filter((r) => r.ok).map((r) => r.spId));
    return signedInTo.flatMap((id) => {
      const sp = ctx.sp(id);
      if (!sp) return [];
      if (told.has(id)) return sp.jwt ? [{ name: sp.name, why: 'its SAML session was ended; a JWT sign-in to it keeps its own session (JWT has no single logout)' }] : [];
      if (chain.results.some((r) => r.spId === id)) return [];
      if (sp.saml && !sp.jwt) return [{ name: sp.name, why: 'not told: it has no saml.sloUrl, so it keeps its own session' }];
      return [{ name: sp.name, why: 'not told: JWT has no single logout, so it keeps its own session' }];
    });
  };

  /**
   * Whether a LogoutRequest's NameID names the signed-in user, as this SP knows them:
   * the NameID this session sent it; when it sent none, the one the SP's default
   * format gives (a transient one is never a guess).
   */
  const sameSubject = (req: Request, user: User, sp: SamlSp, request: LogoutRequest): boolean => {
    const named = { value: request.nameId, format: request.nameIdFormat, nameQualifier: request.nameQualifier, spNameQualifier: request.spNameQualifier };
    const sent = rememberedNameId(req.session.saml?.sps[sp.id], sp);
    if (sent !== undefined) return namesSent(sent, named);
    if (sp.saml.nameIdFormat === NAMEID_FORMAT.transient) return false;
    let expected: SamlNameId;
    try {
      expected = nameIdOf({ sp, user, format: sp.saml.nameIdFormat, source: ctx.nameIds });
    } catch {
      return false;
    }
    return namesSent(expected, named);
  };

  /** The SP-initiated LogoutRequest: end the IdP session, log the other SPs out, answer the SP. */
  const answerLogoutRequest = async (req: Request, res: Response, request: LogoutRequest): Promise<void> => {
    const sp = request.sp;
    if (sp.saml.sloUrl === null) {
      throw new IdpError('bad_request', `The service provider "${sp.id}" has no saml.sloUrl to send the LogoutResponse to.`);
    }
    const user = currentUser(ctx, req);
    const answer = { spId: sp.id, inResponseTo: request.id, relayState: request.relayState, binding: request.binding };
    if (user && !sameSubject(req, user, sp, request)) {
      // Another user's session in this browser: leave it alone.
      const idp = ctx.issuer.samlIdp;
      const built = buildLogoutResponse(idp, {
        sp,
        inResponseTo: request.id,
        status: { code: 'Requester', subCode: 'UnknownPrincipal', message: 'The IdP session in this browser belongs to someone else.' },
      });
      await send(res, deliver(idp, built, 'SAMLResponse', request.binding, request.relayState), sp, 'Returning to');
      return;
    }
    signOutLocally(req);
    const others = Object.keys(req.session.saml?.sps ?? {}).filter((id) => id !== sp.id);
    req.session.samlLogout = { queue: others, results: [], answer };
    await continueLogout(req, res);
  };

  const answerLogoutResponse = async (req: Request, res: Response, message: IncomingMessage): Promise<void> => {
    const response = receiveLogoutResponse(message, options());
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
    await continueLogout(req, res);
  };

  const isRequest = (message: IncomingMessage, name = 'SAMLRequest'): boolean =>
    message.binding === 'redirect' ? new URLSearchParams(message.rawQuery).has(name) : (message.body as Record<string, unknown>)[name] !== undefined;

  const handle = async (req: Request, res: Response, message: IncomingMessage, checkReplay: boolean): Promise<void> => {
    if (!isRequest(message)) {
      await answerLogoutResponse(req, res, message);
      return;
    }
    const request = receiveLogoutRequest(message, options());
    if (checkReplay) await acceptOnce(ctx.state, 'LogoutRequest', request.issuer, request.id);
    await answerLogoutRequest(req, res, request);
  };

  const receive = async (req: Request, res: Response, message: IncomingMessage): Promise<void> => {
    if (isRequest(message) === isRequest(message, 'SAMLResponse')) {
      throw new IdpError('invalid_saml_request', 'A single logout message carries either a SAMLRequest or a SAMLResponse parameter.');
    }
    if (message.binding === 'post') {
      // Decode now, so that a bad message fails here; continue with a GET that carries the session cookie.
      if (isRequest(message)) {
        const request = receiveLogoutRequest(message, options());
        await acceptOnce(ctx.state, 'LogoutRequest', request.issuer, request.id);
      } else {
        receiveLogoutResponse(message, options());
      }
      const key = await park(ctx.state, { kind: 'message', message });
      noStore(res);
      res.redirect(303, `/saml/continue/${key}`);
      return;
    }
    await handle(req, res, message, true);
  };

  router.get('/saml/slo', (req, res) => receive(req, res, { binding: 'redirect', rawQuery: rawQueryOf(req.originalUrl) }));
  router.post('/saml/slo', (req, res) => receive(req, res, { binding: 'post', body: (req.body ?? {}) as Record<string, unknown> }));

  // IdP-initiated single logout: a confirmation page, then LogoutRequests to each SP in turn.
  router.get('/saml/logout', (req, res) => {
    const sps = Object.keys(req.session.saml?.sps ?? {})
      .map((id) => ctx.sp(id))
      .filter((sp): sp is SamlSp => sp !== undefined && isSamlSp(sp));
    noStore(res);
    res.render('saml-logout', { title: 'Sign out everywhere', csrf: csrfToken(req), sps, signedIn: currentUser(ctx, req) !== undefined });
  });

  router.post('/saml/logout', async (req, res) => {
    refuseCrossSite(req);
    checkCsrf(req, field(req.body, 'csrf'));
    signOutLocally(req);
    req.session.samlLogout = { queue: Object.keys(req.session.saml?.sps ?? {}), results: [] };
    await continueLogout(req, res);
  });

  return { router, continueMessage: (req, res, message) => handle(req, res, message, false) };
}
