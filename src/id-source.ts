/** Fresh identifiers (JWT IDs, SAML IDs): random, or derived from deterministicSeed. */
import crypto from 'node:crypto';
import { randomHex } from './random.js';

/** Where fresh identifiers come from: random, or derived from deterministicSeed. */
export interface IdSource {
  /** A JWT ID (UUID-shaped). */
  jti(): string;
  /** A SAML ID: "_" and 40 hex digits. */
  samlId(): string;
}

export function idSource(seed: string | undefined): IdSource {
  if (seed === undefined) return { jti: () => crypto.randomUUID(), samlId: () => `_${randomHex(20)}` };
  let n = 0;
  const next = (kind: string) => crypto.createHmac('sha256', seed).update(`${kind}:${++n}`).digest('hex');
  return {
    jti: () => {
      const h = next('jti');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
    },
    samlId: () => `_${next('saml').slice(0, 40)}`,
  };
}
