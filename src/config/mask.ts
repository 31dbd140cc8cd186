/**
 * Secret masking for whatever shows configuration back to a person: the CLI's
 * `check-config` and the control API's service providers. One list of keys, so
 * neither can show a secret the other hides.
 */

/** Keys whose string values are secrets, wherever they appear: config input, resolved config, API bodies. */
export const SECRET_KEYS: ReadonlySet<string> = new Set(['password', 'secret', 'sessionSecret', 'privateKey', 'privateKeyPem', 'adminToken']);

export const MASK = '********';

/** A PEM private key block, under whatever key it sits (tls.key, an inline SP key). */
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** A JSON copy of `value` with the string value of every secret key, and every private key PEM, at any depth, replaced by MASK. */
export function maskSecrets(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => (typeof v === 'string' && (SECRET_KEYS.has(k) || PRIVATE_KEY_PEM.test(v)) ? MASK : v))) as unknown;
}
