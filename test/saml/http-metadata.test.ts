import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { DOMParser } from '@xmldom/xmldom';
import { SUPPORTED_NAMEID_FORMATS } from '../../src/config/sp-schema.js';
import { NAMEID_FORMAT, NS } from '../../src/saml/constants.js';
import { childElements } from '../../src/saml/xml.js';
import { login } from '../helpers/http.js';
import { tempDir, type TestIdp } from '../helpers/idp.js';
import { ONELOGIN, runOneLogin } from '../helpers/onelogin.js';
import { samlSps, startSamlIdp } from './http-support.js';
import { SP_SIGNING } from './support.js';

const TOKEN = 'an-admin-token-for-the-metadata-tests';

/** What an SP reads of the IdP's metadata: the flag, the NameID formats, the signing certificates, the endpoints. */
function readMetadata(xml: string) {
  const entity = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
  const [idp] = childElements(entity, NS.md, 'IDPSSODescriptor');
  const endpoints = (name: string) => childElements(idp!, NS.md, name).map((e) => `${e.getAttribute('Binding')} ${e.getAttribute('Location')}`);
  return {
    entityId: entity.getAttribute('entityID'),
    wantAuthnRequestsSigned: idp!.getAttribute('WantAuthnRequestsSigned'),
    nameIdFormats: childElements(idp!, NS.md, 'NameIDFormat').map((e) => e.textContent),
    signingCertificates: childElements(idp!, NS.md, 'KeyDescriptor').map((k) => `${k.getAttribute('use')} ${k.getElementsByTagNameNS(NS.ds, 'X509Certificate')[0]!.textContent}`),
    sso: endpoints('SingleSignOnService'),
    slo: endpoints('SingleLogoutService'),
    children: childElements(idp!).map((e) => e.localName),
  };
}

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
    assert.deepEqual(readMetadata(xml).nameIdFormats, [...SUPPORTED_NAMEID_FORMATS], 'exactly the formats the IdP issues');
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

describe('GET /saml/metadata/:spId: the IdP as one SP is configured', () => {
  let idp: TestIdp;
  const api = (method: 'put' | 'post', path: string) => request(idp.url)[method](path).set('Authorization', `Bearer ${TOKEN}`);
  const get = async (path: string) => (await request(idp.url).get(path).expect(200)).text;

  before(async () => {
    // Keys of its own (the bundled ones cannot be rotated) and the control API on.
    idp = await startSamlIdp({
      edit: (c) => ({
        ...c,
        keysDir: tempDir('mock-idp-keys-'),
        adminToken: TOKEN,
        serviceProviders: (c.serviceProviders ?? []).map((sp) => (sp.id === 'signer' && sp.saml ? { ...sp, saml: { ...sp.saml, nameIdFormat: NAMEID_FORMAT.persistent } } : sp)),
      }),
    });
  });
  after(() => idp.close());

  it('says WantAuthnRequestsSigned="true" for an SP whose requests must be signed, with its NameID format first', async () => {
    const res = await request(idp.url).get('/saml/metadata/signer').expect(200);
    const global = await request(idp.url).get('/saml/metadata').expect(200);
    assert.equal(res.headers['content-type'], global.headers['content-type']);
    assert.equal(res.headers['cache-control'], 'public, max-age=300');
    assert.equal(res.headers['cache-control'], global.headers['cache-control']);
    const forSp = readMetadata(res.text);
    assert.equal(forSp.wantAuthnRequestsSigned, 'true');
    assert.deepEqual(forSp.nameIdFormats, [NAMEID_FORMAT.persistent, NAMEID_FORMAT.emailAddress, NAMEID_FORMAT.transient, NAMEID_FORMAT.unspecified]);
    // The same IdP: entity ID, signing certificates, endpoints and schema order as the global document.
    const all = readMetadata(global.text);
    assert.equal(all.wantAuthnRequestsSigned, 'false');
    for (const same of ['entityId', 'signingCertificates', 'sso', 'slo', 'children'] as const) assert.deepEqual(forSp[same], all[same], same);
    assert.equal(forSp.entityId, `${idp.url}/saml/metadata`);
  });

  it('says WantAuthnRequestsSigned="false" for an SP that need not sign, with its default (emailAddress) first', async () => {
    const forSp = readMetadata(await get('/saml/metadata/saml-sp'));
    assert.equal(forSp.wantAuthnRequestsSigned, 'false');
    assert.deepEqual(forSp.nameIdFormats, [...SUPPORTED_NAMEID_FORMATS]);
    assert.deepEqual(forSp.sso, [`${ONELOGIN.REDIRECT} ${idp.url}/saml/sso`, `${ONELOGIN.POST} ${idp.url}/saml/sso`]);
  });

  // The toolkit reads WantAuthnRequestsSigned off the EntityDescriptor, not the IDPSSODescriptor that carries it
  // (idp_metadata_parser.py), so only the NameIDFormat is compared; saml2-js reads neither.
  it('is what an independent SP reads: the OneLogin toolkit takes its NameIDFormat from the first one listed', async () => {
    const parsed = await runOneLogin<{ idp: Record<string, unknown>; sp: { NameIDFormat: string } }>({ action: 'parse_metadata', idp_metadata: await get('/saml/metadata/signer') });
    assert.equal(parsed.sp.NameIDFormat, NAMEID_FORMAT.persistent);
    assert.equal(parsed.idp.entityId, `${idp.url}/saml/metadata`);
  });

  it("is linked from the console's row of each SAML SP", async () => {
    const alice = request.agent(idp.url);
    await login(alice, 'alice@example.com', 'alice-password');
    const links = [...(await alice.get('/').expect(200)).text.matchAll(/href="(\/saml\/metadata\/[^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(links, ['/saml/metadata/saml-sp', '/saml/metadata/signer', '/saml/metadata/no-slo']);
  });

  it('answers 404 for an unknown SP and 400 (sp_protocol_disabled) for an SP without SAML', async () => {
    const unknown = await request(idp.url).get('/saml/metadata/nobody').set('Accept', 'application/json').expect(404);
    assert.equal(unknown.body.error, 'unknown_sp');
    const jwtOnly = await request(idp.url).get('/saml/metadata/desk').set('Accept', 'application/json').expect(400);
    assert.equal(jwtOnly.body.error, 'sp_protocol_disabled');
    const page = await request(idp.url).get('/saml/metadata/nobody').expect(404);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
  });

  it('follows a change of the SP (the control API) and a key rotation, like the global document', async () => {
    const before = readMetadata(await get('/saml/metadata/saml-sp'));
    const input = samlSps().find((sp) => sp.id === 'saml-sp')!;
    await api('put', '/api/service-providers/saml-sp')
      .send({ name: input.name, saml: { ...input.saml, requestSigningCert: SP_SIGNING.certificatePem, nameIdFormat: NAMEID_FORMAT.transient } })
      .expect(200);
    const changed = readMetadata(await get('/saml/metadata/saml-sp'));
    assert.equal(changed.wantAuthnRequestsSigned, 'true');
    assert.equal(changed.nameIdFormats[0], NAMEID_FORMAT.transient);
    assert.equal(readMetadata(await get('/saml/metadata')).wantAuthnRequestsSigned, 'false', 'no-slo still need not sign');

    await api('post', '/api/keys/rotate').expect(200);
    const rotated = readMetadata(await get('/saml/metadata/saml-sp'));
    assert.equal(rotated.signingCertificates.length, 2, 'the new certificate and the retired one');
    assert.equal(rotated.signingCertificates[1], before.signingCertificates[0]);
    assert.deepEqual(rotated.signingCertificates, readMetadata(await get('/saml/metadata')).signingCertificates);
    assert.equal(rotated.signingCertificates[0], `signing ${idp.running.idp.context.keystore.saml.certificateBase64}`);
  });
});
