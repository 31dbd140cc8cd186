/**
 * Decrypts an EncryptedData with test/helpers/pyca_xmlenc.py: XML Encryption 1.1 read
 * with lxml and decrypted with pyca/cryptography (OpenSSL), independent of node:crypto
 * and xml-encryption, for the key transports xmlsec1 1.2 does not know (xmlenc11#rsa-oaep).
 */
import { runPythonJson } from './onelogin.js';

export interface PycaDecrypted {
  /** The EncryptionMethod URIs as read: the data's, the key's, its DigestMethod and xenc11:MGF (null when absent). */
  data: string;
  key_transport: string;
  digest: string | null;
  mgf: string | null;
  plaintext: string;
}

/** The decrypted EncryptedData (the first in `xml`), or a rejection with the script's reason. */
export function pycaDecrypt(xml: string, privateKeyPem: string): Promise<PycaDecrypted> {
  return runPythonJson<PycaDecrypted>('pyca_xmlenc.py', { xml, private_key_pem: privateKeyPem });
}
