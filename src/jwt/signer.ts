/**
 * Mints JWTs for service providers. HS256 secrets are imported once per SP when
 * the signer is built, as WebCrypto HMAC keys: jose re-imports a secret KeyObject
 * on every signature (it caches only asymmetric ones). RS256 and ES256 keys are
 * the keystore's, asked for at each signature (a map lookup): a key rotation
 * replaces them in the running process, and the next token carries the new kid.
 */
import crypto, { type KeyObject, type webcrypto } from 'node:crypto';
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import type { Clock } from '../clock.js';
import { epochSeconds } from '../clock.js';
import type { ResolvedJwtSp, ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import type { Keystore, SigningKey } from '../keys/keystore.js';
import type { User } from '../users/store.js';
import { buildClaims } from './claims.js';

/** jose, loaded by the first signature rather than at start-up. */
let jose: Promise<typeof import('jose')> | undefined;

type PreparedKey = { alg: 'HS256'; key: Promise<webcrypto.CryptoKey> } | { alg: 'RS256' | 'ES256'; current: () => SigningKey };

export interface MintedToken {
  token: string;
  header: JWTHeaderParameters;
  claims: JWTPayload;
}

export interface JwtSignerOptions {
  serviceProviders: readonly ResolvedServiceProvider[];
  keystore: Keystore;
  /** HS256 secrets by SP id (from config, or generated and stored). */
  secrets: ReadonlyMap<string, string>;
  clock: Clock;
  newJti?: () => string;
}

export class JwtSigner {
  readonly #keys = new Map<string, PreparedKey>();
  readonly #clock: Clock;
  readonly #newJti: () => string;
  /** HS256 secrets by SP id (the demo SP is configured with them, as a real SP would be). */
  readonly secrets: ReadonlyMap<string, string>;

  constructor(options: JwtSignerOptions) {
    this.#clock = options.clock;
    this.secrets = options.secrets;
    this.#newJti = options.newJti ?? (() => crypto.randomUUID());
    for (const sp of options.serviceProviders) {
      if (!sp.jwt) continue;
      this.#keys.set(sp.id, prepare(sp.id, sp.jwt, options));
    }
  }

  /**
   * Mints a token for a user of a JWT-enabled SP. `overrides` replace claims
   * (a null value removes one), for tests that need a particular token.
   */
  async mint(sp: ResolvedServiceProvider & { jwt: ResolvedJwtSp }, user: User, overrides: Record<string, unknown> = {}): Promise<MintedToken> {
    return this.signClaims(sp, this.claimsFor(sp, user, overrides));
  }

  /** The claims `mint` would sign: the user's claims for this SP, a new jti, times from the clock, then `overrides`. */
  claimsFor(sp: ResolvedServiceProvider & { jwt: ResolvedJwtSp }, user: User, overrides: Record<string, unknown> = {}): JWTPayload {
    const claims: JWTPayload = buildClaims({ sp, user, now: epochSeconds(this.#clock), jti: this.#newJti() });
    for (const [k, v] of Object.entries(overrides)) {
      if (v === null) delete claims[k];
      else claims[k] = v;
    }
    return claims;
  }

  /** Signs exactly these claims with the SP's key and the usual header (review-page edits, fault injection). */
  async signClaims(sp: ResolvedServiceProvider & { jwt: ResolvedJwtSp }, claims: JWTPayload): Promise<MintedToken> {
    const prepared = this.#keys.get(sp.id);
    if (!prepared) throw new IdpError('sp_protocol_disabled', `Service provider "${sp.id}" has no JWT configuration.`);
    const header: JWTHeaderParameters = { alg: prepared.alg, typ: 'JWT' };
    let key: KeyObject | webcrypto.CryptoKey;
    if (prepared.alg === 'HS256') {
      key = await prepared.key;
    } else {
      const signing = prepared.current();
      header.kid = signing.kid;
      key = signing.privateKey;
    }
    const { SignJWT } = await (jose ??= import('jose'));
    const token = await new SignJWT(claims).setProtectedHeader(header).sign(key);
    return { token, header, claims };
  }
}

function prepare(spId: string, jwt: ResolvedJwtSp, options: JwtSignerOptions): PreparedKey {
  if (jwt.algorithm === 'HS256') {
    const secret = options.secrets.get(spId);
    if (!secret) throw new IdpError('config_error', `No HS256 secret for service provider "${spId}".`);
    // Comm100 uses the secret string's UTF-8 bytes as the HMAC key, never base64-decoded.
    const key = crypto.subtle.importKey('raw', Buffer.from(secret, 'utf8'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    // A failure surfaces where the key is awaited (signClaims), not as an unhandled rejection.
    key.catch(() => undefined);
    return { alg: 'HS256', key };
  }
  const { keystore } = options;
  const alg = jwt.algorithm;
  // Asked once now, so a missing key fails when the signer is built rather than at the first sign-in.
  keystore.jwtKeyFor(spId, alg);
  return { alg, current: () => keystore.jwtKeyFor(spId, alg) };
}
