/**
 * The customer website (Secure Messenger): mock-idp plays the customer's site and
 * its signed-in users are the customers. GET /website shows the messenger's
 * installation code with a Contact JWT minted for this visit (as a developer pastes
 * it) and runs that same code, so the messenger (the demo SP, playing Comm100)
 * loads and identifies the customer.
 *
 * Two variants: `contact-jwt` (the default) hands the Contact JWT to the widget;
 * `comm100-jwt` makes the page's backend exchange it at the Authorize API first and
 * hands the widget the Comm100 JWT it answers with.
 */
import { Router, type Request } from 'express';
import { IdpError } from '../errors.js';
import { jwtEntry } from '../flows/entries.js';
import { recordDelivery } from '../issue/delivered.js';
import { cutAtWord } from '../conformance/answer-text.js';
import { networkReason } from '../conformance/reach.js';
import { requireSp } from '../sps.js';
import { shownTime } from '../time-format.js';
import type { AppContext } from './context.js';
import { csrfToken, noStore } from './security.js';
import { currentUser, redirectToLogin, rememberDelivery } from './session-user.js';

export const WEBSITE_PATH = '/website';
/** How long the page's backend waits for the Authorize API. */
export const AUTHORIZE_TIMEOUT_MS = 5000;

export const WEBSITE_VARIANTS = ['contact-jwt', 'comm100-jwt'] as const;
export type WebsiteVariant = (typeof WEBSITE_VARIANTS)[number];

/** The website block once it is usable: an SP, the install script, the ids of the messenger. */
export interface WebsiteSettings {
  sp: string;
  installUrl: string;
  authorizeUrl: string | undefined;
  siteId: string;
  messengerId: string;
  title: string;
}

/** The website settings of a config, or undefined when /website is off (no `website.sp`). */
export function websiteSettings(config: AppContext['config']): WebsiteSettings | undefined {
  const w = config.website;
  if (w.sp === undefined || w.installUrl === undefined || w.messengerId === undefined) return undefined;
  return { sp: w.sp, installUrl: w.installUrl, authorizeUrl: w.authorizeUrl, siteId: w.siteId ?? config.demo.siteId, messengerId: w.messengerId, title: w.title };
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The installation code exactly as a developer pastes it: a container and the install script with its data attributes. */
export function installSnippet(w: Pick<WebsiteSettings, 'installUrl' | 'siteId' | 'messengerId'>, token: { variant: WebsiteVariant; value: string }): string {
  const attribute = token.variant === 'comm100-jwt' ? 'data-comm100-jwt' : 'data-contact-jwt';
  const attrs = [`src="${escapeAttribute(w.installUrl)}"`, `data-site-id="${escapeAttribute(w.siteId)}"`, `data-messenger-id="${escapeAttribute(w.messengerId)}"`, `${attribute}="${escapeAttribute(token.value)}"`];
  return `<div id="comm100-secure-messenger"></div>\n<script ${attrs.join(' ')} async></script>`;
}

/** What the Authorize API answered: a Comm100 JWT, or why there is none (to show, never thrown). */
export type AuthorizeResult =
  | { ok: true; accessToken: string; expiresIn: number | undefined }
  | { ok: false; status: number | undefined; message: string };

/** POSTs the Contact JWT to the Authorize API and reads its answer; every failure becomes a message naming the URL. */
export async function exchangeContactJwt(
  url: string,
  body: { siteId: string; messengerId: string; contactJwt: string },
  timeoutMs = AUTHORIZE_TIMEOUT_MS,
): Promise<AuthorizeResult> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ ...body, isPreview: false }),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (err) {
    // Whatever fetch or the body read threw is about the network (refused, reset, timed out): shown, never thrown.
    return { ok: false, status: undefined, message: `could not reach ${url} (${networkReason(err, timeoutMs)})` };
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  const fields = typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>) : {};
  if (res.status === 200 && typeof fields.accessToken === 'string' && fields.accessToken.length > 0) {
    return { ok: true, accessToken: fields.accessToken, expiresIn: typeof fields.expiresIn === 'number' ? fields.expiresIn : undefined };
  }
  const said = [fields.error, fields.message].filter((v): v is string => typeof v === 'string' && v.length > 0).join(': ');
  const why = res.status === 200 ? 'an answer without an accessToken' : said || (answer === undefined && text.trim() ? cutAtWord(text.trim().replace(/\s+/g, ' '), 200) : 'no message');
  return { ok: false, status: res.status, message: res.status === 200 && said ? `${why} (${said})` : why };
}

function variantOf(req: Request): WebsiteVariant {
  const v = req.query.variant;
  if (v === undefined || v === '') return 'contact-jwt';
  if (typeof v === 'string' && (WEBSITE_VARIANTS as readonly string[]).includes(v)) return v as WebsiteVariant;
  throw new IdpError('bad_request', `Unknown variant: ${String(v).slice(0, 40)}. The variants are ${WEBSITE_VARIANTS.join(' and ')}.`);
}

export function websiteRouter(ctx: AppContext): Router {
  const router = Router();

  router.get(WEBSITE_PATH, async (req, res) => {
    const w = websiteSettings(ctx.config);
    if (!w) throw new IdpError('not_found', 'No customer website is configured here (config key website.sp).');
    const variant = variantOf(req);
    const user = currentUser(ctx, req);
    if (!user) {
      redirectToLogin(req, res);
      return;
    }
    const sp = requireSp(ctx, w.sp, 'jwt');
    // A fresh Contact JWT on every visit, through the one issuer, recorded like the widget token endpoint's.
    const issued = await ctx.issuer.jwt(sp, user);
    const destination = variant === 'comm100-jwt' ? w.authorizeUrl : w.installUrl;
    rememberDelivery(req, sp.id);
    await recordDelivery(ctx, {
      flow: jwtEntry(sp, user.email, issued, { binding: 'json', initiator: 'widget', destination: destination ?? '' }),
      sent: { spId: sp.id, jti: issued.claims.jti },
    });

    let snippet: string | undefined;
    let exchange: { url: string; status: number | undefined; message: string } | undefined;
    let comm100: { expiresIn: number | undefined } | undefined;
    if (variant === 'contact-jwt') {
      snippet = installSnippet(w, { variant, value: issued.token });
    } else if (w.authorizeUrl === undefined) {
      exchange = { url: '(none)', status: undefined, message: 'No Authorize API is configured (config key website.authorizeUrl).' };
    } else {
      const result = await exchangeContactJwt(w.authorizeUrl, { siteId: w.siteId, messengerId: w.messengerId, contactJwt: issued.token });
      if (result.ok) {
        snippet = installSnippet(w, { variant, value: result.accessToken });
        comm100 = { expiresIn: result.expiresIn };
      } else {
        exchange = { url: w.authorizeUrl, status: result.status, message: result.message };
      }
    }

    noStore(res);
    // The Authorize API failed: the page says so, as a gateway whose upstream failed.
    res.status(exchange ? 502 : 200).render('website', {
      title: w.title,
      user,
      csrf: csrfToken(req),
      variant,
      variants: WEBSITE_VARIANTS,
      website: w,
      sp,
      contactJwt: issued.token,
      claims: issued.claims,
      expiresAt: shownTime((issued.claims.exp ?? 0) * 1000),
      snippet,
      comm100,
      exchange,
    });
  });

  return router;
}
