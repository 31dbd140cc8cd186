/** SAML IDs: xs:ID values, "_" followed by 160 random bits in hex (at least 128 are required). */
import crypto from 'node:crypto';

/** Makes a new SAML ID. Tests inject a deterministic one. */
export type IdGenerator = () => string;

export const randomSamlId: IdGenerator = () => `_${crypto.randomBytes(20).toString('hex')}`;

/** A deterministic generator for tests and fixtures: `_<prefix><n>` padded to 40 hex-like characters. */
export function sequentialIds(prefix = 'id'): IdGenerator {
  let n = 0;
  return () => {
    n += 1;
    return `_${prefix}${String(n).padStart(40 - prefix.length, '0')}`;
  };
}

/** An NCName safe to put in an XPath literal and an ID attribute. */
const NCNAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/;

export function isSafeId(id: string): boolean {
  return NCNAME.test(id);
}
