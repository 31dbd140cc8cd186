/**
 * The Secure Messenger the demo SP plays (Comm100's side of a Contact JWT): the
 * installation code's script, the embeddable widget (shown only on the allowed
 * URLs), the widget's identify call, and the Authorize API that exchanges a
 * Contact JWT for a Comm100 JWT. The settings page is messenger-settings.ts;
 * the checks of a token are messenger-verify.ts.
 *
 * The JSON endpoints answer JSON always, also when the body cannot be parsed:
 * their errors never reach the demo SP's HTML error page.
 */
import path from 'node:path';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { publicDir } from '../paths.js';
import { comm100Jwt, contactJwtVerifier, MessengerError, type IdentifiedCustomer } from './messenger-verify.js';
import { messengerSettingsRouter, type SharedTokenHolder } from './messenger-settings.js';
import type { DemoSpOptions, MessengerOptions } from './options.js';
import type { SqliteSessionStore } from '../store/session-store.js';

export const INSTALL_PATH = '/securemessage/install.js';
export const WIDGET_PATH = '/securemessage/widget';
export const IDENTIFY_PATH = '/securemessage/widget/identify';
export const AUTHORIZE_PATH = '/securemessage/authorize';

/** The origins of the allowed URLs: what the widget's frame-ancestors lists. */
export function allowedOrigins(m: MessengerOptions): string[] {
  return [...new Set(m.allowedUrls.map((u) => new URL(u).origin))];
}

/** The widget's policy: scripts, styles and calls to this origin only, framed only by the allowed origins. */
function widgetCsp(m: MessengerOptions): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${allowedOrigins(m).join(' ')}`,
  ].join('; ');
}

/** The body as an object; a 400 when it is not a JSON object. */
function jsonObject(req: Request): Record<string, unknown> {
  if (!req.is(['application/json', 'application/*+json'])) {
    throw new MessengerError('invalid_request', 'the body must be JSON (Content-Type: application/json)');
  }
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new MessengerError('invalid_request', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** The site and messenger a body names: 400 when malformed, 404 when not this messenger's. */
function checkSiteAndMessenger(m: MessengerOptions, body: Record<string, unknown>): void {
  const siteId = body.siteId;
  const siteText = typeof siteId === 'number' && Number.isInteger(siteId) ? String(siteId) : typeof siteId === 'string' && /^\d+$/.test(siteId.trim()) ? siteId.trim() : undefined;
  if (siteText === undefined) {
    throw new MessengerError('invalid_request', siteId === undefined ? 'siteId is missing' : `siteId must be a number or a numeric string, not ${JSON.stringify(siteId)}`);
  }
  const messengerId = body.messengerId;
  if (typeof messengerId !== 'string' || messengerId.trim() === '') throw new MessengerError('invalid_request', 'messengerId must be a string (the messenger\'s id)');
  if (siteText !== m.siteId) throw new MessengerError('not_found', `there is no site ${siteText}`);
  if (messengerId.trim().toLowerCase() !== m.messengerId.toLowerCase()) throw new MessengerError('not_found', `site ${siteText} has no messenger ${messengerId}`);
}

/** The Contact JWT of an Authorize API body: "contactJwt", or the seed's literal key "Contact JWT". */
function contactJwtOf(body: Record<string, unknown>): string {
  const a = body.contactJwt;
  const b = body['Contact JWT'];
  if (a !== undefined && b !== undefined && a !== b) throw new MessengerError('invalid_request', 'contactJwt and "Contact JWT" differ: give one');
  const token = a ?? b;
  if (token === undefined) throw new MessengerError('invalid_request', 'no Contact JWT: give it as "contactJwt" (or "Contact JWT")');
  if (typeof token !== 'string' || token.trim() === '') throw new MessengerError('invalid_request', 'the Contact JWT must be a non-empty string');
  return token.trim();
}

/** The allowed URL prefix a page URL starts with, or undefined. */
export function allowedPrefix(m: MessengerOptions, pageUrl: string): string | undefined {
  return m.allowedUrls.find((prefix) => pageUrl.startsWith(prefix));
}

function notAllowedMessage(m: MessengerOptions, pageUrl: string | undefined): string {
  const list = m.allowedUrls.join(', ');
  return pageUrl ? `Secure Messenger is displayed only on pages whose URL starts with ${list}; ${pageUrl} does not.` : `No page URL was given: Secure Messenger is displayed only on pages whose URL starts with ${list}.`;
}

/** JSON errors for the JSON endpoints, a body-parser failure included. */
function jsonErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) {
    next(err);
    return;
  }
  const e =
    err instanceof MessengerError
      ? err
      : (err as { type?: unknown }).type === 'entity.parse.failed'
        ? new MessengerError('invalid_request', 'the body is not valid JSON')
        : (err as { type?: unknown }).type === 'entity.too.large'
          ? new MessengerError('invalid_request', 'the body is too large')
          : undefined;
  res.set('Cache-Control', 'no-store');
  if (!e) {
    console.error('demo SP messenger error', err);
    res.status(500).json({ error: 'server_error', message: 'the messenger hit an unexpected error' });
    return;
  }
  res.status(e.status).json({ error: e.code, message: e.message });
}

export interface MessengerSetup {
  options: DemoSpOptions;
  messenger: MessengerOptions;
  sessionStore: SqliteSessionStore;
  sessionSecret: string;
}

export function messengerRouter({ options, messenger: m, sessionStore, sessionSecret }: MessengerSetup): Router {
  const router = Router();
  const holder: SharedTokenHolder = { current: m.sharedToken };
  const verifyContactJwt = contactJwtVerifier({ messenger: m, sharedToken: () => holder.current, idpCa: options.idpCa, clockToleranceSeconds: options.clockToleranceSeconds });
  const comm100 = comm100Jwt(m, options.baseUrl);
  const json = express.json({ limit: '64kb' });

  router.get(INSTALL_PATH, (_req, res) => {
    // Loaded by the customer's website, another origin.
    res.set('Cross-Origin-Resource-Policy', 'cross-origin');
    res.set('Cache-Control', 'no-cache');
    res.type('text/javascript').sendFile(path.join(publicDir, 'messenger-install.js'));
  });

  router.get(WIDGET_PATH, (req, res) => {
    res.set('Content-Security-Policy', widgetCsp(m));
    res.set('Cache-Control', 'no-store');
    const q = (k: string) => (typeof req.query[k] === 'string' ? (req.query[k] as string) : undefined);
    const pageUrl = q('pageUrl');
    const refuse = (status: number, message: string): void => {
      res.status(status).render('demo-sp/messenger-refusal', { title: 'Secure Messenger refused', message, status, allowedUrls: m.allowedUrls });
    };
    try {
      checkSiteAndMessenger(m, { siteId: q('siteId'), messengerId: q('messengerId') });
    } catch (err) {
      if (!(err instanceof MessengerError)) throw err;
      refuse(err.status, `This Secure Messenger cannot be shown: ${err.message}.`);
      return;
    }
    if (!pageUrl || !allowedPrefix(m, pageUrl)) {
      refuse(403, notAllowedMessage(m, pageUrl));
      return;
    }
    res.render('demo-sp/messenger-widget', { title: 'Secure Messenger', siteId: m.siteId, messengerId: m.messengerId, pageUrl, identityKey: m.identityKey });
  });

  router.post(IDENTIFY_PATH, json, async (req, res) => {
    const body = jsonObject(req);
    checkSiteAndMessenger(m, body);
    const pageUrl = body.pageUrl;
    if (typeof pageUrl !== 'string' || !allowedPrefix(m, pageUrl)) throw new MessengerError('url_not_allowed', notAllowedMessage(m, typeof pageUrl === 'string' ? pageUrl : undefined));
    let customer: IdentifiedCustomer;
    let via: 'contactJwt' | 'comm100Jwt';
    if (typeof body.comm100Jwt === 'string' && body.comm100Jwt !== '') {
      customer = await comm100.verify(body.comm100Jwt);
      via = 'comm100Jwt';
    } else {
      customer = await verifyContactJwt(contactJwtOf(body));
      via = 'contactJwt';
    }
    res.set('Cache-Control', 'no-store');
    res.json({ identified: true, via, identityKey: m.identityKey, identity: customer.identity, details: customer.details });
  });

  router.post(AUTHORIZE_PATH, json, async (req, res) => {
    const body = jsonObject(req);
    const token = contactJwtOf(body);
    checkSiteAndMessenger(m, body);
    if (body.isPreview !== undefined && typeof body.isPreview !== 'boolean') throw new MessengerError('invalid_request', 'isPreview must be true or false');
    const customer = await verifyContactJwt(token);
    res.set('Cache-Control', 'no-store');
    res.json(await comm100.mint(customer));
  });

  router.use([IDENTIFY_PATH, AUTHORIZE_PATH], jsonErrors);
  router.use(messengerSettingsRouter({ options, messenger: m, holder, sessionStore, sessionSecret }));
  return router;
}
