/**
 * Decoding a JWT for people (the review page, /debug/decode, the flow history):
 * header and claims, the time claims in words, and whether one of the IdP's keys
 * signed it, and which. Never a verdict an SP should rely on: it checks the
 * signature against every key mock-idp holds, whatever the token claims.
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { Keystore } from '../keys/keystore.js';
import { shownTime } from '../time-format.js';
import type { ResolvedServiceProvider } from '../config/load.js';

export interface JwtKey {
  /** For people: "RS256 key dev-CHANGE-ME-… (IdP)", "HS256 shared secret of service provider comm100". */
  label: string;
  alg: 'HS256' | 'RS256' | 'ES256';
  /** A public key, or the secret's bytes for HS256. */
  key: KeyObject;
  kid?: string | undefined;
}

export interface JwtTrust {
  keys: JwtKey[];
}

export type JwtSignatureStatus = 'valid' | 'invalid' | 'unsigned' | 'algorithm-confusion' | 'unsupported';

export interface TimeFact {
  claim: 'iat' | 'nbf' | 'exp';
  value: number;
  iso: string;
  /** "in 4 minutes", "12 seconds ago". */
  relative: string;
}

export interface JwtInspection {
  kind: 'jwt';
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signature: { status: JwtSignatureStatus; key: string | undefined; detail: string };
  times: TimeFact[];
  /** What a careful SP would object to, in sentences. */
  problems: string[];
}

/** The keys of this IdP a token may have been signed with: JWKS (current and retired) and every SP's HS256 secret. */
export function jwtTrustOf(deps: { keystore: Keystore; secrets: ReadonlyMap<string, string>; serviceProviders: readonly ResolvedServiceProvider[] }): JwtTrust {
  const keys: JwtKey[] = [];
  const seen = new Set<string>();
  const addJwk = (jwk: Record<string, unknown>, note: string): void => {
    const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
    const alg = jwk.alg === 'ES256' || jwk.kty === 'EC' ? 'ES256' : 'RS256';
    const id = `${alg}:${kid ?? JSON.stringify(jwk)}`;
    if (seen.has(id)) return;
    seen.add(id);
    try {
      const key = crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' });
      keys.push({ label: `${alg} key ${kid ?? '(no kid)'} (${note})`, alg, key, kid });
    } catch {
      // A JWK node cannot import is no key of ours to check with.
    }
  };
  for (const retired of deps.keystore.retired.jwt) addJwk(retired.publicJwk as Record<string, unknown>, 'retired, still in the JWKS');
  for (const jwk of deps.keystore.jwks().keys) addJwk(jwk as Record<string, unknown>, 'published in the JWKS');
  for (const sp of deps.serviceProviders) {
    if (sp.jwt?.algorithm !== 'HS256') continue;
    const secret = deps.secrets.get(sp.id);
    if (secret === undefined) continue;
    keys.push({ label: `HS256 shared secret of service provider "${sp.id}"`, alg: 'HS256', key: crypto.createSecretKey(Buffer.from(secret, 'utf8')) });
  }
  return { keys };
}

function decodeJson(segment: string, what: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new JwtDecodeError(`The ${what} is not base64url.`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new JwtDecodeError(`The ${what} is not JSON once base64url-decoded.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwtDecodeError(`The ${what} is not a JSON object.`);
  return value as Record<string, unknown>;
}

export class JwtDecodeError extends Error {
  override name = 'JwtDecodeError';
}

/** True for text shaped like a compact JWS: three base64url parts separated by dots. */
export function looksLikeJwt(text: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text);
}

export function relativeTime(seconds: number, nowSeconds: number): string {
  const d = seconds - nowSeconds;
  const abs = Math.abs(d);
  const amount =
    abs < 90 ? `${abs} second${abs === 1 ? '' : 's'}` : abs < 5400 ? `${Math.round(abs / 60)} minutes` : abs < 172_800 ? `${Math.round(abs / 3600)} hours` : `${Math.round(abs / 86_400)} days`;
  return d === 0 ? 'now' : d > 0 ? `in ${amount}` : `${amount} ago`;
}

function verifies(alg: string, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    if (alg === 'HS256') {
      const mac = crypto.createHmac('sha256', key).update(data).digest();
      return mac.length === signature.length && crypto.timingSafeEqual(mac, signature);
    }
    if (alg === 'RS256') return crypto.verify('sha256', data, key, signature);
    if (alg === 'ES256') return crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
  return false;
}

/** Decodes and checks a compact JWT. Throws JwtDecodeError when it is not one. */
export function inspectJwt(token: string, trust: JwtTrust, nowMs: number): JwtInspection {
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new JwtDecodeError(`A JWT has three parts separated by dots; this has ${parts.length}.`);
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h, 'header');
  const claims = decodeJson(p, 'payload');
  const alg = typeof header.alg === 'string' ? header.alg : '';
  const data = Buffer.from(`${h}.${p}`, 'ascii');
  const signature = Buffer.from(s, 'base64url');
  const problems: string[] = [];

  let status: JwtSignatureStatus;
  let key: string | undefined;
  let detail: string;
  if (alg.toLowerCase() === 'none') {
    status = 'unsigned';
    detail = `Unsigned (alg "${alg}")${s === '' ? '' : ', yet it carries a signature part'}: an SP must refuse it.`;
    problems.push('The token is not signed (alg none).');
  } else if (!['HS256', 'RS256', 'ES256'].includes(alg)) {
    status = 'unsupported';
    detail = `mock-idp signs with HS256, RS256 or ES256; it has no key for alg ${JSON.stringify(alg)}.`;
  } else {
    const candidates = trust.keys.filter((k) => k.alg === alg).sort((a, b) => Number(b.kid === header.kid) - Number(a.kid === header.kid));
    const match = candidates.find((k) => verifies(alg, k.key, data, signature));
    if (match) {
      status = 'valid';
      key = match.label;
      detail = `Valid: signed with the ${match.label}.`;
    } else {
      // HS256 over a public key's PEM text: the algorithm confusion attack.
      const confused =
        alg === 'HS256'
          ? trust.keys
              .filter((k) => k.alg !== 'HS256')
              .find((k) => verifies('HS256', crypto.createSecretKey(Buffer.from(k.key.export({ type: 'spki', format: 'pem' }).toString(), 'utf8')), data, signature))
          : undefined;
      if (confused) {
        status = 'algorithm-confusion';
        key = confused.label;
        detail = `HS256 with the public ${confused.label} (its PEM text) as the HMAC secret: an algorithm-confusion token that an SP must refuse.`;
        problems.push('The token uses HS256 keyed with a public key (algorithm confusion).');
      } else {
        status = 'invalid';
        detail =
          candidates.length === 0
            ? `No ${alg} key of this IdP exists to check it with.`
            : `Invalid: none of this IdP's ${alg} keys (${candidates.length}) verifies the signature${typeof header.kid === 'string' ? ` (kid ${JSON.stringify(header.kid)})` : ''}.`;
        problems.push('The signature does not verify with any key of this IdP.');
      }
    }
  }

  const now = Math.floor(nowMs / 1000);
  const times: TimeFact[] = [];
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    const v = claims[claim];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    times.push({ claim, value: v, iso: new Date(v * 1000).toISOString(), relative: relativeTime(v, now) });
  }
  if (typeof claims.exp === 'number' && claims.exp <= now) problems.push(`The token expired ${relativeTime(claims.exp, now)}.`);
  if (typeof claims.nbf === 'number' && claims.nbf > now) problems.push(`The token is not valid before ${shownTime(claims.nbf * 1000)} (${relativeTime(claims.nbf, now)}).`);
  if (claims.jti === undefined) problems.push('The token has no jti, so an SP cannot detect its replay.');
  if (claims.exp === undefined) problems.push('The token has no exp: it never expires.');
  return { kind: 'jwt', header, claims, signature: { status, key, detail }, times, problems };
}
