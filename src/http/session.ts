/**
 * The IdP session cookie: HttpOnly, SameSite=Lax, Secure over https, signed with
 * the session secret.
 *
 * express-session writes a changed session only once the answer's head is on
 * the wire, and hands a failed write to the next error handler, which can then
 * only drop the connection: a page whose form token was never stored, and a
 * kept-alive socket closed under the browser's next request. So here a changed
 * session is written before the answer starts, and a failed write answers the
 * clear 503 instead of the page. A 503 (a store is unavailable) leaves the
 * session as it was, for the browser's retry; a failed load, too. A write that
 * still fails after the answer started (express-session's own touch) is logged,
 * and the answer stands.
 */
import crypto from 'node:crypto';
import session from 'express-session';
import signature from 'cookie-signature';
import type { Request, RequestHandler, Response } from 'express';
import { kvGet, kvSet, type Db } from '../store/db.js';
import { IdpError } from '../errors.js';
import type { Logger } from '../logger.js';

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

/** What a session holds, as express-session compares it (the cookie left out): equal means nothing to write. */
function fingerprint(sess: object): string {
  return JSON.stringify(sess, function (this: unknown, key: string, value: unknown) {
    return this === sess && key === 'cookie' ? undefined : value;
  });
}

/** The fingerprint of each session object as last read or written. */
const stored = new WeakMap<object, string>();

/** Notes that the request's session was just written (by an explicit save), so it is not written again before the answer. */
export function markSaved(req: Request): void {
  if (req.session) stored.set(req.session, fingerprint(req.session));
}

/** Nothing of this request's session is written, destroyed or touched, and no cookie is set: the browser keeps the session it had. */
function leaveSessionAsItWas(req: Request): void {
  const r = req as { session?: unknown; sessionID?: unknown };
  r.session = undefined;
  r.sessionID = undefined;
}

/** Writes a changed session before the answer starts; a failed write answers with `answerError` instead. */
function writeBeforeAnswer(req: Request, res: Response, answerError: (err: IdpError, req: Request, res: Response) => void): void {
  markSaved(req);
  // The headers set before the routes (security headers, request id): what a 503 that replaces the answer keeps.
  const early = res.getHeaders();
  const end = res.end;
  let writing = false;
  res.end = function (this: Response, ...args: unknown[]) {
    const pass = () => (end as (...a: unknown[]) => Response).apply(res, args);
    if (res.statusCode === 503) leaveSessionAsItWas(req);
    const sess = req.session;
    if (res.headersSent || !sess || stored.get(sess) === fingerprint(sess)) return pass();
    if (writing) return res;
    writing = true;
    // As express-session would before writing: the expiry counts from now.
    sess.touch();
    sess.save((err?: unknown) => {
      if (!err) {
        stored.set(sess, fingerprint(sess));
        pass();
        return;
      }
      leaveSessionAsItWas(req);
      for (const name of res.getHeaderNames()) res.removeHeader(name);
      for (const [name, value] of Object.entries(early)) if (value !== undefined) res.setHeader(name, value);
      answerError(sessionStoreUnavailable(err), req, res);
    });
    return res;
  } as Response['end'];
}

export function sessionMiddleware(options: {
  store: session.Store;
  secret: string;
  secure: boolean;
  ttlSeconds: number;
  logger: Logger;
  /** Answers an error as the app's error handler does (the 503 of a failed session write). */
  answerError: (err: IdpError, req: Request, res: Response) => void;
}): RequestHandler {
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
  let lastWarned = 0;
  return (req, res, next) => {
    let loaded = false;
    middleware(req, res, (err?: unknown) => {
      if (loaded) {
        // A write after the answer started (express-session's touch, or its second save of a new session id): the answer stands.
        if (Date.now() - lastWarned > 10_000) {
          options.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'a session write after the answer failed');
          lastWarned = Date.now();
        }
        return;
      }
      loaded = true;
      if (err !== undefined) {
        leaveSessionAsItWas(req);
        next(sessionStoreUnavailable(err));
        return;
      }
      writeBeforeAnswer(req, res, options.answerError);
      next();
    });
  };
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
