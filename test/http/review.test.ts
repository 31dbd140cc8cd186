/**
 * Review before sending: the page (decoded token or assertion, destination,
 * curl), Send, Edit claims and send, a fault chosen on the page, CSRF, single use,
 * the session binding, and `review: true` on an SP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import request from 'supertest';
import { FAULT_VALUES } from '../../src/faults/catalog.js';
import { HS_SECRET, startTestIdp, type TestIdp } from '../helpers/idp.js';
import { csrfFrom, hiddenField, jwtFromLocation, login, unescapeHtml, type Agent } from '../helpers/http.js';
import { xmlsecVerify } from '../helpers/xmlsec.js';
import { autoPost } from '../saml/http-support.js';

/** The text of the element with this data-testid, entities decoded. */
function testId(html: string, id: string): string {
  const m = new RegExp(`<(\\w+)[^>]*data-testid="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  assert.ok(m, `the page has ${id}`);
  return unescapeHtml(m[2]!);
}

describe('review before sending', () => {
  let idp: TestIdp;
  let alice: Agent;

  before(async () => {
    idp = await startTestIdp((c) => ({
      ...c,
      serviceProviders: c.serviceProviders!.map((sp) =>
        sp.id === 'comm100'
          ? { ...sp, saml: { entityId: 'comm100', acsUrls: [`${c.demo!.spBaseUrl}/sso/saml/acs`] } }
          : sp.id === 'desk'
            ? { ...sp, review: true }
            : sp,
      ),
    }));
    alice = request.agent(idp.url);
    await login(alice, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  const consumer = () => `${idp.spUrl}/sso/jwt/consumer`;

  /** Starts a JWT sign-in to comm100 with review=1; returns the review page and its path. */
  async function reviewJwt(agent = alice, extra = '') {
    const start = await agent.get(`/sso/jwt/comm100?redirect_url=${encodeURIComponent(`${consumer()}?relayState=%2Fagent`)}&review=1${extra}`).expect(303);
    const path = start.headers.location as string;
    assert.match(path, /^\/review\/[A-Za-z0-9_-]{24}$/);
    const page = await agent.get(path).expect(200);
    return { path, page: page.text, csrf: csrfFrom(page.text) };
  }

  it('holds the JWT and shows it decoded with its signature status, destination and a curl command; nothing is sent yet', async () => {
    const { page } = await reviewJwt();
    assert.match(page, /<h1>Review before sending<\/h1>/);
    assert.equal(testId(page, 'review-user'), 'alice@example.com');
    assert.equal(testId(page, 'review-destination'), `<code>${consumer()}?relayState=%2Fagent</code>`);
    assert.deepEqual(JSON.parse(testId(page, 'jwt-header')), { alg: 'HS256', typ: 'JWT' });
    const claims = JSON.parse(testId(page, 'jwt-claims')) as Record<string, unknown>;
    assert.deepEqual([claims.email, claims.aud, claims.iss, claims.sub], ['alice@example.com', 'Comm100', 'jwt server', 'comm100']);
    assert.match(testId(page, 'jwt-signature'), /Valid: signed with the HS256 shared secret of service provider "comm100"\./);
    const token = testId(page, 'jwt-token');
    assert.deepEqual(decodeJwt(token), claims);
    assert.equal(testId(page, 'review-curl'), `curl -i '${consumer()}?relayState=%2Fagent&jwt=${token}'`);
    assert.match(page, /<button type="submit" data-testid="review-send">Send<\/button>/);
    assert.match(page, />Edit claims and send<\/button>/);
    assert.match(page, />Copy as curl<\/button>/);
    assert.match(page, /<script src="\/static\/review\.js"><\/script>/);
    assert.doesNotMatch(page, /<script>|style="/, 'no inline script or style');
    const [flow] = await idp.running.idp.context.flows.list({ limit: 1 });
    assert.deepEqual([flow!.outcome, flow!.reviewed], ['awaiting-review', true]);
  });

  it('Send delivers exactly the token shown, once; the demo SP signs the agent in', async () => {
    const { path, page, csrf } = await reviewJwt();
    const shown = testId(page, 'jwt-token');
    const sent = await alice.post(`${path}/send`).type('form').send({ csrf }).expect(302);
    const location = new URL(sent.headers.location as string);
    assert.equal(`${location.origin}${location.pathname}`, consumer());
    assert.equal(jwtFromLocation(sent.headers.location as string), shown);
    const sp = await request(idp.spUrl).get(`${location.pathname}${location.search}`);
    assert.equal(sp.status, 303, sp.text.slice(0, 300));
    assert.equal(sp.headers.location, '/agent');
    const again = await alice.post(`${path}/send`).type('form').send({ csrf }).expect(404);
    assert.match(unescapeHtml(again.text), /This review has expired, was already sent, or belongs to another browser session\./);
    await alice.get(path).expect(404);
    const [flow] = await idp.running.idp.context.flows.list({ limit: 1 });
    assert.deepEqual([flow!.outcome, flow!.reviewed, flow!.edited], ['delivered', true, false]);
  });

  it('refuses actions without the CSRF token, or with another one, and keeps the delivery for a proper Send', async () => {
    const { path, csrf } = await reviewJwt();
    for (const body of [{}, { csrf: 'not-the-token' }]) {
      const res = await alice.post(`${path}/send`).type('form').send(body).expect(403);
      assert.match(unescapeHtml(res.text), /The form has expired or was not sent from this site/);
    }
    await alice.post(`${path}/send`).type('form').send({ csrf }).set('Sec-Fetch-Site', 'cross-site').expect(403);
    await alice.post(`${path}/edit`).type('form').send({ edited: '{}' }).expect(403);
    await alice.post(`${path}/send`).type('form').send({ csrf }).expect(302);
  });

  it("is invisible to another browser session, even one signed in", async () => {
    const { path } = await reviewJwt();
    const bob = request.agent(idp.url);
    await login(bob, 'bob@example.com', 'bob-password');
    await bob.get(path).expect(404);
    const bobPage = await bob.get('/').expect(200);
    await bob.post(`${path}/send`).type('form').send({ csrf: csrfFrom(bobPage.text) }).expect(404);
    await request(idp.url).get(path).expect(404);
  });

  it('Edit claims and send signs the edited claims as they are, with the SP key', async () => {
    const { path, page, csrf } = await reviewJwt();
    const claims = JSON.parse(testId(page, 'review-edit')) as Record<string, unknown>;
    const { siteId: _dropped, ...rest } = claims;
    const edited = { ...rest, name: 'Alice Edited', extra: ['a', 'b'] };
    const res = await alice.post(`${path}/edit`).type('form').send({ csrf, edited: JSON.stringify(edited) }).expect(302);
    const token = jwtFromLocation(res.headers.location as string);
    const { payload } = await jwtVerify(token, new TextEncoder().encode(HS_SECRET), { algorithms: ['HS256'], issuer: 'jwt server', audience: 'Comm100' });
    assert.deepEqual(payload, edited);
    await alice.post(`${path}/send`).type('form').send({ csrf }).expect(404);
    const [flow] = await idp.running.idp.context.flows.list({ limit: 1 });
    assert.deepEqual([flow!.outcome, flow!.edited, flow!.jwt!.claims.name], ['delivered', true, 'Alice Edited']);
  });

  it('answers invalid JSON with a clear error on the review page, keeping the text and the delivery', async () => {
    const { path, csrf } = await reviewJwt();
    const bad = await alice.post(`${path}/edit`).type('form').send({ csrf, edited: '{"email": "alice@example.com",' }).expect(400);
    assert.match(testId(bad.text, 'review-error'), /^The claims are not valid JSON: .+\.$/);
    assert.equal(testId(bad.text, 'review-edit'), '{"email": "alice@example.com",');
    const array = await alice.post(`${path}/edit`).type('form').send({ csrf, edited: '[1, 2]' }).expect(400);
    assert.match(testId(array.text, 'review-error'), /The claims must be a JSON object/);
    await alice.post(`${path}/send`).type('form').send({ csrf }).expect(302);
  });

  it('lets the user choose a fault on the page (allowFaults is off here) and shows the faulty token before it is sent', async () => {
    const { path, csrf } = await reviewJwt();
    const applied = await alice.post(`${path}/fault`).type('form').send({ csrf, fault: 'wrong-audience' }).expect(303);
    const next = applied.headers.location as string;
    assert.notEqual(next, path);
    await alice.get(path).expect(404);
    const page = (await alice.get(next).expect(200)).text;
    assert.match(testId(page, 'review-faults'), /wrong-audience<\/code>: aud is "urn:mock-idp:fault:wrong-audience" instead of the SP's audience\./);
    assert.match(page, /<option value="wrong-audience" selected>/);
    assert.equal((JSON.parse(testId(page, 'jwt-claims')) as { aud: string }).aud, FAULT_VALUES.audience);
    const sent = await alice.post(`${next}/send`).type('form').send({ csrf }).expect(302);
    const token = jwtFromLocation(sent.headers.location as string);
    assert.equal(token, testId(page, 'jwt-token'));
    const url = new URL(sent.headers.location as string);
    const sp = await request(idp.spUrl).get(`${url.pathname}${url.search}`).expect(401);
    assert.match(unescapeHtml(sp.text), /The token's "aud" claim is not acceptable/);
    const [flow] = await idp.running.idp.context.flows.list({ limit: 1 });
    assert.deepEqual([flow!.outcome, flow!.faults], ['delivered', ['wrong-audience']]);
  });

  it('offers only the faults that apply to the SP: no hs-rs-confusion for an HS256 SP, which would refuse it; an RS256 SP gets it', async () => {
    const { page } = await reviewJwt();
    const options = (html: string) => [...html.matchAll(/<option value="([^"]*)"/g)].map((m) => m[1]);
    assert.ok(options(page).includes('wrong-audience'));
    assert.ok(!options(page).includes('hs-rs-confusion'), 'comm100 signs HS256: hs-rs-confusion is not offered');
    const start = await alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(303);
    const desk = (await alice.get(start.headers.location as string).expect(200)).text;
    assert.ok(options(desk).includes('hs-rs-confusion'), 'desk signs RS256: hs-rs-confusion is offered');
  });

  it('takes clock-skew with its seconds from the form, refuses bad seconds, and "No fault" puts the plain token back', async () => {
    const { path, csrf } = await reviewJwt();
    const bad = await alice.post(`${path}/fault`).type('form').send({ csrf, fault: 'clock-skew', seconds: '' }).expect(400);
    assert.match(testId(bad.text, 'review-error'), /clock-skew needs a number of seconds/);
    const skewed = await alice.post(`${path}/fault`).type('form').send({ csrf, fault: 'clock-skew', seconds: '-90' }).expect(303);
    const page = (await alice.get(skewed.headers.location as string)).text;
    assert.match(testId(page, 'review-faults'), /<code>clock-skew=-90<\/code>/);
    const claims = JSON.parse(testId(page, 'jwt-claims')) as { iat: number; exp: number };
    assert.ok(Math.abs(claims.iat - (Math.floor(Date.now() / 1000) - 90)) <= 2, `iat ${claims.iat}`);
    const none = await alice.post(`${skewed.headers.location as string}/fault`).type('form').send({ csrf, fault: '' }).expect(303);
    const plain = (await alice.get(none.headers.location as string)).text;
    assert.doesNotMatch(plain, /data-testid="review-faults"/);
  });

  it('reviews every delivery of an SP configured with review: true (the Desk one, form POST)', async () => {
    const start = await alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(303);
    const page = (await alice.get(start.headers.location as string).expect(200)).text;
    assert.match(page, /form POST \(field jwt\)/);
    assert.equal(decodeProtectedHeader(testId(page, 'jwt-token')).alg, 'RS256');
    assert.match(testId(page, 'jwt-signature'), /Valid: signed with the RS256 key dev-CHANGE-ME-/);
    assert.match(testId(page, 'review-curl'), /^curl -i \\\n {2}--data-urlencode 'jwt=ey/);
    const sent = await alice.post(`${start.headers.location as string}/send`).type('form').send({ csrf: csrfFrom(page) }).expect(200);
    assert.match(sent.text, new RegExp(`<form method="post" action="${idp.spUrl}/desk/sso/jwt/consumer" id="auto-post" data-auto-submit>`));
    assert.equal(hiddenField(sent.text, 'jwt'), testId(page, 'jwt-token'));
  });

  it('reviews a SAML Response: the assertion laid out with its signature status; Edit changes NameID and attributes, signed anew', async () => {
    const start = await alice.get('/saml/idp-init/comm100?review=1&RelayState=%2Fsso%2Fsaml%2Fagent').expect(303);
    const path = start.headers.location as string;
    const page = (await alice.get(path).expect(200)).text;
    assert.equal(testId(page, 'review-destination'), `<code>${idp.spUrl}/sso/saml/acs</code>`);
    assert.match(page, /<td class="ok">valid \(IdP SAML signing certificate\)<\/td>/);
    assert.match(testId(page, 'saml-xml'), /^<samlp:Response [^\n]+>\n {2}<saml:Issuer>/);
    assert.match(testId(page, 'saml-xml'), /\n {4}<saml:Subject>\n {6}<saml:NameID Format="[^"]+">alice@example\.com<\/saml:NameID>/);
    const edit = JSON.parse(testId(page, 'review-edit')) as { nameId: string; attributes: Record<string, unknown> };
    assert.deepEqual(edit, { nameId: 'alice@example.com', attributes: { email: 'alice@example.com', name: 'Alice Agent' } });
    const badEdit = await alice.post(`${path}/edit`).type('form').send({ csrf: csrfFrom(page), edited: '{"nameId": ""}' }).expect(400);
    assert.match(testId(badEdit.text, 'review-error'), /The edited assertion is not usable: "nameId" must be a non-empty string\./);
    const res = await alice
      .post(`${path}/edit`)
      .type('form')
      .send({ csrf: csrfFrom(page), edited: JSON.stringify({ nameId: 'bob@example.com', attributes: { email: 'bob@example.com', role: ['a', 'b'] } }) });
    const post = autoPost(res);
    assert.match(post.xml, />bob@example\.com<\/saml:NameID>/);
    assert.match(post.xml, /<saml:Attribute Name="role" NameFormat="[^"]+"><saml:AttributeValue>a<\/saml:AttributeValue><saml:AttributeValue>b<\/saml:AttributeValue><\/saml:Attribute>/);
    const verified = await xmlsecVerify(post.xml, { certificatePem: idp.running.idp.context.keystore.saml.certificatePem, mode: 'configured-key', signatureOf: 'Assertion' });
    assert.equal(verified.ok, true, verified.stderr);
    const acs = await request(idp.spUrl).post('/sso/saml/acs').type('form').send(post.fields);
    assert.equal(acs.status, 303, acs.text.slice(0, 300));
  });

  it('Send on a SAML review posts the Response shown to the ACS, where the demo SP signs the agent in', async () => {
    const start = await alice.get('/saml/idp-init/comm100?review=1').expect(303);
    const page = (await alice.get(start.headers.location as string)).text;
    const post = autoPost(await alice.post(`${start.headers.location as string}/send`).type('form').send({ csrf: csrfFrom(page) }));
    assert.equal(post.action, `${idp.spUrl}/sso/saml/acs`);
    const acs = await request(idp.spUrl).post('/sso/saml/acs').type('form').send(post.fields);
    assert.equal(acs.status, 303, acs.text.slice(0, 300));
  });
});
