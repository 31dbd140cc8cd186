/**
 * `mock-idp keys rotate --url URL`: rotates the keys of a running IdP through its
 * control API (POST /api/keys/rotate) instead of touching a keys folder, and says
 * precisely why when it could not: nothing listens there, the token is missing or
 * wrong, the control API is off, the server refuses to rotate its keys.
 *
 * Exit codes, as the other commands: 0 rotated; 2 what the command or the server's
 * config must change (token, adminToken unset, keys that cannot be rotated: the same
 * code as the offline refusal); 3 the server could not be reached (as `conformance`
 * says of an SP); 1 any other answer.
 */
import { isNetworkFailure, networkReason } from '../conformance/reach.js';
import type { RotatedKey, RotationAnswer } from '../http/keys-api.js';
import type { KeyName } from '../keys/keystore.js';
import { answerMessage, idpApiUrl } from './remote.js';

const TIMEOUT_MS = 30_000;

/** A key as the command prints it: `kid …`, or the certificate's fingerprint as `keys list` shows it. */
export function keyNameText(name: KeyName): string {
  return 'kid' in name ? `kid ${name.kid}` : `certificate sha256 ${name.sha256.slice(0, 23)}… (serial ${name.serialNumber})`;
}

function keyLine(k: RotatedKey): string {
  const what = k.use === 'jwt' ? `JWT ${k.alg ?? ''} key` : 'SAML signing key and certificate';
  const retired = k.retired ? `the previous ${keyNameText(k.retired)} stays published until ${k.retiredUntil ?? '?'}` : 'there was none before';
  return `${what}: ${keyNameText(k.current)} is current; ${retired}\n`;
}

export async function rotateRemote(url: string, token: string | undefined): Promise<number> {
  const endpoint = idpApiUrl(url, 'api/keys/rotate');
  const fail = (code: number, text: string): number => {
    process.stderr.write(`mock-idp: ${text}\n`);
    return code;
  };
  let res: Response;
  try {
    res = await fetch(endpoint, {
      method: 'POST',
      headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    if (!isNetworkFailure(err)) throw err;
    return fail(3, `cannot reach the IdP at ${url} (${networkReason(err, TIMEOUT_MS)}): is it running there? Nothing was rotated.`);
  }
  if (res.status === 200) {
    const answer = (await res.json().catch(() => undefined)) as RotationAnswer | undefined;
    if (!Array.isArray(answer?.keys)) return fail(1, `${endpoint.href} answered 200 but not with a key rotation: is ${url} a mock-idp?`);
    process.stdout.write(`Rotated the signing keys of ${url} at ${answer.rotatedAt}:\n${answer.keys.map(keyLine).join('')}`);
    process.stdout.write(`It signs with the new keys now; the previous ones stay in its JWKS and SAML metadata for ${answer.graceSeconds} s (keyRotationGraceSeconds).\n`);
    return 0;
  }
  const { error, message } = await answerMessage(res);
  if (res.status === 401) {
    return fail(
      2,
      token
        ? `the IdP at ${url} refused the admin token (401: ${message}): give its adminToken with --admin-token or MOCK_IDP_ADMIN_TOKEN.`
        : `the IdP at ${url} needs its admin token (401: ${message}): give it with --admin-token T or MOCK_IDP_ADMIN_TOKEN.`,
    );
  }
  if (res.status === 403) return fail(2, `the IdP at ${url} refused the call (403 Forbidden: ${message}).`);
  if (res.status === 404 && error === 'not_found' && /control API is off/.test(message)) {
    return fail(2, `the control API of the IdP at ${url} is off (404): start it with adminToken in its config (or MOCK_IDP_ADMIN_TOKEN) to rotate its keys over HTTP.`);
  }
  if (res.status === 404) return fail(1, `${url} has no POST /api/keys/rotate (404: ${message}): is it a mock-idp that rotates keys at run time?`);
  if (res.status === 409) return fail(2, `the IdP at ${url} did not rotate its keys (409): ${message}`);
  return fail(1, `the IdP at ${url} answered ${res.status} to POST /api/keys/rotate: ${message}`);
}
