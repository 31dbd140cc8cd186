/**
 * The IdP as the demo SP's SAML side knows it: read from its metadata (fetched
 * once, from its public /saml/metadata), as saml2-js objects, and the check of the
 * query-string signature on its HTTP-Redirect messages.
 */
import crypto from 'node:crypto';
import type { IdentityProvider, ServiceProvider } from 'saml2-js';
import { NS } from '../saml/constants.js';
import { attribute, childElements, parseUntrustedXml } from '../saml/xml.js';
import { DemoError } from './shared.js';

/** The IdP as read from its metadata. */
export interface IdpInfo {
  entityId: string;
  ssoUrl: string;
  sloUrl: string | undefined;
  certificatesPem: string[];
}

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

function toPem(base64: string): string {
  return `-----BEGIN CERTIFICATE-----\n${base64.replace(/\s+/g, '').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Reads the IdP's EntityDescriptor: entity ID, Redirect endpoints and signing certificates. */
export function readIdpMetadata(xml: string): IdpInfo {
  const root = parseUntrustedXml(xml, 'IdP metadata', 1024 * 1024).documentElement!;
  const idp = childElements(root, NS.md, 'IDPSSODescriptor')[0];
  if (root.localName !== 'EntityDescriptor' || !idp) throw new Error('the IdP metadata has no EntityDescriptor/IDPSSODescriptor');
  const endpoint = (name: string): string | undefined =>
    childElements(idp, NS.md, name)
      .filter((e) => attribute(e, 'Binding') === REDIRECT)
      .map((e) => attribute(e, 'Location'))[0];
  const certificatesPem = childElements(idp, NS.md, 'KeyDescriptor')
    .filter((k) => (attribute(k, 'use') ?? 'signing') === 'signing')
    .flatMap((k) => Array.from(k.getElementsByTagNameNS(NS.ds, 'X509Certificate')))
    .map((c) => toPem(c.textContent ?? ''));
  const ssoUrl = endpoint('SingleSignOnService');
  if (!ssoUrl || certificatesPem.length === 0) throw new Error('the IdP metadata has no HTTP-Redirect SingleSignOnService or no signing certificate');
  return { entityId: attribute(root, 'entityID') ?? '', ssoUrl, sloUrl: endpoint('SingleLogoutService'), certificatesPem };
}

/** The IdP and this SP, as saml2-js objects, with what the metadata says. */
export interface SamlPeers {
  info: IdpInfo;
  idp: IdentityProvider;
  sp: ServiceProvider;
}

/**
 * The IdP (from its metadata, fetched by the first SAML request and kept) and this SP,
 * as saml2-js objects. A failed fetch is a 502 page, and the next request tries again.
 */
export function samlPeers(options: { idpUrl: string; entityId: string; decryptionKeyPem?: string | undefined }, acsUrl: string): () => Promise<SamlPeers> {
  let peers: Promise<SamlPeers> | undefined;
  return () => {
    peers ??= fetch(`${options.idpUrl}/saml/metadata`)
      .then(async (res) => {
        if (!res.ok) throw new Error(`GET /saml/metadata answered ${res.status}`);
        const info = readIdpMetadata(await res.text());
        // saml2-js, the demo SP's largest dependency, is loaded by the first SAML request rather than at start-up.
        const { default: saml2 } = await import('saml2-js');
        const idp = new saml2.IdentityProvider({ sso_login_url: info.ssoUrl, sso_logout_url: info.sloUrl ?? info.ssoUrl, certificates: info.certificatesPem });
        const sp = new saml2.ServiceProvider({
          entity_id: options.entityId,
          assert_endpoint: acsUrl,
          allow_unencrypted_assertion: true,
          nameid_format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
          ...(options.decryptionKeyPem ? { private_key: options.decryptionKeyPem } : {}),
        });
        return { info, idp, sp };
      })
      .catch((err: unknown) => {
        peers = undefined;
        throw new DemoError(502, `The IdP's SAML metadata could not be read (${err instanceof Error ? err.message : String(err)}).`);
      });
    return peers;
  };
}

/** Verifies the query-string signature of an HTTP-Redirect message from the IdP, on the raw query. */
export function verifyRedirect(rawQuery: string, param: 'SAMLRequest' | 'SAMLResponse', idp: IdpInfo): boolean {
  const raw = new Map<string, string>();
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0) raw.set(decodeURIComponent(pair.slice(0, eq)), pair.slice(eq + 1));
  }
  const sigAlg = raw.get('SigAlg');
  const signature = raw.get('Signature');
  if (!raw.has(param) || sigAlg === undefined || signature === undefined) return false;
  const alg = { 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512' }[
    decodeURIComponent(sigAlg.replace(/\+/g, ' '))
  ];
  if (!alg) return false;
  const octets = `${param}=${raw.get(param)}${raw.has('RelayState') ? `&RelayState=${raw.get('RelayState')}` : ''}&SigAlg=${sigAlg}`;
  const sig = Buffer.from(decodeURIComponent(signature.replace(/\+/g, ' ')), 'base64');
  return idp.certificatesPem.some((cert) => {
    try {
      return crypto.verify(alg, Buffer.from(octets), cert, sig);
    } catch {
      return false;
    }
  });
}
