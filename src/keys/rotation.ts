/**
 * Key rotation on disk: current key files move to retired/ with the time they were
 * retired in their name, and stay published (JWKS, SAML metadata) for the grace
 * period so SPs that cache keys keep verifying; past it they are deleted. What a
 * rotation did is described by kid (JWT) and certificate fingerprint (SAML), never
 * by anything private.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundledKeysDir } from '../paths.js';
import { KEY_FILES, RETIRED_DIR, pemBlock, pemBody } from './key-files.js';
import type { KeySet, RetiredKeys } from './key-set.js';
import { signingKeyFromPem, type AsymmetricAlg } from './signing-key.js';

export interface RetiredFile {
  file: string;
  /** The KEY_FILES entry it was rotated out of. */
  original: string;
  retiredAt: number;
}

/** A key as a rotation names it: a JWT key by its kid, the SAML certificate by its SHA-256 fingerprint and serial number. */
export type KeyName = { kid: string } | { sha256: string; serialNumber: string };

/** What a rotation did to one key. */
export interface Rotation {
  what: 'JWT RS256 key' | 'JWT ES256 key' | 'SAML signing key and certificate';
  /** The JWT algorithm, for a JWT key. */
  alg: AsymmetricAlg | undefined;
  /** The key that signs from now on. */
  current: KeyName;
  /** The key it replaced; undefined when there was none. */
  retired: KeyName | undefined;
  /** Where the replaced key went (its certificate's file for SAML). */
  retiredFile: string | undefined;
  /** Until when (seconds since the epoch) the replaced key stays published. */
  retiredUntil: number | undefined;
}

/** The files of one key moved to retired/. */
interface RetiredGroup {
  what: Rotation['what'];
  alg: AsymmetricAlg | undefined;
  moved: { from: string; to: string }[];
  retiredAt: number;
}

const GROUPS = [
  { what: 'JWT RS256 key', alg: 'RS256', files: [KEY_FILES.RS256] },
  { what: 'JWT ES256 key', alg: 'ES256', files: [KEY_FILES.ES256] },
  { what: 'SAML signing key and certificate', alg: undefined, files: [KEY_FILES.samlKey, KEY_FILES.samlCert] },
] as const;

/**
 * Why the keys in a folder must not be rotated, or undefined when they may be:
 * the package's own development keys (shared by every install), and keys under
 * deterministicSeed (a new key would be derived from the same seed, so a rotation
 * would make the very keys it retires, and deterministic mode promises the same
 * keys on every run). The sentence says what is wrong; each caller adds how to fix it.
 */
export function rotationRefusal(keysDir: string, seed: string | undefined): { reason: 'bundled-keys' | 'seeded-keys'; message: string } | undefined {
  if (path.resolve(keysDir) === bundledKeysDir) {
    return { reason: 'bundled-keys', message: `The keys in ${keysDir} are the development keys shipped with mock-idp: rotating them would change the package's own files.` };
  }
  if (seed !== undefined) {
    return {
      reason: 'seeded-keys',
      message: 'deterministicSeed is set: new keys would be derived from the same seed, so a rotation would make again the keys it retires (deterministic mode promises the same keys on every run).',
    };
  }
  return undefined;
}

export function listRetired(keysDir: string): RetiredFile[] {
  const dir = path.join(keysDir, RETIRED_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const m = /^(.+)\.(\d+)\.pem$/.exec(name);
    return m ? [{ file: path.join(dir, name), original: `${m[1]}.pem`, retiredAt: Number(m[2]) }] : [];
  });
}

/** The retired keys and certificates still inside the grace period, newest first. */
export function loadRetired(keysDir: string, graceSeconds: number, nowSec: number): RetiredKeys {
  const retired: RetiredKeys = { jwt: [], samlCertificates: [] };
  for (const r of listRetired(keysDir).sort((a, b) => b.retiredAt - a.retiredAt)) {
    if (r.retiredAt + graceSeconds <= nowSec) continue;
    const pem = fs.readFileSync(r.file, 'utf8');
    if (r.original === KEY_FILES.RS256 || r.original === KEY_FILES.ES256) {
      const alg: AsymmetricAlg = r.original === KEY_FILES.RS256 ? 'RS256' : 'ES256';
      const { kid, publicJwk } = signingKeyFromPem(alg, pem, r.file);
      retired.jwt.push({ alg, kid, publicJwk, retiredAt: r.retiredAt });
    } else if (r.original === KEY_FILES.samlCert) {
      retired.samlCertificates.push({ certificatePem: pemBlock(pem, 'CERTIFICATE'), certificateBase64: pemBody(pem, 'CERTIFICATE'), retiredAt: r.retiredAt });
    }
  }
  return retired;
}

const retiredName = (file: string, sec: number) => `${file.slice(0, -'.pem'.length)}.${sec}.pem`;

/**
 * Deletes retired files past their grace period, then moves the current key files
 * (of the JWT algorithms given, and the SAML pair) to retired/. Each file is named by
 * the second it was retired in; when a rotation in the same second already used that
 * name, the next free second is taken rather than overwriting a retired key.
 */
function retireCurrentKeys(keysDir: string, graceSeconds: number, nowSec: number, algorithms: readonly AsymmetricAlg[]): RetiredGroup[] {
  const retiredDir = path.join(keysDir, RETIRED_DIR);
  fs.mkdirSync(retiredDir, { recursive: true });
  for (const r of listRetired(keysDir)) if (r.retiredAt + graceSeconds <= nowSec) fs.rmSync(r.file, { force: true });
  const groups = GROUPS.filter((g) => g.alg === undefined || algorithms.includes(g.alg));
  const files = groups.flatMap((g) => g.files);
  let sec = nowSec;
  while (files.some((f) => fs.existsSync(path.join(retiredDir, retiredName(f, sec))))) sec += 1;
  return groups.map((g) => {
    const moved: RetiredGroup['moved'] = [];
    for (const f of g.files) {
      const from = path.join(keysDir, f);
      if (!fs.existsSync(from)) continue;
      const to = path.join(retiredDir, retiredName(f, sec));
      fs.renameSync(from, to);
      moved.push({ from, to });
    }
    return { what: g.what, alg: g.alg, moved, retiredAt: sec };
  });
}

/** Puts the retired files back in place (over any new one): after a rotation that failed half-way, nothing new is in use. */
function restore(groups: readonly RetiredGroup[]): void {
  for (const { from, to } of groups.flatMap((g) => g.moved)) fs.renameSync(to, from);
}

export function certificateName(certificatePem: string): KeyName {
  const x509 = new crypto.X509Certificate(certificatePem);
  return { sha256: x509.fingerprint256, serialNumber: x509.serialNumber };
}

/** What each group's rotation did: the new key in `next`, the retired one read back from its file. */
function describe(groups: readonly RetiredGroup[], next: KeySet, graceSeconds: number): Rotation[] {
  return groups.map((g) => {
    const retiredFile = g.alg ? g.moved[0]?.to : g.moved.find((m) => m.from.endsWith(KEY_FILES.samlCert))?.to;
    const pem = retiredFile === undefined ? undefined : fs.readFileSync(retiredFile, 'utf8');
    const retired = pem === undefined ? undefined : g.alg ? { kid: signingKeyFromPem(g.alg, pem, retiredFile!).kid } : certificateName(pemBlock(pem, 'CERTIFICATE'));
    const current = g.alg ? { kid: next.jwt.get(g.alg)!.kid } : certificateName(next.saml.certificatePem);
    return { what: g.what, alg: g.alg, current, retired, retiredFile, retiredUntil: retired ? g.retiredAt + graceSeconds : undefined };
  });
}

/**
 * Rotates the keys in `keysDir`: retires the current files, then `loadNext` makes and
 * loads the new current keys. When that fails, the retired files go back, so the
 * folder keeps a usable key set.
 */
export async function rotateFiles(
  keysDir: string,
  options: { graceSeconds: number; nowSec: number; algorithms: readonly AsymmetricAlg[] },
  loadNext: () => Promise<KeySet>,
): Promise<{ next: KeySet; rotations: Rotation[] }> {
  const groups = retireCurrentKeys(keysDir, options.graceSeconds, options.nowSec, options.algorithms);
  let next: KeySet;
  try {
    next = await loadNext();
  } catch (err) {
    restore(groups);
    throw err;
  }
  return { next, rotations: describe(groups, next, options.graceSeconds) };
}
