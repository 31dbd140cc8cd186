import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { DEMO_CONFIG_FILE, loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/idp.js';

const run = promisify(execFile);

function writeConfig(text: string, name = 'idp.yaml'): string {
  const file = path.join(tempDir('mock-idp-config-'), name);
  fs.writeFileSync(file, text);
  return file;
}

async function configError(file: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    await loadConfig({ file, env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

const MINIMAL = `
users:
  - { email: a@example.com, password: pw }
serviceProviders:
  - id: sp
    jwt: { redirectUrls: [ "http://localhost:9000/consumer" ] }
`;

describe('config loading', () => {
  it('loads the embedded demo config when no file is given, with the demo apps on', async () => {
    const config = await loadConfig({ env: {} });
    assert.equal(config.source, `${DEMO_CONFIG_FILE} (embedded demo config)`);
    assert.equal(config.baseUrl, 'http://localhost:8080');
    assert.equal(config.port, 8080);
    assert.equal(config.demo.enabled, true);
    assert.equal(config.demo.spPort, 8081);
    assert.ok(config.users.some((u) => u.email === 'alice@example.com'));
    assert.deepEqual(config.serviceProviders.map((s) => s.id), ['comm100', 'desk', 'messenger']);
  });

  it('applies defaults to a minimal user config and keeps the demo apps off', async () => {
    const config = await loadConfig({ file: writeConfig(MINIMAL), env: {} });
    assert.equal(config.demo.enabled, false);
    const sp = config.serviceProviders[0]!;
    assert.equal(sp.name, 'sp');
    assert.equal(sp.jwt!.algorithm, 'HS256');
    assert.equal(sp.jwt!.issuer, 'http://localhost:8080');
    assert.equal(sp.jwt!.audience, 'sp');
    assert.equal(sp.jwt!.subject, '{email}');
    assert.equal(sp.jwt!.ttlSeconds, 300);
    assert.equal(sp.jwt!.delivery, 'redirect');
    assert.deepEqual(sp.origins, ['http://localhost:9000']);
    assert.equal(config.users[0]!.disabled, false);
    assert.equal(config.saml.entityId, 'http://localhost:8080/saml/metadata');
    assert.equal(config.dataDir, path.join(path.dirname(config.source), 'data'));
  });

  it('reads JSON as well as YAML', async () => {
    const file = writeConfig(JSON.stringify({ baseUrl: 'https://idp.example.test', users: [] }), 'idp.json');
    assert.equal((await loadConfig({ file, env: {} })).baseUrl, 'https://idp.example.test');
  });

  it('lets PORT and BASE_URL override the file, and MOCK_IDP_CONFIG name it', async () => {
    const file = writeConfig(`baseUrl: http://localhost:7000\n${MINIMAL}`);
    const config = await loadConfig({ env: { MOCK_IDP_CONFIG: file, PORT: '7100', BASE_URL: 'http://idp.local:7100/' } });
    assert.equal(config.port, 7100);
    assert.equal(config.baseUrl, 'http://idp.local:7100');
    assert.equal(config.serviceProviders[0]!.jwt!.issuer, 'http://idp.local:7100');
    assert.equal((await loadConfig({ file: writeConfig(MINIMAL), env: { PORT: '7200' } })).baseUrl, 'http://localhost:7200');
  });

  it('names the file and the key of an unknown key', async () => {
    const file = writeConfig(`${MINIMAL}\nuserz: []\n`);
    const message = await configError(file);
    assert.match(message, new RegExp(`Invalid config in ${file.replace(/[/.]/g, '\\$&')}`));
    assert.match(message, /userz: unknown key/);
  });

  it('names a nested unknown key, a wrong type and a missing required value', async () => {
    const file = writeConfig(`
users:
  - { email: a@example.com, password: pw, nmae: A }
serviceProviders:
  - id: sp
    jwt: { redirectUrls: [ "http://localhost:9000/c" ], algorithm: HS512, ttlSeconds: "300" }
  - name: no id
`);
    const message = await configError(file);
    assert.match(message, /users\[0\]\.nmae: unknown key/);
    assert.match(message, /serviceProviders\[0\]\.jwt\.algorithm: Invalid option: expected one of "HS256"\|"RS256"\|"ES256"/);
    assert.match(message, /serviceProviders\[0\]\.jwt\.ttlSeconds: Invalid input: expected number, received string/);
    assert.match(message, /serviceProviders\[1\]\.id: required$/m);
  });

  it('refuses inconsistent values: duplicate emails and ids, a secret with RS256, a bad URL, reserved claims', async () => {
    const message = await configError(
      writeConfig(`
users:
  - { email: a@example.com, password: pw }
  - { email: A@EXAMPLE.com, password: pw }
serviceProviders:
  - id: sp
    jwt: { redirectUrls: [ "javascript:alert(1)" ], algorithm: RS256, secret: "0123456789abcdef0123", claims: { exp: email } }
  - id: sp
`),
    );
    assert.match(message, /users\[1\]\.email: duplicates users\[0\]\.email/);
    assert.match(message, /serviceProviders\[1\]\.id: duplicates serviceProviders\[0\]\.id/);
    assert.match(message, /serviceProviders\[0\]\.jwt\.secret: is only used with HS256, not RS256/);
    assert.match(message, /serviceProviders\[0\]\.jwt\.redirectUrls\[0\]: must be an absolute http\(s\) URL/);
    assert.match(message, /serviceProviders\[0\]\.jwt\.claims: must not redefine iss/);
  });

  it('reports YAML syntax errors with their line, and missing files', async () => {
    assert.match(await configError(writeConfig('users: [\n  - a: 1\n')), /not valid YAML or JSON at line \d+/);
    assert.match(await configError('/nonexistent/idp.yaml'), /Config file not found: \/nonexistent\/idp\.yaml/);
    assert.match(await configError(writeConfig('- just\n- a list\n')), /the top level must be a mapping/);
  });

  it('refuses a PORT that is not a port number', async () => {
    assert.match(await configError(writeConfig(MINIMAL), { PORT: 'eighty' }), /PORT: "eighty" is not a port number/);
  });
});

describe('mock-idp check-config', () => {
  const cli = ['--import', 'tsx', path.resolve('src/cli.ts')];

  it('prints the resolved config with secrets masked', async () => {
    const file = writeConfig(`${MINIMAL}\nsessionSecret: "a-session-secret-of-at-least-32-characters"\n`);
    const { stdout } = await run(process.execPath, [...cli, 'check-config', file]);
    const printed = JSON.parse(stdout) as { users: { password: string }[]; sessionSecret: string };
    assert.equal(printed.users[0]!.password, '********');
    assert.equal(printed.sessionSecret, '********');
    assert.doesNotMatch(stdout, /a-session-secret/);
  });

  it('exits 2 with a message naming the key and the file for a bad config', async () => {
    const file = writeConfig(`${MINIMAL}\nbogus: 1\n`);
    await assert.rejects(run(process.execPath, [...cli, 'check-config', file]), (err: { code: number; stderr: string; stdout: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, new RegExp(`Invalid config in ${file.replace(/[/.]/g, '\\$&')}:\\n  - bogus: unknown key`));
      assert.doesNotMatch(err.stderr, /at .*\.ts:\d+/, 'no stack trace');
      return true;
    });
  });

  it('exits 2 for an unknown option', async () => {
    await assert.rejects(run(process.execPath, [...cli, 'serve', '--bogus']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /Unknown option '--bogus'/);
      return true;
    });
  });
});
