/**
 * The messenger's settings page, as Comm100's agent console shows it: the
 * validation method, the identity key, the allowed URLs, the shared token
 * (masked, with a reveal) and "Reset shared token". A reset makes a new token,
 * tells the website's side (the `onSharedTokenReset` hook: src/server.ts makes
 * the IdP's SP sign with it), shows the new token once, and from then on
 * refuses tokens signed with the old one. The form carries a CSRF token bound
 * to this page's own session.
 */
import crypto from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';
import session from 'express-session';
import type { SqliteSessionStore } from '../store/session-store.js';
import type { DemoSpOptions, MessengerOptions } from './options.js';
import { DemoError } from './shared.js';

declare module 'express-session' {
  interface SessionData {
    messengerCsrf?: string;
  }
}

/** The shared token in use now: the reset replaces it. */
export interface SharedTokenHolder {
  current: string | undefined;
}

export const SETTINGS_PATH = '/securemessage/settings';
export const RESET_PATH = '/securemessage/settings/reset-token';

/** The token with all but its first and last four characters hidden. */
export function maskedToken(token: string): string {
  return token.length <= 12 ? '•'.repeat(token.length) : `${token.slice(0, 4)}${'•'.repeat(Math.min(24, token.length - 8))}${token.slice(-4)}`;
}

export interface SettingsSetup {
  options: DemoSpOptions;
  messenger: MessengerOptions;
  holder: SharedTokenHolder;
  sessionStore: SqliteSessionStore;
  sessionSecret: string;
}

export function messengerSettingsRouter({ options, messenger: m, holder, sessionStore, sessionSecret }: SettingsSetup): Router {
  const router = Router();
  const secure = options.baseUrl.startsWith('https:');
  router.use(
    SETTINGS_PATH,
    session({
      name: 'demosp-messenger.sid',
      store: sessionStore,
      secret: sessionSecret,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure, path: SETTINGS_PATH },
    }),
  );
  const csrfFor = (req: Request): string => (req.session.messengerCsrf ??= crypto.randomBytes(24).toString('base64url'));
  const render = (req: Request, res: Response, locals: { newToken?: string; error?: string }, status = 200): void => {
    res.set('Cache-Control', 'no-store');
    res.status(status).render('demo-sp/messenger-settings', {
      title: 'Secure Messenger settings',
      messenger: m,
      sharedToken: holder.current,
      masked: holder.current ? maskedToken(holder.current) : undefined,
      csrf: csrfFor(req),
      resetPath: RESET_PATH,
      newToken: locals.newToken,
      error: locals.error,
    });
  };

  router.get(SETTINGS_PATH, (req, res) => render(req, res, {}));

  router.post(RESET_PATH, express.urlencoded({ extended: false, limit: '8kb' }), async (req, res) => {
    const expected = req.session.messengerCsrf;
    const submitted = (req.body as Record<string, unknown> | undefined)?.csrf;
    if (!expected || typeof submitted !== 'string' || submitted.length !== expected.length || !crypto.timingSafeEqual(Buffer.from(submitted), Buffer.from(expected))) {
      throw new DemoError(403, 'The form has expired or was not sent from this site. Go back, reload the settings page and try again.');
    }
    if (m.validation !== 'sharedToken') {
      render(req, res, { error: `The validation method is ${m.validation}: there is no shared token to reset.` }, 409);
      return;
    }
    const newToken = crypto.randomBytes(32).toString('base64url');
    try {
      await options.onSharedTokenReset?.(newToken);
    } catch (err) {
      console.error('demo SP messenger: the shared token reset could not be passed on', err);
      render(req, res, { error: 'The new shared token could not be given to the website (the IdP refused the change): the old token stays in use.' }, 502);
      return;
    }
    holder.current = newToken;
    render(req, res, { newToken });
  });
  return router;
}
