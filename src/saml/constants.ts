/** SAML 2.0 names used by the IdP: namespaces, bindings, status codes, URIs. */
import { LIMITS as ALL_LIMITS } from '../limits.js';

export const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
} as const;

export const BINDINGS = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
} as const;

export type BindingName = keyof typeof BINDINGS;

export const SAML_VERSION = '2.0';

/** Top-level status codes (SAML core 3.2.2.2). */
export const TOP_STATUS = {
  Success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  Requester: 'urn:oasis:names:tc:SAML:2.0:status:Requester',
  Responder: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
  VersionMismatch: 'urn:oasis:names:tc:SAML:2.0:status:VersionMismatch',
} as const;

export type TopStatus = keyof typeof TOP_STATUS;

/** Second-level status codes the IdP answers with. */
export const SUB_STATUS = {
  AuthnFailed: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed',
  InvalidNameIDPolicy: 'urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy',
  NoPassive: 'urn:oasis:names:tc:SAML:2.0:status:NoPassive',
  PartialLogout: 'urn:oasis:names:tc:SAML:2.0:status:PartialLogout',
  RequestDenied: 'urn:oasis:names:tc:SAML:2.0:status:RequestDenied',
  RequestUnsupported: 'urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported',
  UnknownPrincipal: 'urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal',
} as const;

export type SubStatus = keyof typeof SUB_STATUS;

/** A SAML status: the top-level code, an optional second-level code and message. */
export interface SamlStatus {
  code: TopStatus;
  subCode?: SubStatus | undefined;
  message?: string | undefined;
}

export const CONFIRMATION_METHOD_BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
export const AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

export const NAMEID_FORMAT = {
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
} as const;

export const ATTRNAME_FORMAT = {
  basic: 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
  uri: 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri',
} as const;

/** Size limits of incoming SAML messages, from the one limits table (src/limits.ts). */
export const LIMITS = {
  /** The XML of a message after base64 decoding (and inflating, for HTTP-Redirect). */
  maxXmlBytes: ALL_LIMITS.samlXmlBytes,
  /** The base64 text of a SAMLRequest/SAMLResponse parameter. */
  maxEncodedChars: ALL_LIMITS.samlEncodedChars,
  /** RelayState, echoed back exactly. */
  maxRelayStateChars: ALL_LIMITS.relayStateChars,
  /** An SP's metadata document. */
  maxSpMetadataBytes: ALL_LIMITS.spMetadataBytes,
} as const;

/** The protocolSupportEnumeration value of a role descriptor that speaks SAML 2.0 (metadata 2.4.1). */
export const PROTOCOL_SAML2 = NS.samlp;
