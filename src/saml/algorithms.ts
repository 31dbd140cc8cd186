/**
 * The signature and encryption algorithms of the SAML side, named in one place.
 *
 * Signing uses RSA-SHA256 (or RSA-SHA512 when an SP asks for it) with a digest of
 * the same strength and exclusive canonicalization. SHA-1 is listed separately, as
 * an insecure algorithm that nothing uses by default and incoming messages may not
 * use: it exists only for deliberate fault injection.
 */
import type { KeyEncryptionAlgorithmName } from '../config/sp-schema.js';

export const C14N = {
  exclusive: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  exclusiveWithComments: 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
  inclusive: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  inclusiveWithComments: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
} as const;

export const TRANSFORM_ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';

export interface SignatureAlgorithm {
  /** The XML-DSig SignatureMethod URI, also the SigAlg of the HTTP-Redirect binding. */
  signatureUri: string;
  /** The DigestMethod URI used with it for References. */
  digestUri: string;
  /** The node:crypto hash name for RSA signatures over a query string. */
  nodeHash: 'sha1' | 'sha256' | 'sha512';
}

/** Algorithms the IdP signs with and accepts in incoming messages. */
export const SIGNATURE_ALGORITHMS = {
  'rsa-sha256': {
    signatureUri: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    digestUri: 'http://www.w3.org/2001/04/xmlenc#sha256',
    nodeHash: 'sha256',
  },
  'rsa-sha512': {
    signatureUri: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
    digestUri: 'http://www.w3.org/2001/04/xmlenc#sha512',
    nodeHash: 'sha512',
  },
} as const satisfies Record<string, SignatureAlgorithm>;

export type SignatureAlgorithmName = keyof typeof SIGNATURE_ALGORITHMS;

/** Never a default and never accepted: only for fault injection that wants a weak signature. */
export const INSECURE_SIGNATURE_ALGORITHMS = {
  'rsa-sha1': {
    signatureUri: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
    digestUri: 'http://www.w3.org/2000/09/xmldsig#sha1',
    nodeHash: 'sha1',
  },
} as const satisfies Record<string, SignatureAlgorithm>;

export type InsecureSignatureAlgorithmName = keyof typeof INSECURE_SIGNATURE_ALGORITHMS;

export const DEFAULT_SIGNATURE_ALGORITHM: SignatureAlgorithmName = 'rsa-sha256';

/** Digest URIs accepted in the References of incoming signatures. */
export const ACCEPTED_DIGEST_URIS: readonly string[] = Object.values(SIGNATURE_ALGORITHMS).map((a) => a.digestUri);

/** Canonicalization URIs accepted in incoming signatures (SignedInfo and Reference transforms). */
export const ACCEPTED_C14N_URIS: readonly string[] = Object.values(C14N);

export function signatureAlgorithm(name: SignatureAlgorithmName | InsecureSignatureAlgorithmName): SignatureAlgorithm {
  return name in SIGNATURE_ALGORITHMS
    ? SIGNATURE_ALGORITHMS[name as SignatureAlgorithmName]
    : INSECURE_SIGNATURE_ALGORITHMS[name as InsecureSignatureAlgorithmName];
}

/** The accepted algorithm with this SignatureMethod/SigAlg URI, or undefined (SHA-1 included). */
export function acceptedSignatureAlgorithmByUri(uri: string): SignatureAlgorithmName | undefined {
  for (const [name, alg] of Object.entries(SIGNATURE_ALGORITHMS)) {
    if (alg.signatureUri === uri) return name as SignatureAlgorithmName;
  }
  return undefined;
}

/** EncryptedAssertion: the assertion under AES-256-GCM, its key under RSA-OAEP (MGF1 with SHA-1, SHA-1 digest, the interoperable form) by default. */
export const ENCRYPTION = {
  dataUri: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  keyTransportUri: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
  keyTransportDigest: 'sha1',
} as const;

export interface KeyTransportAlgorithm {
  /** The EncryptedKey's EncryptionMethod URI. */
  uri: string;
  /** The OAEP digest: the node:crypto hash name and the DigestMethod URI written inside the EncryptionMethod. */
  digest: 'sha1' | 'sha256';
  digestUri: string;
  /** The xenc11:MGF URI, for xmlenc11#rsa-oaep only (rsa-oaep-mgf1p fixes MGF1-SHA-1 and must not name one). */
  mgfUri: string | undefined;
}

/**
 * How an EncryptedAssertion's AES key is encrypted, by the SP's keyEncryptionAlgorithm
 * (XML Encryption 1.1 5.5.2): RSA-OAEP with SHA-1 and MGF1-SHA-1 (the default), or
 * xmlenc11#rsa-oaep with SHA-256 and MGF1-SHA-256.
 */
export const KEY_TRANSPORT_ALGORITHMS = {
  'rsa-oaep-mgf1p': {
    uri: ENCRYPTION.keyTransportUri,
    digest: ENCRYPTION.keyTransportDigest,
    digestUri: 'http://www.w3.org/2000/09/xmldsig#sha1',
    mgfUri: undefined,
  },
  'rsa-oaep-sha256': {
    uri: 'http://www.w3.org/2009/xmlenc11#rsa-oaep',
    digest: 'sha256',
    digestUri: 'http://www.w3.org/2001/04/xmlenc#sha256',
    mgfUri: 'http://www.w3.org/2009/xmlenc11#mgf1sha256',
  },
} as const satisfies Record<KeyEncryptionAlgorithmName, KeyTransportAlgorithm>;
