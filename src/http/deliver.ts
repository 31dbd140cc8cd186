/**
 * The last step of a single sign-on, shared by the JWT and SAML routes and the
 * review page: what the request asks for (fault=, review=), sending the token or
 * Response to the SP, and recording the flow.
 */
import type { Request, Response } from 'express';
import type { ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import { faultLabel, type JwtFault, type SamlFault } from '../faults/catalog.js';
import type { IssuedJwt, IssuedSamlResponse } from '../faults/injector.js';
import { parseJwtFaults, parseSamlFaults } from '../faults/parse.js';
import type { FlowBinding, FlowInput } from '../flows/history.js';
import { flowJwt, flowSaml } from '../flows/record.js';
import { appendToUrl } from '../jwt/redirect-url.js';
import { encodePost } from '../saml/binding.js';
import type { AppContext } from './context.js';
import { noStore } from './security.js';

/** What a sign-in request asks of its delivery. */
export interface DeliveryChoice<F> {
  faults: F[];
  review: boolean;
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);

function faultValues(ctx: AppContext, params: URLSearchParams): string[] {
  const values = params.getAll('fault').filter((v) => v.trim() !== '');
  if (values.length > 0 && !ctx.config.allowFaults) {
    throw new IdpError(
      'faults_disabled',
      'Fault injection is off, so the fault parameter is refused. Set allowFaults: true in the IdP config to use fault= on sign-in URLs, or add review=1 and choose a fault on the review page.',
    );
  }
  return values;
}

function wantsReview(sp: ResolvedServiceProvider, params: URLSearchParams): boolean {
  return sp.review || params.getAll('review').some((v) => TRUE.has(v.trim().toLowerCase()));
}

/** fault= and review= of a JWT sign-in. Throws IdpError('faults_disabled' | 'invalid_fault'). */
export function jwtDeliveryChoice(ctx: AppContext, params: URLSearchParams, sp: ResolvedServiceProvider): DeliveryChoice<JwtFault> {
  return { faults: parseJwtFaults(faultValues(ctx, params)), review: wantsReview(sp, params) };
}

/** fault= and review= of a SAML sign-in. Throws IdpError('faults_disabled' | 'invalid_fault'). */
export function samlDeliveryChoice(ctx: AppContext, params: URLSearchParams, sp: ResolvedServiceProvider): DeliveryChoice<SamlFault> {
  return { faults: parseSamlFaults(faultValues(ctx, params)), review: wantsReview(sp, params) };
}

/** The raw query of a request, without Express' parsing. */
export function queryOf(req: Request): URLSearchParams {
  const i = req.originalUrl.indexOf('?');
  return new URLSearchParams(i === -1 ? '' : req.originalUrl.slice(i + 1));
}

/** A JWT on its way to the SP. */
export interface JwtSend {
  method: 'redirect' | 'post';
  /** The redirect_url (the consumer). */
  url: string;
  token: string;
  relayState: string | undefined;
  /** Whether relayState is added (not when redirect_url already carries one). */
  addRelay: boolean;
  spName: string;
}

/** A SAML Response on its way to the ACS. */
export interface SamlSend {
  acsUrl: string;
  xml: string;
  relayState: string | undefined;
  spName: string;
}

function jwtFields(send: JwtSend): Record<string, string> {
  const fields: Record<string, string> = { jwt: send.token };
  if (send.addRelay && send.relayState !== undefined) fields.relayState = send.relayState;
  return fields;
}

function samlFields(send: SamlSend): Record<string, string> {
  const fields: Record<string, string> = { SAMLResponse: encodePost(send.xml) };
  if (send.relayState !== undefined) fields.RelayState = send.relayState;
  return fields;
}

/** Where a JWT lands: for redirect delivery, the redirect_url with jwt= (and relayState=) appended. */
export function jwtLocation(send: JwtSend): string {
  return send.method === 'redirect' ? appendToUrl(new URL(send.url), jwtFields(send)) : send.url;
}

export function sendJwt(res: Response, send: JwtSend): void {
  noStore(res);
  res.set('Referrer-Policy', 'no-referrer');
  if (send.method === 'post') {
    res.render('auto-post', { title: `Signing in to ${send.spName}`, action: send.url, fields: jwtFields(send), spName: send.spName });
    return;
  }
  res.redirect(302, jwtLocation(send));
}

/** The auto-POST page that carries a Response: its view and locals. */
export const SAML_POST_VIEW = 'saml-post';
export function samlPostLocals(send: SamlSend): Record<string, unknown> {
  return { title: `Signing in to ${send.spName}`, action: send.acsUrl, fields: samlFields(send), spName: send.spName };
}

export function sendSaml(res: Response, send: SamlSend): void {
  noStore(res);
  res.render(SAML_POST_VIEW, samlPostLocals(send));
}

/** A shell word in single quotes. */
function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The delivery as a curl command, to replay it from a terminal (what the browser would send). */
export function curlCommand(send: JwtSend | SamlSend): string {
  if ('token' in send) {
    if (send.method === 'redirect') return `curl -i ${sh(jwtLocation(send))}`;
    return ['curl -i', ...Object.entries(jwtFields(send)).map(([k, v]) => `--data-urlencode ${sh(`${k}=${v}`)}`), sh(send.url)].join(' \\\n  ');
  }
  return ['curl -i', ...Object.entries(samlFields(send)).map(([k, v]) => `--data-urlencode ${sh(`${k}=${v}`)}`), sh(send.acsUrl)].join(' \\\n  ');
}

/** Adds the SP to the session's list (for sign-out). */
export function rememberSp(req: Request, spId: string): void {
  const sps = req.session.sps ?? [];
  if (!sps.includes(spId)) req.session.sps = [...sps, spId];
}

/** The flow history entry of a JWT delivery. */
export function jwtFlow(
  sp: ResolvedServiceProvider,
  user: string,
  send: JwtSend,
  issued: IssuedJwt,
  extra: { binding?: FlowBinding; outcome?: FlowInput['outcome']; reviewed?: boolean; edited?: boolean; faults?: string[] } = {},
): FlowInput {
  return {
    protocol: 'jwt',
    binding: extra.binding ?? send.method,
    initiator: extra.binding === 'json' ? 'widget' : 'sp',
    sp: { id: sp.id, name: sp.name },
    user,
    destination: send.url,
    faults: extra.faults ?? issued.faults.map(faultLabel),
    reviewed: extra.reviewed ?? false,
    edited: extra.edited ?? false,
    outcome: extra.outcome ?? 'delivered',
    jwt: flowJwt(issued.token),
  };
}

/** The flow history entry of a SAML Response delivery. */
export function samlFlow(
  sp: ResolvedServiceProvider,
  user: string | undefined,
  send: SamlSend,
  issued: Pick<IssuedSamlResponse, 'xml'> & Partial<IssuedSamlResponse>,
  inResponseTo: string | undefined,
  extra: { outcome?: FlowInput['outcome']; reviewed?: boolean; edited?: boolean; detail?: string | undefined } = {},
): FlowInput {
  return {
    protocol: 'saml',
    binding: 'post',
    initiator: inResponseTo === undefined ? 'idp' : 'sp',
    sp: { id: sp.id, name: sp.name },
    user,
    destination: send.acsUrl,
    faults: (issued.faults ?? []).map(faultLabel),
    reviewed: extra.reviewed ?? false,
    edited: extra.edited ?? false,
    outcome: extra.outcome ?? 'delivered',
    detail: extra.detail,
    saml: flowSaml(issued, inResponseTo),
  };
}

/** The flow history entry of a JWT minted through the control API (POST /api/tokens). */
export function apiJwtFlow(sp: ResolvedServiceProvider, user: string, issued: IssuedJwt): FlowInput {
  return {
    protocol: 'jwt',
    binding: 'json',
    initiator: 'api',
    sp: { id: sp.id, name: sp.name },
    user,
    destination: undefined,
    faults: issued.faults.map(faultLabel),
    outcome: 'delivered',
    jwt: flowJwt(issued.token),
  };
}

/** The flow history entry of a SAML Response built through the control API (POST /api/saml/responses). */
export function apiSamlFlow(sp: ResolvedServiceProvider, user: string, issued: IssuedSamlResponse, acsUrl: string, inResponseTo: string | undefined): FlowInput {
  return { ...samlFlow(sp, user, { acsUrl, xml: issued.xml, relayState: undefined, spName: sp.name }, issued, inResponseTo), binding: 'json', initiator: 'api' };
}

/**
 * Runs a sign-in step and records a "refused" flow when it fails with an error the
 * user sees (an unregistered redirect_url, a bad fault, a user without a NameID),
 * then lets the error handler answer as usual.
 */
export async function recordingRefusals<T>(
  ctx: AppContext,
  req: Request,
  what: { sp: ResolvedServiceProvider; protocol: 'jwt' | 'saml'; binding: FlowBinding; initiator: 'sp' | 'idp' | 'widget'; destination?: string | undefined },
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof IdpError && err.expose) {
      ctx.flows.record({
        protocol: what.protocol,
        binding: what.binding,
        initiator: what.initiator,
        sp: { id: what.sp.id, name: what.sp.name },
        user: req.session?.user?.email,
        destination: what.destination,
        outcome: 'refused',
        detail: err.message,
      });
    }
    throw err;
  }
}

/** A delivery after review: the flow to update, whether it was reviewed or edited, the faults chosen there. */
export interface SamlNoteExtra {
  flowId?: string | undefined;
  reviewed?: boolean;
  edited?: boolean;
}
export type JwtNoteExtra = SamlNoteExtra & { faults?: string[] };

/** Notes a JWT sent to the SP: the jti for replayed-jti (fault-free tokens only), and the flow (new, or the reviewed one updated). */
export function noteJwt(
  ctx: AppContext,
  sp: ResolvedServiceProvider,
  user: string,
  send: JwtSend,
  issued: IssuedJwt,
  extra: JwtNoteExtra = {},
): void {
  if (issued.faults.length === 0 && !extra.faults?.length) ctx.faults.remember(sp.id, { jti: issued.claims.jti });
  const flow = jwtFlow(sp, user, send, issued, { reviewed: extra.reviewed ?? false, edited: extra.edited ?? false, ...(extra.faults ? { faults: extra.faults } : {}) });
  if (extra.flowId === undefined || !ctx.flows.update(extra.flowId, flow)) ctx.flows.record(flow);
}

/** Sends a JWT to the SP and records it: what noteJwt notes, and the SP in the session (for sign-out). */
export function completeJwt(
  ctx: AppContext,
  req: Request,
  res: Response,
  sp: ResolvedServiceProvider,
  user: string,
  send: JwtSend,
  issued: IssuedJwt,
  extra: JwtNoteExtra = {},
): void {
  rememberSp(req, sp.id);
  noteJwt(ctx, sp, user, send, issued, extra);
  sendJwt(res, send);
}

/** Notes a SAML Response sent to the ACS: the assertion ID for replayed-assertion (fault-free ones only), and the flow. */
export function noteSaml(
  ctx: AppContext,
  sp: ResolvedServiceProvider,
  user: string,
  send: SamlSend,
  issued: IssuedSamlResponse,
  inResponseTo: string | undefined,
  extra: SamlNoteExtra = {},
): void {
  if (issued.faults.length === 0) ctx.faults.remember(sp.id, { assertionId: issued.assertionId });
  const flow = samlFlow(sp, user, send, issued, inResponseTo, { reviewed: extra.reviewed ?? false, edited: extra.edited ?? false });
  if (extra.flowId === undefined || !ctx.flows.update(extra.flowId, flow)) ctx.flows.record(flow);
}

/** Sends a SAML Response to the ACS and records it: the session's SAML state (for logout), what noteSaml notes. */
export function completeSaml(
  ctx: AppContext,
  req: Request,
  res: Response,
  sp: ResolvedServiceProvider,
  user: string,
  send: SamlSend,
  issued: IssuedSamlResponse,
  request: { inResponseTo: string | undefined; sessionIndex: string },
  extra: SamlNoteExtra = {},
): void {
  const state = (req.session.saml ??= { sessionIndex: request.sessionIndex, sps: {} });
  state.sps[sp.id] = { nameId: issued.nameId };
  rememberSp(req, sp.id);
  noteSaml(ctx, sp, user, send, issued, request.inResponseTo, extra);
  sendSaml(res, send);
}
