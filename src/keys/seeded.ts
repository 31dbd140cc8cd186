/**
 * Deterministic key generation for deterministic mode: with `deterministicSeed`,
 * keys that mock-idp has to generate are derived from the seed, so two machines
 * (or two runs on empty key folders) get the same keys and hence byte-for-byte the
 * same RS256 tokens and SAML signatures. node-forge generates the RSA key from a
 * seeded generator and signs the certificate; P-256 keys are a scalar derived from
 * the seed. Development use only: anyone with the seed has the keys.
 */
import crypto, { type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** A byte stream derived from the seed: HMAC-SHA256(seed, label || counter) blocks. */
function stream(seed: string, label: string): (n: number) => Buffer {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n) => {
    while (pool.length < n) {
      const block = crypto.createHmac('sha256', seed).update(`${label}:${counter++}`).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return out;
  };
}

function seededPrng(seed: string, label: string): forge.random.Random {
  const next = stream(seed, label);
  const prng = forge.random.createInstance();
  prng.seedFileSync = (needed: number) => next(needed).toString('binary');
  return prng;
}

export function seededRsaKey(seed: string, label: string): KeyObject {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001, prng: seededPrng(seed, label), algorithm: 'PRIMEINC', workers: -1 });
  return crypto.createPrivateKey(forge.pki.privateKeyToPem(keys.privateKey));
}

const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

export function seededEcKey(seed: string, label: string): KeyObject {
  const next = stream(seed, label);
  for (;;) {
    const d = BigInt(`0x${next(32).toString('hex')}`);
    if (d === 0n || d >= P256_ORDER) continue;
    const dBytes = Buffer.from(d.toString(16).padStart(64, '0'), 'hex');
    const ecdh = crypto.createECDH('prime256v1');
    ecdh.setPrivateKey(dBytes);
    const pub = ecdh.getPublicKey();
    return crypto.createPrivateKey({
      key: { kty: 'EC', crv: 'P-256', d: dBytes.toString('base64url'), x: pub.subarray(1, 33).toString('base64url'), y: pub.subarray(33, 65).toString('base64url') },
      format: 'jwk',
    });
  }
}

/** A self-signed certificate for a key, with a fixed serial and the given validity: the same inputs give the same certificate. */
export function deterministicCertificate(privateKey: KeyObject, commonName: string, notBefore: Date, notAfter: Date): string {
  const forgeKey = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  cert.serialNumber = '01';
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const name = [{ name: 'commonName', value: commonName }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, critical: true }]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}
