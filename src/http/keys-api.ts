/**
 * POST /api/keys/rotate: rotates the IdP's signing keys in the running server
 * (registered by the API router, behind its token). The answer names keys by kid
 * and certificate fingerprint only; a refusal (the bundled development keys,
 * deterministicSeed) is a 409 that says why and what to do.
 */
import { Router } from 'express';
import { IdpError } from '../errors.js';
import { rotationRefusal, type KeyName, type Rotation } from '../keys/keystore.js';
import type { AppContext } from './context.js';

/** One rotated key, as the API answers it. */
export interface RotatedKey {
  use: 'jwt' | 'saml';
  /** RS256 or ES256, for a JWT key. */
  alg?: string;
  /** The key that signs from now on. */
  current: KeyName;
  /** The key it replaced, still published until `retiredUntil`; null when there was none. */
  retired: KeyName | null;
  /** ISO time. */
  retiredUntil: string | null;
}

export interface RotationAnswer {
  /** ISO time, from the IdP clock. */
  rotatedAt: string;
  /** keyRotationGraceSeconds: how long a replaced key stays published. */
  graceSeconds: number;
  keys: RotatedKey[];
}

export function rotationAnswer(rotations: readonly Rotation[], rotatedAt: number, graceSeconds: number): RotationAnswer {
  return {
    rotatedAt: new Date(rotatedAt).toISOString(),
    graceSeconds,
    keys: rotations.map((r) => ({
      use: r.alg ? 'jwt' : 'saml',
      ...(r.alg ? { alg: r.alg } : {}),
      current: r.current,
      retired: r.retired ?? null,
      retiredUntil: r.retiredUntil === undefined ? null : new Date(r.retiredUntil * 1000).toISOString(),
    })),
  };
}

/** What to do about a refused rotation, on a running server. */
const REMEDY = {
  'bundled-keys': 'Set keysDir (or KEYS_DIR) to a folder of your own and restart the IdP; it generates keys there, which can be rotated.',
  'seeded-keys': 'To get other keys, change deterministicSeed (or remove it) and empty keysDir, then restart the IdP.',
} as const;

export function keysApi(ctx: AppContext): Router {
  const router = Router();
  router.post('/api/keys/rotate', async (_req, res) => {
    const refused = rotationRefusal(ctx.config.keysDir, ctx.config.deterministicSeed);
    if (refused) throw new IdpError('conflict', `${refused.message} ${REMEDY[refused.reason]}`);
    const rotatedAt = ctx.clock.now();
    const rotations = await ctx.rotateKeys();
    res.json(rotationAnswer(rotations, rotatedAt, ctx.keystore.graceSeconds));
  });
  return router;
}
