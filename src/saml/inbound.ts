/**
 * Receiving a SAML message from a service provider, whatever its kind: decode the
 * binding, parse the XML safely, find the SP by its Issuer, and verify the
 * signature when the SP's messages must be signed. What comes out is the message's
 * root element read from the signed XML (when it was signed) and the SP.
 */
import type { ResolvedServiceProvider } from '../config/load.js';
import { isSamlSp, type SamlSp } from '../sps.js';
import { IdpError } from '../errors.js';
import { decodeMessage, verifyRedirectSignature, type IncomingMessage, type MessageParam } from './binding.js';
import { NS, SAML_VERSION, type BindingName } from './constants.js';
import { verifyEnvelopedSignature } from './sign.js';
import { attribute, childElements, expectRoot, optionalChild, parseInstant, parseUntrustedXml, quote, textContent, type Element } from './xml.js';

/** A service provider that has SAML configured (src/sps.ts). */
export type SamlServiceProvider = SamlSp;
export { isSamlSp };

/** The SP whose SAML entity ID this is, if any. */
export function findSpByEntityId(serviceProviders: readonly ResolvedServiceProvider[], entityId: string): SamlServiceProvider | undefined {
  return serviceProviders.filter(isSamlSp).find((sp) => sp.saml.entityId === entityId);
}

export interface InboundMessage {
  binding: BindingName;
  /** The root element, from the signed XML when the message was signed. */
  root: Element;
  /** The message's XML as received (after decoding). */
  xml: string;
  id: string;
  issuer: string;
  issueInstant: number;
  destination: string | undefined;
  sp: SamlServiceProvider;
  relayState: string | undefined;
  /** True when a signature was required and verified. */
  signed: boolean;
}

export interface ReceiveOptions {
  param: MessageParam;
  /** Namespace and local name the root element must have, e.g. samlp:AuthnRequest. */
  rootName: string;
  serviceProviders: readonly ResolvedServiceProvider[];
  /** The IdP endpoint the message was sent to; a Destination attribute must equal it. */
  endpointUrl: string;
}

/** Decodes, parses, identifies and (when required) verifies a message from an SP. */
export function receiveMessage(message: IncomingMessage, options: ReceiveOptions): InboundMessage {
  const what = options.rootName;
  const decoded = decodeMessage(message, options.param);
  const doc = parseUntrustedXml(decoded.xml, `${options.param} (${what})`);
  const untrustedRoot = expectRoot(doc, NS.samlp, options.rootName, options.param);
  const untrustedIssuer = readIssuer(untrustedRoot, what);
  const sp = findSpByEntityId(options.serviceProviders, untrustedIssuer);
  if (!sp) {
    throw new IdpError('unknown_issuer', `No service provider is registered with the SAML entity ID ${quote(untrustedIssuer)} (the Issuer of the ${what}).`);
  }

  let root = untrustedRoot;
  let signed = false;
  // Required when requestSigningCert is set (or the metadata says AuthnRequestsSigned); a signature sent anyway is checked when the SP has certificates.
  const certs = sp.saml.requestSigningCerts;
  const present = decoded.binding === 'redirect' ? decoded.redirectSignature?.signature !== undefined : childElements(untrustedRoot, NS.ds, 'Signature').length > 0;
  const from = sp.saml.fromMetadata?.taken.some((k) => k.startsWith('request')) ? 'metadata' : 'requestSigningCert';
  if (certs.length > 0 && (sp.saml.requestSigningCert !== null || present)) {
    if (decoded.binding === 'redirect') {
      verifyRedirectSignature(decoded.redirectSignature!, certs, what, from);
      signed = true;
    } else {
      const signedXml = verifyEnvelopedSignature(decoded.xml, doc, certs, what, from);
      // Read everything from what was signed, never from the rest of the document.
      root = expectRoot(parseUntrustedXml(signedXml, `signed ${what}`), NS.samlp, options.rootName, options.param);
      signed = true;
      if (readIssuer(root, what) !== untrustedIssuer) {
        throw new IdpError('invalid_signature', `The signed ${what} names a different Issuer than the message.`);
      }
    }
  }

  const version = attribute(root, 'Version');
  if (version !== SAML_VERSION) {
    throw new IdpError('invalid_saml_request', `The ${what} has Version ${quote(version ?? '(none)')}; only SAML 2.0 is supported.`);
  }
  const id = attribute(root, 'ID');
  if (id === undefined || !/^[^\s\p{Cc}]{1,256}$/u.test(id)) {
    throw new IdpError('invalid_saml_request', `The ${what} has no usable ID attribute.`);
  }
  const instantText = attribute(root, 'IssueInstant');
  const issueInstant = instantText === undefined ? undefined : parseInstant(instantText);
  if (issueInstant === undefined) {
    throw new IdpError('invalid_saml_request', `The ${what} has no valid IssueInstant (an xs:dateTime in UTC).`);
  }
  const destination = attribute(root, 'Destination');
  if (destination !== undefined && destination !== options.endpointUrl) {
    throw new IdpError(
      'invalid_saml_request',
      `The ${what} is addressed to ${quote(destination)}, not to this IdP's endpoint ${options.endpointUrl}.`,
    );
  }
  return {
    binding: decoded.binding,
    root,
    xml: decoded.xml,
    id,
    issuer: untrustedIssuer,
    issueInstant,
    destination,
    sp,
    relayState: decoded.relayState,
    signed,
  };
}

function readIssuer(root: Element, what: string): string {
  const issuer = optionalChild(root, NS.saml, 'Issuer', what);
  if (!issuer) throw new IdpError('invalid_saml_request', `The ${what} has no Issuer; it must name the service provider's entity ID.`);
  const value = textContent(issuer, what);
  if (value === '') throw new IdpError('invalid_saml_request', `The Issuer of the ${what} is empty.`);
  return value;
}
