/**
 * The sign-in fast path: a second transport over the same sign-in decision.
 * Test suites sign in through mock-idp many times a run, and the two requests
 * they repeat most are an SP's JWT sign-in (`GET /sso/jwt/:sp?redirect_url=…`)
 * and its SAML AuthnRequest (`GET /saml/sso?SAMLRequest=…`, HTTP-Redirect) from
 * a browser that is already signed in. Through Express, its middleware and
 * express-session such a request costs several times its signature; here it is
 * read by plain node:http code in front of the app.
 *
 * It builds the same input as the routes (the SP, the query, the session read
 * from the SQLite store, the time), calls the same decision (src/sso/), and
 * answers only when the outcome is "deliver" with nothing to write into the
 * session, through the same bookkeeping and answer builders (apply.ts,
 * answer.ts), the same log line (request-log.ts) and the security headers the
 * app's helmet sets. It looks only at requests without parameters beyond the
 * protocol's own (no fault=, review=, login_hint, …) and SQLite sessions.
 * Everything else, and any failure before an answer is written, falls through to
 * the app, which answers it as it always does.
 */
import type http from 'node:http';
import signature from 'cookie-signature';
import type { SessionData } from 'express-session';
import type { Logger } from '../logger.js';
import { rawQueryOf } from '../params.js';
import { receiveAuthnRequest } from '../saml/authn-request.js';
import { samlEndpoints } from '../saml/metadata.js';
import { samlDeliveryChoice } from '../sso/choice.js';
import { decideJwtSignIn } from '../sso/jwt.js';
import { acceptOnce, alreadyAccepted, decideAuthnRequest } from '../sso/saml.js';
import type { SessionChanges, SessionView, SignInEnv } from '../sso/types.js';
import type { SqliteSessionStore } from '../store/session-store.js';
import { answerHeaders, type Answer } from './answer.js';
import { deliveredJwt, deliveredSaml } from './apply.js';
import type { AppContext } from './context.js';
import { requestLog as makeRequestLog, type RequestLog } from './request-log.js';
import { SESSION_COOKIE } from './session.js';
import { signInEnv } from './sign-in-env.js';

export interface FastPathOptions {
  ctx: AppContext;
  /** Where every request the fast path does not take goes. */
  app: http.RequestListener;
  /** The SQLite session store (read synchronously); without it (Redis sessions) nothing is taken. */
  store: SqliteSessionStore | undefined;
  /** The session cookie's signing secret. */
  secret: string;
  ttlSeconds: number;
  logger: Logger;
  /** The app's request log (its line for a request answered here); default: one on `logger`. */
  requestLog?: RequestLog;
  /** The headers the app's security middleware (helmet) sets on every answer, as they are now. */
  securityHeaders: () => readonly string[];
}

/** A request the fast path takes: the session to slide, and the step that builds the answer (undefined: the app answers after all). */
interface Taken {
  sid: string;
  /** The session's expiry as stored. */
  expires: number;
  build: () => Promise<Answer | undefined>;
}

const JWT_PATH = /^\/sso\/jwt\/([A-Za-z0-9._~-]+)$/;
const JWT_PARAMS = new Set(['redirect_url', 'relayState', 'RelayState']);
const SAML_PARAMS = new Set(['SAMLRequest', 'RelayState', 'SigAlg', 'Signature']);

/** Whether every parameter is one of `allowed`, each at most once. */
function onlyParams(params: URLSearchParams, allowed: ReadonlySet<string>): boolean {
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!allowed.has(key) || seen.has(key)) return false;
    seen.add(key);
  }
  return true;
}

const untouched = (changes: SessionChanges): boolean => !changes.signIn && !changes.addSp && !changes.saml;

/**
 * The sign-in env of the SAML fast path: a fresh transient NameID is never drawn
 * here. One is made only at the first delivery to an SP in a session, and the
 * session must then remember it (a write), so the fast path leaves that request to
 * the app anyway; drawing it here would spend a value of the deterministicSeed
 * sequence that the app, answering after, would not see spent. A repeated
 * sign-in sends the session's remembered value, read here exactly as the app reads it.
 */
function fastPathEnv(ctx: AppContext): SignInEnv {
  const env = signInEnv(ctx);
  return { ...env, nameIds: { ...env.nameIds, transient: () => NOT_DRAWN } };
}

/** Never sent: an outcome that carries it also changes the session, and is not taken. */
const NOT_DRAWN = '(not drawn on the fast path)';

/** The signed session cookie's value ("s:…"), decoded; undefined when absent, repeated or unsigned. */
function sessionCookieOf(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  let raw: string | undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    if (raw !== undefined) return undefined;
    raw = part.slice(eq + 1).trim();
  }
  if (raw === undefined) return undefined;
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  return value.startsWith('s:') ? value : undefined;
}

/**
 * The session id in a request's signed session cookie, read as express-session
 * reads it; undefined for anything unusual (no cookie, two of them, unsigned, a bad
 * signature), which the app then deals with. Cookies already verified are
 * remembered (bounded): checking a signature takes three hash computations, and a
 * test suite's browser sends the same cookie again and again.
 */
function sessionIdReader(secret: string, max = 10_000): (cookieHeader: string | undefined) => string | undefined {
  const verified = new Map<string, string>();
  return (cookieHeader) => {
    const value = sessionCookieOf(cookieHeader);
    if (value === undefined) return undefined;
    const known = verified.get(value);
    if (known !== undefined) return known;
    const sid = signature.unsign(value.slice(2), secret);
    if (sid === false) return undefined;
    if (verified.size >= max) verified.clear();
    verified.set(value, sid);
    return sid;
  };
}

export function fastPath(options: FastPathOptions): http.RequestListener {
  const { ctx, app, store, logger } = options;
  const sessionIdIn = sessionIdReader(options.secret);
  const log = options.requestLog ?? makeRequestLog(logger);

  /** The session of a request with a valid cookie and a signed-in, active user, as the decision sees it. */
  const sessionOf = (req: http.IncomingMessage): { sid: string; expires: number; view: SessionView } | undefined => {
    const sid = sessionIdIn(req.headers.cookie);
    if (sid === undefined) return undefined;
    const found = store!.read(sid);
    const session: SessionData | undefined = found?.session;
    if (!found || !session?.user) return undefined;
    const user = ctx.users.find(session.user.email);
    // A user disabled since is signed out by the app (a session write).
    if (!user || user.disabled) return undefined;
    return { sid, expires: found.expires, view: { user, authTime: session.user.authTime, sps: session.sps ?? [], saml: session.saml } };
  };

  const takeJwt = (req: http.IncomingMessage, spId: string, query: string): Taken | undefined => {
    const sp = ctx.sp(spId);
    if (!sp?.jwt || sp.jwt.delivery !== 'redirect' || sp.review) return undefined;
    const params = new URLSearchParams(query);
    if (!params.has('redirect_url') || !onlyParams(params, JWT_PARAMS)) return undefined;
    const found = sessionOf(req);
    if (!found) return undefined;
    const outcome = decideJwtSignIn({ spId, query: params, session: found.view, env: signInEnv(ctx) });
    if (outcome.kind !== 'deliver' || !untouched(outcome.session)) return undefined;
    return {
      sid: found.sid,
      expires: found.expires,
      build: async () => {
        const issued = await ctx.issuer.jwt(outcome.sp, outcome.user, { faults: outcome.faults });
        const send = { ...outcome.target, token: issued.token, spName: outcome.sp.name };
        return deliveredJwt(ctx, outcome.sp, outcome.user.email, send, issued, req.headers.accept);
      },
    };
  };

  const takeSaml = async (req: http.IncomingMessage, query: string): Promise<Taken | undefined> => {
    const params = new URLSearchParams(query);
    if (!onlyParams(params, SAML_PARAMS)) return undefined;
    const request = receiveAuthnRequest({ binding: 'redirect', rawQuery: query }, { serviceProviders: ctx.config.serviceProviders, ssoUrl: samlEndpoints(ctx.config.baseUrl).sso });
    const { sp } = request;
    if (sp.review) return undefined;
    const found = sessionOf(req);
    // A replayed ID is the app's to refuse.
    if (!found || (await alreadyAccepted(ctx.state, 'AuthnRequest', request.issuer, request.id))) return undefined;
    const env = fastPathEnv(ctx);
    const outcome = await decideAuthnRequest({
      sp,
      request,
      receivedAt: env.now,
      choice: samlDeliveryChoice(env, params, sp),
      query: params,
      session: found.view,
      env,
    });
    if (outcome.kind !== 'deliver' || !untouched(outcome.session) || outcome.sessionIndex === undefined || outcome.nameId.value === NOT_DRAWN) return undefined;
    const sessionIndex = outcome.sessionIndex;
    return {
      sid: found.sid,
      expires: found.expires,
      build: async () => {
        const { acsUrl, inResponseTo, authnInstant, nameId } = outcome;
        const issued = await ctx.issuer.samlResponse({ sp, user: outcome.user, acsUrl, inResponseTo, sessionIndex, authnInstant, nameId }, { faults: outcome.faults });
        // Accepted once, as the app accepts it: if another request took the ID meanwhile, the app refuses this one.
        try {
          await acceptOnce(ctx.state, 'AuthnRequest', request.issuer, request.id);
        } catch {
          return undefined;
        }
        return deliveredSaml(ctx, sp, outcome.user.email, { acsUrl, xml: issued.xml, relayState: outcome.relayState, spName: sp.name }, issued, inResponseTo);
      },
    };
  };

  const take = async (req: http.IncomingMessage): Promise<Taken | undefined> => {
    if (req.method !== 'GET' || !store) return undefined;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = rawQueryOf(url);
    if (path === '/saml/sso') return takeSaml(req, query);
    const jwt = JWT_PATH.exec(path);
    return jwt ? takeJwt(req, jwt[1]!, query) : undefined;
  };

  const answer = (req: http.IncomingMessage, res: http.ServerResponse, taken: Taken, a: Answer, started: number): void => {
    const id = log.newId();
    res.writeHead(a.status, [...options.securityHeaders(), 'X-Request-Id', id, ...answerHeaders(a)]);
    res.end(a.body);
    // The sliding expiry, as express-session would touch an unchanged session.
    store!.slide(taken.sid, taken.expires, Date.now() + options.ttlSeconds * 1000);
    log.write(req, id, a.status, started);
  };

  return (req, res) => {
    const started = performance.now();
    take(req)
      .catch(() => undefined)
      .then(async (taken) => {
        // Refused input, or anything else: the app answers it with its own page.
        const a = taken && (await taken.build());
        if (!taken || !a) {
          app(req, res);
          return;
        }
        answer(req, res, taken, a, started);
      })
      .catch((err: unknown) => {
        // Nothing written yet: the app answers (and a refusal is its own). Written: only the log can tell.
        if (!res.headersSent) app(req, res);
        else logger.error({ err }, 'the fast path failed after answering');
      });
  };
}
