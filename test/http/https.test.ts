import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import request from 'supertest';
import { startTestIdp, tempDir } from '../helpers/idp.js';
import { csrfFrom, hiddenField, setCookies } from '../helpers/http.js';

describe('HTTPS', () => {
  it('serves https with a self-signed localhost certificate, Secure cookies, and the demo SP still verifies RS256 tokens via the JWKS', async () => {
    const keysDir = tempDir('mock-idp-tls-');
    const idp = await startTestIdp((c) => ({ ...c, keysDir, tls: { selfSigned: true }, baseUrl: c.baseUrl!.replace('http:', 'https:') }));
    try {
      const ca = idp.running.tls!.cert;
      const cert = new crypto.X509Certificate(ca);
      assert.match(cert.subjectAltName!, /DNS:localhost/);
      assert.match(cert.subjectAltName!, /IP Address:127\.0\.0\.1/);
      assert.ok(idp.url.startsWith('https://'));

      const agent = request.agent(idp.url).ca(ca);
      const form = await agent.get('/login').expect(200);
      const cookie = setCookies(form).find((c) => c.startsWith('mockidp.sid='))!;
      assert.match(cookie, /; Secure/);
      await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email: 'bob@example.com', password: 'bob-password' }).expect(303);
      assert.match(String((await agent.get('/login')).headers['strict-transport-security'] ?? ''), /max-age=/);

      const consumer = `${idp.spUrl}/desk/sso/jwt/consumer`;
      const page = await agent.get(`/sso/jwt/desk?redirect_url=${encodeURIComponent(consumer)}`).expect(200);
      const sp = request.agent(idp.spUrl);
      await sp.post('/desk/sso/jwt/consumer').type('form').send({ jwt: hiddenField(page.text, 'jwt') }).expect(303);
      assert.match((await sp.get('/desk/agent').expect(200)).text, /Bob Builder/);
    } finally {
      await idp.close();
    }
  });

  it('refuses a tls section with a cert but no key', async () => {
    await assert.rejects(startTestIdp((c) => ({ ...c, tls: { cert: '-----BEGIN CERTIFICATE-----x' } })), /tls\.key: cert and key go together/);
  });
});
