import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/idp.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', path.resolve('src/cli.ts')];

function writeConfig(text: string, name = 'idp.yaml'): string {
  const file = path.join(tempDir('mock-idp-config-'), name);
  fs.writeFileSync(file, text);
  return file;
}

async function errorOf(load: () => unknown): Promise<string> {
  try {
    await load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

const MINIMAL = { users: [{ email: 'a@example.com', password: 'a-password' }], serviceProviders: [{ id: 'sp', jwt: { redirectUrls: ['http://localhost:9000/consumer'], secret: 'an-sp-secret-of-thirty-two-chars!!' } }] };

describe('config error messages', () => {
  it('says "required" for a missing key and suggests the nearest known key for a typo, naming the file', async () => {
    const file = writeConfig(`
baseURL: http://localhost:8080
users:
  - { email: a@example.com, pasword: pw }
serviceProviders:
  - name: no id
    jwt: { redirectUrls: [ "http://localhost:9000/c" ], algoritm: RS256 }
demo: { spport: 8082 }
`);
    const message = await errorOf(() => loadConfig({ file, env: {} }));
    assert.ok(message.startsWith(`Invalid config in ${file}:\n`), message);
    assert.match(message, /^ {2}- users\[0\]\.password: required$/m);
    assert.match(message, /^ {2}- users\[0\]\.pasword: unknown key \(did you mean `password`\?\)$/m);
    assert.match(message, /^ {2}- serviceProviders\[0\]\.id: required$/m);
    assert.match(message, /^ {2}- serviceProviders\[0\]\.jwt\.algoritm: unknown key \(did you mean `algorithm`\?\)$/m);
    assert.match(message, /^ {2}- demo\.spport: unknown key \(did you mean `spPort`\?\)$/m);
    assert.match(message, /^ {2}- baseURL: unknown key \(did you mean `baseUrl`\?\)$/m);
    assert.doesNotMatch(message, /Invalid input: expected string, received undefined/);
  });

  it('suggests nothing for a key that is like no known key', async () => {
    const message = await errorOf(() => loadConfig({ file: writeConfig('frobnicator: 1\n'), env: {} }));
    assert.match(message, /^ {2}- frobnicator: unknown key$/m);
  });
});

describe('MOCK_IDP_CONFIG_JSON', () => {
  it('takes the config as JSON or YAML text, validated like a file', async () => {
    const fromJson = await loadConfig({ env: { MOCK_IDP_CONFIG_JSON: JSON.stringify(MINIMAL) } });
    assert.equal(fromJson.source, 'MOCK_IDP_CONFIG_JSON');
    assert.equal(fromJson.demo.enabled, false, 'an inline config is a user config: the demo is off');
    assert.deepEqual(fromJson.serviceProviders.map((s) => s.id), ['sp']);
    const fromYaml = await loadConfig({ env: { MOCK_IDP_CONFIG_JSON: 'users:\n  - { email: b@example.com, password: b-password }\n', PORT: '7300' } });
    assert.equal(fromYaml.users[0]!.email, 'b@example.com');
    assert.equal(fromYaml.baseUrl, 'http://localhost:7300', 'the environment applies as with a file');
  });

  it('names the variable in its errors', async () => {
    const message = await errorOf(() => loadConfig({ env: { MOCK_IDP_CONFIG_JSON: JSON.stringify({ serviceProviders: [{ name: 'x' }] }) } }));
    assert.equal(message, 'Invalid config in MOCK_IDP_CONFIG_JSON:\n  - serviceProviders[0].id: required');
    assert.match(await errorOf(() => loadConfig({ env: { MOCK_IDP_CONFIG_JSON: '{ "users": [' } })), /^Invalid config in MOCK_IDP_CONFIG_JSON: not valid YAML or JSON at line 1/);
    assert.match(await errorOf(() => loadConfig({ env: { MOCK_IDP_CONFIG_JSON: '[1, 2]' } })), /^Invalid config in MOCK_IDP_CONFIG_JSON: the top level must be a mapping/);
  });

  it('is refused together with --config or MOCK_IDP_CONFIG', async () => {
    const file = writeConfig(JSON.stringify(MINIMAL), 'idp.json');
    const inline = JSON.stringify(MINIMAL);
    assert.equal(await errorOf(() => loadConfig({ file, env: { MOCK_IDP_CONFIG_JSON: inline } })), `Both --config ${file} and MOCK_IDP_CONFIG_JSON are set: give the config one way (unset one of them)`);
    assert.match(await errorOf(() => loadConfig({ env: { MOCK_IDP_CONFIG: file, MOCK_IDP_CONFIG_JSON: inline } })), /^Both MOCK_IDP_CONFIG=.*idp\.json and MOCK_IDP_CONFIG_JSON are set/);
    assert.equal((await loadConfig({ env: { MOCK_IDP_CONFIG: file, MOCK_IDP_CONFIG_JSON: '' } })).source, file, 'an empty variable is not set');
  });
});

describe('mock-idp check-config and --help', () => {
  it('prints the keys of the config a user writes, with defaults filled in and secrets masked', async () => {
    const file = writeConfig(JSON.stringify({ ...MINIMAL, sessionSecret: 'a-session-secret-of-at-least-32-characters' }), 'idp.json');
    const { stdout } = await run(process.execPath, [...CLI, 'check-config', file], { env: { ...process.env, MOCK_IDP_CONFIG_JSON: '' } });
    const printed = JSON.parse(stdout) as Record<string, unknown> & { serviceProviders: Record<string, unknown>[] };
    const schemaKeys = Object.keys(configSchema.shape);
    for (const key of Object.keys(printed)) assert.ok(schemaKeys.includes(key), `${key} is a config key`);
    for (const internal of ['serviceProviderInputs', 'usesBundledKeys', 'source']) assert.ok(!(internal in printed), `${internal} is not printed`);
    assert.equal(printed.passwordHashCost, 14, 'defaults are filled in');
    assert.equal(printed.sessionSecret, '********');
    const sp = printed.serviceProviders[0]!;
    assert.ok(!('origins' in sp), 'no derived origins');
    assert.deepEqual(Object.keys(sp.jwt as object).sort().includes('privateKeyPem'), false);
    assert.equal((sp.jwt as { algorithm: string; secret: string }).algorithm, 'HS256');
    assert.equal((sp.jwt as { secret: string }).secret, '********');
    assert.doesNotMatch(stdout, /a-session-secret|an-sp-secret|a-password/);
  });

  it('checks MOCK_IDP_CONFIG_JSON when no FILE is given', async () => {
    const { stdout } = await run(process.execPath, [...CLI, 'check-config'], { env: { ...process.env, MOCK_IDP_CONFIG: '', MOCK_IDP_CONFIG_JSON: JSON.stringify(MINIMAL) } });
    assert.equal((JSON.parse(stdout) as { users: { email: string }[] }).users[0]!.email, 'a@example.com');
    await assert.rejects(run(process.execPath, [...CLI, 'check-config'], { env: { ...process.env, MOCK_IDP_CONFIG: '', MOCK_IDP_CONFIG_JSON: '{"serviceProviders":[{}]}' } }), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.equal(err.stderr, 'mock-idp: Invalid config in MOCK_IDP_CONFIG_JSON:\n  - serviceProviders[0].id: required\n');
      return true;
    });
  });

  it('lists mint saml in the main help', async () => {
    const { stdout } = await run(process.execPath, [...CLI, '--help']);
    assert.match(stdout, /^ {2}mint jwt --sp ID --user EMAIL +print a token without a server$/m);
    assert.match(stdout, /^ {2}mint saml --sp ID --user EMAIL +print a signed SAMLResponse without a server$/m);
  });
});
