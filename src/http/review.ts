/**
 * Review before sending: with `review: true` on an SP or `review=1` on the sign-in
 * request, the token or SAML Response is held server-side and the signed-in user
 * sees it first, decoded, with its destination. From there: Send it as it is, Edit
 * the claims (or the NameID and attributes) and send it signed anew, copy it as a
 * curl command, or rebuild it with a fault.
 *
 * A held delivery lives in a bounded in-memory map under an unguessable key, tied to
 * the browser session that made it, for at most 10 minutes; every action on it is a
 * CSRF-checked POST, and sending consumes it (a second Send finds nothing).
 */
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import type { JWTPayload } from 'jose';
import type { ResolvedJwtSp, ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import { faultCatalog, faultLabel, faultInfo, type FaultProtocol, type JwtFault, type SamlFault } from '../faults/catalog.js';
import type { IssuedJwt, IssuedSamlResponse } from '../faults/injector.js';
import { jwtSignatureFaultOf } from '../faults/jwt.js';
import { parseFaults } from '../faults/parse.js';
import { parseSamlEdit, type SamlEdit } from '../faults/saml.js';
import { flowJwt } from '../flows/record.js';
import { inspectJwt, jwtTrustOf } from '../inspect/jwt.js';
import { prettyForHistory } from '../flows/record.js';
import { inspectSaml, samlTrustOf } from '../inspect/saml.js';
import { isSamlSp, type SamlServiceProvider } from '../saml/inbound.js';
import type { SamlIdpContext } from '../saml/response.js';
import type { User } from '../users/store.js';
import type { AppContext } from './context.js';
import { completeJwt, completeSaml, curlCommand, jwtFlow, jwtLocation, samlFlow, type JwtSend, type SamlSend } from './deliver.js';
import { currentUser } from './login.js';
import { checkCsrf, csrfToken, field, noStore, refuseCrossSite } from './security.js';

type JwtSp = ResolvedServiceProvider & { jwt: ResolvedJwtSp };

/** How long a held delivery waits for its Send. */
export const REVIEW_TTL_MS = 10 * 60 * 1000;
/** At most this many held deliveries at once (the oldest go first). */
export const MAX_PENDING_REVIEWS = 1000;

interface PendingBase {
  sessionId: string;
  flowId: string;
  spId: string;
  user: string;
  expires: number;
  edited: boolean;
}

interface PendingJwt extends PendingBase {
  protocol: 'jwt';
  faults: JwtFault[];
  send: JwtSend;
  issued: IssuedJwt;
}

interface PendingSaml extends PendingBase {
  protocol: 'saml';
  faults: SamlFault[];
  send: SamlSend;
  issued: IssuedSamlResponse;
  request: { acsUrl: string; inResponseTo: string | undefined; sessionIndex: string; authnInstant: number };
  edit: SamlEdit | undefined;
}

type Pending = PendingJwt | PendingSaml;

/** The held deliveries of one IdP. */
class ReviewStore {
  readonly #items = new Map<string, Pending>();
  constructor(private readonly now: () => number) {}

  put(item: Omit<PendingJwt, 'expires'> | Omit<PendingSaml, 'expires'>): string {
    const now = this.now();
    for (const [k, v] of this.#items) {
      if (v.expires > now && this.#items.size < MAX_PENDING_REVIEWS) break;
      this.#items.delete(k);
    }
    const key = crypto.randomBytes(18).toString('base64url');
    this.#items.set(key, { ...item, expires: now + REVIEW_TTL_MS } as Pending);
    return key;
  }

  /** The item, if it exists, is still valid and belongs to this session. */
  peek(key: string, sessionId: string): Pending | undefined {
    const item = this.#items.get(key);
    if (!item) return undefined;
    if (item.expires <= this.now()) {
      this.#items.delete(key);
      return undefined;
    }
    return item.sessionId === sessionId ? item : undefined;
  }

  /** The item, once. */
  take(key: string, sessionId: string): Pending | undefined {
    const item = this.peek(key, sessionId);
    if (item) this.#items.delete(key);
    return item;
  }

  get size(): number {
    return this.#items.size;
  }
}

const stores = new WeakMap<AppContext, ReviewStore>();

function storeOf(ctx: AppContext): ReviewStore {
  let store = stores.get(ctx);
  if (!store) {
    store = new ReviewStore(() => ctx.clock.now());
    stores.set(ctx, store);
  }
  return store;
}

/** Holds a JWT for review and sends the browser to the review page. */
export function holdJwtForReview(ctx: AppContext, req: Request, res: Response, sp: JwtSp, user: User, send: JwtSend, issued: IssuedJwt, faults: JwtFault[]): void {
  const flow = ctx.flows.record(jwtFlow(sp, user.email, send, issued, { outcome: 'awaiting-review', reviewed: true }));
  const key = storeOf(ctx).put({ protocol: 'jwt', sessionId: req.sessionID, flowId: flow.id, spId: sp.id, user: user.email, edited: false, faults, send, issued });
  noStore(res);
  res.redirect(303, `/review/${key}`);
}

/** Holds a SAML Response for review and sends the browser to the review page. */
export function holdSamlForReview(
  ctx: AppContext,
  req: Request,
  res: Response,
  sp: SamlServiceProvider,
  user: User,
  send: SamlSend,
  issued: IssuedSamlResponse,
  request: PendingSaml['request'],
): void {
  const flow = ctx.flows.record(samlFlow(sp, user.email, send, issued, request.inResponseTo, { outcome: 'awaiting-review', reviewed: true }));
  const key = storeOf(ctx).put({
    protocol: 'saml',
    sessionId: req.sessionID,
    flowId: flow.id,
    spId: sp.id,
    user: user.email,
    edited: false,
    faults: issued.faults,
    send,
    issued,
    request,
    edit: undefined,
  });
  noStore(res);
  res.redirect(303, `/review/${key}`);
}

const GONE = 'This review has expired, was already sent, or belongs to another browser session. Start the sign-in again from the service provider.';

function samlIdp(ctx: AppContext): SamlIdpContext {
  return { entityId: ctx.config.saml.entityId, credentials: ctx.keystore.saml, clock: ctx.clock, newId: ctx.ids.samlId };
}

function jwtSpOf(ctx: AppContext, id: string): JwtSp {
  const sp = ctx.sp(id);
  if (!sp?.jwt) throw new IdpError('not_found', `The service provider "${id}" of this review no longer has JWT single sign-on.`);
  return sp as JwtSp;
}

function samlSpOf(ctx: AppContext, id: string): SamlServiceProvider {
  const sp = ctx.sp(id);
  if (!sp || !isSamlSp(sp)) throw new IdpError('not_found', `The service provider "${id}" of this review no longer has SAML single sign-on.`);
  return sp;
}

/** The signed-in user, who must be the one the delivery was made for. */
function sameUser(ctx: AppContext, req: Request, item: Pending): User {
  const user = currentUser(ctx, req);
  if (!user || user.email !== item.user) throw new IdpError('not_signed_in', `Sign in to mock-idp as ${item.user} again; this review was made for that session.`);
  return user;
}

/** The SAML edit JSON the form starts with: the NameID and attributes as sent. */
function samlEditOf(issued: IssuedSamlResponse, inspection: ReturnType<typeof inspectSaml>): SamlEdit {
  const assertion = inspection.assertions[0];
  return { nameId: issued.nameId, attributes: Object.fromEntries(Object.entries(assertion?.attributes ?? {}).map(([k, v]) => [k, v.length === 1 ? v[0]! : v])) };
}

interface ViewOptions {
  status?: number;
  error?: string | undefined;
  /** The user's own text, kept when it was refused. */
  editText?: string | undefined;
  faultText?: string | undefined;
}

function render(ctx: AppContext, req: Request, res: Response, key: string, item: Pending, options: ViewOptions = {}): void {
  const sp = ctx.sp(item.spId);
  const protocol: FaultProtocol = item.protocol;
  const now = ctx.clock.now();
  const base = {
    title: `Review before sending to ${sp?.name ?? item.spId}`,
    csrf: csrfToken(req),
    key,
    spName: sp?.name ?? item.spId,
    spId: item.spId,
    user: item.user,
    protocol,
    faults: item.faults.map((f) => ({ label: faultLabel(f), info: faultInfo(protocol, f.name) })),
    catalog: faultCatalog(protocol),
    selectedFault: item.faults.length === 1 ? item.faults[0]!.name : '',
    skewSeconds: item.faults.find((f): f is Extract<JwtFault, { name: 'clock-skew' }> => f.name === 'clock-skew')?.seconds ?? 120,
    edited: item.edited,
    error: options.error,
    expiresAt: new Date(item.expires).toISOString(),
    curl: curlCommand(item.send),
  };
  noStore(res);
  res.status(options.status ?? 200);
  if (item.protocol === 'jwt') {
    const inspection = inspectJwt(item.issued.token, jwtTrustOf({ keystore: ctx.keystore, secrets: ctx.jwtSigner.secrets, serviceProviders: ctx.config.serviceProviders }), now);
    res.render('review', {
      ...base,
      destination: item.send.url,
      method: item.send.method === 'post' ? 'form POST (field jwt)' : 'redirect (302 with jwt= in the query)',
      location: item.send.method === 'redirect' ? jwtLocation(item.send) : undefined,
      relayState: item.send.addRelay ? item.send.relayState : undefined,
      jwt: { token: item.issued.token, header: JSON.stringify(inspection.header, null, 2), claims: JSON.stringify(inspection.claims, null, 2), inspection },
      saml: undefined,
      editText: options.editText ?? JSON.stringify(item.issued.claims, null, 2),
      editLabel: 'Claims (JSON)',
    });
    return;
  }
  const inspection = inspectSaml(item.issued.xml, samlTrustOf({ keystore: ctx.keystore, serviceProviders: ctx.config.serviceProviders }), now);
  res.render('review', {
    ...base,
    destination: item.send.acsUrl,
    method: 'form POST (field SAMLResponse)',
    location: undefined,
    relayState: item.send.relayState,
    jwt: undefined,
    saml: {
      inspection,
      inResponseTo: item.request.inResponseTo,
      clearAssertion: item.issued.encrypted && item.issued.assertionXml ? prettyForHistory(item.issued.assertionXml) : undefined,
    },
    editText: options.editText ?? JSON.stringify(item.edit ?? samlEditOf(item.issued, inspection), null, 2),
    editLabel: 'NameID and attributes (JSON)',
  });
}

/** Parses the edited JSON of a JWT: an object of claims. */
function parseClaims(text: string): JWTPayload {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new IdpError('bad_request', `The claims are not valid JSON: ${err instanceof Error ? err.message : String(err)}.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new IdpError('bad_request', 'The claims must be a JSON object, such as {"sub": "…", "email": "…"}.');
  return value as JWTPayload;
}

function parseEditJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new IdpError('bad_request', `The edited assertion is not valid JSON: ${err instanceof Error ? err.message : String(err)}.`);
  }
}

/** The fault chosen in the form: a name from the list, with its seconds for clock-skew; '' for none. */
function chosenFault(body: unknown): string {
  const name = (field(body, 'fault') ?? '').trim();
  if (name === 'clock-skew') return `clock-skew=${(field(body, 'seconds') ?? '').trim()}`;
  return name;
}

export function reviewRouter(ctx: AppContext): Router {
  const router = Router();
  const store = storeOf(ctx);

  const find = (req: Request): { key: string; item: Pending } => {
    const key = String(req.params.key ?? '');
    const item = store.peek(key, req.sessionID);
    if (!item) throw new IdpError('not_found', GONE);
    return { key, item };
  };
  const guard = (req: Request): void => {
    refuseCrossSite(req);
    checkCsrf(req, field(req.body, 'csrf'));
  };
  const take = (req: Request, key: string): Pending => {
    const item = store.take(key, req.sessionID);
    if (!item) throw new IdpError('not_found', GONE);
    return item;
  };

  router.get('/review/:key', (req, res) => {
    const { key, item } = find(req);
    render(ctx, req, res, key, item);
  });

  // Send as it is.
  router.post('/review/:key/send', (req, res) => {
    guard(req);
    const { key } = find(req);
    const item = take(req, key);
    const user = sameUser(ctx, req, item);
    if (item.protocol === 'jwt') {
      completeJwt(ctx, req, res, jwtSpOf(ctx, item.spId), user.email, item.send, item.issued, {
        flowId: item.flowId,
        reviewed: true,
        edited: item.edited,
        faults: item.faults.map(faultLabel),
      });
      return;
    }
    completeSaml(ctx, req, res, samlSpOf(ctx, item.spId), user.email, item.send, item.issued, item.request, { flowId: item.flowId, reviewed: true, edited: item.edited });
  });

  // Edit and send: the claims (JWT) or the NameID and attributes (SAML), signed anew with the same faults.
  router.post('/review/:key/edit', async (req, res) => {
    guard(req);
    const { key, item } = find(req);
    const text = field(req.body, 'edited') ?? '';
    const user = sameUser(ctx, req, item);
    if (item.protocol === 'jwt') {
      const sp = jwtSpOf(ctx, item.spId);
      let claims: JWTPayload;
      try {
        claims = parseClaims(text);
      } catch (err) {
        if (!(err instanceof IdpError)) throw err;
        render(ctx, req, res, key, item, { status: 400, error: err.message, editText: text });
        return;
      }
      const signatureFault = jwtSignatureFaultOf(item.faults);
      const issued = await ctx.faults.mintJwt(sp, user, { claims, faults: signatureFault ? item.faults.filter((f) => f.name === signatureFault) : [] });
      take(req, key);
      completeJwt(ctx, req, res, sp, user.email, { ...item.send, token: issued.token }, issued, {
        flowId: item.flowId,
        reviewed: true,
        edited: true,
        faults: item.faults.map(faultLabel),
      });
      return;
    }
    const sp = samlSpOf(ctx, item.spId);
    let edit: SamlEdit;
    let issued: IssuedSamlResponse;
    try {
      edit = parseSamlEdit(parseEditJson(text));
      issued = await ctx.faults.samlResponse(samlIdp(ctx), { sp, user, ...item.request }, { faults: item.faults, edit });
    } catch (err) {
      if (!(err instanceof IdpError) || err.status >= 500) throw err;
      render(ctx, req, res, key, item, { status: 400, error: err.message, editText: text });
      return;
    }
    take(req, key);
    completeSaml(ctx, req, res, sp, user.email, { ...item.send, xml: issued.xml }, issued, item.request, { flowId: item.flowId, reviewed: true, edited: true });
  });

  // Rebuild with a fault (or none) and show the result: what is sent is always what was reviewed.
  router.post('/review/:key/fault', async (req, res) => {
    guard(req);
    const { key, item } = find(req);
    const user = sameUser(ctx, req, item);
    const value = chosenFault(req.body);
    let next: Omit<PendingJwt, 'expires'> | Omit<PendingSaml, 'expires'>;
    try {
      if (item.protocol === 'jwt') {
        const sp = jwtSpOf(ctx, item.spId);
        const faults = parseFaults('jwt', value);
        const issued = await ctx.faults.mintJwt(sp, user, { faults });
        next = { ...item, faults, issued, edited: false, send: { ...item.send, token: issued.token } };
        ctx.flows.update(item.flowId, { faults: faults.map(faultLabel), edited: false, jwt: flowJwt(issued.token) });
      } else {
        const sp = samlSpOf(ctx, item.spId);
        const faults = parseFaults('saml', value);
        const issued = await ctx.faults.samlResponse(samlIdp(ctx), { sp, user, ...item.request }, { faults, edit: item.edit, wantAssertionXml: true });
        next = { ...item, faults, issued, send: { ...item.send, xml: issued.xml } };
        const flow = samlFlow(sp, user.email, next.send as SamlSend, issued, item.request.inResponseTo, { outcome: 'awaiting-review', reviewed: true, edited: item.edited });
        ctx.flows.update(item.flowId, { faults: flow.faults ?? [], saml: flow.saml });
      }
    } catch (err) {
      if (!(err instanceof IdpError) || err.status >= 500) throw err;
      render(ctx, req, res, key, item, { status: 400, error: err.message });
      return;
    }
    take(req, key);
    const { expires: _expires, ...rest } = next as Pending;
    const nextKey = store.put(rest);
    noStore(res);
    res.redirect(303, `/review/${nextKey}`);
  });

  return router;
}
