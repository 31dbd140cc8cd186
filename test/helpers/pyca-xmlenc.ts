/**
 * Decrypts an EncryptedData with test/helpers/pyca_xmlenc.py: XML Encryption 1.1 read
 * with lxml and decrypted with pyca/cryptography (OpenSSL), independent of node:crypto
 * and xml-encryption, for the key transports xmlsec1 1.2 does not know (xmlenc11#rsa-oaep).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SYSTEM_PYTHON } from './onelogin.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pyca_xmlenc.py');

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
  return new Promise((resolve, reject) => {
    const child = spawn(SYSTEM_PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`pyca_xmlenc.py exited with ${code}: ${stderr.trim()}`));
      else resolve(JSON.parse(stdout) as PycaDecrypted);
    });
    child.stdin.end(JSON.stringify({ xml, private_key_pem: privateKeyPem }));
  });
}
