// The library example from the README, word for word between the markers (a test checks that).
// readme-example:start
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { jwtVerify } from 'jose';
import { startIdp, type RunningIdp } from 'mock-idp';

let idp: RunningIdp;

before(async () => {
  idp = await startIdp({
    config: {
      users: [{ email: 'alice@example.com', password: 'alice-password', name: 'Alice', attributes: { siteId: '10000' } }],
      serviceProviders: [
        {
          id: 'myapp',
          jwt: {
            redirectUrls: ['http://localhost:3000/sso/jwt/consumer'],
            secret: 'my-shared-secret-0123456789',
            claims: { siteId: 'siteId' },
          },
          saml: { entityId: 'myapp', acsUrls: ['http://localhost:3000/sso/saml/acs'] },
        },
      ],
    },
  });
});
after(() => idp.close());

test('my SP accepts a token from mock-idp', async () => {
  const token = await idp.mintJwt('myapp', 'alice@example.com');
  const { payload } = await jwtVerify(token, new TextEncoder().encode('my-shared-secret-0123456789'), {
    algorithms: ['HS256'],
    audience: 'myapp',
    issuer: idp.url,
  });
  assert.equal(payload.email, 'alice@example.com');
  assert.equal(payload.siteId, '10000');
});

test('my SP rejects an expired token', async () => {
  const expired = await idp.mintJwt('myapp', 'alice@example.com', { exp: Math.floor(Date.now() / 1000) - 60 });
  await assert.rejects(jwtVerify(expired, new TextEncoder().encode('my-shared-secret-0123456789')), /"exp" claim timestamp check failed/);
});

test('a browser session without the login form', async () => {
  const session = await idp.login('alice@example.com');
  const res = await fetch(`${idp.url}/sso/jwt/myapp?redirect_url=${encodeURIComponent('http://localhost:3000/sso/jwt/consumer')}`, {
    headers: { cookie: session.cookieHeader },
    redirect: 'manual',
  });
  assert.equal(res.status, 302);
  assert.match(res.headers.get('location')!, /^http:\/\/localhost:3000\/sso\/jwt\/consumer\?jwt=/);
});

test('a signed SAML Response for my ACS', async () => {
  const { samlResponse, acsUrl } = await idp.samlResponse('myapp', 'alice@example.com');
  assert.equal(acsUrl, 'http://localhost:3000/sso/saml/acs');
  assert.match(Buffer.from(samlResponse, 'base64').toString(), /<ds:SignatureValue>/);
});
// readme-example:end
