/**
 * The sign-in fast path. Test suites sign in through mock-idp many times a run,
 * and the two requests they repeat most are an SP's JWT sign-in
 * (`GET /sso/jwt/:sp?redirect_url=…`) and its SAML AuthnRequest
 * (`GET /saml/sso?SAMLRequest=…`, HTTP-Redirect binding) from a browser that is
 * already signed in. Through Express, its middleware and express-session such a
 * request costs several times its signature; here it is answered by plain
 * node:http code in front of the app.
 *
 * Only the plain case is taken: a valid session cookie of an active, signed-in
 * user who already signed in to that SP in this session (so the session has
 * nothing new to remember), SQLite sessions, and no parameter beyond the
 * protocol's own (no fault=, review=, login_hint, …). Everything else, and any
 * failure before an answer is written, falls through to the app, which answers
 * it as it always does: the fast path never answers differently, only sooner.
 * It does what the app's layers would have done for such a request: the
 * security headers, a request id, the log line, the session's sliding expiry,
 * the flow history, the replay memory of request IDs and sent tokens.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import signature from 'cookie-signature';
import ejs from 'ejs';
import type { SessionData } from 'express-session';
import { matchesAllowList, parseRedirectUrl } from '../jwt/redirect-url.js';
import { redactUrl, type Logger } from '../logger.js';
import { nameIdPolicyStatus, receiveAuthnRequest } from '../saml/authn-request.js';
import { nameIdFor } from '../saml/response.js';
import type { SqliteSessionStore } from '../store/session-store.js';
import type { User } from '../users/store.js';
import type { AppContext } from './context.js';
import { jwtLocation, noteJwt, noteSaml, SAML_POST_VIEW, samlPostLocals, type SamlSend } from './deliver.js';
import { jwtSendOf, relayStateOf, type JwtSp } from './jwt.js';
import { PENDING_TTL_MS } from './saml.js';
import { SESSION_COOKIE } from './session.js';

export interface FastPathOptions {
  ctx: AppContext;
  /** Where every request the fast path does not take goes. */
  app: http.RequestListener;
  /** Renders a view as the app does (the auto-POST page). */
  render: (view: string, locals: Record<string, unknown>) => Promise<string>;
  /** The SQLite session store (read synchronously); without it (Redis sessions) nothing is taken. */
  store: SqliteSessionStore | undefined;
  /** The session cookie's signing secret. */
  secret: string;
  ttlSeconds: number;
  logger: Logger;
  /** The headers the app's security middleware (helmet) sets on every answer, as they are now. */
  securityHeaders: () => readonly string[];
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
  location?: string;
  /** Set when the body was chosen by the Accept header. */
  vary?: string;
}

/** A 302 as Express' res.redirect writes it: a small HTML page for a client that asks for HTML, else a line of text. */
function redirectAnswer(accept: string | undefined, location: string): Answer {
  if (accept?.includes('text/html')) {
    const href = ejs.escapeXML(location);
    return {
      status: 302,
      contentType: 'text/html; charset=utf-8',
      body: `<!DOCTYPE html><head><title>Found</title></head><body><p>Found. Redirecting to ${href}</p></body>`,
      location,
      vary: 'Accept',
    };
  }
  return { status: 302, contentType: 'text/plain; charset=utf-8', body: `Found. Redirecting to ${location}`, location, vary: 'Accept' };
}

/** A request the fast path takes: what it found, and the step that builds the answer. */
interface Taken {
  sid: string;
  /** The session's expiry as stored. */
  expires: number;
  build: () => Promise<Answer>;
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
  const { saml } = ctx;
  const sessionIdIn = sessionIdReader(options.secret);
  // The request line holds only the request id, method, redacted URL and status: no redaction pass needed.
  const requestLog = logger.child({}, { redact: { paths: [] } });

  /** The signed-in user of a session that has already signed in to this SP, or undefined. */
  const sessionUser = (req: http.IncomingMessage, spId: string): { sid: string; expires: number; session: SessionData; user: User } | undefined => {
    const sid = sessionIdIn(req.headers.cookie);
    if (sid === undefined) return undefined;
    const found = store!.read(sid);
    if (!found?.session.user || !found.session.sps?.includes(spId)) return undefined;
    const { session } = found;
    const user = ctx.users.find(session.user!.email);
    if (!user || user.disabled) return undefined;
    return { sid, expires: found.expires, session, user };
  };

  const takeJwt = (req: http.IncomingMessage, spId: string, query: string): Taken | undefined => {
    const sp = ctx.sp(spId);
    if (!sp?.jwt || sp.jwt.delivery !== 'redirect' || sp.review) return undefined;
    const params = new URLSearchParams(query);
    const redirectUrl = params.get('redirect_url');
    if (redirectUrl === null || !onlyParams(params, JWT_PARAMS)) return undefined;
    const url = parseRedirectUrl(redirectUrl);
    if (!matchesAllowList(url, sp.jwt.redirectUrls)) return undefined;
    const relayState = relayStateOf(params);
    const found = sessionUser(req, sp.id);
    if (!found) return undefined;
    const jwtSp = sp as JwtSp;
    return {
      sid: found.sid,
      expires: found.expires,
      build: async () => {
        const issued = await ctx.faults.mintJwt(jwtSp, found.user, { faults: [] });
        const send = jwtSendOf(jwtSp, url, issued.token, relayState);
        const location = jwtLocation(send);
        noteJwt(ctx, sp, found.user.email, send, issued);
        return redirectAnswer(req.headers.accept, location);
      },
    };
  };

  const takeSaml = (req: http.IncomingMessage, query: string): Taken | undefined => {
    if (!onlyParams(new URLSearchParams(query), SAML_PARAMS)) return undefined;
    const request = receiveAuthnRequest({ binding: 'redirect', rawQuery: query }, { serviceProviders: ctx.config.serviceProviders, ssoUrl: saml.endpoints.sso });
    const { sp } = request;
    if (sp.review || request.forceAuthn || nameIdPolicyStatus(request)) return undefined;
    const found = sessionUser(req, sp.id);
    const state = found?.session.saml;
    if (!found || !state || state.sps[sp.id]?.nameId !== nameIdFor(sp, found.user)) return undefined;
    return {
      sid: found.sid,
      expires: found.expires,
      build: async () => {
        const inResponseTo = request.id;
        const issued = await ctx.faults.samlResponse(saml.idp, {
          sp,
          user: found.user,
          acsUrl: request.acsUrl,
          inResponseTo,
          sessionIndex: state.sessionIndex,
          authnInstant: found.session.user!.authTime,
        });
        const send: SamlSend = { acsUrl: request.acsUrl, xml: issued.xml, relayState: request.relayState, spName: sp.name };
        const body = await options.render(SAML_POST_VIEW, samlPostLocals(send));
        // Last, so that a request refused here is refused the same way by the app it falls through to.
        saml.replay.use(request.id, PENDING_TTL_MS, 'AuthnRequest', request.issuer);
        noteSaml(ctx, sp, found.user.email, send, issued, inResponseTo);
        return { status: 200, contentType: 'text/html; charset=utf-8', body };
      },
    };
  };

  const take = (req: http.IncomingMessage): Taken | undefined => {
    if (req.method !== 'GET' || !store) return undefined;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    if (path === '/saml/sso') return takeSaml(req, query);
    const jwt = JWT_PATH.exec(path);
    return jwt ? takeJwt(req, jwt[1]!, query) : undefined;
  };

  const answer = (req: http.IncomingMessage, res: http.ServerResponse, taken: Taken, a: Answer, started: number): void => {
    const id = crypto.randomUUID();
    const headers = [
      ...options.securityHeaders(),
      'X-Request-Id',
      id,
      'Cache-Control',
      'no-store',
      'Pragma',
      'no-cache',
      'Content-Type',
      a.contentType,
      'Content-Length',
      String(Buffer.byteLength(a.body)),
    ];
    if (a.location !== undefined) headers.push('Location', a.location);
    if (a.vary !== undefined) headers.push('Vary', a.vary);
    res.writeHead(a.status, headers);
    res.end(a.body);
    // The sliding expiry, as express-session would touch an unchanged session.
    store!.slide(taken.sid, taken.expires, Date.now() + options.ttlSeconds * 1000);
    if (requestLog.isLevelEnabled('info')) {
      requestLog.info(
        { req: { id, method: req.method, url: redactUrl(req.url ?? '') }, res: { statusCode: a.status }, responseTime: Math.round(performance.now() - started) },
        'request completed',
      );
    }
  };

  return (req, res) => {
    const started = performance.now();
    let taken: Taken | undefined;
    try {
      taken = take(req);
    } catch {
      // Refused input: the app answers it with its error page.
      taken = undefined;
    }
    if (!taken) {
      app(req, res);
      return;
    }
    const chosen = taken;
    chosen
      .build()
      .then((a) => answer(req, res, chosen, a, started))
      .catch((err: unknown) => {
        // Nothing written yet: the app answers (and a refusal is its own). Written: only the log can tell.
        if (!res.headersSent) app(req, res);
        else logger.error({ err }, 'the fast path failed after answering');
      });
  };
}
