/**
 * A JWT signing key as the IdP uses it: checked for its algorithm, with its
 * public JWK and its kid (the RFC 7638 thumbprint; dev-CHANGE-ME-… for the
 * bundled development keys).
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { ConfigError } from '../errors.js';
import { importPrivate } from './key-files.js';

/** The text every bundled development key file carries, and what the start-up warning looks for. */
export const DEV_KEY_MARKER = 'DEVELOPMENT KEY - CHANGE-ME';

export type AsymmetricAlg = 'RS256' | 'ES256';

export interface SigningKey {
  alg: AsymmetricAlg;
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
  /** True for the publicly known development keys shipped with the package. */
  isDevKey: boolean;
  /** Where it came from, for messages (never the key itself). */
  origin: string;
}

/** The RFC 7638 thumbprint of a public RSA or EC JWK: SHA-256 of its required members in lexicographic order. */
function jwkThumbprint(jwk: JWK): string {
  const required = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return crypto.createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}

function toSigningKey(alg: AsymmetricAlg, privateKey: KeyObject, isDevKey: boolean, origin: string): SigningKey {
  const expectedType = alg === 'RS256' ? 'rsa' : 'ec';
  if (privateKey.asymmetricKeyType !== expectedType) {
    throw new ConfigError(`${origin}: a ${alg} key must be ${expectedType.toUpperCase()}, this one is ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  if (alg === 'ES256' && privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ConfigError(`${origin}: an ES256 key must be on curve P-256`);
  }
  if (alg === 'RS256' && (privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) {
    throw new ConfigError(`${origin}: an RS256 key must have at least 2048 bits`);
  }
  const publicKey = crypto.createPublicKey(privateKey);
  // node:crypto, synchronously: jose would load at start for this, and digest on libuv's threads.
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  const thumbprint = jwkThumbprint(jwk);
  const kid = isDevKey ? `dev-CHANGE-ME-${thumbprint.slice(0, 16)}` : thumbprint;
  const publicJwk: JWK = { ...jwk, kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk, isDevKey, origin };
}

/** The signing key in a PEM text (a key file's, or an SP's from the config); `origin` names it in errors. */
export function signingKeyFromPem(alg: AsymmetricAlg, pem: string, origin: string): SigningKey {
  return toSigningKey(alg, importPrivate(pem, origin), pem.includes(DEV_KEY_MARKER), origin);
}
