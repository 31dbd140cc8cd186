/**
 * The IdP session of a request, as the sign-in pipeline sees it: the signed-in
 * user (re-read from the store, so a user disabled since is signed out), the
 * read-only view a decision takes, and the session writes a delivery applies.
 */
import type { Request, Response } from 'express';
import { toRemembered, type SamlNameId } from '../saml/nameid.js';
import type { SessionView } from '../sso/types.js';
import type { User } from '../users/store.js';
import type { AppContext } from './context.js';
import { markSaved, sessionStoreUnavailable } from './session.js';
import './session-types.js';

/** The signed-in user of this request, re-read from the store (a user disabled since is signed out). */
export function currentUser(ctx: AppContext, req: Request): User | undefined {
  const s = req.session.user;
  if (!s) return undefined;
  const user = ctx.users.find(s.email);
  if (!user || user.disabled) {
    delete req.session.user;
    return undefined;
  }
  return user;
}

/** What a sign-in decision may read of this request's session. */
export function sessionViewOf(ctx: AppContext, req: Request): SessionView {
  const user = currentUser(ctx, req);
  return { user, authTime: user ? req.session.user!.authTime : undefined, sps: req.session.sps ?? [], saml: req.session.saml };
}

export function regenerate(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err: unknown) => (err ? reject(sessionStoreUnavailable(err)) : resolve())));
}

export function save(req: Request): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.save((err: unknown) => {
      if (err) {
        reject(sessionStoreUnavailable(err));
        return;
      }
      markSaved(req);
      resolve();
    }),
  );
}

export function destroy(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.destroy((err: unknown) => (err ? reject(sessionStoreUnavailable(err)) : resolve())));
}

/** A new session signed in as `email` (a new session id: no session fixation; the old session's data is dropped). */
export async function startSession(req: Request, email: string, authTime: number): Promise<void> {
  await regenerate(req);
  req.session.user = { email, authTime };
  await save(req);
}

/** What a delivery leaves in the session: the SP (for sign-out) and, for SAML, the SessionIndex and the NameID sent. */
export function rememberDelivery(req: Request, spId: string, saml?: { sessionIndex: string; nameId?: SamlNameId }): void {
  const sps = req.session.sps ?? [];
  if (!sps.includes(spId)) req.session.sps = [...sps, spId];
  if (!saml) return;
  const state = (req.session.saml ??= { sessionIndex: saml.sessionIndex, sps: {} });
  // What was sent, Format and qualifiers too: single logout names exactly this NameID.
  if (saml.nameId !== undefined) state.sps[spId] = toRemembered(saml.nameId);
}

/** Sends the browser to the login form, to come back to this request afterwards. */
export function redirectToLogin(req: Request, res: Response): void {
  res.redirect(303, `/login?continue=${encodeURIComponent(req.originalUrl)}`);
}
