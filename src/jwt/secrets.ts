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
  const planned = planHsSecrets(serviceProviders, db);
  keepHsSecrets(db, planned.generated);
  return planned;
}

/** What `resolveHsSecrets` would answer, without keeping the secrets it generates (a change checked before it is made). */
export function planHsSecrets(
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
    let secret = kvGet(db, secretKey(sp.id));
    if (secret === undefined) {
      secret = crypto.randomBytes(32).toString('base64url');
      generated.push({ spId: sp.id, secret });
    }
    secrets.set(sp.id, secret);
  }
  return { secrets, generated };
}

/** Keeps secrets generated here or by another replica, so `resolveHsSecrets` uses them. */
export function keepHsSecrets(db: Db, secrets: readonly GeneratedSecret[]): void {
  for (const { spId, secret } of secrets) kvSet(db, secretKey(spId), secret);
}

function secretKey(spId: string): string {
  return `jwt-secret:${spId}`;
}

/** The HS256 secret each SP had before its last run-time change, as this process saw it (the old-shared-token fault). */
export class PreviousSecrets {
  readonly #secrets = new Map<string, string>();

  get(spId: string): string | undefined {
    return this.#secrets.get(spId);
  }

  /** Notes the secrets a change replaced, given the secrets by SP id before and after it. */
  remember(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): void {
    for (const [spId, secret] of before) {
      const now = after.get(spId);
      if (now !== undefined && now !== secret) this.#secrets.set(spId, secret);
    }
    // Changed back (a reset to the file's secret, say): the remembered one would sign validly.
    for (const [spId, secret] of this.#secrets) if (after.get(spId) === secret) this.#secrets.delete(spId);
  }
}
