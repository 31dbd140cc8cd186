/**
 * The IdP's own key set: the keys that sign (JWT RS256/ES256, the SAML key and
 * certificate) and the retired ones still published. The keystore holds one such
 * value and replaces it whole (a rotation, a set adopted from elsewhere), so no
 * reader sees half of one set and half of another.
 *
 * As plain JSON (`KeySetJson`) it is what replicas sharing a store will exchange:
 * PEM texts and JWKs, no KeyObjects. Only the current keys travel with their private
 * part; retired keys are never used to sign, so they travel as a public JWK or a
 * certificate, with the time they were retired.
 */
import crypto from 'node:crypto';
import type { JWK } from 'jose';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { samlCredentialsFromPem, type SamlCredentials } from './generate.js';
import { pemBlock, pemBody } from './key-files.js';
import { DEV_KEY_MARKER, signingKeyFromPem, type AsymmetricAlg, type SigningKey } from './signing-key.js';

/** A retired JWT key: published in the JWKS until its grace period ends, never used to sign. */
export interface RetiredJwtKey {
  alg: AsymmetricAlg;
  kid: string;
  publicJwk: JWK;
  /** Seconds since the epoch. */
  retiredAt: number;
}

export interface RetiredCertificate {
  certificatePem: string;
  certificateBase64: string;
  /** Seconds since the epoch. */
  retiredAt: number;
}

/** Retired keys still inside their grace period: still published, never used to sign. */
export interface RetiredKeys {
  jwt: RetiredJwtKey[];
  samlCertificates: RetiredCertificate[];
}

export interface KeySet {
  jwt: ReadonlyMap<AsymmetricAlg, SigningKey>;
  saml: SamlCredentials;
  retired: RetiredKeys;
}

export const KEY_SET_FORMAT = 'mock-idp.key-set.v1';

/** A key set as plain JSON. */
export interface KeySetJson {
  format: typeof KEY_SET_FORMAT;
  /** The current JWT keys, one per algorithm, as PKCS#8 PEM. */
  jwt: { alg: AsymmetricAlg; privateKeyPem: string }[];
  /** The current SAML signing key (PKCS#8 PEM) and its certificate. */
  saml: { privateKeyPem: string; certificatePem: string };
  retired: {
    jwt: { alg: AsymmetricAlg; publicJwk: JWK; retiredAt: number }[];
    samlCertificates: { certificatePem: string; retiredAt: number }[];
  };
}

const alg = z.enum(['RS256', 'ES256']);
const retiredAt = z.number().int().min(0);
const keySetJsonSchema = z.strictObject({
  format: z.literal(KEY_SET_FORMAT),
  jwt: z.array(z.strictObject({ alg, privateKeyPem: z.string().min(1) })).min(1),
  saml: z.strictObject({ privateKeyPem: z.string().min(1), certificatePem: z.string().min(1) }),
  retired: z.strictObject({
    jwt: z.array(z.strictObject({ alg, publicJwk: z.record(z.string(), z.unknown()), retiredAt })),
    samlCertificates: z.array(z.strictObject({ certificatePem: z.string().min(1), retiredAt })),
  }),
});

/**
 * A key's PEM as it travels: the development-key label kept in front, so the
 * adopting side derives the same kid (dev-CHANGE-ME-…) and the same warning.
 */
function travellingPem(pkcs8: string, isDevKey: boolean): string {
  return isDevKey ? `${DEV_KEY_MARKER}\n${pkcs8}` : pkcs8;
}

export function keySetToJson(set: KeySet): KeySetJson {
  return {
    format: KEY_SET_FORMAT,
    jwt: [...set.jwt.values()].map((k) => ({ alg: k.alg, privateKeyPem: travellingPem(k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), k.isDevKey) })),
    saml: { privateKeyPem: travellingPem(set.saml.privateKeyPem, set.saml.isDevKey), certificatePem: set.saml.certificatePem },
    retired: {
      jwt: set.retired.jwt.map((k) => ({ alg: k.alg, publicJwk: k.publicJwk, retiredAt: k.retiredAt })),
      samlCertificates: set.retired.samlCertificates.map((c) => ({ certificatePem: c.certificatePem, retiredAt: c.retiredAt })),
    },
  };
}

/** A retired JWT key from its public JWK: checked to be a public key of the algorithm, with a kid. */
function retiredJwtKey(input: { alg: AsymmetricAlg; publicJwk: Record<string, unknown>; retiredAt: number }, where: string): RetiredJwtKey {
  const { kid } = input.publicJwk;
  if (typeof kid !== 'string' || kid === '') throw new ConfigError(`${where}.publicJwk: has no kid`);
  if ('d' in input.publicJwk) throw new ConfigError(`${where}.publicJwk: a retired key travels as a public key only (it has "d")`);
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: input.publicJwk as crypto.JsonWebKey, format: 'jwk' });
  } catch {
    throw new ConfigError(`${where}.publicJwk: not a public JWK`);
  }
  const expected = input.alg === 'RS256' ? 'rsa' : 'ec';
  if (key.asymmetricKeyType !== expected) throw new ConfigError(`${where}.publicJwk: a ${input.alg} key must be ${expected.toUpperCase()}`);
  const publicJwk: JWK = { ...(key.export({ format: 'jwk' }) as JWK), kid, alg: input.alg, use: 'sig' };
  return { alg: input.alg, kid, publicJwk, retiredAt: input.retiredAt };
}

/**
 * The key set in `json`, every key imported and checked; a ConfigError names
 * `origin` and the field otherwise. `algorithms` are the JWT algorithms that must
 * be in it (the ones the IdP signs with).
 */
export function keySetFromJson(json: unknown, origin: string, algorithms: readonly AsymmetricAlg[]): KeySet {
  const parsed = keySetJsonSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(`${origin}: not a key set: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(the set)'}: ${i.message}`).join('; ')}`);
  }
  const input = parsed.data;
  const jwt = new Map<AsymmetricAlg, SigningKey>();
  input.jwt.forEach((k, i) => {
    if (jwt.has(k.alg)) throw new ConfigError(`${origin}: jwt[${i}]: a second ${k.alg} key`);
    jwt.set(k.alg, signingKeyFromPem(k.alg, k.privateKeyPem, `${origin}: jwt[${i}] (${k.alg})`));
  });
  for (const a of algorithms) if (!jwt.has(a)) throw new ConfigError(`${origin}: jwt: no ${a} key, which this IdP signs with`);
  const saml = samlCredentialsFromPem(input.saml.privateKeyPem, input.saml.certificatePem, `${origin}: saml.privateKeyPem`, `${origin}: saml.certificatePem`);
  const samlCertificates = input.retired.samlCertificates.map((c, i) => {
    const where = `${origin}: retired.samlCertificates[${i}].certificatePem`;
    try {
      new crypto.X509Certificate(pemBlock(c.certificatePem, 'CERTIFICATE'));
    } catch {
      throw new ConfigError(`${where}: not a PEM certificate`);
    }
    return { certificatePem: pemBlock(c.certificatePem, 'CERTIFICATE'), certificateBase64: pemBody(c.certificatePem, 'CERTIFICATE'), retiredAt: c.retiredAt };
  });
  const retiredJwt = input.retired.jwt.map((k, i) => retiredJwtKey(k, `${origin}: retired.jwt[${i}]`));
  return { jwt, saml, retired: { jwt: retiredJwt, samlCertificates } };
}
