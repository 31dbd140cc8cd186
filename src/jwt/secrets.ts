/**
 * HS256 shared secrets: from the config, or generated once (32 random bytes,
 * base64url) and kept in the store so they stay the same across restarts.
 */
import crypto from 'node:crypto';
import type { ResolvedServiceProvider } from '../config/load.js';
import { kvGet, kvSet, type Db } from '../store/db.js';

export interface GeneratedSecret {
  spId: string;
  secret: string;
}

export function resolveHsSecrets(
  serviceProviders: readonly ResolvedServiceProvider[],
  db: Db,
): { secrets: Map<string, string>; generated: GeneratedSecret[] } {
  const secrets = new Map<string, string>();
  const generated: GeneratedSecret[] = [];
  for (const sp of serviceProviders) {
    if (sp.jwt?.algorithm !== 'HS256') continue;
    if (sp.jwt.secret) {
      secrets.set(sp.id, sp.jwt.secret);
      continue;
    }
    const key = `jwt-secret:${sp.id}`;
    let secret = kvGet(db, key);
    if (secret === undefined) {
      secret = crypto.randomBytes(32).toString('base64url');
      kvSet(db, key, secret);
      generated.push({ spId: sp.id, secret });
    }
    secrets.set(sp.id, secret);
  }
  return { secrets, generated };
}
