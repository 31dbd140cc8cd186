/** The IdP session cookie: HttpOnly, SameSite=Lax, Secure over https, signed with the session secret. */
import crypto from 'node:crypto';
import session from 'express-session';
import signature from 'cookie-signature';
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

export interface SessionIssuer {
  /** Creates a signed-in session for a user, as a successful login would, and returns its cookie. */
  issue(email: string, authTime: number): Promise<IssuedSession>;
}

export interface IssuedSession {
  name: string;
  /** The cookie value as the browser must send it (signed). */
  value: string;
  expires: string;
  /** Ready for a Cookie request header. */
  cookieHeader: string;
  /** As a Set-Cookie header would carry it. */
  setCookie: string;
}

/** Headless sign-in for test suites (POST /api/sessions, the library's login()). */
export function sessionIssuer(options: { store: session.Store; secret: string; secure: boolean; ttlSeconds: number; now: () => number }): SessionIssuer {
  return {
    issue: async (email, authTime) => {
      const sid = crypto.randomBytes(24).toString('base64url');
      const expires = new Date(options.now() + options.ttlSeconds * 1000);
      const data = {
        cookie: { originalMaxAge: options.ttlSeconds * 1000, expires: expires.toISOString(), secure: options.secure, httpOnly: true, path: '/', sameSite: 'lax' },
        user: { email, authTime },
      } as unknown as session.SessionData;
      await new Promise<void>((resolve, reject) => options.store.set(sid, data, (err?: unknown) => (err ? reject(sessionStoreUnavailable(err)) : resolve())));
      const value = `s:${signature.sign(sid, options.secret)}`;
      const encoded = encodeURIComponent(value);
      return {
        name: SESSION_COOKIE,
        value,
        expires: expires.toISOString(),
        cookieHeader: `${SESSION_COOKIE}=${encoded}`,
        setCookie: `${SESSION_COOKIE}=${encoded}; Path=/; Expires=${expires.toUTCString()}; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`,
      };
    },
  };
}
