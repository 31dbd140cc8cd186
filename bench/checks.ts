/**
 * Correctness before load: each answer the benchmark counts must be one an SP
 * would accept. A 302 carries a JWT that verifies (HS256 with the shared secret,
 * RS256 with the published JWKS) and names the user; a SAML form carries a
 * Response whose signatures verify with the IdP certificate, where the SP's config
 * wants them, for the request it answers.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { DOMParser, type Element } from '@xmldom/xmldom';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { SignedXml } from 'xml-crypto';
import { ACS_URL, HS_SECRET, JWT_CONSUMER, USER } from './idp.js';
import { hiddenField } from './lib.js';

const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
};

/** An HTTP-Redirect AuthnRequest query (`SAMLRequest=…`) with a fresh ID, as an SP sends it. */
export function authnRequestQuery(issuer: string, id = `_bench-${crypto.randomBytes(12).toString('hex')}`): { id: string; query: string } {
  const xml =
    `<samlp:AuthnRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${id}" Version="2.0" ` +
    `IssueInstant="${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}" AssertionConsumerServiceURL="${ACS_URL}">` +
    `<saml:Issuer>${issuer}</saml:Issuer></samlp:AuthnRequest>`;
  return { id, query: `SAMLRequest=${encodeURIComponent(zlib.deflateRawSync(Buffer.from(xml)).toString('base64'))}` };
}

export function jwtPath(spId: string): string {
  return `/sso/jwt/${spId}?redirect_url=${encodeURIComponent(JWT_CONSUMER)}`;
}

function fail(what: string, detail: string): never {
  throw new Error(`correctness check failed (${what}): ${detail}`);
}

/** GET the JWT redirect with a session; the 302's token must verify and name the user. */
export async function checkJwtRedirect(base: string, cookie: string, spId: string, alg: 'HS256' | 'RS256'): Promise<void> {
  const res = await fetch(`${base}${jwtPath(spId)}`, { headers: { cookie }, redirect: 'manual' });
  await res.arrayBuffer();
  if (res.status !== 302) fail(spId, `expected 302, got ${res.status}`);
  const location = new URL(res.headers.get('location') ?? fail(spId, 'no Location'));
  if (`${location.origin}${location.pathname}` !== JWT_CONSUMER) fail(spId, `redirected to ${location.href}`);
  const token = location.searchParams.get('jwt') ?? fail(spId, 'no jwt parameter');
  const options = { algorithms: [alg], issuer: 'mock-idp bench', audience: 'bench' };
  let payload;
  if (alg === 'HS256') {
    ({ payload } = await jwtVerify(token, new TextEncoder().encode(HS_SECRET), options));
  } else {
    const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
    ({ payload } = await jwtVerify(token, createLocalJWKSet(jwks), options));
  }
  if (payload.email !== USER.email || payload.name !== USER.name) fail(spId, `claims ${JSON.stringify(payload)}`);
}

function children(parent: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local) out.push(n as Element);
  }
  return out;
}

function verifies(xml: string, signed: Element, certificatePem: string): boolean {
  const signature = children(signed, NS.ds, 'Signature')[0];
  if (!signature) return false;
  const verifier = new SignedXml({ publicCert: certificatePem, getCertFromKeyInfo: () => null });
  verifier.loadSignature(signature.toString());
  try {
    return verifier.checkSignature(xml);
  } catch {
    return false;
  }
}

/** The SAMLResponse XML of an auto-POST page. */
export function samlResponseOf(html: string): string | undefined {
  const value = hiddenField(html, 'SAMLResponse');
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/**
 * GET an SP-initiated AuthnRequest with a session: the form must go to the ACS URL
 * with a Response to this request whose signatures verify where the SP wants them.
 */
export async function checkSamlSso(base: string, cookie: string, issuer: string, signs: { response: boolean; assertion: boolean }): Promise<void> {
  const certificatePem = await (await fetch(`${base}/saml/cert.pem`)).text();
  const { id, query } = authnRequestQuery(issuer);
  const res = await fetch(`${base}/saml/sso?${query}`, { headers: { cookie }, redirect: 'manual' });
  const html = await res.text();
  if (res.status !== 200) fail(issuer, `expected the auto-POST page, got ${res.status}`);
  if (!html.includes(`action="${ACS_URL}"`)) fail(issuer, 'the form does not post to the ACS URL');
  const xml = samlResponseOf(html) ?? fail(issuer, 'no SAMLResponse field');
  const response = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
  if (response.getAttribute('InResponseTo') !== id) fail(issuer, 'the Response does not answer this request');
  const assertion = children(response, NS.saml, 'Assertion')[0] ?? fail(issuer, 'no Assertion');
  const nameId = assertion.getElementsByTagNameNS(NS.saml, 'NameID')[0]?.textContent;
  if (nameId !== USER.email) fail(issuer, `NameID ${nameId}`);
  if (verifies(xml, response, certificatePem) !== signs.response) fail(issuer, `Response signature ${signs.response ? 'missing or invalid' : 'unexpected'}`);
  if (verifies(xml, assertion, certificatePem) !== signs.assertion) fail(issuer, `Assertion signature ${signs.assertion ? 'missing or invalid' : 'unexpected'}`);
  const tampered = xml.replace(`>${USER.email}</saml:NameID>`, '>mallory@example.com</saml:NameID>');
  const tamperedRoot = new DOMParser().parseFromString(tampered, 'text/xml').documentElement!;
  const signedEl = signs.response ? tamperedRoot : children(tamperedRoot, NS.saml, 'Assertion')[0]!;
  if (verifies(tampered, signedEl, certificatePem)) fail(issuer, 'a tampered Response still verifies');
}
