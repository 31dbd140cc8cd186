import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { banner, warnings } from '../../src/cli/banner.js';
import { loadConfig } from '../../src/config/load.js';
import type { Running } from '../../src/server.js';

/** What banner() and warnings() read of a running server. */
function runningOn(idpPort: number, demoPort: number | undefined): Running {
  return {
    idpPort,
    demoPort,
    demoServer: demoPort === undefined ? undefined : {},
    tls: undefined,
    idp: { context: { keystore: { usesDevKeys: false, generated: [] } } },
  } as unknown as Running;
}

describe('the start banner', () => {
  it('lists the IdP\'s useful URLs and says the control API is off without an adminToken', async () => {
    const config = await loadConfig({ env: { PORT: '9090', DEMO_SP_PORT: '9091' } });
    const text = banner(config, runningOn(9090, 9091));
    for (const url of [
      'http://localhost:9090/  ("Vincall"-style console embedding http://localhost:9091/agent)',
      'http://localhost:9090/flows',
      'http://localhost:9090/debug/decode',
      'http://localhost:9090/conformance/<sp>  (test an SP: comm100, desk, messenger)',
      'http://localhost:9090/saml/metadata',
      'http://localhost:9090/.well-known/jwks.json',
      'http://localhost:9091/LoginSSO.aspx?siteid=10000',
    ]) {
      assert.ok(text.includes(url), `the banner lists ${url}:\n${text}`);
    }
    assert.match(text, /Control API: off {2}\(set adminToken or MOCK_IDP_ADMIN_TOKEN to turn it on\)/);
  });

  it('says the control API is on when adminToken is set, never printing the token', async () => {
    const token = 'admin-token-0123456789-secret';
    const config = await loadConfig({ env: { MOCK_IDP_ADMIN_TOKEN: token } });
    const text = banner(config, runningOn(8080, 8081));
    assert.match(text, /Control API: on at http:\/\/localhost:8080\/api {2}\(Authorization: Bearer <adminToken>/);
    assert.ok(!text.includes(token), 'the token is not printed');
    assert.ok(!warnings(config, runningOn(8080, 8081)).join('\n').includes(token));
  });

  it('warns when demo.spBaseUrl names another local port than the demo SP listens on', async () => {
    const config = await loadConfig({ env: {} });
    assert.deepEqual(warnings(config, runningOn(8080, 8081)).filter((w) => w.includes('demo.spBaseUrl')), []);
    assert.match(warnings(config, runningOn(8080, 9999)).join('\n'), /demo\.spBaseUrl http:\/\/localhost:8081 names port 8081, but the demo SP listens on 9999/);
  });
});
