/**
 * Request-level guards shared by routers: CSRF tokens bound to the session,
 * the Sec-Fetch-Site check, safe local "continue" paths, cache headers.
 */
import crypto from 'node:crypto';
import type { Request, Response } from 'express';
import { IdpError } from '../errors.js';

export function csrfToken(req: Request): string {
  req.session.csrf ??= crypto.randomBytes(24).toString('base64url');
  return req.session.csrf;
}

export function checkCsrf(req: Request, submitted: unknown): void {
  const expected = req.session.csrf;
  if (typeof submitted !== 'string' || !expected) {
    throw new IdpError('csrf_failed', 'The form has expired or was not sent from this site. Go back, reload the page and try again.');
  }
  const a = Buffer.from(submitted);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
    throw new IdpError('csrf_failed', 'The form has expired or was not sent from this site. Go back, reload the page and try again.');
  }
}

/** Browsers say where a request comes from; a cross-site POST to a form of ours is refused. */
export function refuseCrossSite(req: Request): void {
  if (req.get('sec-fetch-site') === 'cross-site') {
    throw new IdpError('cross_site_request', 'This form cannot be submitted from another site.');
  }
}

/** A local path to continue to after login: "/..." only, never "//host" or "/\host". */
export function safeContinue(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 8192) return undefined;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return undefined;
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return undefined;
  return value;
}

export function noStore(res: Response): void {
  res.set('Cache-Control', 'no-store');
  res.set('Pragma', 'no-cache');
}

/** The string value of a form field, or undefined when absent or not a string (e.g. `email[$ne]=`). */
export function field(body: unknown, name: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const v = (body as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}
