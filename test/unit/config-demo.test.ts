import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DEMO_CONFIG_FILE, loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import type { ResolvedConfig } from '../../src/config/load.js';
import { tempDir } from '../helpers/idp.js';

/** Every URL of the config that names the demo SP: its URL, the SPs' registered URLs, the console embed. */
function demoSpUrls(config: ResolvedConfig): string[] {
  return [
    config.demo.spBaseUrl,
    config.console.embedUrl!,
    ...config.serviceProviders.flatMap((sp) => [
      ...(sp.logoutUrl ? [sp.logoutUrl] : []),
      ...sp.origins,
      ...(sp.jwt?.redirectUrls ?? []),
      ...(sp.saml ? [...sp.saml.acsUrls, ...(sp.saml.sloUrl ? [sp.saml.sloUrl] : [])] : []),
      ...(sp.conformance?.startUrl ? [sp.conformance.startUrl] : []),
    ]),
  ];
}

function copyOfDemo(edit: (text: string) => string): string {
  const file = path.join(tempDir('mock-idp-demo-copy-'), 'my-demo.yaml');
  fs.writeFileSync(file, edit(fs.readFileSync(DEMO_CONFIG_FILE, 'utf8')));
  return file;
}

describe('the demo config on other ports', () => {
  it('moves baseUrl with PORT and every demo SP URL with DEMO_SP_PORT', async () => {
    const config = await loadConfig({ env: { PORT: '9090', DEMO_SP_PORT: '9091' } });
    assert.equal(config.baseUrl, 'http://localhost:9090');
    assert.equal(config.saml.entityId, 'http://localhost:9090/saml/metadata');
    assert.equal(config.demo.spPort, 9091);
    const urls = demoSpUrls(config);
    assert.ok(urls.length >= 10);
    for (const u of urls) assert.equal(new URL(u).origin, 'http://localhost:9091', u);
  });

  it('keeps BASE_URL when it is set, and the default ports without either', async () => {
    assert.equal((await loadConfig({ env: { PORT: '9090', BASE_URL: 'https://idp.example.test' } })).baseUrl, 'https://idp.example.test');
    const config = await loadConfig({ env: {} });
    assert.equal(config.baseUrl, 'http://localhost:8080');
    for (const u of demoSpUrls(config)) assert.equal(new URL(u).origin, 'http://localhost:8081', u);
  });

  it('derives the demo SP URLs from demo.spPort in a copy of the demo config', async () => {
    const file = copyOfDemo((t) => t.replace('spPort: 8081', 'spPort: 8082'));
    const config = await loadConfig({ file, env: {} });
    assert.equal(config.demo.enabled, true);
    assert.equal(config.demo.spPort, 8082);
    for (const u of demoSpUrls(config)) assert.equal(new URL(u).origin, 'http://localhost:8082', u);
  });

  it('uses demo.spBaseUrl when it is written (a port mapping or a proxy), whatever the port', async () => {
    const file = copyOfDemo((t) => t.replace('spPort: 8081', 'spPort: 8081\n  spBaseUrl: http://sp.example.test:9081/'));
    const config = await loadConfig({ file, env: { DEMO_SP_PORT: '7000' } });
    assert.equal(config.demo.spPort, 7000);
    for (const u of demoSpUrls(config)) assert.equal(new URL(u).origin, 'http://sp.example.test:9081', u);
  });

  it('names the key of an unknown placeholder, and refuses a DEMO_SP_PORT that is not a port', async () => {
    const file = copyOfDemo((t) => t.replace('embedUrl: ${demo.spBaseUrl}/agent', 'embedUrl: ${demo.spUrl}/agent'));
    await assert.rejects(() => loadConfig({ file, env: {} }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /Invalid config in .*my-demo\.yaml:\n {2}- console\.embedUrl: unknown placeholder \$\{demo\.spUrl\} \(the one placeholder is \$\{demo\.spBaseUrl\}\)/);
      return true;
    });
    await assert.rejects(() => loadConfig({ env: { DEMO_SP_PORT: '80a' } }), /Invalid environment variable DEMO_SP_PORT: "80a" is not a port number/);
  });
});
