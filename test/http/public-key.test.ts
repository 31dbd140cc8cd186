/**
 * GET /sso/public-key/:spId: the PEM public key an SP that takes a pasted key
 * (Secure Messenger's "Public Key" method) verifies that SP's tokens with.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { jwtVerify } from 'jose';
import request from 'supertest';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { hiddenField, login, type Agent } from '../helpers/http.js';

describe('GET /sso/public-key/:spId', () => {
  let idp: TestIdp;
  let alice: Agent;

  before(async () => {
    idp = await startTestIdp();
    alice = request.agent(idp.url);
    await login(alice, 'alice@example.com', 'alice-password');
  });
  after(() => idp.close());

  it('answers the PEM an RS256 SP verifies its tokens with', async () => {
    const res = await request(idp.url).get('/sso/public-key/desk').expect(200);
    assert.match(res.headers['content-type'] as string, /^application\/x-pem-file/);
    assert.match(res.text, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
    const page = await alice.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(`${idp.spUrl}/desk/sso/jwt/consumer`)}`).expect(200);
    const token = hiddenField(page.text, 'jwt')!;
    const { payload, protectedHeader } = await jwtVerify(token, crypto.createPublicKey(res.text), { algorithms: ['RS256'] });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.email, 'alice@example.com');
  });

  it('refuses an HS256 SP (there is no public key) and an unknown one, with JSON for a script', async () => {
    const hs = await request(idp.url).get('/sso/public-key/comm100').set('Accept', 'application/json').expect(400);
    assert.match(hs.body.message as string, /signs with HS256, a shared secret: there is no public key/);
    const unknown = await request(idp.url).get('/sso/public-key/nope').set('Accept', 'application/json').expect(404);
    assert.equal(unknown.body.error, 'unknown_sp');
  });
});
