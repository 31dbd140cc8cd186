/**
 * A stock Apache mod_auth_mellon SP (Debian's apache2 and libapache2-mod-auth-mellon,
 * installed by scripts/setup.sh) on a free loopback port, in its own temp folder.
 *
 * Two steps, because each side needs the other's metadata:
 * `prepareMellon()` picks the port and runs Debian's `mellon_create_metadata` (its SP
 * metadata, key and certificate, unchanged), so the IdP can be started with that
 * metadata; `startMellon()` then saves the IdP's published metadata and starts Apache.
 *
 * The protected page `/protected` is a CGI that prints the MELLON_* variables mellon
 * sets (the NameID, the attributes), one `NAME=value` a line; `/signed-out` is a
 * plain page outside mellon's protection. `stop()` ends the Apache parent it started,
 * by its PID (its children follow), waits for it to exit and removes the folder.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, tempDir } from './idp.js';

export const APACHE2 = '/usr/sbin/apache2';
export const APACHE_MODULES = '/usr/lib/apache2/modules';
export const MELLON_CREATE_METADATA = '/usr/sbin/mellon_create_metadata';
/** The user Debian's Apache children run as, when Apache is started by root. */
const APACHE_USER = 'www-data';

const run = promisify(execFile);

export interface PreparedMellon {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  entityId: string;
  /** The MellonEndpointPath as a URL: <url>/mellon. */
  endpointUrl: string;
  dir: string;
  /** What mellon_create_metadata wrote: the SP metadata, key and certificate. */
  metadataFile: string;
  keyFile: string;
  certFile: string;
}

export interface MellonSp {
  url: string;
  /** The page behind `AuthType Mellon`. */
  protectedUrl: string;
  entityId: string;
  /** Apache's error log so far (mellon logs there), for assertion messages; empty once stopped. */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Picks a port and makes the SP's metadata and keys with Debian's script.
 *
 * `nameIdFormat`: mellon 0.18 has no directive for the NameIDPolicy it sends; lasso
 * asks for the first NameIDFormat of the SP's own metadata (MellonSPMetadataFile),
 * transient when it lists none (as mellon_create_metadata's does). Given, that
 * element is added to the metadata, as an admin would; otherwise it is unchanged.
 */
export async function prepareMellon(options: { nameIdFormat?: string } = {}): Promise<PreparedMellon> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const entityId = `${url}/mellon/metadata`;
  const endpointUrl = `${url}/mellon`;
  const dir = tempDir('mock-idp-mellon-');
  await run(MELLON_CREATE_METADATA, [entityId, endpointUrl], { cwd: dir });
  // The script names its files after the entity ID, with every other character made '_'.
  const base = path.join(dir, entityId.replace(/[^0-9A-Za-z.]/g, '_').replace(/_+/g, '_'));
  const prepared = { port, url, entityId, endpointUrl, dir, metadataFile: `${base}.xml`, keyFile: `${base}.key`, certFile: `${base}.cert` };
  for (const f of [prepared.metadataFile, prepared.keyFile, prepared.certFile]) {
    if (!fs.existsSync(f)) throw new Error(`mellon_create_metadata did not write ${f}`);
  }
  if (options.nameIdFormat !== undefined) {
    const xml = fs.readFileSync(prepared.metadataFile, 'utf8');
    const acs = '    <AssertionConsumerService ';
    if (!xml.includes(acs)) throw new Error(`no AssertionConsumerService in ${prepared.metadataFile}`);
    // Its place in the schema: after the SingleLogoutService, before the AssertionConsumerService.
    fs.writeFileSync(prepared.metadataFile, xml.replace(acs, `    <NameIDFormat>${options.nameIdFormat}</NameIDFormat>\n${acs}`));
  }
  return prepared;
}

const WHOAMI_CGI = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
env | grep '^MELLON_' | LC_ALL=C sort
`;

function httpdConf(p: PreparedMellon, idpMetadataFile: string, asRoot: boolean): string {
  const mod = (name: string, file: string) => `LoadModule ${name} ${APACHE_MODULES}/${file}`;
  return `# A private Apache for one test: nothing outside ${p.dir} is read or written but the modules.
ServerRoot "${p.dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${p.port}
PidFile "${p.dir}/httpd.pid"
DefaultRuntimeDir "${p.dir}/run"
ErrorLog "${p.dir}/error.log"
LogLevel warn auth_mellon:info
MellonLockFile "${p.dir}/mellon.lock"
${mod('mpm_prefork_module', 'mod_mpm_prefork.so')}
${mod('authz_core_module', 'mod_authz_core.so')}
${mod('authn_core_module', 'mod_authn_core.so')}
${mod('authz_user_module', 'mod_authz_user.so')}
${mod('cgi_module', 'mod_cgi.so')}
${mod('auth_mellon_module', 'mod_auth_mellon.so')}
${asRoot ? `User ${APACHE_USER}\nGroup ${APACHE_USER}` : ''}
StartServers 1
MinSpareServers 1
MaxSpareServers 2
MaxRequestWorkers 4
DocumentRoot "${p.dir}/htdocs"
<Directory "${p.dir}/htdocs">
  Options +ExecCGI
  Require all granted
</Directory>

<Location />
  MellonSPPrivateKeyFile "${p.keyFile}"
  MellonSPCertFile "${p.certFile}"
  MellonSPMetadataFile "${p.metadataFile}"
  MellonIdPMetadataFile "${idpMetadataFile}"
  MellonEndpointPath /mellon
</Location>

<Location /protected>
  SetHandler cgi-script
  AuthType Mellon
  MellonEnable auth
  Require valid-user
</Location>
`;
}

async function uidOf(user: string): Promise<{ uid: number; gid: number }> {
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}

/** Makes every file of the folder readable by the Apache children (they read mellon's key per request). */
function handOver(dir: string, owner: { uid: number; gid: number }): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    fs.chownSync(path.join(entry.parentPath, entry.name), owner.uid, owner.gid);
  }
  fs.chownSync(dir, owner.uid, owner.gid);
}

function waitForListening(child: ChildProcess, url: string, errorLog: () => string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + timeoutMs;
    const onExit = (code: number | null) => reject(new Error(`apache2 exited with ${code} before it listened:\n${output}\n${errorLog()}`));
    child.once('exit', onExit);
    const probe = () => {
      fetch(url, { redirect: 'manual' }).then(
        () => {
          child.off('exit', onExit);
          resolve();
        },
        () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          if (Date.now() > deadline) {
            child.off('exit', onExit);
            reject(new Error(`apache2 did not listen on ${url} within ${timeoutMs} ms:\n${output}\n${errorLog()}`));
            return;
          }
          setTimeout(probe, 50);
        },
      );
    };
    probe();
  });
}

/** Saves the IdP's published metadata for mellon and starts Apache. */
export async function startMellon(p: PreparedMellon, idpMetadataUrl: string): Promise<MellonSp> {
  const res = await fetch(idpMetadataUrl);
  if (res.status !== 200) throw new Error(`GET ${idpMetadataUrl} answered ${res.status}`);
  const idpMetadataFile = path.join(p.dir, 'idp-metadata.xml');
  fs.writeFileSync(idpMetadataFile, await res.text());
  fs.mkdirSync(path.join(p.dir, 'run'), { recursive: true });
  fs.mkdirSync(path.join(p.dir, 'htdocs'), { recursive: true });
  fs.writeFileSync(path.join(p.dir, 'htdocs', 'protected'), WHOAMI_CGI, { mode: 0o755 });
  // A page outside mellon's protection, to come back to after signing out.
  fs.writeFileSync(path.join(p.dir, 'htdocs', 'signed-out'), 'Signed out.\n', { mode: 0o644 });
  const asRoot = process.getuid?.() === 0;
  const confFile = path.join(p.dir, 'httpd.conf');
  fs.writeFileSync(confFile, httpdConf(p, idpMetadataFile, asRoot));
  if (asRoot) handOver(p.dir, await uidOf(APACHE_USER));

  const logFile = path.join(p.dir, 'error.log');
  const errorLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  // -DFOREGROUND: the spawned process is Apache's parent, which ends its children when it gets SIGTERM.
  // It does so by signalling its whole process group (prefork's killpg(getpgrp(), SIGTERM)), so it
  // gets a group of its own (detached): left in ours, it would take the test runner down with it.
  const child = spawn(APACHE2, ['-DFOREGROUND', '-f', confFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' },
  });
  // Detached, it would outlive a test process that ends without calling stop().
  const onProcessExit = () => child.kill('SIGTERM');
  process.once('exit', onProcessExit);
  const stop = async () => {
    process.off('exit', onProcessExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(p.dir, { recursive: true, force: true });
  };
  try {
    await waitForListening(child, p.url, errorLog);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url: p.url, protectedUrl: `${p.url}/protected`, entityId: p.entityId, errorLog, stop };
}
