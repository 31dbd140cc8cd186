import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import type { TestIdp } from '../helpers/idp.js';
import { ONELOGIN, runOneLogin } from '../helpers/onelogin.js';
import { startSamlIdp } from './http-support.js';

describe('GET /saml/metadata, /saml/cert.pem, /saml/cert.cer', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startSamlIdp();
  });
  after(() => idp.close());

  it('serves the IdP metadata as application/samlmetadata+xml, with the endpoints under baseUrl', async () => {
    const res = await request(idp.url).get('/saml/metadata').expect(200);
    assert.equal(res.headers['content-type'], 'application/samlmetadata+xml; charset=utf-8');
    const xml = res.text;
    assert.match(xml, new RegExp(`entityID="${idp.url}/saml/metadata"`));
    assert.match(xml, new RegExp(`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${idp.url}/saml/sso"/>`));
    assert.match(xml, new RegExp(`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${idp.url}/saml/sso"/>`));
    assert.match(xml, new RegExp(`<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${idp.url}/saml/slo"/>`));
    // Not every SAML SP of this config signs its requests.
    assert.match(xml, /WantAuthnRequestsSigned="false"/);
  });

  it('is what an independent SP reads: entity ID, endpoints and the certificate served at /saml/cert.pem', async () => {
    const [metadata, pem] = await Promise.all([request(idp.url).get('/saml/metadata').expect(200), request(idp.url).get('/saml/cert.pem').expect(200)]);
    const parsed = await runOneLogin<{ idp: Record<string, unknown> }>({ action: 'parse_metadata', idp_metadata: metadata.text });
    assert.deepEqual(parsed.idp, {
      entityId: `${idp.url}/saml/metadata`,
      singleSignOnService: { url: `${idp.url}/saml/sso`, binding: ONELOGIN.REDIRECT },
      singleLogoutService: { url: `${idp.url}/saml/slo`, binding: ONELOGIN.REDIRECT },
      x509cert: new crypto.X509Certificate(pem.text).raw.toString('base64'),
    });
  });

  it('serves the signing certificate as PEM and as DER, the same certificate', async () => {
    const pem = await request(idp.url).get('/saml/cert.pem').expect(200);
    assert.equal(pem.headers['content-type'], 'application/x-pem-file; charset=utf-8');
    assert.match(pem.text, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
    const der = await request(idp.url)
      .get('/saml/cert.cer')
      .buffer(true)
      .parse((res, cb) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(200);
    assert.equal(der.headers['content-type'], 'application/pkix-cert');
    assert.equal(der.headers['content-disposition'], 'attachment; filename="mock-idp-saml-signing.cer"');
    const fromPem = new crypto.X509Certificate(pem.text);
    const fromDer = new crypto.X509Certificate(der.body as Buffer);
    assert.equal(fromDer.fingerprint256, fromPem.fingerprint256);
    assert.equal(fromPem.publicKey.asymmetricKeyType, 'rsa');
  });
});
