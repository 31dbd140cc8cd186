/**
 * The SAML Response (SAML core 3.3.3) and its Assertion, built with xmlbuilder2 so
 * every value is escaped, then signed (assertion, response, or both, per the SP's
 * config) and optionally encrypted. Also the status-only Response that answers a
 * request with an error (NoPassive, AuthnFailed, …) instead of an assertion.
 *
 * Layout, in schema order:
 *   Response(ID, Version, IssueInstant, Destination, InResponseTo?)
 *     Issuer, [Signature], Status/StatusCode Success,
 *     Assertion(ID, Version, IssueInstant) | EncryptedAssertion
 *       Issuer, [Signature],
 *       Subject: NameID(Format), SubjectConfirmation(bearer)/SubjectConfirmationData(Recipient, NotOnOrAfter, InResponseTo?)
 *       Conditions(NotBefore, NotOnOrAfter)/AudienceRestriction/Audience
 *       AuthnStatement(AuthnInstant, SessionIndex)/AuthnContext/AuthnContextClassRef PasswordProtectedTransport
 *       AttributeStatement/Attribute(Name, NameFormat)/AttributeValue+
 */
import { DOMParser } from '@xmldom/xmldom';
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import type { Clock } from '../clock.js';
import { IdpError } from '../errors.js';
import {
  ATTRNAME_FORMAT,
  AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT,
  CONFIRMATION_METHOD_BEARER,
  NS,
  SAML_VERSION,
  SUB_STATUS,
  TOP_STATUS,
  type SamlStatus,
} from './constants.js';
import { encryptAssertion } from './encrypt.js';
import type { IdGenerator } from './ids.js';
import type { SamlServiceProvider } from './inbound.js';
import { signXml, type SigningCredentials } from './sign.js';
import { quote, samlInstant, serialize } from './xml.js';

/** The signed-in user a Response speaks for. */
export interface SamlUser {
  email: string;
  name?: string | undefined;
  attributes: Record<string, string | string[]>;
}

/** What the IdP brings to every message it builds. */
export interface SamlIdpContext {
  /** The IdP's entity ID: the Issuer of everything it sends. */
  entityId: string;
  credentials: SigningCredentials;
  clock: Clock;
  newId: IdGenerator;
}

export interface ResponseInput {
  sp: SamlServiceProvider;
  user: SamlUser;
  /** One of the SP's registered acsUrls. */
  acsUrl: string;
  /** The AuthnRequest's ID; absent for IdP-initiated (unsolicited) SSO. */
  inResponseTo?: string | undefined;
  /** The IdP session's index, so that a LogoutRequest can name it. */
  sessionIndex: string;
  /** When the user signed in to the IdP (ms since the epoch). */
  authnInstant: number;
}

export interface BuiltResponse {
  xml: string;
  responseId: string;
  assertionId: string;
  /** The NameID value, as a LogoutRequest to this SP will need it. */
  nameId: string;
}

/** A value of a user field ("email", "name") or attribute, as named by an SP's mapping. */
export function userValue(user: SamlUser, field: string): string | string[] | undefined {
  if (field === 'email') return user.email;
  if (field === 'name') return user.name;
  return Object.hasOwn(user.attributes, field) ? user.attributes[field] : undefined;
}

/** The NameID value for this SP: one non-empty string. */
export function nameIdFor(sp: SamlServiceProvider, user: SamlUser): string {
  const value = userValue(user, sp.saml.nameId);
  const single = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
  if (single === undefined || single === '') {
    throw new IdpError(
      'bad_request',
      `The user ${user.email} has no single value for ${quote(sp.saml.nameId)}, which service provider ${quote(sp.id)} uses as its NameID.`,
    );
  }
  return single;
}

function attributeNameFormat(name: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(name) ? ATTRNAME_FORMAT.uri : ATTRNAME_FORMAT.basic;
}

function ensureRegisteredAcs(sp: SamlServiceProvider, acsUrl: string): void {
  if (!sp.saml.acsUrls.includes(acsUrl)) {
    throw new IdpError('invalid_acs_url', `${quote(acsUrl)} is not a registered ACS URL of the service provider ${quote(sp.id)}.`);
  }
}

function end(builder: XMLBuilder): string {
  return builder.end({ headless: true, wellFormed: true });
}

/** Builds the Assertion alone (its own document, namespaces declared on it). */
export function buildAssertion(idp: SamlIdpContext, input: ResponseInput, assertionId: string, nameId: string): string {
  const { sp, user, acsUrl } = input;
  const now = idp.clock.now();
  const issueInstant = samlInstant(now);
  const notOnOrAfter = samlInstant(now + sp.saml.assertionTtlSeconds * 1000);

  const doc = create();
  const assertion = doc.ele(NS.saml, 'saml:Assertion', { ID: assertionId, Version: SAML_VERSION, IssueInstant: issueInstant });
  assertion.ele(NS.saml, 'saml:Issuer').txt(idp.entityId);

  const subject = assertion.ele(NS.saml, 'saml:Subject');
  subject.ele(NS.saml, 'saml:NameID', { Format: sp.saml.nameIdFormat }).txt(nameId);
  const confirmationData: Record<string, string> = { NotOnOrAfter: notOnOrAfter, Recipient: acsUrl };
  if (input.inResponseTo !== undefined) confirmationData.InResponseTo = input.inResponseTo;
  subject
    .ele(NS.saml, 'saml:SubjectConfirmation', { Method: CONFIRMATION_METHOD_BEARER })
    .ele(NS.saml, 'saml:SubjectConfirmationData', confirmationData);

  assertion
    .ele(NS.saml, 'saml:Conditions', { NotBefore: issueInstant, NotOnOrAfter: notOnOrAfter })
    .ele(NS.saml, 'saml:AudienceRestriction')
    .ele(NS.saml, 'saml:Audience')
    .txt(sp.saml.entityId);

  assertion
    .ele(NS.saml, 'saml:AuthnStatement', { AuthnInstant: samlInstant(input.authnInstant), SessionIndex: input.sessionIndex })
    .ele(NS.saml, 'saml:AuthnContext')
    .ele(NS.saml, 'saml:AuthnContextClassRef')
    .txt(AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT);

  const attributes = Object.entries(sp.saml.attributes)
    .map(([name, field]) => [name, userValue(user, field)] as const)
    .filter((entry): entry is readonly [string, string | string[]] => entry[1] !== undefined && (!Array.isArray(entry[1]) || entry[1].length > 0));
  if (attributes.length > 0) {
    const statement = assertion.ele(NS.saml, 'saml:AttributeStatement');
    for (const [name, value] of attributes) {
      const attr = statement.ele(NS.saml, 'saml:Attribute', { Name: name, NameFormat: attributeNameFormat(name) });
      for (const v of Array.isArray(value) ? value : [value]) attr.ele(NS.saml, 'saml:AttributeValue').txt(v);
    }
  }
  return end(doc);
}

function responseRoot(idp: SamlIdpContext, id: string, destination: string, inResponseTo: string | undefined): { doc: XMLBuilder; root: XMLBuilder } {
  const attrs: Record<string, string> = {
    'xmlns:saml': NS.saml,
    ID: id,
    Version: SAML_VERSION,
    IssueInstant: samlInstant(idp.clock.now()),
    Destination: destination,
  };
  if (inResponseTo !== undefined) attrs.InResponseTo = inResponseTo;
  const doc = create();
  const root = doc.ele(NS.samlp, 'samlp:Response', attrs);
  root.ele(NS.saml, 'saml:Issuer').txt(idp.entityId);
  return { doc, root };
}

/** Appends samlp:Status (StatusCode, nested second-level StatusCode, StatusMessage) to a message. */
export function appendStatus(parent: XMLBuilder, status: SamlStatus | 'Success'): void {
  const el = parent.ele(NS.samlp, 'samlp:Status');
  if (status === 'Success') {
    el.ele(NS.samlp, 'samlp:StatusCode', { Value: TOP_STATUS.Success });
    return;
  }
  const code = el.ele(NS.samlp, 'samlp:StatusCode', { Value: TOP_STATUS[status.code] });
  if (status.subCode !== undefined) code.ele(NS.samlp, 'samlp:StatusCode', { Value: SUB_STATUS[status.subCode] });
  if (status.message !== undefined) el.ele(NS.samlp, 'samlp:StatusMessage').txt(status.message);
}

/** Appends an already built (signed, maybe encrypted) element's XML as the last child of the document's root. */
function appendXml(containerXml: string, childXml: string): string {
  const parser = new DOMParser();
  const container = parser.parseFromString(containerXml, 'text/xml');
  const child = parser.parseFromString(childXml, 'text/xml');
  container.documentElement!.appendChild(container.importNode(child.documentElement!, true));
  return serialize(container);
}

/** Builds the Response for a signed-in user, signed and encrypted as the SP's config says. */
export async function buildResponse(idp: SamlIdpContext, input: ResponseInput): Promise<BuiltResponse> {
  const { sp } = input;
  ensureRegisteredAcs(sp, input.acsUrl);
  const nameId = nameIdFor(sp, input.user);
  const responseId = idp.newId();
  const assertionId = idp.newId();
  const algorithm = sp.saml.signatureAlgorithm;

  let assertionXml = buildAssertion(idp, input, assertionId, nameId);
  if (sp.saml.signAssertion) {
    assertionXml = signXml(assertionXml, { id: assertionId, credentials: idp.credentials, algorithm });
  }
  if (sp.saml.encryptAssertion) {
    if (sp.saml.encryptionCert === null) throw new TypeError(`service provider ${sp.id}: encryptAssertion needs an encryptionCert`);
    const encryptedData = await encryptAssertion(assertionXml, sp.saml.encryptionCert);
    assertionXml = appendXml(end(create().ele(NS.saml, 'saml:EncryptedAssertion')), encryptedData);
  }

  const { doc, root } = responseRoot(idp, responseId, input.acsUrl, input.inResponseTo);
  appendStatus(root, 'Success');
  let xml = appendXml(end(doc), assertionXml);
  if (sp.saml.signResponse) {
    xml = signXml(xml, { id: responseId, credentials: idp.credentials, algorithm });
  }
  return { xml, responseId, assertionId, nameId };
}

export interface StatusResponseInput {
  sp: SamlServiceProvider;
  acsUrl: string;
  inResponseTo?: string | undefined;
  status: SamlStatus;
}

/**
 * A Response with an error status and no assertion, always signed: with no
 * assertion, the Response's own signature is the only way the SP can trust it.
 */
export function buildStatusResponse(idp: SamlIdpContext, input: StatusResponseInput): { xml: string; responseId: string } {
  ensureRegisteredAcs(input.sp, input.acsUrl);
  const responseId = idp.newId();
  const { doc, root } = responseRoot(idp, responseId, input.acsUrl, input.inResponseTo);
  appendStatus(root, input.status);
  const xml = signXml(end(doc), { id: responseId, credentials: idp.credentials, algorithm: input.sp.saml.signatureAlgorithm });
  return { xml, responseId };
}
