/** The part of xml-encryption (a CommonJS module without types) that the IdP uses. */
declare module 'xml-encryption' {
  import type { KeyObject } from 'node:crypto';

  interface EncryptOptions {
    /** The recipient's RSA public key. */
    rsa_pub: string | Buffer | KeyObject;
    /** The recipient's certificate (PEM), published in the EncryptedKey's KeyInfo. */
    pem: string | Buffer;
    encryptionAlgorithm: string;
    keyEncryptionAlgorithm: string;
    keyEncryptionDigest?: 'sha1' | 'sha256' | 'sha512';
    /** xmlenc11#rsa-oaep only: the MGF1 hash, a short name (sha256) or its xenc11 URI, written as an xenc11:MGF element. */
    keyEncryptionMgf?: string;
    disallowEncryptionWithInsecureAlgorithm?: boolean;
    warnInsecureAlgorithm?: boolean;
  }

  interface DecryptOptions {
    key: string | Buffer | KeyObject;
    disallowDecryptionWithInsecureAlgorithm?: boolean;
    warnInsecureAlgorithm?: boolean;
  }

  const xmlenc: {
    encrypt(content: string, options: EncryptOptions, callback: (err: Error | null, result?: string) => void): void;
    decrypt(xml: string, options: DecryptOptions, callback: (err: Error | null, result?: string) => void): void;
  };
  export default xmlenc;
}
