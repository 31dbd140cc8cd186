/**
 * What every hostile-input case asserts, whatever the surface: a 4xx, a clear HTML
 * page or JSON `{ error, message }`, no token, cookie or session issued, the input
 * never echoed unescaped, no stack trace. (The "next valid request still succeeds"
 * half is each file's own, since what is valid depends on the surface.)
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Response } from 'supertest';
import type { Clock } from '../../src/clock.js';
import { setCookies, unescapeHtml } from '../helpers/http.js';

/** Markup that must never come back unescaped in an HTML page. */
export const XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>';

/** What a stack trace or an internal error looks like in a body. */
const STACK = [/\n\s+at [^\n]+:\d+:\d+/, /node_modules/, /\.(ts|js):\d+:\d+/, /\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/, /SQLITE_/];

export interface RefusalExpectation {
  /** The exact status expected (always a 4xx), or the statuses allowed. */
  status: number | readonly number[];
  /** The stable error code, for JSON answers and the HTML error page. */
  code?: string;
  /** What the message must say (checked on the user-visible text). */
  message?: RegExp;
  /** Strings from the input that must not appear raw in an HTML body. */
  echo?: readonly string[];
  /** Cookie names that must not be set; default: any cookie at all. */
  cookies?: readonly string[] | 'none';
}

/** The user-visible error text of an HTML page (the role="alert" paragraph). */
export function alertText(html: string): string | undefined {
  const m = /<p class="error" role="alert"[^>]*>([\s\S]*?)<\/p>/.exec(html);
  return m ? unescapeHtml(m[1]!).trim() : undefined;
}

/** Asserts everything a refusal must be; returns the user-visible message. */
export function assertRefused(res: Response, expected: RefusalExpectation, label = ''): string {
  const where = `${label}${label ? ': ' : ''}${res.status} ${res.text.slice(0, 300)}`;
  const allowed = typeof expected.status === 'number' ? [expected.status] : expected.status;
  assert.ok(allowed.every((s) => s >= 400 && s < 500), 'a refusal is a 4xx');
  assert.ok(allowed.includes(res.status), `${where}: expected ${allowed.join(' or ')}`);
  const type = String(res.headers['content-type'] ?? '');
  let message: string;
  if (/application\/json/.test(type)) {
    const body = res.body as { error?: unknown; message?: unknown; requestId?: unknown };
    assert.equal(typeof body.error, 'string', `${where}: JSON has an error code`);
    assert.equal(typeof body.message, 'string', `${where}: JSON has a message`);
    assert.ok((body.message as string).length > 10, `${where}: the message says something`);
    if (expected.code) assert.equal(body.error, expected.code, where);
    assert.doesNotMatch(res.text, /[<>]/, `${where}: no raw markup characters in the JSON text`);
    message = body.message as string;
  } else {
    assert.match(type, /text\/html/, `${where}: an HTML page`);
    assert.match(res.text, /^<!doctype html>/i, `${where}: a whole page`);
    const alert = alertText(res.text);
    assert.ok(alert && alert.length > 10, `${where}: the page says what is wrong in its alert`);
    if (expected.code && /<code>[a-z_]+<\/code> \(HTTP \d+\)/.test(res.text)) {
      assert.match(res.text, new RegExp(`<code>${expected.code}</code> \\(HTTP ${res.status}\\)`), where);
    }
    for (const raw of expected.echo ?? []) {
      assert.ok(!res.text.includes(raw), `${where}: the input ${JSON.stringify(raw.slice(0, 40))} is echoed unescaped`);
    }
    message = alert;
  }
  if (expected.message) assert.match(message, expected.message, where);
  for (const pattern of STACK) assert.doesNotMatch(res.text, pattern, `${where}: no stack trace or internal detail`);
  const cookies = setCookies(res);
  if (expected.cookies === undefined || expected.cookies === 'none') {
    assert.deepEqual(cookies, [], `${where}: no cookie is set`);
  } else {
    for (const name of expected.cookies) assert.ok(!cookies.some((c) => c.startsWith(`${name}=`)), `${where}: no ${name} cookie is set`);
  }
  assertNoToken(res, where);
  assert.match(String(res.headers['cache-control'] ?? ''), /no-store/, `${where}: an error page is not cached`);
  return message;
}

/** No JWT and no SAML assertion in the answer, its Location or its form fields. */
export function assertNoToken(res: Response, where = ''): void {
  const location = String(res.headers.location ?? '');
  assert.doesNotMatch(location, /[?&]jwt=/, `${where}: no token in the Location`);
  assert.doesNotMatch(location, /SAMLResponse=/, `${where}: no SAML message in the Location`);
  assert.doesNotMatch(res.text ?? '', /name="(jwt|SAMLResponse)"/, `${where}: no token form`);
  assert.doesNotMatch(res.text ?? '', /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*/, `${where}: no JWT anywhere in the body`);
}

/** A clock the test sets by hand: every "now" the IdP reads is exactly this. */
export class ManualClock implements Clock {
  #t: number;
  constructor(start = Date.now()) {
    this.#t = start;
  }
  now(): number {
    return this.#t;
  }
  advance(ms: number): void {
    this.#t += ms;
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One HTTP request from a chosen loopback source address (127.0.0.2 is another client to the IdP). */
export function requestFrom(localAddress: string, url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Loads the login form and posts it from `localAddress`, as a browser on another machine would. */
export async function loginFrom(localAddress: string, idpUrl: string, email: string, password: string): Promise<RawResponse> {
  const form = await requestFrom(localAddress, `${idpUrl}/login`);
  const cookie = ([] as string[]).concat(form.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
  const csrf = /name="csrf" value="([^"]+)"/.exec(form.text)?.[1] ?? '';
  return requestFrom(localAddress, `${idpUrl}/login`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, email, password }).toString(),
  });
}
