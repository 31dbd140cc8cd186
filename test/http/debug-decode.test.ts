/**
 * /debug/decode: JWTs and SAML messages pasted in any usual form, decoded, with
 * their signatures checked against the IdP's keys and the key named.
 */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { hiddenField, jwtFromLocation, login, unescapeHtml, type Agent } from '../helpers/http.js';
import { autoPost } from '../saml/http-support.js';
import type { JwtInspection } from '../../src/inspect/jwt.js';
import type { SamlInspection } from '../../src/inspect/saml.js';

describe('/debug/decode', () => {
  let idp: TestIdp;
  let alice: Agent;

  before(async () => {
    idp = await startTestIdp((c) => ({
      ...c,
      allowFaults: true,
      serviceProviders: [...c.serviceProviders!, { id: 'saml-app', saml: { entityId: 'https://saml-app.example.test', acsUrls: ['https://saml-app.example.test/acs'], signResponse: true } }],
    }));
    alice = request.agent(idp.url);
    await login(alice, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  async function comm100Token(fault = ''): Promise<string> {
    const res = await alice.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(`${idp.spUrl}/sso/jwt/consumer`)}${fault ? `&fault=${fault}` : ''}`).expect(302);
    return jwtFromLocation(res.headers.location as string);
  }

  async function deskToken(fault = ''): Promise<string> {
    const res = await alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}${fault ? `&fault=${fault}` : ''}`).expect(200);
    return hiddenField(res.text, 'jwt')!;
  }

  const decodeJson = async <T,>(input: string, status = 200): Promise<T> =>
    (await request(idp.url).post('/debug/decode').set('Accept', 'application/json').type('form').send({ input }).expect(status)).body as T;

  it('shows a form to paste into, with no inline script', async () => {
    const page = await request(idp.url).get('/debug/decode').expect(200);
    assert.match(page.text, /<textarea name="input" rows="8"/);
    assert.doesNotMatch(page.text, /<script>|style="/);
  });

  it('decodes an HS256 token and names the SP whose secret verifies it', async () => {
    const token = await comm100Token();
    const page = await request(idp.url).post('/debug/decode').type('form').send({ input: token }).expect(200);
    const text = unescapeHtml(page.text);
    assert.match(text, /<p class="sig ok" data-testid="jwt-signature"><strong>Signature:<\/strong> Valid: signed with the HS256 shared secret of service provider "comm100"\.<\/p>/);
    assert.match(text, /"email": "alice@example\.com"/);
    assert.match(text, /<dt><code>exp<\/code><\/dt><dd><time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/time> \(in 30 minutes\)<\/dd>/);
    assert.doesNotMatch(text, /test-shared-secret/, 'the secret itself never appears');
  });

  it('names the RS256 key by its kid, and takes the token inside a URL', async () => {
    const token = await deskToken();
    const url = `${idp.spUrl}/desk/sso/jwt/consumer?x=1&jwt=${token}`;
    const result = await decodeJson<JwtInspection>(url);
    assert.equal(result.signature.status, 'valid');
    assert.match(result.signature.key!, /^RS256 key dev-CHANGE-ME-[\w-]+ \(published in the JWKS\)$/);
  });

  it('reports a bad signature, alg none and the HS/RS confusion for what they are', async () => {
    const bad = await decodeJson<JwtInspection>(await comm100Token('bad-signature'));
    assert.equal(bad.signature.status, 'invalid');
    // Two HS256 SPs in the test config: comm100 and messenger.
    assert.match(bad.signature.detail, /^Invalid: none of this IdP's HS256 keys \(2\) verifies the signature\.$/);
    const none = await decodeJson<JwtInspection>(await comm100Token('alg-none'));
    assert.equal(none.signature.status, 'unsigned');
    assert.ok(none.problems.includes('The token is not signed (alg none).'));
    const confused = await decodeJson<JwtInspection>(await deskToken('hs-rs-confusion'));
    assert.equal(confused.signature.status, 'algorithm-confusion');
    assert.match(confused.signature.detail, /^HS256 with the public RS256 key dev-CHANGE-ME-[\w-]+ \(published in the JWKS\) \(its PEM text\) as the HMAC secret/);
    const expired = await decodeJson<JwtInspection>(await comm100Token('expired'));
    assert.equal(expired.signature.status, 'valid');
    assert.ok(expired.problems.includes('The token expired 10 minutes ago.'), expired.problems.join(' | '));
  });

  it('decodes a SAMLResponse from its base64, checking both signatures against the IdP certificate', async () => {
    const post = autoPost(await alice.get('/saml/idp-init/saml-app'));
    const page = await request(idp.url).post('/debug/decode').type('form').send({ input: post.fields.SAMLResponse }).expect(200);
    const text = unescapeHtml(page.text);
    assert.match(text, /<h2>SAML Response<\/h2>/);
    assert.match(text, /<dd>Response <span class="muted">\(decoded from base64\)<\/span><\/dd>/);
    assert.equal(text.match(/<td class="ok">valid \(IdP SAML signing certificate\)<\/td><td>IdP SAML signing certificate<\/td>/g)?.length, 2);
    assert.match(text, /<dd data-testid="saml-nameid">alice@example\.com <span class="muted">/);
    const raw = await decodeJson<SamlInspection>(post.xml);
    assert.equal(raw.encoding, 'xml');
    assert.deepEqual(raw.signatures.map((s) => [s.location, s.status, s.algorithm]), [['Response', 'valid', 'RSA-SHA256'], ['Response/Assertion', 'valid', 'RSA-SHA256']]);
    assert.deepEqual(raw.problems, []);
  });

  it('decodes the HTTP-Redirect form (deflate + base64, URL-encoded) and a form body', async () => {
    const post = autoPost(await alice.get('/saml/idp-init/saml-app'));
    const deflated = encodeURIComponent(zlib.deflateRawSync(Buffer.from(post.xml)).toString('base64'));
    const redirect = await decodeJson<SamlInspection>(deflated);
    assert.equal(redirect.encoding, 'deflate+base64');
    assert.equal(redirect.messageType, 'Response');
    const body = await decodeJson<SamlInspection>(`SAMLResponse=${encodeURIComponent(post.fields.SAMLResponse!)}&RelayState=x`);
    assert.equal(body.id, raw(post.xml));
  });

  it('points out the faults a careful SP must catch: wrapping, a commented NameID, SHA-1, a foreign certificate', async () => {
    const wrapped = await decodeJson<SamlInspection>(autoPost(await alice.get('/saml/idp-init/saml-app?fault=signature-wrapping')).xml);
    assert.ok(wrapped.problems.some((p) => /An Assertion sits at Response\/Extensions\/Assertion, not directly in the Response: the shape of a signature-wrapping attack\./.test(p)), wrapped.problems.join(' | '));
    assert.ok(wrapped.problems.some((p) => /The Assertion _[0-9a-f]+ that an SP reads is covered by no valid signature\./.test(p)));
    const commented = await decodeJson<SamlInspection>(autoPost(await alice.get('/saml/idp-init/saml-app?fault=comment-in-nameid')).xml);
    assert.ok(commented.problems.includes('The NameID is split by an XML comment: a careless SP reads only "alice@example" instead of "alice@example.com".'), commented.problems.join(' | '));
    assert.match(commented.pretty, /<saml:NameID Format="[^"]+">alice@example<!--mock-idp fault: comment-in-nameid-->\.com<\/saml:NameID>/);
    const sha1 = await decodeJson<SamlInspection>(autoPost(await alice.get('/saml/idp-init/saml-app?fault=sha1-signature')).xml);
    assert.deepEqual(sha1.signatures.map((s) => [s.status, s.algorithm]), [['valid', 'RSA-SHA1 (insecure)'], ['valid', 'RSA-SHA1 (insecure)']]);
    const foreign = await decodeJson<SamlInspection>(autoPost(await alice.get('/saml/idp-init/saml-app?fault=wrong-certificate')).xml);
    assert.deepEqual(foreign.signatures.map((s) => [s.status, s.keyInfo]), [['invalid', "another certificate (not one of this IdP's)"], ['invalid', "another certificate (not one of this IdP's)"]]);
  });

  it('answers what is neither a JWT nor a SAML message with a 400 that says what it takes', async () => {
    const page = await request(idp.url).post('/debug/decode').type('form').send({ input: 'hello world' }).expect(400);
    assert.match(unescapeHtml(page.text), /This is neither a JWT \(three base64url parts separated by dots\) nor a SAML message/);
    assert.match(unescapeHtml(page.text), /Given: "hello world" \(11 characters\)\./, 'the message says what was given');
    assert.match(page.text, /<textarea[^>]*>hello world<\/textarea>/, 'the text is kept');
    // A word of four letters is valid base64 of nothing useful: said so in plain terms.
    const word = await decodeJson<{ message: string }>('test', 400);
    assert.equal(word.message, 'This is not a JWT, SAML XML or the base64 of a SAML message: read as base64 it gives 3 bytes that are neither XML nor raw DEFLATE data. Given: "test" (4 characters).');
    const doctype = await decodeJson<{ message: string }>('<!DOCTYPE x [<!ENTITY a "b">]><x/>', 400);
    assert.match(doctype.message, /contains a DOCTYPE or an entity declaration, which are not accepted/);
    const empty = await decodeJson<{ message: string }>('', 400);
    assert.match(empty.message, /Paste a JWT or a SAMLResponse/);
    const script = await request(idp.url).post('/debug/decode').type('form').send({ input: '<script>alert(1)</script>' }).expect(400);
    assert.match(unescapeHtml(script.text), /The XML's root element is script, not a SAML protocol message or assertion\./);
    assert.doesNotMatch(script.text, /<script>alert/, 'pasted text is escaped');
  });
});

function raw(xml: string): string {
  return /<samlp:Response [^>]*ID="([^"]+)"/.exec(xml)![1]!;
}
