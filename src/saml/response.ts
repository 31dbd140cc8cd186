/**
 * The SAML Response (SAML core 3.3.3) and its Assertion, signed (assertion,
 * response, or both, per the SP's config) and optionally encrypted. Also the
 * status-only Response that answers a request with an error (NoPassive,
 * AuthnFailed, …) instead of an assertion.
 *
 * The single sign-on Response is on the hot path, so it is built as a c14n.ts
 * tree (every value escaped and checked, canonical from birth) and signed with
 * sign.ts `signElement`, without parsing any XML: the text is exactly what the
 * xml-crypto path (`signXml`) gives for the same tree. An encrypted assertion
 * leaves that path: the EncryptedData comes back as text, so the Response around
 * it is assembled and signed with the DOM and xml-crypto. Status-only Responses
 * are built with xmlbuilder2 and signed with xml-crypto too.
 *
 * Layout, in schema order:
 *   Response(ID, Version, IssueInstant, Destination, InResponseTo?)
 *     Issuer, [Signature], Status/StatusCode Success,
 *     Assertion(ID, Version, IssueInstant) | EncryptedAssertion
 *       Issuer, [Signature],
 *       Subject: NameID(Format), SubjectConfirmation(bearer)/SubjectConfirmationData(NotOnOrAfter, Recipient, InResponseTo?)
 *       Conditions(NotBefore, NotOnOrAfter)/AudienceRestriction/Audience
 *       AuthnStatement(AuthnInstant, SessionIndex)/AuthnContext/AuthnContextClassRef PasswordProtectedTransport
 *       AttributeStatement/Attribute(Name, NameFormat)/AttributeValue+
 */
import { DOMParser } from '@xmldom/xmldom';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import type { Clock } from '../clock.js';
import { NAMEID_FORMATS, type NameIdFormatUri } from '../config/sp-schema.js';
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
import { element, serializeXml, type XmlElement } from './c14n.js';
import { signElement, signXml, type SigningCredentials } from './sign.js';
import { quote, samlInstant, serialize, xmlbuilder2 } from './xml.js';

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

/** A NameID as written into a Subject (or a LogoutRequest): src/saml/nameid.ts chooses it. */
export interface SamlNameId {
  value: string;
  format: NameIdFormatUri;
  nameQualifier?: string | undefined;
  spNameQualifier?: string | undefined;
}

export interface ResponseInput {
  sp: SamlServiceProvider;
  user: SamlUser;
  /**
   * The Subject's NameID, as src/saml/nameid.ts chose it. Absent: the SP's nameId
   * field in its default format, which must then be emailAddress or unspecified.
   */
  nameId?: SamlNameId | undefined;
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
  /** The NameID value. */
  nameId: string;
  /** The NameID as written (value, Format, qualifiers), as a LogoutRequest to this SP will name it. */
  subject: SamlNameId;
}

/** A value of a user field ("email", "name") or attribute, as named by an SP's mapping. */
export function userValue(user: SamlUser, field: string): string | string[] | undefined {
  if (field === 'email') return user.email;
  if (field === 'name') return user.name;
  return Object.hasOwn(user.attributes, field) ? user.attributes[field] : undefined;
}

/** The value of the SP's nameId field for this user (emailAddress and unspecified NameIDs): one non-empty string. */
export function nameIdFieldValue(sp: SamlServiceProvider, user: SamlUser): string {
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

/** The NameID when none was chosen: the SP's nameId field, in its default format (emailAddress or unspecified only). */
function defaultNameId(sp: SamlServiceProvider, user: SamlUser): SamlNameId {
  const format = sp.saml.nameIdFormat;
  if (format !== NAMEID_FORMATS.emailAddress && format !== NAMEID_FORMATS.unspecified) {
    throw new TypeError(`service provider ${sp.id}: a ${format} NameID is not a user field; choose it with src/saml/nameid.ts and pass it as nameId`);
  }
  return { value: nameIdFieldValue(sp, user), format };
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

const saml = (name: string, attrs: Record<string, string | undefined> = {}, children: (XmlElement | string | undefined)[] = []): XmlElement =>
  element(NS.saml, `saml:${name}`, attrs, children);

/** The Assertion as a tree, unsigned, declaring its own namespace (so that it stands alone, signed or encrypted). */
export function buildAssertion(idp: SamlIdpContext, input: ResponseInput, assertionId: string, nameId: SamlNameId): XmlElement {
  const { sp, user, acsUrl } = input;
  const now = idp.clock.now();
  const issueInstant = samlInstant(now);
  const notOnOrAfter = samlInstant(now + sp.saml.assertionTtlSeconds * 1000);

  const attributes = Object.entries(sp.saml.attributes)
    .map(([name, field]) => [name, userValue(user, field)] as const)
    .filter((entry): entry is readonly [string, string | string[]] => entry[1] !== undefined && (!Array.isArray(entry[1]) || entry[1].length > 0));
  const statement =
    attributes.length === 0
      ? undefined
      : saml(
          'AttributeStatement',
          {},
          attributes.map(([name, value]) =>
            saml(
              'Attribute',
              { Name: name, NameFormat: attributeNameFormat(name) },
              (Array.isArray(value) ? value : [value]).map((v) => saml('AttributeValue', {}, [v])),
            ),
          ),
        );

  return element(
    NS.saml,
    'saml:Assertion',
    { ID: assertionId, Version: SAML_VERSION, IssueInstant: issueInstant },
    [
      saml('Issuer', {}, [idp.entityId]),
      saml('Subject', {}, [
        // Attributes in canonical (name) order, as everywhere in this tree.
        saml('NameID', { Format: nameId.format, NameQualifier: nameId.nameQualifier, SPNameQualifier: nameId.spNameQualifier }, [nameId.value]),
        saml('SubjectConfirmation', { Method: CONFIRMATION_METHOD_BEARER }, [
          saml('SubjectConfirmationData', { NotOnOrAfter: notOnOrAfter, Recipient: acsUrl, InResponseTo: input.inResponseTo }),
        ]),
      ]),
      saml('Conditions', { NotBefore: issueInstant, NotOnOrAfter: notOnOrAfter }, [saml('AudienceRestriction', {}, [saml('Audience', {}, [sp.saml.entityId])])]),
      saml('AuthnStatement', { AuthnInstant: samlInstant(input.authnInstant), SessionIndex: input.sessionIndex }, [
        saml('AuthnContext', {}, [saml('AuthnContextClassRef', {}, [AUTHN_CONTEXT_PASSWORD_PROTECTED_TRANSPORT])]),
      ]),
      statement,
    ],
    [['saml', NS.saml]],
  );
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
  const doc = xmlbuilder2().create();
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

/** An unsigned Response around its unsigned Assertion, as trees that sign.ts `signElement` signs in place. */
export interface ResponseTree {
  response: XmlElement;
  /** The Assertion, also the Response's last child. */
  assertion: XmlElement;
  responseId: string;
  assertionId: string;
  nameId: string;
  subject: SamlNameId;
}

/** Builds the unsigned Response for a signed-in user (IDs from `idp.newId`, the Response's first). */
export function buildResponseTree(idp: SamlIdpContext, input: ResponseInput): ResponseTree {
  ensureRegisteredAcs(input.sp, input.acsUrl);
  const subject = input.nameId ?? defaultNameId(input.sp, input.user);
  const responseId = idp.newId();
  const assertionId = idp.newId();
  const assertion = buildAssertion(idp, input, assertionId, subject);
  const response = element(
    NS.samlp,
    'samlp:Response',
    { ID: responseId, Version: SAML_VERSION, IssueInstant: samlInstant(idp.clock.now()), Destination: input.acsUrl, InResponseTo: input.inResponseTo },
    [saml('Issuer', {}, [idp.entityId]), element(NS.samlp, 'samlp:Status', {}, [element(NS.samlp, 'samlp:StatusCode', { Value: TOP_STATUS.Success })]), assertion],
    [
      ['samlp', NS.samlp],
      ['saml', NS.saml],
    ],
  );
  return { response, assertion, responseId, assertionId, nameId: subject.value, subject };
}

/** Builds the Response for a signed-in user, signed and encrypted as the SP's config says. */
export async function buildResponse(idp: SamlIdpContext, input: ResponseInput): Promise<BuiltResponse> {
  const { sp } = input;
  const { response, assertion, responseId, assertionId, nameId, subject } = buildResponseTree(idp, input);
  const signing = { credentials: idp.credentials, algorithm: sp.saml.signatureAlgorithm };
  if (sp.saml.signAssertion) signElement(assertion, signing);

  if (sp.saml.encryptAssertion) {
    if (sp.saml.encryptionCert === null) throw new TypeError(`service provider ${sp.id}: encryptAssertion needs an encryptionCert`);
    const encryptedData = await encryptAssertion(serializeXml(assertion), sp.saml.encryptionCert, sp.saml.keyEncryptionAlgorithm);
    const encrypted = appendXml(end(xmlbuilder2().create().ele(NS.saml, 'saml:EncryptedAssertion')), encryptedData);
    const { doc, root } = responseRoot(idp, responseId, input.acsUrl, input.inResponseTo);
    appendStatus(root, 'Success');
    let xml = appendXml(end(doc), encrypted);
    if (sp.saml.signResponse) xml = signXml(xml, { id: responseId, ...signing });
    return { xml, responseId, assertionId, nameId, subject };
  }

  if (sp.saml.signResponse) signElement(response, signing);
  return { xml: serializeXml(response), responseId, assertionId, nameId, subject };
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
