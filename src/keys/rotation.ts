/**
 * Key rotation: current key files move to retired/ with the time they were
 * retired in their name, and stay published (JWKS, SAML metadata) for the grace
 * period so SPs that cache keys keep verifying; past it they are deleted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KEY_FILES, RETIRED_DIR, pemBlock, pemBody } from './key-files.js';
import { signingKeyFromPem, type AsymmetricAlg, type SigningKey } from './signing-key.js';

export interface RetiredCertificate {
  certificatePem: string;
  certificateBase64: string;
  /** Seconds since the epoch. */
  retiredAt: number;
}

/** Retired keys still inside their grace period: still published, never used to sign. */
export interface RetiredKeys {
  jwt: SigningKey[];
  samlCertificates: RetiredCertificate[];
}

export interface RetiredFile {
  file: string;
  /** The KEY_FILES entry it was rotated out of. */
  original: string;
  retiredAt: number;
}

export interface Rotation {
  what: string;
  retiredFile: string | undefined;
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
      retired.jwt.push(signingKeyFromPem(alg, pem, r.file));
    } else if (r.original === KEY_FILES.samlCert) {
      retired.samlCertificates.push({ certificatePem: pemBlock(pem, 'CERTIFICATE'), certificateBase64: pemBody(pem, 'CERTIFICATE'), retiredAt: r.retiredAt });
    }
  }
  return retired;
}

/** Deletes retired files past their grace period, then moves the current key files to retired/. */
export function retireCurrentKeys(keysDir: string, graceSeconds: number, nowSec: number): Rotation[] {
  const retiredDir = path.join(keysDir, RETIRED_DIR);
  fs.mkdirSync(retiredDir, { recursive: true });
  for (const r of listRetired(keysDir)) if (r.retiredAt + graceSeconds <= nowSec) fs.rmSync(r.file, { force: true });
  const rotations: Rotation[] = [];
  for (const [what, files] of [
    ['JWT RS256 key', [KEY_FILES.RS256]],
    ['JWT ES256 key', [KEY_FILES.ES256]],
    ['SAML signing key and certificate', [KEY_FILES.samlKey, KEY_FILES.samlCert]],
  ] as const) {
    let retiredFile: string | undefined;
    for (const f of files) {
      const from = path.join(keysDir, f);
      if (!fs.existsSync(from)) continue;
      const to = path.join(retiredDir, `${f.slice(0, -'.pem'.length)}.${nowSec}.pem`);
      fs.renameSync(from, to);
      retiredFile ??= to;
    }
    rotations.push({ what, retiredFile });
  }
  return rotations;
}
