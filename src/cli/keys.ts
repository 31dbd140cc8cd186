/** `mock-idp keys list|generate|rotate`: the signing keys in the keys folder. */
import crypto from 'node:crypto';
import type { ResolvedConfig } from '../config/load.js';
import { listRetired, loadKeystore, rotateKeys } from '../keys/keystore.js';
import { COMMON_OPTIONS, OFFLINE_OPTIONS, UsageError, offlineConfig, parse } from './args.js';
import { table } from './output.js';

const KEYS_HELP = `Usage: mock-idp keys list|generate|rotate [options]

  list       the signing keys: current, retired (still published) and expired
  generate   create the keys that are missing in the keys folder
  rotate     make new keys current; the previous ones stay in the JWKS and SAML
             metadata for keyRotationGraceSeconds, so SPs that cache keys keep working

Options:
${COMMON_OPTIONS}  --keys-dir DIR     keys folder (env KEYS_DIR; default: the config's keysDir)
`;

export async function keys(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    options: { ...OFFLINE_OPTIONS, 'keys-dir': { type: 'string' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(KEYS_HELP);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (!action || !['list', 'generate', 'rotate'].includes(action) || extra.length > 0) throw new UsageError('keys takes one of list, generate, rotate');
  const config = offlineConfig(values);
  if (action === 'rotate') return rotate(config);
  const ks = await loadKeystore({ keysDir: config.keysDir, graceSeconds: config.keyRotationGraceSeconds, seed: config.deterministicSeed });
  if (action === 'generate') {
    process.stdout.write(ks.generated.length ? ks.generated.map((f) => `generated ${f}\n`).join('') : `all keys already exist in ${config.keysDir}\n`);
    return 0;
  }
  const rows: string[][] = [['status', 'use', 'kid / certificate', 'file']];
  const current = (isDevKey: boolean) => (isDevKey ? 'current (DEVELOPMENT KEY)' : 'current');
  for (const alg of ['RS256', 'ES256'] as const) {
    const k = ks.jwtKey(alg);
    rows.push([current(k.isDevKey), `JWT ${alg}`, k.kid, k.origin]);
  }
  const fingerprint = (pem: string) => new crypto.X509Certificate(pem).fingerprint256.slice(0, 23);
  rows.push([current(ks.saml.isDevKey), 'SAML signing', `sha256 ${fingerprint(ks.saml.certificatePem)}`, ks.saml.origin]);
  rows.push(...retiredRows(config));
  process.stdout.write(table(rows));
  return 0;
}

async function rotate(config: ResolvedConfig): Promise<number> {
  if (config.usesBundledKeys) {
    throw new UsageError(`keys rotate would change the development keys shipped in ${config.keysDir}; give your own folder with --keys-dir or KEYS_DIR`);
  }
  const rotations = await rotateKeys(config.keysDir, { graceSeconds: config.keyRotationGraceSeconds });
  for (const r of rotations) {
    process.stdout.write(`${r.what}: ${r.retiredFile ? `retired to ${r.retiredFile}` : 'none before'}; a new one is current\n`);
  }
  process.stdout.write(`Retired keys stay published for ${config.keyRotationGraceSeconds} s (keyRotationGraceSeconds). Restart the IdP to sign with the new keys.\n`);
  return 0;
}

/** The retired key files, newest first, with whether they are still published. */
function retiredRows(config: ResolvedConfig): string[][] {
  const nowSec = Math.floor(Date.now() / 1000);
  return listRetired(config.keysDir)
    .sort((a, b) => b.retiredAt - a.retiredAt)
    .map((r) => {
      const until = r.retiredAt + config.keyRotationGraceSeconds;
      const status = until > nowSec ? `retired, published until ${new Date(until * 1000).toISOString()}` : 'expired (removed at the next rotate)';
      return [status, r.original.replace(/\.pem$/, ''), '', r.file];
    });
}
