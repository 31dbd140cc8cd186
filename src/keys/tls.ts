/**
 * The HTTPS certificate: the configured one, or a self-signed certificate for
 * localhost and 127.0.0.1 generated once under keysDir.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';

export const TLS_FILES = { cert: 'tls-localhost.crt.pem', key: 'tls-localhost.key.pem' } as const;

export interface TlsCredentials {
  cert: string;
  key: string;
  /** The certificate file, for "how to trust it" instructions (self-signed only). */
  certFile: string | undefined;
  generated: boolean;
}

export async function loadTls(config: ResolvedConfig): Promise<TlsCredentials | undefined> {
  const tls = config.tls;
  if (!tls) return undefined;
  if (tls.cert && tls.key) {
    try {
      if (!new crypto.X509Certificate(tls.cert).checkPrivateKey(crypto.createPrivateKey(tls.key))) {
        throw new ConfigError(`Invalid config in ${config.source}: tls.cert does not belong to tls.key`);
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`Invalid config in ${config.source}: tls.cert / tls.key are not a PEM certificate and private key`);
    }
    return { cert: tls.cert, key: tls.key, certFile: undefined, generated: false };
  }
  const certFile = path.join(config.keysDir, TLS_FILES.cert);
  const keyFile = path.join(config.keysDir, TLS_FILES.key);
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8'), certFile, generated: false };
  }
  const now = Date.now();
  // Loaded only to make a certificate: it costs ~100 ms of start-up time otherwise.
  const { default: selfsigned } = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 825 * 86_400_000),
  });
  try {
    fs.mkdirSync(config.keysDir, { recursive: true });
    fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
    fs.writeFileSync(certFile, pems.cert);
  } catch (err) {
    throw new ConfigError(`Cannot write the self-signed certificate into ${config.keysDir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); set keysDir or KEYS_DIR to a writable folder`);
  }
  return { cert: pems.cert, key: pems.private, certFile, generated: true };
}

export function trustInstructions(certFile: string): string {
  return [
    `  HTTPS:     self-signed certificate for localhost and 127.0.0.1: ${certFile}`,
    '             trust it for tools:   curl --cacert <file> …   NODE_EXTRA_CA_CERTS=<file> node …',
    '             trust it system-wide (Debian/Ubuntu): sudo cp <file> /usr/local/share/ca-certificates/mock-idp.crt && sudo update-ca-certificates',
    '             browsers: import <file> as a trusted authority, or accept the warning once',
  ]
    .join('\n')
    .replaceAll('<file>', certFile);
}
