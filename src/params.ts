/**
 * Reading request parameters, the same way for every route and for the fast
 * path: the raw query exactly as received (never Express' array/object
 * coercions), a parameter that must appear at most once, and RelayState within
 * the one limits table.
 */
import { IdpError } from './errors.js';
import { LIMITS } from './limits.js';

/** The raw query string of a request target ("/path?a=1" → "a=1"), exactly as received. */
export function rawQueryOf(target: string): string {
  const i = target.indexOf('?');
  return i === -1 ? '' : target.slice(i + 1);
}

/** The query of a request target, parsed without coercions. */
export function queryOf(target: string): URLSearchParams {
  return new URLSearchParams(rawQueryOf(target));
}

/** The value of a parameter given at most once (undefined when absent). Throws IdpError('bad_request') when repeated or longer than `maxChars`. */
export function optionalParam(params: URLSearchParams, name: string, maxChars?: number): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw new IdpError('bad_request', `The ${name} parameter is given ${values.length} times; give it once.`);
  const value = values[0];
  if (value !== undefined && maxChars !== undefined && value.length > maxChars) {
    throw new IdpError('bad_request', `The ${name} parameter is longer than ${maxChars} characters.`);
  }
  return value;
}

/** RelayState beside a JWT redirect_url, spelled `RelayState` or `relayState` (the first found). */
export function relayStateOf(params: URLSearchParams): string | undefined {
  for (const name of ['RelayState', 'relayState']) {
    const value = optionalParam(params, name, LIMITS.relayStateChars);
    if (value !== undefined) return value;
  }
  return undefined;
}
