/**
 * `mock-idp sp import` and `mock-idp check-config` with SP metadata: the real
 * command line, against a data directory and against IdPs started here; each
 * case checks the exit code and what the user reads.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { startAll } from '../../src/server.js';
import { demoLikeConfig, freePort, startTestIdp, tempDir, type TestIdp } from '../helpers/idp.js';
import { login } from '../helpers/http.js';
import { BINDING, spMetadataXml, startMetadataServer, type MetadataServer } from '../helpers/sp-metadata.js';
import { autoPost } from '../saml/http-support.js';
import { redirectQuery } from '../saml/support.js';
import { runCli } from './process.js';

const FIXTURES = path.resolve('test/fixtures/sp-metadata');
const SHIBBOLETH = path.join(FIXTURES, 'shibboleth.sp.xml');
const TOKEN = 'an-admin-token-for-the-sp-import-tests';

const run = runCli;

/** What a user must not see: a stack trace. */
function noStack(text: string): void {
  assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, 'no stack trace');
}

function authnRequest(issuer: string): string {
  return (
    `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ` +
    `ID="_cli-${Math.random().toString(36).slice(2)}" Version="2.0" IssueInstant="${new Date().toISOString()}"><saml:Issuer>${issuer}</saml:Issuer></samlp:AuthnRequest>`
  );
}

/** Signs alice in at `url` and sends an SP-initiated (unsigned, HTTP-Redirect) request from `issuer`: where the Response is posted. */
async function signInTo(url: string, issuer: string): Promise<string> {
  const agent = request.agent(url);
  await login(agent, 'alice@example.com', 'alice-password');
  const post = autoPost(await agent.get(`/saml/sso?${redirectQuery(authnRequest(issuer))}`));
  assert.match(post.xml, new RegExp(`<saml:Audience>${issuer.replace(/[.]/g, '\\.')}</saml:Audience>`));
  return post.action;
}

/** A config file (demo-like, on free ports) in its own folder; its path. */
async function configFile(dir: string, edit: (c: ReturnType<typeof demoLikeConfig>) => object = (c) => c): Promise<string> {
  const file = path.join(dir, 'mock-idp.json');
  fs.writeFileSync(file, JSON.stringify(edit(demoLikeConfig(await freePort(), await freePort(), path.join(dir, 'data'))), null, 2));
  return file;
}

describe('mock-idp sp import, offline: into the data directory’s store', () => {
  const URL_ENTITY = 'https://cli-url-sp.example.test/metadata';
  const URL_ACS = 'https://cli-url-sp.example.test/acs';
  let mdServer: MetadataServer;

  before(async () => {
    mdServer = await startMetadataServer(spMetadataXml({ entityId: URL_ENTITY, signingKey: false, encryption: false, acs: [{ index: 0, binding: BINDING.post, location: URL_ACS }] }));
  });
  after(() => mdServer.close());

  it('registers an SP from a file and one from a URL; a server started on that data directory signs users in to them', async () => {
    const dir = tempDir('mock-idp-sp-import-');
    const config = await configFile(dir);
    const dataDir = path.join(dir, 'data');

    const fromFile = await run(['sp', 'import', SHIBBOLETH, '--config', config, '--data-dir', dataDir]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const lines = fromFile.stdout.split('\n');
    assert.equal(lines[0], `Registered the SAML service provider "sp.example.org" in the store of ${dataDir}, from its metadata:`);
    assert.ok(lines.includes('  entityID https://sp.example.org/shibboleth'));
    assert.ok(lines.includes('  ACS 1 (default): HTTP-POST https://sp.example.org/Shibboleth.sso/SAML2/POST'));
    assert.match(fromFile.stdout, /Give the SP this IdP's metadata: http:\/\/localhost:\d+\/saml\/metadata \(or http:\/\/localhost:\d+\/saml\/metadata\/sp\.example\.org, set as this SP is\)/);

    const fromUrl = await run(['sp', 'import', mdServer.url, '--id', 'cli-url', '--config', config, '--data-dir', dataDir]);
    assert.equal(fromUrl.code, 0, fromUrl.stderr);
    assert.match(fromUrl.stdout, /^Registered the SAML service provider "cli-url" in the store of /);

    const again = await run(['sp', 'import', mdServer.url, '--id', 'cli-url', '--config', config, '--data-dir', dataDir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /^mock-idp: A service provider with the id cli-url already exists; choose another with --id\./);

    const running = await startAll(await loadConfig({ file: config, env: {} }), { logger: silentLogger });
    try {
      const url = `http://127.0.0.1:${running.idpPort}`;
      assert.equal(await signInTo(url, 'https://sp.example.org/shibboleth'), 'https://sp.example.org/Shibboleth.sso/SAML2/POST');
      assert.equal(await signInTo(url, URL_ENTITY), URL_ACS);
    } finally {
      await running.close();
    }
  });

  it('exits 2 with the reason for metadata that cannot be used, and registers nothing', async () => {
    const dir = tempDir('mock-idp-sp-import-');
    const config = await configFile(dir);
    const doctype = path.join(FIXTURES, 'doctype-entity.xml');
    const bad = await run(['sp', 'import', doctype, '--config', config]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, new RegExp(`^mock-idp: the metadata cannot be used: ${doctype.replace(/[.]/g, '\\.')}: The SP metadata contains a DOCTYPE or an entity declaration, which are not accepted\\.\\n`));
    noStack(bad.stderr);
    const missing = await run(['sp', 'import', path.join(dir, 'nope.xml'), '--config', config]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^mock-idp: .*nope\.xml does not exist \(give a metadata file or an http\(s\) URL\)/);
    assert.equal(fs.existsSync(path.join(dir, 'data')), false, 'the data directory was not even created');
  });
});

describe('mock-idp sp import --url: through a running IdP’s control API', () => {
  let idp: TestIdp;
  const urlOf = () => `http://127.0.0.1:${idp.running.idpPort}`;

  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, adminToken: TOKEN }));
  });
  after(() => idp.close());

  it('registers the SP with the admin token; the IdP signs users in to it at once', async () => {
    const res = await run(['sp', 'import', path.join(FIXTURES, 'mellon.sp.xml'), '--id', 'mellon', '--url', urlOf(), '--admin-token', TOKEN]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`^Registered the SAML service provider "mellon" with the IdP at ${urlOf()}, from its metadata:\\n`));
    assert.match(res.stdout, /\n {2}AuthnRequestsSigned=true, WantAssertionsSigned=false\n/);
    const agent = request.agent(idp.url);
    await login(agent, 'alice@example.com', 'alice-password');
    const post = autoPost(await agent.get('/saml/idp-init/mellon'));
    assert.equal(post.action, 'https://sp.example.net/mellon/postResponse');
    assert.match(post.xml, /NameID Format="urn:oasis:names:tc:SAML:2\.0:nameid-format:transient"/);
  });

  it('exits 2 saying the token was refused, and registers nothing', async () => {
    const res = await run(['sp', 'import', SHIBBOLETH, '--id', 'wrong-token', '--url', urlOf(), '--admin-token', `${TOKEN}-not`]);
    assert.equal(res.code, 2);
    assert.equal(
      res.stderr,
      `mock-idp: the IdP at ${urlOf()} refused the admin token (401: The bearer token is not the adminToken.): give its adminToken with --admin-token or MOCK_IDP_ADMIN_TOKEN.\n`,
    );
    await request(idp.url).get('/api/service-providers/wrong-token').set('Authorization', `Bearer ${TOKEN}`).expect(404);
  });
});

describe('mock-idp check-config with SP metadata', () => {
  it('prints what was read from the metadata and what was taken, with an inline document shortened', async () => {
    const dir = tempDir('mock-idp-check-md-');
    fs.copyFileSync(SHIBBOLETH, path.join(dir, 'sp.xml'));
    const inline = spMetadataXml({ entityId: 'https://inline.example.test/metadata', signingKey: false, encryption: false, acs: [{ index: 0, binding: BINDING.post, location: 'https://inline.example.test/acs' }] });
    const config = await configFile(dir, (c) => ({
      ...c,
      serviceProviders: [
        { id: 'shib', saml: { metadataFile: 'sp.xml', nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress' } },
        { id: 'inline', saml: { metadata: inline } },
      ],
    }));
    const res = await run(['check-config', config]);
    assert.equal(res.code, 0, res.stderr);
    const printed = JSON.parse(res.stdout) as { serviceProviders: { id: string; saml: Record<string, unknown> & { fromMetadata: Record<string, unknown> } }[] };
    const [shib, inlineSp] = printed.serviceProviders;
    assert.equal(shib!.saml.metadataFile, 'sp.xml');
    assert.equal(shib!.saml.fromMetadata.readFrom, `metadataFile ${path.join(dir, 'sp.xml')}`);
    assert.deepEqual(shib!.saml.fromMetadata.taken, ['request signing certificates (a signed request is verified)', 'acsUrls', 'encryptionCert', 'entityId', 'keyEncryptionAlgorithm', 'sloUrl']);
    const resolved = shib!.saml.fromMetadata.resolved as Record<string, unknown>;
    assert.equal(resolved.entityId, 'https://sp.example.org/shibboleth');
    assert.deepEqual(resolved.acsUrls, ['https://sp.example.org/Shibboleth.sso/SAML2/POST']);
    assert.equal(resolved.nameIdFormat, 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', 'the config key, not the metadata’s transient');
    assert.equal(resolved.sloUrl, 'https://sp.example.org/Shibboleth.sso/SLO/Redirect');
    assert.equal(resolved.requestsMustBeSigned, false);
    assert.equal(resolved.keyEncryptionAlgorithm, 'rsa-oaep-sha256');
    assert.equal(inlineSp!.saml.metadata, `(${inline.length} characters of XML: an EntityDescriptor for https://inline.example.test/metadata)`);
    assert.equal(inlineSp!.saml.fromMetadata.readFrom, 'saml.metadata');
    assert.ok(!res.stdout.includes('<md:EntityDescriptor'), 'the document itself is not printed');
  });

  it('exits 2 with the key and the cause for an unreachable metadataUrl and for an unparsable metadataFile, without a stack trace', async () => {
    const dir = tempDir('mock-idp-check-md-');
    const port = await freePort();
    const unreachable = await configFile(dir, (c) => ({ ...c, serviceProviders: [{ id: 'far', saml: { metadataUrl: `http://127.0.0.1:${port}/md.xml` } }] }));
    const far = await run(['check-config', unreachable]);
    assert.equal(far.code, 2);
    assert.equal(far.stderr, `mock-idp: Invalid config in ${unreachable}:\n  - serviceProviders[0].saml.metadataUrl: cannot fetch http://127.0.0.1:${port}/md.xml: ECONNREFUSED\n`);
    assert.equal(far.stdout, '');

    const dir2 = tempDir('mock-idp-check-md-');
    fs.copyFileSync(path.join(FIXTURES, 'not-xml.txt'), path.join(dir2, 'sp.xml'));
    const unparsable = await configFile(dir2, (c) => ({ ...c, serviceProviders: [{ id: 'junk', saml: { metadataFile: 'sp.xml' } }] }));
    const junk = await run(['check-config', unparsable]);
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, new RegExp(`^mock-idp: Invalid config in ${unparsable.replace(/[.]/g, '\\.')}:\\n {2}- serviceProviders\\[0\\]\\.saml\\.metadataFile: sp\\.xml: .*XML`));
    noStack(junk.stderr);
  });
});
