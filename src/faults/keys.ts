/**
 * The "other" keys of the wrong-key and wrong-certificate faults: generated on
 * first use, kept in memory for the life of the process, never written anywhere,
 * never published in the JWKS or the metadata. They exist only to make signatures
 * that a correct service provider refuses.
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { SigningCredentials } from '../saml/sign.js';

export interface FaultKeys {
  /** A private key of the algorithm's family: RSA 2048 for RS256, P-256 for ES256, 32 random bytes for HS256. */
  jwt(alg: 'HS256' | 'RS256' | 'ES256'): Promise<KeyObject>;
  /** An RSA key with a self-signed certificate that no metadata lists. */
  saml(): Promise<SigningCredentials>;
}

function generate(type: 'rsa' | 'ec'): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject) => (err ? reject(err) : resolve(priv));
    if (type === 'rsa') crypto.generateKeyPair('rsa', { modulusLength: 2048 }, done);
    else crypto.generateKeyPair('ec', { namedCurve: 'prime256v1' }, done);
  });
}

async function samlCredentials(): Promise<SigningCredentials> {
  const privateKey = await generate('rsa');
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicKeyPem = crypto.createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
  const { default: selfsigned } = await import('selfsigned');
  const now = Date.now();
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'mock-idp fault: wrong-certificate (not the IdP certificate)' }], {
    keyPair: { privateKey: privateKeyPem, publicKey: publicKeyPem },
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 86_400_000),
    notAfterDate: new Date(now + 3650 * 86_400_000),
  });
  return { privateKeyPem, certificatePem: pems.cert };
}

/** Keys made once per process and shared by every IdP in it (they sign nothing anyone trusts). */
export function processFaultKeys(): FaultKeys {
  return shared;
}

function lazy<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= make().catch((err: unknown) => {
      value = undefined;
      throw err;
    });
    return value;
  };
}

const rsa = lazy(() => generate('rsa'));
const ec = lazy(() => generate('ec'));
const hmac = lazy(async () => crypto.createSecretKey(crypto.randomBytes(32)));
const shared: FaultKeys = {
  jwt: (alg) => (alg === 'HS256' ? hmac() : alg === 'RS256' ? rsa() : ec()),
  saml: lazy(samlCredentials),
};
