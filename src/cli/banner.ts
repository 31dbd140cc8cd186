/** What `mock-idp serve` prints at start: where everything is, and the warnings about unsafe settings. */
import { DEMO_CONFIG_FILE, type ResolvedConfig } from '../config/load.js';
import { trustInstructions } from '../keys/tls.js';
import type { Running } from '../server.js';

export function banner(config: ResolvedConfig, running: Running): string {
  const isDemoConfig = config.source.startsWith(DEMO_CONFIG_FILE);
  const lines = ['', 'mock-idp is running', `  IdP:       ${config.baseUrl}  (listening on ${config.host}:${running.idpPort})`];
  if (config.console.embedUrl) lines.push(`  Console:   ${config.baseUrl}/  ("Vincall"-style console embedding ${config.console.embedUrl})`);
  if (config.website.sp) lines.push(`  Website:   ${config.baseUrl}/website  (a customer website with the Secure Messenger, its Contact JWT from SP ${config.website.sp})`);
  if (running.demoServer) {
    lines.push(`  Demo SP:   ${config.demo.spBaseUrl}/LoginSSO.aspx?siteid=${encodeURIComponent(config.demo.siteId)}  (Comm100-like)`);
  }
  const b = config.baseUrl;
  lines.push(
    `  Flows:     ${b}/flows  (the sign-ins so far, each token and Response decoded)`,
    `  Decode:    ${b}/debug/decode  (paste a JWT or a SAMLResponse)`,
    `  SAML:      ${b}/saml/metadata  (IdP metadata; certificate at ${b}/saml/cert.pem)`,
    `  JWKS:      ${b}/.well-known/jwks.json`,
  );
  const testable = config.serviceProviders.filter((sp) => sp.jwt || sp.saml);
  if (testable.length > 0) lines.push(`  Conformance: ${b}/conformance/<sp>  (test an SP: ${testable.map((sp) => sp.id).join(', ')})`);
  // Whether the control API is on, never the token itself.
  lines.push(
    config.adminToken
      ? `  Control API: on at ${b}/api  (Authorization: Bearer <adminToken>; reference at ${b}/api/openapi.json)`
      : '  Control API: off  (set adminToken or MOCK_IDP_ADMIN_TOKEN to turn it on)',
  );
  for (const sp of config.serviceProviders) {
    if (sp.jwt) lines.push(`  SP ${sp.id}: remote login URL ${b}/sso/jwt/${sp.id}?redirect_url=…  (${sp.jwt.algorithm}, ${sp.jwt.delivery})`);
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
  const spUrl = new URL(config.demo.spBaseUrl);
  if (running.demoServer && ['localhost', '127.0.0.1', '[::1]'].includes(spUrl.hostname) && Number(spUrl.port || 80) !== running.demoPort) {
    out.push(
      `demo.spBaseUrl ${config.demo.spBaseUrl} names port ${spUrl.port || 80}, but the demo SP listens on ${running.demoPort} (demo.spPort): right behind a port mapping or a proxy; otherwise leave demo.spBaseUrl out (it follows demo.spPort) or make the two agree.`,
    );
  }
  for (const f of running.idp.context.keystore.generated) out.push(`Generated a new key: ${f}`);
  if (config.allowLoginHint) {
    out.push('allowLoginHint is on: login_hint=<email> signs any user in without a password. Use it only for test suites.');
  }
  if (config.showUserPicker && !config.source.startsWith(DEMO_CONFIG_FILE)) {
    out.push('showUserPicker is on: the login form lets anyone sign in as a listed user without a password.');
  }
  if (config.store === 'redis' && !config.sessionSecret) {
    out.push('store is redis and sessionSecret (SESSION_SECRET) is not set: the first replica generated one and keeps it in Redis for every replica. Set sessionSecret to keep sessions valid when Redis is emptied.');
  }
  return out;
}
