/** The login form, sign-in and sign-out. */
import { Router, type Request, type Response } from 'express';
import { IdpError } from '../errors.js';
import { queryOf } from '../params.js';
import { MAX_PASSWORD_LENGTH } from '../users/password.js';
import { emailKey } from '../users/store.js';
import { matchesAllowList, parseRedirectUrl, singleParam } from '../jwt/redirect-url.js';
import type { AppContext } from './context.js';
import { SESSION_COOKIE } from './session.js';
import { currentUser, destroy, startSession } from './session-user.js';
import { checkCsrf, csrfToken, field, noStore, refuseCrossSite, safeContinue } from './security.js';
import { LoginThrottle } from './throttle.js';

/** Characters no email address has: control characters, zero-width characters and bidi controls (RTL override, isolates, marks). */
const NOT_IN_EMAILS = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

/** The SP a continue path leads to, for "Sign in to continue to …". */
function targetName(ctx: AppContext, next: string | undefined, spHint: unknown): string | undefined {
  const m = next && /^\/(?:sso\/jwt|sso\/token|saml\/idp-init)\/([^/?#]+)/.exec(next);
  const id = m ? decodeURIComponent(m[1]!) : typeof spHint === 'string' ? spHint : undefined;
  return id === undefined ? undefined : ctx.sp(id)?.name;
}

function renderLogin(
  ctx: AppContext,
  req: Request,
  res: Response,
  opts: { status?: number; error?: string; email?: string; next?: string; spHint?: unknown },
): void {
  noStore(res);
  res.status(opts.status ?? 200).render('login', {
    title: 'Sign in',
    csrf: csrfToken(req),
    error: opts.error,
    email: opts.email ?? '',
    next: opts.next ?? '',
    target: targetName(ctx, opts.next, opts.spHint),
    picker: ctx.config.showUserPicker ? ctx.users.list().filter((u) => !u.disabled) : [],
    spHint: typeof opts.spHint === 'string' ? opts.spHint : '',
  });
}

/** A locked account or address: 429 with Retry-After, on the login form (the password form and the picker alike). */
function tooManyFailures(ctx: AppContext, req: Request, res: Response, retryAfterSeconds: number, opts: { email: string; next: string | undefined; spHint: unknown }): void {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  res.set('Retry-After', String(retryAfterSeconds));
  renderLogin(ctx, req, res, { status: 429, error: `Too many failed sign-ins. Try again in ${minutes === 1 ? 'a minute' : `${minutes} minutes`}.`, ...opts });
}

export function loginRouter(ctx: AppContext): Router {
  const router = Router();
  const throttle = new LoginThrottle(ctx.durableState, ctx.config.loginThrottle, ctx.clock);

  router.get('/login', (req, res) => {
    const next = safeContinue(req.query.continue);
    const user = currentUser(ctx, req);
    if (user && next) {
      res.redirect(303, next);
      return;
    }
    renderLogin(ctx, req, res, { next, spHint: req.query.sp });
  });

  router.post('/login', async (req, res) => {
    refuseCrossSite(req);
    checkCsrf(req, field(req.body, 'csrf'));
    const next = safeContinue(field(req.body, 'continue'));
    // The user picker: a click signs a listed user in without a password (showUserPicker only).
    const picked = field(req.body, 'pick');
    if (picked !== undefined) {
      if (!ctx.config.showUserPicker) throw new IdpError('bad_request', 'The user picker is off (showUserPicker: false); sign in with email and password.');
      const user = ctx.users.find(picked);
      if (!user || user.disabled) throw new IdpError('bad_request', 'That user cannot sign in.');
      // An account locked by wrong passwords stays locked for the picker too.
      const lockedFor = await throttle.accountLockedFor(emailKey(user.email));
      if (lockedFor !== undefined) {
        tooManyFailures(ctx, req, res, lockedFor, { email: user.email, next, spHint: field(req.body, 'sp') });
        return;
      }
      await startSession(req, user.email, ctx.clock.now());
      res.redirect(303, next ?? '/');
      return;
    }
    const email = field(req.body, 'email')?.trim();
    const password = field(req.body, 'password');
    if (!email || password === undefined || password === '') {
      renderLogin(ctx, req, res, { status: 400, error: 'Enter your email and password.', email, next, spHint: field(req.body, 'sp') });
      return;
    }
    if (password.length > MAX_PASSWORD_LENGTH || email.length > 254) {
      renderLogin(ctx, req, res, { status: 400, error: `Email or password is too long (a password has at most ${MAX_PASSWORD_LENGTH} characters).`, email: '', next, spHint: field(req.body, 'sp') });
      return;
    }
    if (NOT_IN_EMAILS.test(email)) {
      renderLogin(ctx, req, res, { status: 400, error: 'The email contains invisible or control characters; type it again.', email: '', next, spHint: field(req.body, 'sp') });
      return;
    }
    // scrypt's HMAC pads keys with zero bytes, so "pw" and "pw\0" hash alike: no password may hold a NUL.
    if (password.includes('\u0000')) {
      renderLogin(ctx, req, res, { status: 400, error: 'The password contains a NUL character, which no password can have; type it again.', email, next, spHint: field(req.body, 'sp') });
      return;
    }
    // Counted before the password is checked, so parallel guesses cannot outrun the count.
    const attempt = await throttle.begin(emailKey(email), req.ip ?? req.socket.remoteAddress ?? 'unknown');
    if (!attempt.allowed) {
      tooManyFailures(ctx, req, res, attempt.retryAfterSeconds, { email, next, spHint: field(req.body, 'sp') });
      return;
    }
    const result = await ctx.users.authenticate(email, password);
    if (result.ok) await throttle.succeeded(attempt.ticket);
    if (!result.ok) {
      const error = result.reason === 'disabled' ? 'This account is disabled. Ask an administrator to enable it.' : 'Incorrect email or password.';
      renderLogin(ctx, req, res, { status: 401, error, email, next, spHint: field(req.body, 'sp') });
      return;
    }
    // A new session id at login (no session fixation); the old session's data is dropped.
    await startSession(req, result.user.email, ctx.clock.now());
    res.redirect(303, next ?? '/');
  });

  router.post('/logout', async (req, res) => {
    refuseCrossSite(req);
    checkCsrf(req, field(req.body, 'csrf'));
    // Signed in to SAML SPs: single logout tells each of them (307 keeps the POST and its CSRF token).
    if (Object.keys(req.session.saml?.sps ?? {}).length > 0) {
      res.redirect(307, '/saml/logout');
      return;
    }
    await destroy(req);
    res.clearCookie(SESSION_COOKIE);
    // Post/redirect/get: reloading the signed-out page must not re-send the form.
    res.redirect(303, '/signed-out');
  });

  router.get('/signed-out', (_req, res) => {
    noStore(res);
    res.render('signed-out', { title: 'Signed out' });
  });

  // Comm100's "Remote Logout URL": a plain GET, optionally back to a registered logoutUrl.
  router.get('/logout', async (req, res) => {
    const params = queryOf(req.originalUrl);
    let next: string | undefined;
    if (params.has('redirect_url')) {
      const url = parseRedirectUrl(singleParam(params, 'redirect_url'));
      const registered = ctx.config.serviceProviders.some((sp) => sp.logoutUrl && matchesAllowList(url, [sp.logoutUrl]));
      if (!registered) {
        throw new IdpError('invalid_redirect_url', 'The redirect_url is not the logoutUrl of any registered service provider.');
      }
      next = url.href;
    }
    await destroy(req);
    res.clearCookie(SESSION_COOKIE);
    noStore(res);
    if (next) {
      res.redirect(303, next);
      return;
    }
    res.render('signed-out', { title: 'Signed out' });
  });

  return router;
}
