/**
 * The IdP's metadata (SAML metadata 2.4.3): an EntityDescriptor with one
 * IDPSSODescriptor, in schema order: the signing KeyDescriptor, the
 * SingleLogoutService and NameIDFormats, then the SingleSignOnServices.
 * An SP can be set up by pasting it (or its URL, `<baseUrl>/saml/metadata`).
 *
 * The same IdP is also described per SP (`<baseUrl>/saml/metadata/<spId>`), with
 * WantAuthnRequestsSigned and the NameID formats as that SP is configured: some SP
 * libraries (samlify) refuse an IdP whose WantAuthnRequestsSigned differs from
 * their own AuthnRequestsSigned, and list the NameIDFormats in order of preference.
 */
import { SUPPORTED_NAMEID_FORMATS, type NameIdFormatUri } from '../config/sp-schema.js';
import { BINDINGS, NS } from './constants.js';
import { xmlbuilder2 } from './xml.js';

export interface MetadataInput {
  entityId: string;
  /** The IdP's public URL, without a trailing slash. */
  baseUrl: string;
  /** Base64 DER of the signing certificate. */
  certificateBase64: string;
  /** Set WantAuthnRequestsSigned (when every SP must sign its requests). */
  wantAuthnRequestsSigned?: boolean;
  /** Base64 DER of certificates retired by a key rotation, still published during the grace period. */
  retiredCertificatesBase64?: readonly string[];
  /** The NameIDFormats, the preferred first. Default: every supported format (SUPPORTED_NAMEID_FORMATS). */
  nameIdFormats?: readonly NameIdFormatUri[];
}

/** Every supported NameID format, `preferred` first (an SP's default format), the others in their usual order. */
export function nameIdFormatsPreferring(preferred: NameIdFormatUri): NameIdFormatUri[] {
  return [preferred, ...SUPPORTED_NAMEID_FORMATS.filter((f) => f !== preferred)];
}

/** The IdP's endpoints, as the metadata and the routers name them. */
export function samlEndpoints(baseUrl: string): { metadata: string; sso: string; slo: string } {
  return { metadata: `${baseUrl}/saml/metadata`, sso: `${baseUrl}/saml/sso`, slo: `${baseUrl}/saml/slo` };
}

export function buildMetadata(input: MetadataInput): string {
  const endpoints = samlEndpoints(input.baseUrl);
  const doc = xmlbuilder2().create({ version: '1.0', encoding: 'UTF-8' });
  const entity = doc.ele(NS.md, 'md:EntityDescriptor', { 'xmlns:ds': NS.ds, entityID: input.entityId });
  const idp = entity.ele(NS.md, 'md:IDPSSODescriptor', {
    WantAuthnRequestsSigned: input.wantAuthnRequestsSigned ? 'true' : 'false',
    protocolSupportEnumeration: NS.samlp,
  });
  // The current certificate first, then retired ones an SP may still see signatures from.
  for (const cert of [input.certificateBase64, ...(input.retiredCertificatesBase64 ?? [])]) {
    idp.ele(NS.md, 'md:KeyDescriptor', { use: 'signing' }).ele(NS.ds, 'ds:KeyInfo').ele(NS.ds, 'ds:X509Data').ele(NS.ds, 'ds:X509Certificate').txt(cert);
  }
  for (const binding of [BINDINGS.redirect, BINDINGS.post]) {
    idp.ele(NS.md, 'md:SingleLogoutService', { Binding: binding, Location: endpoints.slo });
  }
  for (const format of input.nameIdFormats ?? SUPPORTED_NAMEID_FORMATS) {
    idp.ele(NS.md, 'md:NameIDFormat').txt(format);
  }
  for (const binding of [BINDINGS.redirect, BINDINGS.post]) {
    idp.ele(NS.md, 'md:SingleSignOnService', { Binding: binding, Location: endpoints.sso });
  }
  return doc.end({ prettyPrint: true, wellFormed: true });
}
