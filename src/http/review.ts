/**
 * Review before sending: with `review: true` on an SP or `review=1` on the sign-in
 * request, the token or SAML Response is held (review-store.ts) and the signed-in
 * user sees it first, decoded, with its destination (review-page.ts). From there:
 * Send it as it is, Edit the claims (or the NameID and attributes) and send it
 * signed anew, copy it as a curl command, or rebuild it with a fault. Every action
 * is a CSRF-checked POST; sending consumes the held delivery and goes through the
 * same applier as any sign-in.
 */
import { Router, type Request } from 'express';
import type { JWTPayload } from 'jose';
import { IdpError } from '../errors.js';
import { faultLabel } from '../faults/catalog.js';
import { jwtSignatureFaultOf } from '../faults/jwt.js';
import { parseFaults } from '../faults/parse.js';
import { parseSamlEdit, type SamlEdit } from '../faults/saml.js';
import { samlEntry } from '../flows/entries.js';
import type { IssuedSamlResponse } from '../issue/issuer.js';
import type { JwtSp, SamlSp } from '../sps.js';
import type { User } from '../users/store.js';
import { deliverJwt, deliverSaml } from './apply.js';
import type { AppContext } from './context.js';
import { renderReview } from './review-page.js';
import { reviewStoreOf, type Held, type NewHeld } from './review-store.js';
import { checkCsrf, field, noStore, refuseCrossSite } from './security.js';
import { currentUser } from './session-user.js';

const GONE = 'This review has expired, was already sent, or belongs to another browser session. Start the sign-in again from the service provider.';

/** The SP of a held delivery, which may have lost its protocol since. */
function heldSp<P extends 'jwt' | 'saml'>(ctx: AppContext, id: string, protocol: P): P extends 'jwt' ? JwtSp : SamlSp {
  const sp = ctx.sp(id);
  if (!sp?.[protocol]) throw new IdpError('not_found', `The service provider "${id}" of this review no longer has ${protocol === 'jwt' ? 'JWT' : 'SAML'} single sign-on.`);
  return sp as P extends 'jwt' ? JwtSp : SamlSp;
}
const jwtSpOf = (ctx: AppContext, id: string): JwtSp => heldSp(ctx, id, 'jwt');
const samlSpOf = (ctx: AppContext, id: string): SamlSp => heldSp(ctx, id, 'saml');

/** The signed-in user, who must be the one the delivery was made for. */
function sameUser(ctx: AppContext, req: Request, item: Held): User {
  const user = currentUser(ctx, req);
  if (!user || user.email !== item.user) throw new IdpError('not_signed_in', `Sign in to mock-idp as ${item.user} again; this review was made for that session.`);
  return user;
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

/** A refusal the page shows itself (400, the form kept); anything else goes to the error handler. */
function shownOnPage(err: unknown): err is IdpError {
  return err instanceof IdpError && err.status < 500;
}

export function reviewRouter(ctx: AppContext): Router {
  const router = Router();
  const store = reviewStoreOf(ctx);

  const find = async (req: Request): Promise<{ key: string; item: Held }> => {
    const key = String(req.params.key ?? '');
    const item = await store.peek(key, req.sessionID);
    if (!item) throw new IdpError('not_found', GONE);
    return { key, item };
  };
  const guard = (req: Request): void => {
    refuseCrossSite(req);
    checkCsrf(req, field(req.body, 'csrf'));
  };
  const take = async (req: Request, key: string): Promise<Held> => {
    const item = await store.take(key, req.sessionID);
    if (!item) throw new IdpError('not_found', GONE);
    return item;
  };

  router.get('/review/:key', async (req, res) => {
    const { key, item } = await find(req);
    renderReview(ctx, req, res, key, item);
  });

  // Send as it is.
  router.post('/review/:key/send', async (req, res) => {
    guard(req);
    const { key } = await find(req);
    const item = await take(req, key);
    const user = sameUser(ctx, req, item);
    const reviewed = { flowId: item.flowId, edited: item.edited, faults: item.faults.map(faultLabel) };
    if (item.protocol === 'jwt') {
      await deliverJwt(ctx, req, res, jwtSpOf(ctx, item.spId), user.email, item.send, item.issued, reviewed);
      return;
    }
    await deliverSaml(ctx, req, res, samlSpOf(ctx, item.spId), user.email, item.send, item.issued, item.request, reviewed);
  });

  // Edit and send: the claims (JWT) or the NameID and attributes (SAML), signed anew with the same faults.
  router.post('/review/:key/edit', async (req, res) => {
    guard(req);
    const { key, item } = await find(req);
    const text = field(req.body, 'edited') ?? '';
    const user = sameUser(ctx, req, item);
    if (item.protocol === 'jwt') {
      const sp = jwtSpOf(ctx, item.spId);
      let claims: JWTPayload;
      try {
        claims = parseClaims(text);
      } catch (err) {
        if (!shownOnPage(err)) throw err;
        renderReview(ctx, req, res, key, item, { status: 400, error: err.message, editText: text });
        return;
      }
      const signatureFault = jwtSignatureFaultOf(item.faults);
      const issued = await ctx.issuer.jwt(sp, user, { claims, faults: signatureFault ? item.faults.filter((f) => f.name === signatureFault) : [] });
      await take(req, key);
      await deliverJwt(ctx, req, res, sp, user.email, { ...item.send, token: issued.token }, issued, { flowId: item.flowId, edited: true, faults: item.faults.map(faultLabel) });
      return;
    }
    const sp = samlSpOf(ctx, item.spId);
    let edit: SamlEdit;
    let issued: IssuedSamlResponse;
    try {
      edit = parseSamlEdit(parseEditJson(text));
      issued = await ctx.issuer.samlResponse({ sp, user, ...item.request }, { faults: item.faults, edit });
    } catch (err) {
      if (!shownOnPage(err)) throw err;
      renderReview(ctx, req, res, key, item, { status: 400, error: err.message, editText: text });
      return;
    }
    await take(req, key);
    await deliverSaml(ctx, req, res, sp, user.email, { ...item.send, xml: issued.xml }, issued, item.request, { flowId: item.flowId, edited: true });
  });

  // Rebuild with a fault (or none) and show the result: what is sent is always what was reviewed.
  router.post('/review/:key/fault', async (req, res) => {
    guard(req);
    const { key, item } = await find(req);
    const user = sameUser(ctx, req, item);
    const value = chosenFault(req.body);
    let next: NewHeld;
    try {
      if (item.protocol === 'jwt') {
        const sp = jwtSpOf(ctx, item.spId);
        const faults = parseFaults('jwt', value);
        const issued = await ctx.issuer.jwt(sp, user, { faults });
        next = { ...item, faults, issued, edited: false, send: { ...item.send, token: issued.token } };
        await ctx.flows.update(item.flowId, { faults: faults.map(faultLabel), edited: false, token: issued.token });
      } else {
        const sp = samlSpOf(ctx, item.spId);
        const faults = parseFaults('saml', value);
        const issued = await ctx.issuer.samlResponse({ sp, user, ...item.request }, { faults, edit: item.edit, wantAssertionXml: true });
        next = { ...item, faults, issued, send: { ...item.send, xml: issued.xml } };
        const entry = samlEntry(sp, user.email, issued, { acsUrl: item.send.acsUrl, inResponseTo: item.request.inResponseTo }, { outcome: 'awaiting-review', reviewed: true, edited: item.edited });
        await ctx.flows.update(item.flowId, { faults: entry.faults ?? [], response: entry.response });
      }
    } catch (err) {
      if (!shownOnPage(err)) throw err;
      renderReview(ctx, req, res, key, item, { status: 400, error: err.message });
      return;
    }
    await take(req, key);
    const { expires: _expires, ...rest } = next as Held;
    const nextKey = await store.put(rest);
    noStore(res);
    res.redirect(303, `/review/${nextKey}`);
  });

  return router;
}
