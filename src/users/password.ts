/**
 * Password hashing with scrypt from node:crypto. The cost (log2 N) is
 * configurable: low for fast test suites, higher for realism. Hashes are
 * self-describing: scrypt$<logN>$<r>$<p>$<salt b64>$<hash b64>.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (pw: crypto.BinaryLike, salt: crypto.BinaryLike, len: number, opts: crypto.ScryptOptions) => Promise<Buffer>;

const KEY_LEN = 32;
const R = 8;
const P = 1;
/** Longest password accepted; longer ones are refused before hashing. */
export const MAX_PASSWORD_LENGTH = 1024;

function options(logN: number): crypto.ScryptOptions {
  const N = 2 ** logN;
  return { N, r: R, p: P, maxmem: 256 * N * R };
}

export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = crypto.randomBytes(16);
  const hash = await scrypt(password.normalize('NFKC'), salt, KEY_LEN, options(logN));
  return `scrypt$${logN}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const logN = Number(parts[1]);
  const r = Number(parts[2]);
  const p = Number(parts[3]);
  const salt = Buffer.from(parts[4]!, 'base64');
  const expected = Buffer.from(parts[5]!, 'base64');
  const N = 2 ** logN;
  const actual = await scrypt(password.normalize('NFKC'), salt, expected.length, { N, r, p, maxmem: 256 * N * r });
  return crypto.timingSafeEqual(actual, expected);
}

/** A hash of a random password at the same cost, so unknown users cost as much as known ones. */
export async function dummyHash(logN: number): Promise<string> {
  return hashPassword(crypto.randomBytes(16).toString('hex'), logN);
}
