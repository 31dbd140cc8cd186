/**
 * EncryptedAssertion (SAML core 2.3.4): the signed assertion encrypted for the SP
 * with xml-encryption, AES-256-GCM for the data and RSA-OAEP for the key, the
 * SP's keyEncryptionAlgorithm choosing which RSA-OAEP (algorithms.ts
 * KEY_TRANSPORT_ALGORITHMS): xmlenc#rsa-oaep-mgf1p by default, or xmlenc11#rsa-oaep
 * with a SHA-256 DigestMethod and an xenc11:MGF of MGF1-SHA-256. xml-encryption
 * writes both forms itself (its keyEncryptionMgf option), so no XML is built here.
 */
import crypto from 'node:crypto';
import type { KeyEncryptionAlgorithmName } from '../config/sp-schema.js';
import { ENCRYPTION, KEY_TRANSPORT_ALGORITHMS } from './algorithms.js';

/**
 * Encrypts an assertion's XML for the holder of `certificatePem`, its AES key by
 * `keyEncryption` (an SP's `saml.keyEncryptionAlgorithm`); returns the EncryptedData element.
 */
export async function encryptAssertion(assertionXml: string, certificatePem: string, keyEncryption: KeyEncryptionAlgorithmName): Promise<string> {
  const keyTransport = KEY_TRANSPORT_ALGORITHMS[keyEncryption];
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
        keyEncryptionAlgorithm: keyTransport.uri,
        keyEncryptionDigest: keyTransport.digest,
        // Only xmlenc11#rsa-oaep names its MGF (xml-encryption refuses one with rsa-oaep-mgf1p).
        ...(keyTransport.mgfUri === undefined ? {} : { keyEncryptionMgf: keyTransport.mgfUri }),
        disallowEncryptionWithInsecureAlgorithm: true,
        warnInsecureAlgorithm: false,
      },
      (err, result) => (err || result === undefined ? reject(err ?? new Error('xml-encryption returned nothing')) : resolve(result.trim())),
    );
  });
}
