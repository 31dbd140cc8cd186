/** What `mock-idp serve` prints at start: where everything is, and the warnings about unsafe settings. */
import { DEMO_CONFIG_FILE, type ResolvedConfig } from '../config/load.js';
import { trustInstructions } from '../keys/tls.js';
import type { Running } from '../server.js';

export function banner(config: ResolvedConfig, running: Running): string {
  const isDemoConfig = config.source.startsWith(DEMO_CONFIG_FILE);
  const lines = ['', 'mock-idp is running', `  IdP:       ${config.baseUrl}  (listening on ${config.host}:${running.idpPort})`];
  if (config.console.embedUrl) lines.push(`  Console:   ${config.baseUrl}/  ("Vincall"-style console embedding ${config.console.embedUrl})`);
  if (running.demoServer) {
    lines.push(`  Demo SP:   ${config.demo.spBaseUrl}/LoginSSO.aspx?siteid=${encodeURIComponent(config.demo.siteId)}  (Comm100-like)`);
  }
  lines.push(`  JWKS:      ${config.baseUrl}/.well-known/jwks.json`);
  for (const sp of config.serviceProviders) {
    if (sp.jwt) lines.push(`  SP ${sp.id}: remote login URL ${config.baseUrl}/sso/jwt/${sp.id}?redirect_url=…  (${sp.jwt.algorithm}, ${sp.jwt.delivery})`);
  }
  lines.push(`  Config:    ${config.source}`, `  Data:      ${config.dataDir}`);
  if (running.tls?.certFile) lines.push(trustInstructions(running.tls.certFile));
  if (config.users.length > 0) {
    lines.push(isDemoConfig ? '  Demo users (email / password):' : '  Users:');
    for (const u of config.users) {
      // Passwords are shown only for the public demo config, whose passwords are in the repository anyway.
      const pw = isDemoConfig ? ` / ${u.password}` : '';
      lines.push(`    ${u.email}${pw}${u.disabled ? '  (disabled)' : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function warnings(config: ResolvedConfig, running: Running): string[] {
  const out: string[] = [];
  if (running.idp.context.keystore.usesDevKeys) {
    out.push(`Using the DEVELOPMENT keys shipped in ${config.keysDir} (CHANGE-ME): anyone can sign as this IdP. Set keysDir or KEYS_DIR to an empty folder to generate your own.`);
  }
  const base = new URL(config.baseUrl);
  if (base.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(base.hostname)) {
    out.push(`baseUrl ${config.baseUrl} is plain http on a non-local host: tokens travel in clear text. Use https.`);
  }
  for (const f of running.idp.context.keystore.generated) out.push(`Generated a new key: ${f}`);
  if (config.allowLoginHint) {
    out.push('allowLoginHint is on: login_hint=<email> signs any user in without a password. Use it only for test suites.');
  }
  if (config.showUserPicker && !config.source.startsWith(DEMO_CONFIG_FILE)) {
    out.push('showUserPicker is on: the login form lets anyone sign in as a listed user without a password.');
  }
  if (config.sessionStore === 'redis' && !config.sessionSecret) {
    out.push('sessionStore is redis but sessionSecret (SESSION_SECRET) is not set: each replica signs cookies with its own generated secret, so they cannot share sessions. Give every replica the same sessionSecret.');
  }
  return out;
}
