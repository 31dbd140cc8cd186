/**
 * Runs the OneLogin python toolkit (Debian's python3-onelogin-saml2 under
 * /usr/bin/python3) as an independent SAML SP, through test/helpers/onelogin_sp.py.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HELPERS = path.dirname(fileURLToPath(import.meta.url));
export const SYSTEM_PYTHON = '/usr/bin/python3';

export const ONELOGIN = {
  RSA_SHA256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  SHA256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  POST: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
  REDIRECT: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
} as const;

/**
 * Runs a python script of test/helpers under /usr/bin/python3 with `input` as JSON
 * on its standard input; its JSON answer, or a rejection with its stderr.
 */
export function runPythonJson<T>(script: string, input: unknown, label = script): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(SYSTEM_PYTHON, [path.join(HELPERS, script)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`${label} exited with ${code}: ${stderr.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as T);
      } catch {
        reject(new Error(`${label} printed no JSON: ${stdout.slice(0, 500)} ${stderr.slice(0, 500)}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** Runs one action of the toolkit and returns its JSON answer. */
export function runOneLogin<T = Record<string, unknown>>(input: Record<string, unknown>): Promise<T> {
  return runPythonJson<T>('onelogin_sp.py', input, `onelogin_sp.py ${String(input.action)}`);
}

/** Is the toolkit installed? (The tests fail loudly, rather than skip, when it is not.) */
export async function oneLoginAvailable(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(SYSTEM_PYTHON, ['-c', 'import onelogin.saml2.auth, xmlsec'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}
