/**
 * Random hex strings (SAML IDs, flow ids) drawn from a pool of cryptographically
 * random bytes refilled 4 KiB at a time: on the sign-in path, one randomBytes call
 * per identifier costs more than the rest of making it. (crypto.randomUUID pools
 * the same way.)
 */
import crypto from 'node:crypto';

const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let used = 0;

/** `bytes` random bytes as 2×bytes hex digits. */
export function randomHex(bytes: number): string {
  if (bytes > POOL_SIZE) return crypto.randomBytes(bytes).toString('hex');
  if (used + bytes > pool.length) {
    pool = crypto.randomBytes(POOL_SIZE);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}
