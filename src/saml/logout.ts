/**
 * Single logout (SAML core 3.7): LogoutRequest and LogoutResponse, received from
 * an SP in either binding and built by the IdP (SP-initiated logout answers with a
 * LogoutResponse; IdP-initiated logout sends a LogoutRequest to each SP the
 * session signed in to that has an sloUrl).
 *
 * Outgoing messages are signed: with HTTP-Redirect over the query string, with
 * HTTP-POST inside the XML (after the Issuer).
 */
import type { ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import { encodePost, encodeRedirect, type IncomingMessage } from './binding.js';
import { NS, SAML_VERSION, TOP_STATUS, type BindingName, type SamlStatus } from './constants.js';
import { receiveMessage, type SamlServiceProvider } from './inbound.js';
import { appendStatus, type SamlIdpContext, type SamlNameId } from './response.js';
import { signXml } from './sign.js';
import { attribute, childElements, optionalChild, parseInstant, quote, samlInstant, textContent, xmlbuilder2 } from './xml.js';

export interface ReceiveLogoutOptions {
  serviceProviders: readonly ResolvedServiceProvider[];
  /** `<baseUrl>/saml/slo`: a Destination attribute must equal it. */
  sloUrl: string;
  /** For NotOnOrAfter. */
  now: number;
}

export interface LogoutRequest {
  id: string;
  issuer: string;
  sp: SamlServiceProvider;
  binding: BindingName;
  nameId: string;
  nameIdFormat: string | undefined;
  nameQualifier?: string | undefined;
  spNameQualifier?: string | undefined;
  sessionIndexes: string[];
  relayState: string | undefined;
  signed: boolean;
}

export interface LogoutResponse {
  id: string;
  issuer: string;
  sp: SamlServiceProvider;
  binding: BindingName;
  inResponseTo: string | undefined;
  /** True for status Success. */
  success: boolean;
  /** The top-level status code URI, and the second-level one when present. */
  statusCode: string;
  subStatusCode: string | undefined;
  relayState: string | undefined;
  signed: boolean;
}

/** Decodes and checks a LogoutRequest sent by an SP. */
export function receiveLogoutRequest(message: IncomingMessage, options: ReceiveLogoutOptions): LogoutRequest {
  const what = 'LogoutRequest';
  const inbound = receiveMessage(message, {
    param: 'SAMLRequest',
    rootName: what,
    serviceProviders: options.serviceProviders,
    endpointUrl: options.sloUrl,
  });
  const { root } = inbound;
  const notOnOrAfter = attribute(root, 'NotOnOrAfter');
  if (notOnOrAfter !== undefined) {
    const t = parseInstant(notOnOrAfter);
    if (t === undefined) throw new IdpError('invalid_saml_request', `The NotOnOrAfter of the ${what} is not a valid xs:dateTime.`);
    if (t <= options.now) throw new IdpError('invalid_saml_request', `The ${what} expired at ${notOnOrAfter}.`);
  }
  if (childElements(root, NS.saml, 'EncryptedID').length > 0 || childElements(root, NS.saml, 'BaseID').length > 0) {
    throw new IdpError('invalid_saml_request', `The ${what} must identify the user with a NameID (EncryptedID and BaseID are not supported).`);
  }
  const nameIdEl = optionalChild(root, NS.saml, 'NameID', what);
  if (!nameIdEl) throw new IdpError('invalid_saml_request', `The ${what} has no NameID.`);
  const nameId = textContent(nameIdEl, what);
  if (nameId === '') throw new IdpError('invalid_saml_request', `The NameID of the ${what} is empty.`);
  const nameQualifier = attribute(nameIdEl, 'NameQualifier');
  const spNameQualifier = attribute(nameIdEl, 'SPNameQualifier');
  return {
    id: inbound.id,
    issuer: inbound.issuer,
    sp: inbound.sp,
    binding: inbound.binding,
    nameId,
    nameIdFormat: attribute(nameIdEl, 'Format'),
    ...(nameQualifier !== undefined ? { nameQualifier } : {}),
    ...(spNameQualifier !== undefined ? { spNameQualifier } : {}),
    sessionIndexes: childElements(root, NS.samlp, 'SessionIndex').map((el) => textContent(el, what)),
    relayState: inbound.relayState,
    signed: inbound.signed,
  };
}

/** Decodes and checks a LogoutResponse sent by an SP (to a LogoutRequest of the IdP). */
export function receiveLogoutResponse(message: IncomingMessage, options: ReceiveLogoutOptions): LogoutResponse {
  const what = 'LogoutResponse';
  const inbound = receiveMessage(message, {
    param: 'SAMLResponse',
    rootName: what,
    serviceProviders: options.serviceProviders,
    endpointUrl: options.sloUrl,
  });
  const { root } = inbound;
  const status = optionalChild(root, NS.samlp, 'Status', what);
  const code = status && optionalChild(status, NS.samlp, 'StatusCode', what);
  const statusCode = code && attribute(code, 'Value');
  if (!code || !statusCode) throw new IdpError('invalid_saml_request', `The ${what} has no Status/StatusCode.`);
  const sub = optionalChild(code, NS.samlp, 'StatusCode', what);
  return {
    id: inbound.id,
    issuer: inbound.issuer,
    sp: inbound.sp,
    binding: inbound.binding,
    inResponseTo: attribute(root, 'InResponseTo'),
    success: statusCode === TOP_STATUS.Success,
    statusCode,
    subStatusCode: sub ? attribute(sub, 'Value') : undefined,
    relayState: inbound.relayState,
    signed: inbound.signed,
  };
}

function sloUrlOf(sp: SamlServiceProvider): string {
  if (sp.saml.sloUrl === null) {
    throw new IdpError('bad_request', `The service provider ${quote(sp.id)} has no saml.sloUrl, so single logout cannot reach it.`);
  }
  return sp.saml.sloUrl;
}

export interface BuiltMessage {
  id: string;
  /** The unsigned XML (HTTP-Redirect signs the query string instead). */
  xml: string;
  destination: string;
  sp: SamlServiceProvider;
}

export interface LogoutRequestInput {
  sp: SamlServiceProvider;
  /** The NameID as the SP received it in its assertion (src/saml/nameid.ts). */
  nameId: SamlNameId;
  /** The SessionIndex of the assertion the SP received. */
  sessionIndex?: string | undefined;
}

/** An IdP-initiated LogoutRequest to the SP's sloUrl. */
export function buildLogoutRequest(idp: SamlIdpContext, input: LogoutRequestInput): BuiltMessage {
  const destination = sloUrlOf(input.sp);
  const id = idp.newId();
  const now = idp.clock.now();
  const doc = xmlbuilder2().create();
  const root = doc.ele(NS.samlp, 'samlp:LogoutRequest', {
    'xmlns:saml': NS.saml,
    ID: id,
    Version: SAML_VERSION,
    IssueInstant: samlInstant(now),
    Destination: destination,
    NotOnOrAfter: samlInstant(now + input.sp.saml.assertionTtlSeconds * 1000),
  });
  root.ele(NS.saml, 'saml:Issuer').txt(idp.entityId);
  const { value, format, nameQualifier, spNameQualifier } = input.nameId;
  root
    .ele(NS.saml, 'saml:NameID', { Format: format, ...(nameQualifier !== undefined ? { NameQualifier: nameQualifier } : {}), ...(spNameQualifier !== undefined ? { SPNameQualifier: spNameQualifier } : {}) })
    .txt(value);
  if (input.sessionIndex !== undefined) root.ele(NS.samlp, 'samlp:SessionIndex').txt(input.sessionIndex);
  return { id, xml: doc.end({ headless: true, wellFormed: true }), destination, sp: input.sp };
}

export interface LogoutResponseInput {
  sp: SamlServiceProvider;
  inResponseTo: string;
  /** Default Success; PartialLogout when another SP could not be logged out. */
  status?: SamlStatus | 'Success';
}

/** The LogoutResponse to an SP's LogoutRequest, addressed to the SP's sloUrl. */
export function buildLogoutResponse(idp: SamlIdpContext, input: LogoutResponseInput): BuiltMessage {
  const destination = sloUrlOf(input.sp);
  const id = idp.newId();
  const doc = xmlbuilder2().create();
  const root = doc.ele(NS.samlp, 'samlp:LogoutResponse', {
    'xmlns:saml': NS.saml,
    ID: id,
    Version: SAML_VERSION,
    IssueInstant: samlInstant(idp.clock.now()),
    Destination: destination,
    InResponseTo: input.inResponseTo,
  });
  root.ele(NS.saml, 'saml:Issuer').txt(idp.entityId);
  appendStatus(root, input.status ?? 'Success');
  return { id, xml: doc.end({ headless: true, wellFormed: true }), destination, sp: input.sp };
}

/** How an outgoing message reaches the SP: a redirect URL, or the fields of an auto-POST form. */
export type Delivery =
  | { binding: 'redirect'; url: string }
  | { binding: 'post'; url: string; fields: Record<string, string> };

/** Signs and encodes a built message for the binding. */
export function deliver(
  idp: SamlIdpContext,
  message: BuiltMessage,
  param: 'SAMLRequest' | 'SAMLResponse',
  binding: BindingName,
  relayState?: string,
): Delivery {
  const algorithm = message.sp.saml.signatureAlgorithm;
  if (binding === 'redirect') {
    return {
      binding,
      url: encodeRedirect({
        url: message.destination,
        param,
        xml: message.xml,
        relayState,
        sign: { credentials: idp.credentials, algorithm },
      }),
    };
  }
  const signed = signXml(message.xml, { id: message.id, credentials: idp.credentials, algorithm });
  const fields: Record<string, string> = { [param]: encodePost(signed) };
  if (relayState !== undefined) fields.RelayState = relayState;
  return { binding, url: message.destination, fields };
}
