/**
 * `mock-idp keys rotate --url`: the real command line against IdPs started here on
 * 127.0.0.1, and against an address where nothing listens. Each case checks the
 * message and the exit code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { JSONWebKeySet } from 'jose';
import { freePort, startTestIdp, tempDir, type TestIdp } from '../helpers/idp.js';
import { runCli } from './process.js';

const TOKEN = 'an-admin-token-for-the-cli-rotation-tests';

const run = runCli;

/** The IdP's address as the tests give it to --url: 127.0.0.1 and its port. */
const urlOf = (idp: TestIdp) => `http://127.0.0.1:${idp.running.idpPort}`;

describe('mock-idp keys rotate --url', () => {
  let idp: TestIdp;
  let bundled: TestIdp;
  let apiOff: TestIdp;

  before(async () => {
    idp = await startTestIdp((c) => ({ ...c, keysDir: tempDir('mock-idp-keys-'), keyRotationGraceSeconds: 3600, adminToken: TOKEN }));
    bundled = await startTestIdp((c) => ({ ...c, adminToken: TOKEN }));
    apiOff = await startTestIdp();
  });
  after(async () => {
    await idp.close();
    await bundled.close();
    await apiOff.close();
  });

  it('rotates the running IdP’s keys and prints what rotated', async () => {
    const ks = idp.running.idp.context.keystore;
    const oldRs = ks.jwtKey('RS256').kid;
    const { code, stdout, stderr } = await run(['keys', 'rotate', '--url', urlOf(idp), '--admin-token', TOKEN]);
    assert.equal(code, 0, stderr);
    const newRs = ks.jwtKey('RS256').kid;
    assert.notEqual(newRs, oldRs);
    const lines = stdout.trimEnd().split('\n');
    assert.match(lines[0]!, new RegExp(`^Rotated the signing keys of ${urlOf(idp)} at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z:$`));
    assert.match(lines[1]!, new RegExp(`^JWT RS256 key: kid ${newRs} is current; the previous kid ${oldRs} stays published until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`));
    assert.match(lines[2]!, /^JWT ES256 key: kid \S+ is current; the previous kid \S+ stays published until /);
    assert.match(lines[3]!, /^SAML signing key and certificate: certificate sha256 ([0-9A-F]{2}:){7}[0-9A-F]{2}… \(serial [0-9A-F]+\) is current; the previous certificate sha256 /);
    assert.match(lines[4]!, /^It signs with the new keys now; the previous ones stay in its JWKS and SAML metadata for 3600 s \(keyRotationGraceSeconds\)\.$/);
    assert.doesNotMatch(stdout, /PRIVATE/);
    const jwks = (await request(idp.url).get('/.well-known/jwks.json').expect(200)).body as JSONWebKeySet;
    assert.ok(jwks.keys.some((k) => k.kid === newRs) && jwks.keys.some((k) => k.kid === oldRs));
  });

  it('takes the admin token from MOCK_IDP_ADMIN_TOKEN', async () => {
    const { code, stderr } = await run(['keys', 'rotate', '--url', `${urlOf(idp)}/`], { MOCK_IDP_ADMIN_TOKEN: TOKEN });
    assert.equal(code, 0, stderr);
  });

  it('says the token is missing or wrong (exit 2), and nothing rotates', async () => {
    const kid = idp.running.idp.context.keystore.jwtKey('RS256').kid;
    const missing = await run(['keys', 'rotate', '--url', urlOf(idp)]);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, `mock-idp: the IdP at ${urlOf(idp)} needs its admin token (401: Send Authorization: Bearer <adminToken>.): give it with --admin-token T or MOCK_IDP_ADMIN_TOKEN.\n`);
    const wrong = await run(['keys', 'rotate', '--url', urlOf(idp), '--admin-token', 'not-the-token']);
    assert.equal(wrong.code, 2);
    assert.equal(wrong.stderr, `mock-idp: the IdP at ${urlOf(idp)} refused the admin token (401: The bearer token is not the adminToken.): give its adminToken with --admin-token or MOCK_IDP_ADMIN_TOKEN.\n`);
    assert.equal(idp.running.idp.context.keystore.jwtKey('RS256').kid, kid);
  });

  it('says the control API is off when the IdP has no adminToken (exit 2)', async () => {
    const { code, stderr } = await run(['keys', 'rotate', '--url', urlOf(apiOff), '--admin-token', TOKEN]);
    assert.equal(code, 2);
    assert.equal(stderr, `mock-idp: the control API of the IdP at ${urlOf(apiOff)} is off (404): start it with adminToken in its config (or MOCK_IDP_ADMIN_TOKEN) to rotate its keys over HTTP.\n`);
  });

  it('passes on the refusal of an IdP on the bundled development keys (409, exit 2, as offline)', async () => {
    const { code, stderr } = await run(['keys', 'rotate', '--url', urlOf(bundled), '--admin-token', TOKEN]);
    assert.equal(code, 2);
    assert.match(stderr, new RegExp(`^mock-idp: the IdP at ${urlOf(bundled)} did not rotate its keys \\(409\\): The keys in .+ are the development keys shipped with mock-idp: .* Set keysDir \\(or KEYS_DIR\\) to a folder of your own and restart the IdP`));
  });

  it('names the URL when nothing listens there (exit 3, as conformance says of an unreachable SP)', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await run(['keys', 'rotate', '--url', url, '--admin-token', TOKEN]);
    assert.equal(code, 3);
    assert.equal(stdout, '');
    assert.equal(stderr, `mock-idp: cannot reach the IdP at ${url} (connection refused): is it running there? Nothing was rotated.\n`);
  });

  it('refuses option mixes that say two different things (exit 2)', async () => {
    const keysDir = await run(['keys', 'rotate', '--url', 'http://127.0.0.1:1', '--keys-dir', tempDir()]);
    assert.equal(keysDir.code, 2);
    assert.match(keysDir.stderr, /^mock-idp: --url rotates the keys of the IdP running there; --keys-dir is for rotating a keys folder instead\n/);
    const list = await run(['keys', 'list', '--url', 'http://127.0.0.1:1']);
    assert.equal(list.code, 2);
    assert.match(list.stderr, /^mock-idp: --url is for keys rotate; keys list reads the keys folder\n/);
    const notUrl = await run(['keys', 'rotate', '--url', 'localhost:8080']);
    assert.equal(notUrl.code, 2);
    assert.match(notUrl.stderr, /^mock-idp: --url takes an http or https address, not "localhost:8080"\n/);
  });
});
