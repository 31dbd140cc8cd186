/**
 * EncryptedAssertion (SAML core 2.3.4): the signed assertion encrypted for the SP
 * with xml-encryption, AES-256-GCM for the data and RSA-OAEP for the key.
 */
import crypto from 'node:crypto';
import { ENCRYPTION } from './algorithms.js';

/** Encrypts an assertion's XML for the holder of `certificatePem`; returns the EncryptedData element. */
export async function encryptAssertion(assertionXml: string, certificatePem: string): Promise<string> {
  let publicKey: crypto.KeyObject;
  try {
    publicKey = new crypto.X509Certificate(certificatePem).publicKey;
  } catch {
    throw new TypeError('the encryptionCert of the service provider is not a PEM certificate');
  }
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new TypeError(`the encryptionCert of the service provider must hold an RSA key, not ${publicKey.asymmetricKeyType ?? 'an unknown key'}`);
  }
  // Loaded on first use: most IdPs never encrypt, and the package costs start-up time.
  const { default: xmlenc } = await import('xml-encryption');
  return new Promise((resolve, reject) => {
    xmlenc.encrypt(
      assertionXml,
      {
        rsa_pub: publicKey,
        pem: certificatePem,
        encryptionAlgorithm: ENCRYPTION.dataUri,
        keyEncryptionAlgorithm: ENCRYPTION.keyTransportUri,
        keyEncryptionDigest: ENCRYPTION.keyTransportDigest,
        disallowEncryptionWithInsecureAlgorithm: true,
        warnInsecureAlgorithm: false,
      },
      (err, result) => (err || result === undefined ? reject(err ?? new Error('xml-encryption returned nothing')) : resolve(result.trim())),
    );
  });
}
