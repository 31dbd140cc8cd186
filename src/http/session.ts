/** The IdP session cookie: HttpOnly, SameSite=Lax, Secure over https, signed with the session secret. */
import crypto from 'node:crypto';
import session from 'express-session';
import type { RequestHandler } from 'express';
import { kvGet, kvSet, type Db } from '../store/db.js';
import { IdpError } from '../errors.js';

export const SESSION_COOKIE = 'mockidp.sid';

/** The configured secret, or one generated once and kept in the store (never logged). */
export function sessionSecret(configured: string | undefined, db: Db): string {
  if (configured) return configured;
  let secret = kvGet(db, 'session-secret');
  if (!secret) {
    secret = crypto.randomBytes(32).toString('base64url');
    kvSet(db, 'session-secret', secret);
  }
  return secret;
}

/** A session store failure (e.g. Redis away) as the clear 503 users see. */
export function sessionStoreUnavailable(cause: unknown): IdpError {
  return new IdpError('service_unavailable', 'The session store is unavailable right now. Try again in a moment.', { cause, headers: { 'Retry-After': '5' } });
}

export function sessionMiddleware(options: { store: session.Store; secret: string; secure: boolean; ttlSeconds: number }): RequestHandler {
  const middleware = session({
    name: SESSION_COOKIE,
    store: options.store,
    secret: options.secret,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'destroy',
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: options.secure,
      path: '/',
      maxAge: options.ttlSeconds * 1000,
    },
  });
  return (req, res, next) => middleware(req, res, (err?: unknown) => next(err === undefined ? undefined : sessionStoreUnavailable(err)));
}
