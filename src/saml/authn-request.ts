/**
 * AuthnRequest (SAML core 3.4.1): receiving one from a registered SP in either
 * binding and deciding where the answer may go.
 *
 * The answer goes to the request's AssertionConsumerServiceURL only when it is one
 * of the SP's registered acsUrls (compared exactly), else to the SP's default ACS
 * when the request names none. An unregistered URL is an error: nothing is ever
 * POSTed to it.
 */
import type { ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import type { IncomingMessage } from './binding.js';
import { BINDINGS, NS, type BindingName } from './constants.js';
import { receiveMessage, type SamlServiceProvider } from './inbound.js';
import { attribute, booleanAttribute, optionalChild, quote } from './xml.js';

export interface NameIdPolicy {
  format: string | undefined;
  allowCreate: boolean | undefined;
  /** The SP (or affiliation) the NameID is to be qualified by; src/saml/nameid.ts checks it. */
  spNameQualifier?: string | undefined;
}

/** A received AuthnRequest: authenticated (when the SP signs) and checked. */
export interface AuthnRequest {
  id: string;
  issuer: string;
  issueInstant: number;
  binding: BindingName;
  /** The registered ACS URL the Response goes to. */
  acsUrl: string;
  /** Whether the request named its ACS URL (else the SP's default was chosen). */
  acsUrlRequested: boolean;
  forceAuthn: boolean;
  isPassive: boolean;
  nameIdPolicy: NameIdPolicy | undefined;
  relayState: string | undefined;
  /** True when the request was signed and the signature verified. */
  signed: boolean;
  sp: SamlServiceProvider;
}

export interface ReceiveAuthnRequestOptions {
  serviceProviders: readonly ResolvedServiceProvider[];
  /** `<baseUrl>/saml/sso`: a Destination attribute must equal it. */
  ssoUrl: string;
}

const WHAT = 'AuthnRequest';

/** Decodes and checks an AuthnRequest. Throws IdpError with a precise message. */
export function receiveAuthnRequest(message: IncomingMessage, options: ReceiveAuthnRequestOptions): AuthnRequest {
  const inbound = receiveMessage(message, {
    param: 'SAMLRequest',
    rootName: WHAT,
    serviceProviders: options.serviceProviders,
    endpointUrl: options.ssoUrl,
  });
  const { root, sp } = inbound;

  const acsAttr = attribute(root, 'AssertionConsumerServiceURL');
  const acsUrl = chooseAcs(sp, acsAttr, attribute(root, 'AssertionConsumerServiceIndex'), attribute(root, 'ProtocolBinding'));

  const policy = optionalChild(root, NS.samlp, 'NameIDPolicy', WHAT);
  const spNameQualifier = policy && attribute(policy, 'SPNameQualifier');
  const nameIdPolicy: NameIdPolicy | undefined = policy && {
    format: attribute(policy, 'Format'),
    allowCreate: booleanAttribute(policy, 'AllowCreate', 'NameIDPolicy'),
    ...(spNameQualifier !== undefined ? { spNameQualifier } : {}),
  };

  return {
    id: inbound.id,
    issuer: inbound.issuer,
    issueInstant: inbound.issueInstant,
    binding: inbound.binding,
    acsUrl,
    acsUrlRequested: acsAttr !== undefined || attribute(root, 'AssertionConsumerServiceIndex') !== undefined,
    forceAuthn: booleanAttribute(root, 'ForceAuthn', WHAT) ?? false,
    isPassive: booleanAttribute(root, 'IsPassive', WHAT) ?? false,
    nameIdPolicy,
    relayState: inbound.relayState,
    signed: inbound.signed,
    sp,
  };
}

const bindingName = (uri: string): string => Object.entries(BINDINGS).find(([, u]) => u === uri)?.[0] ?? uri;

/**
 * Where the Response goes (SAML core 3.4.1, profiles 4.1.4.1): the ACS the
 * request names by URL (with ProtocolBinding) or by AssertionConsumerServiceIndex,
 * else the SP's default HTTP-POST ACS. Always a registered one, and one this IdP
 * answers at: HTTP-POST.
 */
function chooseAcs(sp: SamlServiceProvider, url: string | undefined, indexText: string | undefined, protocolBinding: string | undefined): string {
  if (url !== undefined && indexText !== undefined) {
    throw new IdpError('invalid_saml_request', 'The AuthnRequest has both AssertionConsumerServiceURL and AssertionConsumerServiceIndex; at most one is allowed.');
  }
  if (indexText !== undefined) {
    if (!/^\d{1,5}$/.test(indexText) || Number(indexText) > 65535) {
      throw new IdpError('invalid_saml_request', `The AssertionConsumerServiceIndex ${quote(indexText)} is not an unsigned short (0-65535).`);
    }
    const index = Number(indexText);
    const acs = sp.saml.acs.find((a) => a.index === index);
    if (acs === undefined) {
      const known = sp.saml.acs.map((a) => `${a.index} (${bindingName(a.binding)} ${a.url})`).join(', ');
      throw new IdpError('invalid_acs_url', `The AuthnRequest asks for the AssertionConsumerServiceIndex ${index}, which the service provider ${quote(sp.id)} does not have; its ACS indexes: ${known}.`);
    }
    // ProtocolBinding with an index is against the schema's intent, but harmless when it agrees.
    if (acs.binding !== BINDINGS.post || (protocolBinding !== undefined && protocolBinding !== acs.binding)) {
      throw new IdpError(
        'invalid_saml_request',
        `The AssertionConsumerServiceIndex ${index} of the service provider ${quote(sp.id)} uses the binding ${bindingName(protocolBinding ?? acs.binding)}; this IdP answers with HTTP-POST (${BINDINGS.post}) only.`,
      );
    }
    return acs.url;
  }
  if (protocolBinding !== undefined && protocolBinding !== BINDINGS.post) {
    throw new IdpError(
      'invalid_saml_request',
      `The AuthnRequest asks for the ProtocolBinding ${quote(protocolBinding)}; this IdP answers with HTTP-POST (${BINDINGS.post}) only.`,
    );
  }
  if (url === undefined) return sp.saml.acsUrls[0]!;
  if (!sp.saml.acsUrls.includes(url)) {
    const other = sp.saml.acs.find((a) => a.url === url);
    const why = other
      ? `it is registered with the binding ${bindingName(other.binding)}, and this IdP answers with HTTP-POST only`
      : sp.saml.fromMetadata
        ? "add it to the SP's metadata (an AssertionConsumerService with the HTTP-POST binding) or to its saml.acsUrls"
        : 'add it to its saml.acsUrls';
    throw new IdpError('invalid_acs_url', `The AssertionConsumerServiceURL ${quote(url)} is not registered for the service provider ${quote(sp.id)}; ${why}.`);
  }
  return url;
}
