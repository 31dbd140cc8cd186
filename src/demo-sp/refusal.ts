/**
 * What the demo SP's refusal page shows besides its one line: the token as it
 * arrived (decoded header and claims, the signature cut to its first characters)
 * and, for the check that failed, what this SP expected and what the token had.
 * A secret is never shown, only named. jose comes in as an argument: the demo SP
 * loads it with the first sign-in, not at start-up.
 */
import { truncated } from '../inspect/pretty-xml.js';
import { shownTime } from '../time-format.js';
import type { DemoSpOptions, DemoTenant } from './options.js';
import type { RefusalCheck, RefusalDetail } from './shared.js';

type Jose = typeof import('jose');

/** The token decoded without trusting it, for display only. */
export function decodedForDisplay(jose: Jose, token: string, checks: RefusalCheck[]): RefusalDetail {
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  return refusalDetail(token, attempt(() => jose.decodeProtectedHeader(token)), attempt(() => jose.decodeJwt(token)), checks);
}

/** The detail of a refused token whose header and claims are already decoded. */
export function refusalDetail(token: string, header: object | undefined, claims: object | undefined, checks: RefusalCheck[]): RefusalDetail {
  const parts = token.split('.');
  const signature = parts.length === 3 ? (parts[2] === '' ? '(empty)' : truncated(parts[2]!)) : undefined;
  return { header: header as Record<string, unknown> | undefined, claims: claims as Record<string, unknown> | undefined, signature, checks };
}

export const shown = (v: unknown): string => (v === undefined ? '(missing)' : typeof v === 'string' ? v : JSON.stringify(v));

/** A NumericDate claim as a moment, with its raw value. */
const moment = (v: unknown): string => (typeof v === 'number' ? `${shownTime(v * 1000)} (${v})` : shown(v));

/** The one-line explanation and the check that failed, from what jose threw. */
export function explainRefusal(jose: Jose, err: unknown, token: string, options: DemoSpOptions, tenant: DemoTenant, nowMs: number): { message: string; checks: RefusalCheck[] } {
  const leeway = options.clockToleranceSeconds ?? 30;
  const joseErrors = jose.errors;
  const header = (() => {
    try {
      return jose.decodeProtectedHeader(token);
    } catch {
      return undefined;
    }
  })();
  const now = `now (${shownTime(nowMs)}), with ${leeway} s leeway`;
  if (err instanceof joseErrors.JWTExpired) {
    return { message: 'The token has expired.', checks: [{ name: 'exp', expected: `later than ${now}`, actual: moment(err.payload.exp) }] };
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const claim = err.claim;
    const actual = err.payload[claim];
    const expected: Record<string, string> = {
      iss: tenant.issuer,
      aud: tenant.audience,
      nbf: `no later than ${now}`,
      iat: `a time no later than ${now}`,
      exp: `later than ${now}`,
    };
    const isTime = claim === 'nbf' || claim === 'iat' || claim === 'exp';
    return {
      message: `The token's "${claim}" claim is not acceptable (${err.reason}).`,
      checks: [{ name: claim, expected: expected[claim] ?? (err.reason === 'missing' ? 'present' : 'a valid value'), actual: isTime ? moment(actual) : shown(actual) }],
    };
  }
  const alg = tenant.verify.alg;
  const key = tenant.verify.alg === 'HS256' ? 'the secret this SP shares with the IdP (not shown)' : `a key of the IdP's JWKS, ${options.idpUrl}/.well-known/jwks.json`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return { message: 'The token signature does not verify.', checks: [{ name: 'signature', expected: `an ${alg} signature by ${key}`, actual: `${signatureOf(token)}, which does not verify` }] };
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return { message: 'The token is signed with an algorithm this SP does not accept.', checks: [{ name: 'alg', expected: alg, actual: shown(header?.alg) }] };
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) {
    return { message: 'No key in the IdP JWKS matches the token.', checks: [{ name: 'kid', expected: key, actual: header?.kid === undefined ? 'no kid in the header' : `kid ${header.kid}` }] };
  }
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) {
    return { message: 'The token is malformed.', checks: [{ name: 'format', expected: 'header.claims.signature, each base64url JSON (a JWS compact serialization)', actual: err.message }] };
  }
  if (err instanceof joseErrors.JOSEError) return { message: `The token was rejected (${err.code}).`, checks: [] };
  return { message: 'The token could not be checked.', checks: [] };
}

function signatureOf(token: string): string {
  const sig = token.split('.')[2];
  return sig ? `signature ${truncated(sig)}` : 'an empty signature';
}
