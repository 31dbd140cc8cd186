/**
 * Deliveries held for review (`review: true` on an SP, or `review=1`): kept in
 * the state store under an unguessable key, tied to the browser session that
 * made them, for at most 10 minutes; taking one for its Send consumes it.
 */
import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import type { JwtFault, SamlFault } from '../faults/catalog.js';
import type { SamlEdit } from '../faults/saml.js';
import { jwtEntry, samlEntry } from '../flows/entries.js';
import type { IssuedJwt, IssuedSamlResponse } from '../issue/issuer.js';
import type { SamlNameId } from '../saml/nameid.js';
import type { StateStore } from '../state/types.js';
import type { JwtSend, SamlSend } from './answer.js';
import type { AppContext } from './context.js';
import { noStore } from './security.js';

/** How long a held delivery waits for its Send. */
export const REVIEW_TTL_MS = 10 * 60 * 1000;

interface HeldBase {
  sessionId: string;
  flowId: string;
  spId: string;
  user: string;
  /** When it expires (ms since the epoch). */
  expires: number;
  edited: boolean;
}

export interface HeldJwt extends HeldBase {
  protocol: 'jwt';
  faults: JwtFault[];
  send: JwtSend;
  issued: IssuedJwt;
}

export interface HeldSaml extends HeldBase {
  protocol: 'saml';
  faults: SamlFault[];
  send: SamlSend;
  issued: IssuedSamlResponse;
  request: { acsUrl: string; inResponseTo: string | undefined; sessionIndex: string; authnInstant: number; nameId: SamlNameId };
  edit: SamlEdit | undefined;
}

export type Held = HeldJwt | HeldSaml;
export type NewHeld = Omit<HeldJwt, 'expires'> | Omit<HeldSaml, 'expires'>;

const PREFIX = 'review:';

export class ReviewStore {
  constructor(
    private readonly state: StateStore,
    private readonly now: () => number,
  ) {}

  async put(item: NewHeld): Promise<string> {
    const key = crypto.randomBytes(18).toString('base64url');
    await this.state.set(PREFIX + key, { ...item, expires: this.now() + REVIEW_TTL_MS }, REVIEW_TTL_MS);
    return key;
  }

  /** The item, if it exists, is still valid and belongs to this session. */
  async peek(key: string, sessionId: string): Promise<Held | undefined> {
    const item = await this.state.get<Held>(PREFIX + key);
    return item?.sessionId === sessionId ? item : undefined;
  }

  /** The item, once: of two Sends, one finds it. */
  async take(key: string, sessionId: string): Promise<Held | undefined> {
    if (!(await this.peek(key, sessionId))) return undefined;
    return this.state.take<Held>(PREFIX + key);
  }
}

export function reviewStoreOf(ctx: AppContext): ReviewStore {
  return new ReviewStore(ctx.state, () => ctx.clock.now());
}

/** Holds a JWT for review (its flow recorded as awaiting review) and sends the browser to the review page. */
export async function holdJwt(ctx: AppContext, req: Request, res: Response, sp: { id: string; name: string }, user: string, send: JwtSend, issued: IssuedJwt): Promise<void> {
  const flow = await ctx.flows.record(jwtEntry(sp, user, issued, { binding: send.method, initiator: 'sp', destination: send.url }, { outcome: 'awaiting-review', reviewed: true }));
  const key = await reviewStoreOf(ctx).put({ protocol: 'jwt', sessionId: req.sessionID, flowId: flow.id, spId: sp.id, user, edited: false, faults: issued.faults, send, issued });
  noStore(res);
  res.redirect(303, `/review/${key}`);
}

/** Holds a SAML Response for review and sends the browser to the review page. */
export async function holdSaml(
  ctx: AppContext,
  req: Request,
  res: Response,
  sp: { id: string; name: string },
  user: string,
  send: SamlSend,
  issued: IssuedSamlResponse,
  request: HeldSaml['request'],
): Promise<void> {
  const flow = await ctx.flows.record(samlEntry(sp, user, issued, { acsUrl: send.acsUrl, inResponseTo: request.inResponseTo }, { outcome: 'awaiting-review', reviewed: true }));
  const key = await reviewStoreOf(ctx).put({ protocol: 'saml', sessionId: req.sessionID, flowId: flow.id, spId: sp.id, user, edited: false, faults: issued.faults, send, issued, request, edit: undefined });
  noStore(res);
  res.redirect(303, `/review/${key}`);
}
