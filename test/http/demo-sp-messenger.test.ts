/**
 * The demo SP's Secure Messenger: a Contact JWT minted by the IdP (GET
 * /sso/token/messenger) verified by each validation method, the Authorize API's
 * answers, every Contact JWT fault jose can make, the Comm100 JWT accepted by
 * the widget, the URL restriction, and the shared token reset passed on to the IdP.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { decodeJwt, SignJWT } from 'jose';
import type { ConfigInput } from '../../src/config/schema.js';
import { startTestIdp, tempDir, type TestIdp } from '../helpers/idp.js';
import { csrfFrom, login } from '../helpers/http.js';

const MESSENGER_ID = 'ea5380a4-77c1-436e-a47a-37fd2c8af550';
const SHARED_TOKEN = 'test-messenger-shared-token-0123456789';
const IDP_PUBLIC_KEY = crypto.createPublicKey(fs.readFileSync(path.join(process.cwd(), 'keys', 'jwt-rs256.key.pem'), 'utf8')).export({ type: 'spki', format: 'pem' }).toString();

/** The IdP SP `messenger` as the demo config registers it, signing with `jwt`'s algorithm, and the demo SP's messenger block. */
function withMessenger(jwt: Record<string, unknown>, messenger: Record<string, unknown> = {}) {
  return (c: ConfigInput): ConfigInput => {
    const sp = (c.demo as { spBaseUrl: string }).spBaseUrl;
    return {
      ...c,
      serviceProviders: [
        ...(c.serviceProviders ?? []).filter((sp) => sp.id !== 'messenger'),
        {
          id: 'messenger',
          name: 'Secure Messenger (test website)',
          jwt: {
            redirectUrls: [`${sp}/securemessage/widget`],
            audience: 'messenger',
            ttlSeconds: 600,
            identityClaim: 'identity',
            claims: { 'comm100.name': 'name', 'comm100.email': 'email' },
            ...jwt,
          },
        },
      ],
      demo: { ...c.demo, messenger },
    } as ConfigInput;
  };
}

/** A Contact JWT for alice from the IdP, as the website page gets it. */
async function contactJwtFromIdp(idp: TestIdp): Promise<string> {
  const agent = request.agent(idp.url);
  await login(agent, 'alice@example.com', 'alice-password');
  const res = await agent.get('/sso/token/messenger').expect(200);
  return (res.body as { token: string }).token;
}

const authorize = (idp: TestIdp, body: unknown) => request(idp.spUrl).post('/securemessage/authorize').send(body as object);
const good = (contactJwt: string) => ({ siteId: 10000, messengerId: MESSENGER_ID, contactJwt, isPreview: false });

async function refusedWith(idp: TestIdp, body: unknown, status: number, message: RegExp): Promise<void> {
  const res = await authorize(idp, body);
  assert.equal(res.status, status, `answered ${res.status}: ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const b = res.body as { error: string; message: string };
  assert.equal(typeof b.error, 'string');
  assert.match(b.message, message);
}

const now = () => Math.floor(Date.now() / 1000);
const hs = (claims: Record<string, unknown>, secret: string | Uint8Array = SHARED_TOKEN) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);
const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const unsigned = (claims: object) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
const rs = async (claims: Record<string, unknown>) => {
  const { privateKey } = await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
};

describe('the Secure Messenger with a shared token', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp(withMessenger({ algorithm: 'HS256', secret: SHARED_TOKEN }));
  });
  after(() => idp.close());

  it('exchanges a Contact JWT from the IdP for a Comm100 JWT, more than once until it expires', async () => {
    const token = await contactJwtFromIdp(idp);
    for (let i = 0; i < 2; i++) {
      const res = await authorize(idp, good(token)).expect(200);
      const body = res.body as { accessToken: string; expiresIn: number };
      assert.equal(body.expiresIn, 600);
      const claims = decodeJwt(body.accessToken);
      assert.equal(claims.sub, 'alice@example.com');
      assert.equal(claims.aud, 'comm100-secure-messenger');
      assert.equal(claims.iss, idp.spUrl);
      assert.equal(claims.siteId, '10000');
      assert.equal(claims.messengerId, MESSENGER_ID);
      assert.equal(claims['comm100.name'], 'Alice Agent');
      assert.equal(claims.exp! - claims.iat!, 600);
    }
  });

  it('accepts the seed\'s literal key "Contact JWT" and a numeric string siteId', async () => {
    const token = await contactJwtFromIdp(idp);
    await authorize(idp, { siteId: '10000', messengerId: MESSENGER_ID, 'Contact JWT': token }).expect(200);
  });

  it('answers 400 with a JSON error for a malformed body', async () => {
    const token = await contactJwtFromIdp(idp);
    const notJson = await request(idp.spUrl).post('/securemessage/authorize').set('Content-Type', 'text/plain').send('contactJwt=x').expect(400);
    assert.match((notJson.body as { message: string }).message, /must be JSON/);
    const badJson = await request(idp.spUrl).post('/securemessage/authorize').set('Content-Type', 'application/json').send('{"siteId": 10000,').expect(400);
    assert.deepEqual(badJson.body, { error: 'invalid_request', message: 'the body is not valid JSON' });
    await refusedWith(idp, [good(token)], 400, /JSON object/);
    await refusedWith(idp, { siteId: 10000, messengerId: MESSENGER_ID }, 400, /no Contact JWT/);
    await refusedWith(idp, { ...good(token), contactJwt: '' }, 400, /non-empty string/);
    await refusedWith(idp, { ...good(token), contactJwt: 42 }, 400, /non-empty string/);
    await refusedWith(idp, { ...good(token), siteId: 'ten thousand' }, 400, /siteId must be a number or a numeric string/);
    await refusedWith(idp, { ...good(token), siteId: undefined }, 400, /siteId is missing/);
    await refusedWith(idp, { ...good(token), siteId: true }, 400, /siteId must be/);
    await refusedWith(idp, { ...good(token), messengerId: undefined }, 400, /messengerId must be a string/);
  });

  it('answers 404 for an unknown siteId or messengerId', async () => {
    const token = await contactJwtFromIdp(idp);
    await refusedWith(idp, { ...good(token), siteId: 10001 }, 404, /there is no site 10001/);
    await refusedWith(idp, { ...good(token), messengerId: '00000000-0000-4000-8000-000000000000' }, 404, /has no messenger 00000000/);
  });

  it('answers 401 for every Contact JWT fault, naming what failed', async () => {
    const base = { identity: 'alice@example.com', 'comm100.name': 'Alice Agent' };
    const exp = now() + 600;
    await refusedWith(idp, good(await hs({ 'comm100.name': 'Alice', exp })), 401, /the Contact JWT has no "identity" claim \(the messenger's identity key\)/);
    await refusedWith(idp, good(await hs({ ...base, identity: '', exp })), 401, /no "identity" claim/);
    await refusedWith(idp, good(await hs(base)), 401, /no "exp" claim/);
    await refusedWith(idp, good(await hs({ ...base, exp: now() - 3600 })), 401, /expired at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(exp \d+\)/);
    await refusedWith(idp, good(await hs({ ...base, exp }, 'another-secret-0123456789abcdef')), 401, /signature does not verify with the shared token/);
    await refusedWith(idp, good(unsigned({ ...base, exp })), 401, /alg none is not accepted/);
    await refusedWith(idp, good(await rs({ ...base, exp })), 401, /signed with RS256, but validation sharedToken accepts only HS256/);
    await refusedWith(idp, good('not.a.jwt'), 401, /malformed/);
    const token = await contactJwtFromIdp(idp);
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${b64({ ...(decodeJwt(token) as object), identity: 'mallory@example.com' })}.${s}`;
    assert.notEqual(p, tampered.split('.')[1]);
    await refusedWith(idp, good(tampered), 401, /signature does not verify/);
  });

  it('frames the widget only from the origins of the allowed URLs, and only for a page URL under them', async () => {
    const q = (pageUrl: string) => `/securemessage/widget?siteId=10000&messengerId=${MESSENGER_ID}&pageUrl=${encodeURIComponent(pageUrl)}`;
    const shown = await request(idp.spUrl).get(q(`${idp.url}/website?tab=1`)).expect(200);
    assert.match(String(shown.headers['content-security-policy']), new RegExp(`frame-ancestors ${idp.url}(;|$)`));
    assert.doesNotMatch(String(shown.headers['content-security-policy']), /frame-ancestors[^;]*'self'/);
    assert.match(shown.text, /<script src="\/static\/messenger-widget\.js" defer><\/script>/);
    assert.doesNotMatch(shown.text, /<script>/);
    const outside = await request(idp.spUrl).get(q(`${idp.url}/flows`)).expect(403);
    assert.match(outside.text, /data-testid="messenger-refusal"/);
    assert.match(outside.text, new RegExp(`displayed only on pages whose URL starts with ${idp.url}/website`));
    assert.match(outside.text, new RegExp(`<li><code>${idp.url}/website</code></li>`));
    await request(idp.spUrl).get(q('https://evil.example/website')).expect(403);
    const noPage = await request(idp.spUrl).get(`/securemessage/widget?siteId=10000&messengerId=${MESSENGER_ID}`).expect(403);
    assert.match(noPage.text, /No page URL was given/);
    const unknown = await request(idp.spUrl).get(`/securemessage/widget?siteId=10000&messengerId=nope&pageUrl=${encodeURIComponent(`${idp.url}/website`)}`).expect(404);
    assert.match(unknown.text, /site 10000 has no messenger nope/);
    const install = await request(idp.spUrl).get('/securemessage/install.js').expect(200);
    assert.match(String(install.headers['content-type']), /javascript/);
    assert.equal(install.headers['cross-origin-resource-policy'], 'cross-origin');
    assert.match(install.text, /comm100:secure-messenger:token/);
  });

  it('identifies the customer in the widget from a Contact JWT or the Comm100 JWT, on an allowed page only', async () => {
    const token = await contactJwtFromIdp(idp);
    const identify = (body: object) => request(idp.spUrl).post('/securemessage/widget/identify').send({ siteId: '10000', messengerId: MESSENGER_ID, pageUrl: `${idp.url}/website`, ...body });
    const direct = await identify({ contactJwt: token }).expect(200);
    assert.deepEqual(direct.body, { identified: true, via: 'contactJwt', identityKey: 'identity', identity: 'alice@example.com', details: { 'comm100.name': 'Alice Agent', 'comm100.email': 'alice@example.com' } });
    const { accessToken } = (await authorize(idp, good(token)).expect(200)).body as { accessToken: string };
    const exchanged = await identify({ comm100Jwt: accessToken }).expect(200);
    assert.equal((exchanged.body as { via: string }).via, 'comm100Jwt');
    assert.equal((exchanged.body as { identity: string }).identity, 'alice@example.com');
    assert.deepEqual((exchanged.body as { details: unknown }).details, { 'comm100.name': 'Alice Agent', 'comm100.email': 'alice@example.com' });
    const forged = await identify({ comm100Jwt: await hs({ sub: 'mallory@example.com', exp: now() + 60 }) }).expect(401);
    assert.match((forged.body as { message: string }).message, /Comm100 JWT/);
    const elsewhere = await identify({ contactJwt: token, pageUrl: `${idp.url}/flows` }).expect(403);
    assert.equal((elsewhere.body as { error: string }).error, 'url_not_allowed');
    const noToken = await identify({}).expect(400);
    assert.match((noToken.body as { message: string }).message, /no Contact JWT/);
  });

  it('resets the shared token: the old one is refused, the IdP signs with the new one (through the hook)', async () => {
    const before = await contactJwtFromIdp(idp);
    const settingsAgent = request.agent(idp.spUrl);
    const page = await settingsAgent.get('/securemessage/settings').expect(200);
    assert.match(page.text, /Shared Token \(HS256\)/);
    assert.match(page.text, /data-testid="messenger-token-masked">test•+6789</);
    assert.match(page.text, /data-testid="messenger-identity-key">identity</);
    // Without the page's CSRF token, nothing changes.
    await request(idp.spUrl).post('/securemessage/settings/reset-token').type('form').send({ csrf: 'forged' }).expect(403);
    await settingsAgent.post('/securemessage/settings/reset-token').type('form').send({ csrf: 'forged' }).expect(403);
    await authorize(idp, good(before)).expect(200);

    const reset = await settingsAgent.post('/securemessage/settings/reset-token').type('form').send({ csrf: csrfFrom(page.text) }).expect(200);
    const newToken = /data-testid="messenger-new-token">([^<]+)</.exec(reset.text)?.[1];
    assert.ok(newToken && newToken !== SHARED_TOKEN);
    const again = await settingsAgent.get('/securemessage/settings').expect(200);
    assert.doesNotMatch(again.text, /messenger-new-token/);

    await refusedWith(idp, good(before), 401, /signature does not verify with the shared token/);
    await refusedWith(idp, good(await hs({ identity: 'alice@example.com', exp: now() + 60 })), 401, /shared token/);
    const after = await contactJwtFromIdp(idp);
    await authorize(idp, good(after)).expect(200);
    await authorize(idp, good(await hs({ identity: 'alice@example.com', exp: now() + 60 }, newToken))).expect(200);
  });
});

describe('the Secure Messenger with a public key', () => {
  let idp: TestIdp;
  before(async () => {
    // The public key as a path, relative to the working directory (the test config's baseDir).
    const file = path.join(tempDir(), 'website-public.pem');
    fs.writeFileSync(file, IDP_PUBLIC_KEY);
    idp = await startTestIdp(withMessenger({ algorithm: 'RS256' }, { validation: 'publicKey', publicKey: file, allowedUrls: ['http://shop.example.test/account/'] }));
  });
  after(() => idp.close());

  it('verifies an RS256 Contact JWT from the IdP with the pasted public key', async () => {
    await authorize(idp, good(await contactJwtFromIdp(idp))).expect(200);
  });

  it('refuses an HS256 token made with the public key as its secret (HS/RS confusion), and another key', async () => {
    const exp = now() + 600;
    await refusedWith(idp, good(await hs({ identity: 'a@example.com', exp }, IDP_PUBLIC_KEY)), 401, /signed with HS256, but validation publicKey accepts only RS256/);
    await refusedWith(idp, good(await rs({ identity: 'a@example.com', exp })), 401, /signature does not verify with the messenger's public key/);
    await refusedWith(idp, good(unsigned({ identity: 'a@example.com', exp })), 401, /alg none is not accepted/);
  });

  it('matches the allowed URLs as prefixes and frames only from their origins', async () => {
    const q = (pageUrl: string) => `/securemessage/widget?siteId=10000&messengerId=${MESSENGER_ID}&pageUrl=${encodeURIComponent(pageUrl)}`;
    const shown = await request(idp.spUrl).get(q('http://shop.example.test/account/orders?id=1')).expect(200);
    assert.match(String(shown.headers['content-security-policy']), /frame-ancestors http:\/\/shop\.example\.test(;|$)/);
    await request(idp.spUrl).get(q('http://shop.example.test/account')).expect(403);
    await request(idp.spUrl).get(q(`${idp.url}/website`)).expect(403);
  });

  it('shows the validation method and has no shared token to reset', async () => {
    const agent = request.agent(idp.spUrl);
    const page = await agent.get('/securemessage/settings').expect(200);
    assert.match(page.text, /Public Key \(RS256\)/);
    assert.doesNotMatch(page.text, /Reset shared token/);
  });
});

describe('the Secure Messenger with the JWKS URL', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startTestIdp(withMessenger({ algorithm: 'RS256' }));
  });
  after(() => idp.close());

  it('defaults to the IdP\'s JWKS for an RS256 SP and verifies its Contact JWT by kid', async () => {
    const page = await request(idp.spUrl).get('/securemessage/settings').expect(200);
    assert.match(page.text, new RegExp(`data-testid="messenger-jwks-url">${idp.url}/.well-known/jwks.json<`));
    await authorize(idp, good(await contactJwtFromIdp(idp))).expect(200);
  });

  it('refuses a token whose kid is not in the JWKS, and one signed by another key', async () => {
    const exp = now() + 600;
    const { privateKey } = await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['sign', 'verify']);
    const unknownKid = await new SignJWT({ identity: 'a@example.com', exp }).setProtectedHeader({ alg: 'RS256', kid: 'no-such-kid' }).sign(privateKey);
    await refusedWith(idp, good(unknownKid), 401, /no key at .*jwks\.json has the Contact JWT's kid no-such-kid/);
    const kid = (JSON.parse(Buffer.from((await contactJwtFromIdp(idp)).split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    const wrongKey = await new SignJWT({ identity: 'a@example.com', exp }).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
    await refusedWith(idp, good(wrongKey), 401, new RegExp(`signature does not verify with the key ${kid}`));
    await refusedWith(idp, good(await hs({ identity: 'a@example.com', exp }, IDP_PUBLIC_KEY)), 401, /accepts only RS256/);
  });
});
