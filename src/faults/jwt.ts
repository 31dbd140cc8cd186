/**
 * JWT faults as pure functions: claim faults turn a claim set into the faulty one,
 * signature faults turn a correctly signed compact JWS into the faulty one, keeping
 * the payload segment byte for byte (so the claims are exactly those shown).
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { IdpError } from '../errors.js';
import { FAULT_TIME_MARGIN_SECONDS, FAULT_VALUES, type JwtFault } from './catalog.js';

export const JWT_SIGNATURE_FAULTS = ['bad-signature', 'wrong-key', 'alg-none', 'hs-rs-confusion', 'old-shared-token'] as const;
export type JwtSignatureFault = (typeof JWT_SIGNATURE_FAULTS)[number];

export interface JwtClaimFaultContext {
  /** "Now" in seconds since the epoch (the IdP clock). */
  now: number;
  /** The SP's token lifetime, for a claim set that has no exp to shift. */
  ttlSeconds: number;
  /** The jti of the last fault-free token sent to this SP, for replayed-jti. */
  lastJti: string | undefined;
  spId: string;
  /** The claim that carries a Contact JWT's identity (the SP's jwt.identityClaim), for missing-identity. */
  identityClaim?: string | undefined;
}

function shiftTimes(claims: JWTPayload, delta: number): void {
  for (const name of ['iat', 'nbf', 'exp'] as const) {
    const v = claims[name];
    if (typeof v === 'number') claims[name] = v + delta;
  }
}

/** The claim set with the claim faults applied (a copy; signature faults are left to `applyJwtSignatureFault`). */
export function applyJwtClaimFaults(input: JWTPayload, faults: readonly JwtFault[], ctx: JwtClaimFaultContext): JWTPayload {
  const claims: JWTPayload = { ...input };
  for (const fault of faults) {
    switch (fault.name) {
      case 'expired': {
        const target = ctx.now - FAULT_TIME_MARGIN_SECONDS;
        if (typeof claims.exp === 'number') shiftTimes(claims, target - claims.exp);
        else {
          shiftTimes(claims, -(ctx.ttlSeconds + FAULT_TIME_MARGIN_SECONDS));
          claims.exp = target;
        }
        break;
      }
      case 'not-yet-valid': {
        const target = ctx.now + FAULT_TIME_MARGIN_SECONDS;
        const base = typeof claims.nbf === 'number' ? claims.nbf : typeof claims.iat === 'number' ? claims.iat : ctx.now;
        shiftTimes(claims, target - base);
        if (typeof claims.nbf !== 'number') claims.nbf = target;
        break;
      }
      case 'clock-skew':
        shiftTimes(claims, fault.seconds);
        break;
      case 'wrong-audience':
        claims.aud = FAULT_VALUES.audience;
        break;
      case 'wrong-issuer':
        claims.iss = FAULT_VALUES.issuer;
        break;
      case 'missing-email':
        delete claims.email;
        break;
      case 'missing-jti':
        delete claims.jti;
        break;
      case 'missing-identity':
        if (ctx.identityClaim === undefined) throw new IdpError('invalid_fault', `missing-identity leaves out the identity claim of a Contact JWT, and ${ctx.spId} has no jwt.identityClaim.`);
        delete claims[ctx.identityClaim];
        break;
      case 'missing-exp':
        delete claims.exp;
        break;
      case 'replayed-jti':
        if (ctx.lastJti === undefined) {
          throw new IdpError(
            'invalid_fault',
            `replayed-jti reuses the jti of the last fault-free token sent to ${ctx.spId}, and none was sent since mock-idp started: sign in once without a fault first.`,
          );
        }
        claims.jti = ctx.lastJti;
        break;
      default:
        // Signature faults are applied to the signed token.
        break;
    }
  }
  return claims;
}

/** The one signature fault among `faults`, if any (the parser allows at most one). */
export function jwtSignatureFaultOf(faults: readonly JwtFault[]): JwtSignatureFault | undefined {
  return faults.map((f) => f.name).find((n): n is JwtSignatureFault => (JWT_SIGNATURE_FAULTS as readonly string[]).includes(n));
}

export interface JwtSignatureFaultKeys {
  /** wrong-key: a private key of the token's algorithm that is not the SP's. */
  wrongKey?: KeyObject | undefined;
  /** hs-rs-confusion: the SP's verification key as SPKI PEM text (the HMAC secret of the attack). */
  publicKeyPem?: string | undefined;
  /** old-shared-token: the SP's previous HS256 shared token (used as UTF-8 bytes, as the current one is). */
  previousSecret?: string | undefined;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

function parts(token: string): [string, string, string] {
  const p = token.split('.');
  if (p.length !== 3) throw new TypeError('not a compact JWS');
  return [p[0]!, p[1]!, p[2]!];
}

function signWith(alg: string, key: KeyObject, data: string): Buffer {
  const bytes = Buffer.from(data, 'ascii');
  if (alg === 'HS256') return crypto.createHmac('sha256', key).update(bytes).digest();
  if (alg === 'RS256') return crypto.sign('sha256', bytes, key);
  if (alg === 'ES256') return crypto.sign('sha256', bytes, { key, dsaEncoding: 'ieee-p1363' });
  throw new TypeError(`no fault signing for ${alg}`);
}

/**
 * The token with the signature fault applied. The payload segment is kept as it
 * is; only the header (alg-none, hs-rs-confusion) and the signature change.
 */
export function applyJwtSignatureFault(token: string, fault: JwtSignatureFault, keys: JwtSignatureFaultKeys = {}): string {
  const [h, p, s] = parts(token);
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  switch (fault) {
    case 'bad-signature': {
      const sig = Buffer.from(s, 'base64url');
      sig[0] = sig[0]! ^ 0x01;
      return `${h}.${p}.${b64url(sig)}`;
    }
    case 'wrong-key': {
      if (!keys.wrongKey) throw new TypeError('wrong-key needs a key');
      return `${h}.${p}.${b64url(signWith(String(header.alg), keys.wrongKey, `${h}.${p}`))}`;
    }
    case 'alg-none': {
      const { kid: _kid, ...rest } = header;
      const h2 = b64url(JSON.stringify({ ...rest, alg: 'none' }));
      return `${h2}.${p}.`;
    }
    case 'hs-rs-confusion': {
      if (!keys.publicKeyPem) throw new TypeError('hs-rs-confusion needs the public key');
      const h2 = b64url(JSON.stringify({ ...header, alg: 'HS256' }));
      const mac = crypto.createHmac('sha256', Buffer.from(keys.publicKeyPem, 'utf8')).update(`${h2}.${p}`, 'ascii').digest();
      return `${h2}.${p}.${b64url(mac)}`;
    }
    case 'old-shared-token': {
      if (header.alg !== 'HS256') throw new TypeError('old-shared-token needs an HS256 token');
      if (!keys.previousSecret) throw new TypeError('old-shared-token needs the previous secret');
      const mac = crypto.createHmac('sha256', Buffer.from(keys.previousSecret, 'utf8')).update(`${h}.${p}`, 'ascii').digest();
      return `${h}.${p}.${b64url(mac)}`;
    }
  }
}
