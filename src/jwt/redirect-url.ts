/**
 * redirect_url checks. The value is parsed with the WHATWG URL parser and must
 * match an allow-list entry on scheme, host, port and path; its query may add
 * anything. Everything a browser would "fix up" (tabs, newlines, backslashes,
 * protocol-relative forms) is refused before parsing, so what we check is what
 * the browser will follow.
 */
import { IdpError } from '../errors.js';
import { LIMITS } from '../limits.js';

export const MAX_REDIRECT_URL_LENGTH = LIMITS.redirectUrlChars;

const CONTROL = /[\u0000-\u001f\u007f]/;

function refuse(problem: string): IdpError {
  return new IdpError('invalid_redirect_url', `The redirect_url ${problem}.`);
}

/** The single value of a parameter, or an error saying why there is not exactly one. */
export function singleParam(params: URLSearchParams, name: string): string {
  const values = params.getAll(name);
  if (values.length === 0) throw refuse('parameter is missing');
  if (values.length > 1) throw refuse(`parameter is given ${values.length} times; give it once`);
  return values[0]!;
}

/** Parses a candidate redirect URL, refusing every form a browser would reinterpret. */
export function parseRedirectUrl(raw: string): URL {
  if (raw.length === 0) throw refuse('is empty');
  if (raw.length > MAX_REDIRECT_URL_LENGTH) throw refuse(`is longer than ${MAX_REDIRECT_URL_LENGTH} characters`);
  if (CONTROL.test(raw)) throw refuse('contains control characters (such as CR, LF, tab or NUL)');
  if (raw.includes('\\')) throw refuse('contains a backslash');
  if (/^\s|\s$/.test(raw)) throw refuse('has leading or trailing spaces');
  if (raw.startsWith('//')) throw refuse('is protocol-relative (starts with //); give an absolute http(s) URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('is not an absolute URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw refuse(`uses the scheme "${url.protocol}"; only http: and https: are allowed`);
  }
  if (url.username || url.password) throw refuse('contains a user name or password (userinfo), which is not allowed');
  return url;
}

/** scheme://host:port/path, the part of a URL the allow-list compares. */
export function urlKey(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** What a refusal page shows under "not registered": the allowed URLs, to copy one from. */
export function registeredUrlsDetail(name: string, urls: readonly string[]): string {
  return `The redirectUrls registered for ${name}: ${urls.join(', ')}.`;
}

/** The keys of an allow-list, parsed once per list (an SP's list is kept until the SPs change). */
const allowListKeys = new WeakMap<readonly string[], ReadonlySet<string>>();

export function matchesAllowList(url: URL, allowList: readonly string[]): boolean {
  let keys = allowListKeys.get(allowList);
  if (!keys) allowListKeys.set(allowList, (keys = new Set(allowList.map((entry) => urlKey(new URL(entry))))));
  return keys.has(urlKey(url));
}

/**
 * The URL a token is delivered to: the redirect_url as the WHATWG parser
 * serialized it (its own query kept), the fragment dropped, `jwt` appended
 * and `relayState` added when given beside it and not already present.
 */
export function appendToUrl(url: URL, params: Record<string, string>): string {
  const base = url.href.slice(0, url.href.length - url.hash.length);
  const extra = Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  if (!extra) return base;
  const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${sep}${extra}`;
}

export function hasParam(url: URL, ...names: string[]): boolean {
  return url.search !== '' && names.some((n) => url.searchParams.has(n));
}
