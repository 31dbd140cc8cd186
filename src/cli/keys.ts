/** `mock-idp keys list|generate|rotate`: the signing keys in the keys folder. */
import crypto from 'node:crypto';
import type { ResolvedConfig } from '../config/load.js';
import { listRetired, loadKeystore, rotateKeys, rotationRefusal } from '../keys/keystore.js';
import { COMMON_OPTIONS, OFFLINE_OPTIONS, UsageError, offlineConfig, parse } from './args.js';
import { keyNameText, rotateRemote } from './keys-remote.js';
import { table } from './output.js';

const KEYS_HELP = `Usage: mock-idp keys list|generate|rotate [options]
       mock-idp keys rotate --url URL [--admin-token T]

  list       the signing keys: current, retired (still published) and expired
  generate   create the keys that are missing in the keys folder
  rotate     make new keys current; the previous ones stay in the JWKS and SAML
             metadata for keyRotationGraceSeconds, so SPs that cache keys keep working.
             In the keys folder: an IdP already running on it signs with the new
             keys after a restart. With --url: the running IdP at URL rotates its
             own keys (POST /api/keys/rotate) and signs with the new ones at once.

Options:
${COMMON_OPTIONS}  --keys-dir DIR     keys folder (env KEYS_DIR; default: the config's keysDir)
  --url URL          rotate: the running IdP's address, e.g. http://localhost:8080
  --admin-token T    with --url: the IdP's adminToken (env MOCK_IDP_ADMIN_TOKEN)

Exit codes: 0 done; 2 a usage or config error, the admin token missing or wrong,
the control API off, or keys that cannot be rotated (the bundled development keys,
deterministicSeed); 3 the IdP at --url could not be reached; 1 anything else.
`;

export async function keys(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    options: { ...OFFLINE_OPTIONS, 'keys-dir': { type: 'string' }, url: { type: 'string' }, 'admin-token': { type: 'string' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(KEYS_HELP);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (!action || !['list', 'generate', 'rotate'].includes(action) || extra.length > 0) throw new UsageError('keys takes one of list, generate, rotate');
  if (values.url !== undefined) {
    if (action !== 'rotate') throw new UsageError(`--url is for keys rotate; keys ${action} reads the keys folder`);
    const local = (['keys-dir', 'config', 'data-dir'] as const).find((o) => values[o] !== undefined);
    if (local) throw new UsageError(`--url rotates the keys of the IdP running there; --${local} is for rotating a keys folder instead`);
    return rotateRemote(values.url, values['admin-token'] ?? (process.env.MOCK_IDP_ADMIN_TOKEN || undefined));
  }
  if (values['admin-token'] !== undefined) throw new UsageError('--admin-token goes with --url');
  const config = await offlineConfig(values);
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
  const refused = rotationRefusal(config.keysDir, config.deterministicSeed);
  if (refused?.reason === 'bundled-keys') {
    throw new UsageError(`keys rotate would change the development keys shipped in ${config.keysDir}; give your own folder with --keys-dir or KEYS_DIR`);
  }
  if (refused) throw new UsageError(`keys rotate: ${refused.message} Change deterministicSeed (or remove it) and empty the keys folder instead`);
  const rotations = await rotateKeys(config.keysDir, { graceSeconds: config.keyRotationGraceSeconds });
  for (const r of rotations) {
    const retired = r.retired ? `; the previous ${keyNameText(r.retired)} stays published until ${new Date(r.retiredUntil! * 1000).toISOString()}` : '';
    process.stdout.write(`${r.what}: ${r.retiredFile ? `retired to ${r.retiredFile}` : 'none before'}; a new one is current (${keyNameText(r.current)})${retired}\n`);
  }
  process.stdout.write(
    `Retired keys stay published for ${config.keyRotationGraceSeconds} s (keyRotationGraceSeconds). An IdP running on this folder signs with the new keys after a restart; to rotate a running IdP at once, use keys rotate --url.\n`,
  );
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
