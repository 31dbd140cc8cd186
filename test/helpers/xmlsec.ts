/**
 * Runs xmlsec1 (Debian's xmlsec1, an independent XML-DSig implementation) to verify
 * a signature in a SAML message.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface XmlsecResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface XmlsecVerifyOptions {
  /** PEM certificate to verify with. */
  certificatePem: string;
  /**
   * 'configured-key': verify with the certificate's public key, ignoring KeyInfo;
   * 'keyinfo-trusted': verify with the certificate in KeyInfo, which must be the trusted one.
   */
  mode: 'configured-key' | 'keyinfo-trusted';
  /** Which signature: the root element's (Response, LogoutRequest, …) or the Assertion's (wherever it is). */
  signatureOf: 'root' | 'Assertion';
}

const ID_ATTRS = [
  '--id-attr:ID',
  'urn:oasis:names:tc:SAML:2.0:protocol:Response',
  '--id-attr:ID',
  'urn:oasis:names:tc:SAML:2.0:assertion:Assertion',
  '--id-attr:ID',
  'urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest',
  '--id-attr:ID',
  'urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse',
];

export async function xmlsecVerify(xml: string, options: XmlsecVerifyOptions): Promise<XmlsecResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-idp-xmlsec-'));
  try {
    const doc = path.join(dir, 'message.xml');
    const cert = path.join(dir, 'cert.pem');
    fs.writeFileSync(doc, xml);
    fs.writeFileSync(cert, options.certificatePem);
    const keyArgs =
      options.mode === 'configured-key' ? ['--pubkey-cert-pem', cert, '--enabled-key-data', 'rsa'] : ['--trusted-pem', cert];
    const nodeArgs =
      options.signatureOf === 'root'
        ? ['--node-xpath', "/*/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']"]
        : [
            '--node-xpath',
            "//*[local-name()='Assertion']/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']",
          ];
    const args = ['--verify', ...ID_ATTRS, ...keyArgs, ...nodeArgs, '--enabled-reference-uris', 'same-doc', doc];
    const result = await run(args);
    return { ...result, ok: result.code === 0 && /^OK$/m.test(result.stdout + result.stderr) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Decrypts the first EncryptedData of a document with a PEM private key; the document with it replaced. */
export async function xmlsecDecrypt(xml: string, privateKeyPem: string): Promise<XmlsecResult & { xml: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-idp-xmlsec-'));
  try {
    const doc = path.join(dir, 'message.xml');
    const key = path.join(dir, 'key.pem');
    const out = path.join(dir, 'out.xml');
    fs.writeFileSync(doc, xml);
    fs.writeFileSync(key, privateKeyPem);
    const result = await run(['--decrypt', '--privkey-pem', key, '--output', out, doc]);
    const ok = result.code === 0 && fs.existsSync(out);
    return { ...result, ok, xml: ok ? fs.readFileSync(out, 'utf8') : '' };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function run(args: string[]): Promise<XmlsecResult> {
  return new Promise<XmlsecResult>((resolve, reject) => {
    const child = spawn('xmlsec1', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ok: code === 0, code, stdout, stderr }));
  });
}
