/**
 * The IdP's own keys in keysDir, loaded, or generated there when absent: the JWT
 * keys (RS256, ES256) and the SAML signing key and certificate. With
 * deterministicSeed, generated keys (and the SAML certificate) derive from the seed.
 */
import crypto, { type KeyObject } from 'node:crypto';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { KEY_FILES, importPrivate, labelled, pemBlock, pemBody, readIfExists, writeKeyFile } from './key-files.js';
import { DEV_KEY_MARKER, signingKeyFromPem, type AsymmetricAlg, type SigningKey } from './signing-key.js';

export interface SamlCredentials {
  privateKey: KeyObject;
  /** The PEM text of the private key (xml-crypto takes PEM). */
  privateKeyPem: string;
  certificatePem: string;
  /** Base64 DER of the certificate, as it goes into KeyInfo and metadata. */
  certificateBase64: string;
  certificateDer: Buffer;
  isDevKey: boolean;
  origin: string;
}

/** Loaded only when a seeded key must be generated (node-forge is large). */
const seeded = () => import('./seeded.js');

/** The JWT key for `alg` in `dir`, generated (and its file added to `generated`) when missing. */
export async function loadOrGenerateJwtKey(dir: string, alg: AsymmetricAlg, generated: string[], seed: string | undefined): Promise<SigningKey> {
  const file = path.join(dir, KEY_FILES[alg]);
  let pem = readIfExists(file);
  if (pem === undefined) {
    const privateKey =
      seed !== undefined
        ? alg === 'RS256'
          ? (await seeded()).seededRsaKey(seed, 'jwt-rs256')
          : (await seeded()).seededEcKey(seed, 'jwt-es256')
        : alg === 'RS256'
          ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
          : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    pem = labelled(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), `JWT ${alg} signing`, true);
    writeKeyFile(file, pem);
    generated.push(file);
  }
  return signingKeyFromPem(alg, pem, file);
}

/** The SAML signing key and certificate in `dir`; a missing key is generated, a missing certificate made for the key. */
export async function loadOrGenerateSaml(dir: string, generated: string[], seed: string | undefined): Promise<SamlCredentials> {
  const keyFile = path.join(dir, KEY_FILES.samlKey);
  const certFile = path.join(dir, KEY_FILES.samlCert);
  let keyPem = readIfExists(keyFile);
  let certPem = readIfExists(certFile);
  if (keyPem === undefined && certPem !== undefined) {
    throw new ConfigError(`${certFile} exists but its private key ${keyFile} does not`);
  }
  if (keyPem === undefined || certPem === undefined) {
    let privatePem = keyPem === undefined ? undefined : pemBlock(keyPem, 'PRIVATE KEY');
    if (privatePem === undefined) {
      const privateKey = seed !== undefined ? (await seeded()).seededRsaKey(seed, 'saml-signing') : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      keyPem = labelled(privatePem, 'SAML signing', true);
      writeKeyFile(keyFile, keyPem);
      generated.push(keyFile);
    }
    if (seed !== undefined) {
      // A fixed serial and validity (ten years from 2025-01-01), so the certificate is the same wherever it is made.
      const from = new Date('2025-01-01T00:00:00Z');
      const cert = (await seeded()).deterministicCertificate(crypto.createPrivateKey(privatePem), 'mock-idp SAML signing (seeded)', from, new Date(from.getTime() + 3652 * 86_400_000));
      certPem = labelled(cert, 'SAML signing (certificate, from deterministicSeed)', true);
      writeKeyFile(certFile, certPem);
      generated.push(certFile);
    }
  }
  if (keyPem !== undefined && certPem === undefined) {
    certPem = await selfSignedCertificate(keyPem);
    writeKeyFile(certFile, certPem);
    generated.push(certFile);
  }
  if (keyPem === undefined || certPem === undefined) throw new ConfigError(`${keyFile}: SAML key or certificate missing`);
  return samlCredentialsFromPem(keyPem, certPem, keyFile, certFile);
}

/** The SAML credentials in a key's and a certificate's PEM texts, checked to belong together; the origins name them in errors. */
export function samlCredentialsFromPem(keyPem: string, certPem: string, keyOrigin: string, certOrigin: string): SamlCredentials {
  const privateKey = importPrivate(keyPem, keyOrigin);
  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(pemBlock(certPem, 'CERTIFICATE'));
  } catch {
    throw new ConfigError(`${certOrigin}: not a PEM certificate`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(`${certOrigin} does not belong to the private key ${keyOrigin}`);
  }
  return {
    privateKey,
    privateKeyPem: pemBlock(keyPem, 'PRIVATE KEY'),
    certificatePem: pemBlock(certPem, 'CERTIFICATE'),
    certificateBase64: pemBody(certPem, 'CERTIFICATE'),
    certificateDer: x509.raw,
    isDevKey: keyPem.includes(DEV_KEY_MARKER),
    origin: keyOrigin,
  };
}

/** A labelled self-signed certificate for the SAML key, valid for ten years from a minute ago. */
async function selfSignedCertificate(keyPem: string): Promise<string> {
  const privatePem = pemBlock(keyPem, 'PRIVATE KEY');
  const publicPem = crypto.createPublicKey(privatePem).export({ type: 'spki', format: 'pem' }).toString();
  const now = new Date();
  // Loaded only to make a certificate: it costs ~100 ms of start-up time otherwise.
  const { default: selfsigned } = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'mock-idp SAML signing' }], {
    keyPair: { privateKey: privatePem, publicKey: publicPem },
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 3650 * 86_400_000),
  });
  return labelled(pems.cert, 'SAML signing (certificate)', true);
}
