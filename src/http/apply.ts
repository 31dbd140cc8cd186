/**
 * The one applier: turns a sign-in outcome (src/sso/) into an answer, with the
 * session write, the flow history entry, the replay memory and the page or
 * redirect. Every delivery of a token or Response to a browser ends in
 * `deliverJwt` or `deliverSaml`, whoever decided it (an SP's sign-in, IdP-initiated
 * SAML, the review page's Send).
 */
import type { Request, Response } from 'express';
import { IdpError } from '../errors.js';
import { jwtEntry, refusalEntry, samlEntry } from '../flows/entries.js';
import { recordDelivery } from '../issue/delivered.js';
import type { IssuedJwt, IssuedSamlResponse } from '../issue/issuer.js';
import { buildStatusResponse } from '../saml/response.js';
import type { JwtOutcome, RefusalRecord, Refuse, SamlDelivery, SamlLogin, SamlOutcome, SamlStatusAnswer } from '../sso/types.js';
import type { JwtSp, SamlSp } from '../sps.js';
import { jwtAnswer, samlAnswer, writeAnswer, type Answer, type JwtSend, type SamlSend } from './answer.js';
import type { AppContext } from './context.js';
import { holdJwt, holdSaml } from './review-store.js';
import { redirectToLogin, rememberDelivery, startSession } from './session-user.js';

/** Runs an issuing step; an error the user sees is written into the flow history as a refusal, then answered as usual. */
export async function recording<T>(ctx: AppContext, req: Request, record: RefusalRecord | undefined, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (record && err instanceof IdpError && err.expose) await ctx.flows.record(refusalEntry(record, req.session?.user?.email, err.message));
    throw err;
  }
}

/** A refusal: recorded when the decision had named the SP, then thrown for the error handler. */
export async function refuse(ctx: AppContext, req: Request, outcome: Refuse): Promise<never> {
  if (outcome.record) await ctx.flows.record(refusalEntry(outcome.record, req.session?.user?.email, outcome.error.message));
  throw outcome.error;
}

/** After review: the flow to update, whether it was edited, the faults chosen there. */
export interface ReviewedExtra {
  flowId: string;
  edited: boolean;
  faults: string[];
}

/** What the IdP notes of a JWT sent to an SP, and the answer that sends it (no session write: the fast path answers with this alone). */
export async function deliveredJwt(ctx: AppContext, sp: JwtSp, user: string, send: JwtSend, issued: IssuedJwt, accept: string | undefined, reviewed?: ReviewedExtra): Promise<Answer> {
  const faultFree = issued.faults.length === 0 && !reviewed?.faults.length;
  await recordDelivery(ctx, {
    flow: jwtEntry(sp, user, issued, { binding: send.method, initiator: 'sp', destination: send.url }, reviewed ? { reviewed: true, edited: reviewed.edited, faults: reviewed.faults } : {}),
    sent: faultFree ? { spId: sp.id, jti: issued.claims.jti } : undefined,
    flowId: reviewed?.flowId,
  });
  return jwtAnswer(send, accept, ctx.render);
}

/** What the IdP notes of a SAML Response sent to an ACS, and the answer that sends it (no session write). */
export async function deliveredSaml(
  ctx: AppContext,
  sp: SamlSp,
  user: string,
  send: SamlSend,
  issued: IssuedSamlResponse,
  inResponseTo: string | undefined,
  reviewed?: Omit<ReviewedExtra, 'faults'>,
): Promise<Answer> {
  await recordDelivery(ctx, {
    flow: samlEntry(sp, user, issued, { acsUrl: send.acsUrl, inResponseTo }, reviewed ? { reviewed: true, edited: reviewed.edited } : {}),
    sent: issued.faults.length === 0 ? { spId: sp.id, assertionId: issued.assertionId } : undefined,
    nameId: { spId: sp.id, email: user, sent: issued.subject },
    flowId: reviewed?.flowId,
  });
  return samlAnswer(send, ctx.render);
}

/** Sends a JWT to the SP's consumer, with what the session and the IdP note of it. */
export async function deliverJwt(ctx: AppContext, req: Request, res: Response, sp: JwtSp, user: string, send: JwtSend, issued: IssuedJwt, reviewed?: ReviewedExtra): Promise<void> {
  rememberDelivery(req, sp.id);
  writeAnswer(res, await deliveredJwt(ctx, sp, user, send, issued, req.get('accept'), reviewed));
}

/** Sends a SAML Response to the ACS, with what the session (SessionIndex, NameID) and the IdP note of it. */
export async function deliverSaml(
  ctx: AppContext,
  req: Request,
  res: Response,
  sp: SamlSp,
  user: string,
  send: SamlSend,
  issued: IssuedSamlResponse,
  request: { inResponseTo: string | undefined; sessionIndex: string },
  reviewed?: Omit<ReviewedExtra, 'faults'>,
): Promise<void> {
  rememberDelivery(req, sp.id, { sessionIndex: request.sessionIndex, nameId: issued.subject });
  writeAnswer(res, await deliveredSaml(ctx, sp, user, send, issued, request.inResponseTo, reviewed));
}

/** Answers a JWT sign-in's outcome. */
export async function applyJwt(ctx: AppContext, req: Request, res: Response, outcome: JwtOutcome): Promise<void> {
  if (outcome.kind === 'refuse') return refuse(ctx, req, outcome);
  if (outcome.kind === 'login') {
    redirectToLogin(req, res);
    return;
  }
  const { sp, user } = outcome;
  if (outcome.session.signIn) await startSession(req, user.email, ctx.clock.now());
  const issued = await recording(ctx, req, outcome.record, () => ctx.issuer.jwt(sp, user, { faults: outcome.faults }));
  const send: JwtSend = { ...outcome.target, token: issued.token, spName: sp.name };
  if (outcome.kind === 'review') return holdJwt(ctx, req, res, sp, user.email, send, issued);
  await deliverJwt(ctx, req, res, sp, user.email, send, issued);
}

/** A Response with an error status and no assertion, auto-POSTed to the ACS, and its flow. */
async function answerStatus(ctx: AppContext, res: Response, outcome: SamlStatusAnswer): Promise<void> {
  const { sp, acsUrl, inResponseTo, relayState, status } = outcome;
  const { xml } = buildStatusResponse(ctx.issuer.samlIdp, { sp, acsUrl, inResponseTo, status });
  await ctx.flows.record(samlEntry(sp, undefined, { xml }, { acsUrl, inResponseTo }, { outcome: 'status', detail: status.message }));
  writeAnswer(res, await samlAnswer({ acsUrl, xml, relayState, spName: sp.name }, ctx.render, 'Returning to'));
}

async function answerAssertion(ctx: AppContext, req: Request, res: Response, d: SamlDelivery): Promise<void> {
  const { sp, user } = d;
  if (d.session.signIn) await startSession(req, user.email, ctx.clock.now());
  const request = { acsUrl: d.acsUrl, inResponseTo: d.inResponseTo, sessionIndex: d.sessionIndex ?? ctx.ids.samlId(), authnInstant: d.authnInstant, nameId: d.nameId };
  const issued = await recording(ctx, req, d.record, () => ctx.issuer.samlResponse({ sp, user, ...request }, { faults: d.faults, wantAssertionXml: d.kind === 'review' }));
  const send: SamlSend = { acsUrl: d.acsUrl, xml: issued.xml, relayState: d.relayState, spName: sp.name };
  if (d.kind === 'review') {
    req.session.saml ??= { sessionIndex: request.sessionIndex, sps: {} };
    return holdSaml(ctx, req, res, sp, user.email, send, issued, request);
  }
  await deliverSaml(ctx, req, res, sp, user.email, send, issued, request);
}

/** Answers a SAML sign-in's outcome; `login` sends the browser to the form (it depends on how the request came in). */
export async function applySaml(ctx: AppContext, req: Request, res: Response, outcome: SamlOutcome, login: (o: SamlLogin) => Promise<void>): Promise<void> {
  switch (outcome.kind) {
    case 'refuse':
      return refuse(ctx, req, outcome);
    case 'status':
      return answerStatus(ctx, res, outcome);
    case 'login':
      if (outcome.signIn && outcome.user) await startSession(req, outcome.user.email, ctx.clock.now());
      return login(outcome);
    default:
      return answerAssertion(ctx, req, res, outcome);
  }
}

/** The login form for an IdP-initiated sign-in: back to this request afterwards. */
export function loginForThisRequest(req: Request, res: Response): Promise<void> {
  redirectToLogin(req, res);
  return Promise.resolve();
}
