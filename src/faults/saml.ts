/**
 * SAML faults: a Response built by src/saml/response.ts, unsigned, changed in
 * exactly the one place each fault names, then signed (and encrypted) the way the
 * SP's config says, through the same `signXml` step as every other signed message.
 *
 * The order matters and follows how a real Response is made:
 *   build (times shifted for expired / not-yet-valid) → change values (audience,
 *   recipient, destination, InResponseTo, assertion ID) → sign the Assertion →
 *   corrupt its signature, split the NameID with a comment, wrap → encrypt →
 *   sign the Response → corrupt its signature.
 * Comments can be added after signing because exclusive c14n (without comments)
 * leaves them out of every digest: that is the point of comment-in-nameid.
 *
 * Without faults this gives byte for byte what `buildResponse` gives (a test holds
 * it to that), so every difference in a faulty Response is the fault's.
 */
import { offsetClock } from '../clock.js';
import { IdpError } from '../errors.js';
import type { InsecureSignatureAlgorithmName, SignatureAlgorithmName } from '../saml/algorithms.js';
import { NS } from '../saml/constants.js';
import { encryptAssertion } from '../saml/encrypt.js';
import type { SamlServiceProvider } from '../saml/inbound.js';
import { buildResponse, type BuiltResponse, type ResponseInput, type SamlIdpContext, type SamlUser } from '../saml/response.js';
import { signXml, type SigningCredentials } from '../saml/sign.js';
import { childElements, childNodes, parseOwnXml as parse, requiredChild as child, serialize, setText, type Element } from '../saml/xml.js';
import { FAULT_TIME_MARGIN_SECONDS, FAULT_VALUES, type SamlFault } from './catalog.js';

/** The review page's "Edit and send" for SAML: the NameID and the attributes, as JSON. */
export interface SamlEdit {
  nameId: string;
  attributes: Record<string, string | string[]>;
}

export interface FaultedResponseOptions {
  faults: readonly SamlFault[];
  /** replayed-assertion: the ID of the last fault-free assertion sent to this SP. */
  lastAssertionId?: string | undefined;
  /** wrong-certificate: a key and certificate that no metadata lists. */
  wrongCredentials?: SigningCredentials | undefined;
  /** Replaces the NameID and the attributes. */
  edit?: SamlEdit | undefined;
}

export interface FaultedResponse extends BuiltResponse {
  /** The Assertion as signed, before encryption (what the SP reads once it has decrypted it). */
  assertionXml: string;
  encrypted: boolean;
  signed: { response: boolean; assertion: boolean };
}

const EDIT_PREFIX = 'mock-idp-edit:';
const EDIT_NAMEID = 'mock-idp-edit-nameid';

/** Flips one bit of the SignatureValue of `signature`. */
function corrupt(signature: Element): void {
  const value = child(signature, NS.ds, 'SignatureValue');
  const bytes = Buffer.from((value.textContent ?? '').replace(/\s+/g, ''), 'base64');
  bytes[0] = bytes[0]! ^ 0x01;
  setText(value, bytes.toString('base64'));
}

/** Splits the NameID's text with a comment: before its last ".", else in the middle. */
function commentInto(nameId: Element): void {
  const text = nameId.textContent ?? '';
  const dot = text.lastIndexOf('.');
  const at = dot > 0 ? dot : Math.max(1, Math.floor(text.length / 2));
  const doc = nameId.ownerDocument!;
  for (const n of childNodes(nameId)) nameId.removeChild(n);
  nameId.appendChild(doc.createTextNode(text.slice(0, at)));
  nameId.appendChild(doc.createComment(FAULT_VALUES.nameIdComment));
  if (at < text.length) nameId.appendChild(doc.createTextNode(text.slice(at)));
}

/** The SP and user to build from: never signed or encrypted here, and with the edit's NameID and attributes. */
function plainInputs(sp: SamlServiceProvider, user: SamlUser, edit: SamlEdit | undefined): { sp: SamlServiceProvider; user: SamlUser } {
  const saml = { ...sp.saml, signAssertion: false, signResponse: false, encryptAssertion: false };
  if (!edit) return { sp: { ...sp, saml }, user };
  const attributes: Record<string, string | string[]> = { [EDIT_NAMEID]: edit.nameId };
  const mapping: Record<string, string> = {};
  for (const [name, value] of Object.entries(edit.attributes)) {
    attributes[`${EDIT_PREFIX}${name}`] = value;
    mapping[name] = `${EDIT_PREFIX}${name}`;
  }
  return { sp: { ...sp, saml: { ...saml, nameId: EDIT_NAMEID, attributes: mapping } }, user: { email: user.email, attributes } };
}

/** Builds the SP's Response for the user with the faults applied (and the edit, if any). */
export async function buildFaultedResponse(idp: SamlIdpContext, input: ResponseInput, options: FaultedResponseOptions): Promise<FaultedResponse> {
  const has = new Set(options.faults.map((f) => f.name));
  const sp = input.sp;
  if (has.has('signature-wrapping') && sp.saml.encryptAssertion) {
    throw new IdpError('invalid_fault', `signature-wrapping needs a plain assertion, and ${sp.id} has its assertions encrypted (encryptAssertion).`);
  }
  if (has.has('replayed-assertion') && options.lastAssertionId === undefined) {
    throw new IdpError(
      'invalid_fault',
      `replayed-assertion reuses the ID of the last fault-free assertion sent to ${sp.id}, and none was sent since mock-idp started: sign in once without a fault first.`,
    );
  }
  if (has.has('wrong-certificate') && !options.wrongCredentials) throw new TypeError('wrong-certificate needs wrongCredentials');

  // 1. Build, unsigned, with the instants shifted for the time faults.
  const margin = FAULT_TIME_MARGIN_SECONDS * 1000;
  const shift = has.has('expired') ? -(sp.saml.assertionTtlSeconds * 1000 + margin) : has.has('not-yet-valid') ? margin : 0;
  const buildIdp: SamlIdpContext = shift === 0 ? idp : { ...idp, clock: offsetClock(shift, idp.clock) };
  const plain = plainInputs(sp, input.user, options.edit);
  // The edit replaces the chosen NameID's value; its Format and qualifiers stay.
  const nameId = input.nameId && options.edit ? { ...input.nameId, value: options.edit.nameId } : input.nameId;
  const built = await buildResponse(buildIdp, { ...input, sp: plain.sp, user: plain.user, nameId, authnInstant: input.authnInstant + shift });

  // 2. Change values.
  let doc = parse(built.xml);
  let response = doc.documentElement!;
  let assertion = child(response, NS.saml, 'Assertion');
  const confirmationData = child(child(child(assertion, NS.saml, 'Subject'), NS.saml, 'SubjectConfirmation'), NS.saml, 'SubjectConfirmationData');
  if (has.has('wrong-audience')) {
    setText(child(child(child(assertion, NS.saml, 'Conditions'), NS.saml, 'AudienceRestriction'), NS.saml, 'Audience'), FAULT_VALUES.audience);
  }
  if (has.has('wrong-recipient')) confirmationData.setAttribute('Recipient', FAULT_VALUES.recipient);
  if (has.has('wrong-destination')) response.setAttribute('Destination', FAULT_VALUES.destination);
  if (has.has('wrong-in-response-to')) {
    response.setAttribute('InResponseTo', FAULT_VALUES.inResponseTo);
    confirmationData.setAttribute('InResponseTo', FAULT_VALUES.inResponseTo);
  }
  let assertionId = built.assertionId;
  if (has.has('replayed-assertion')) {
    assertionId = options.lastAssertionId!;
    assertion.setAttribute('ID', assertionId);
  }
  let xml = serialize(doc);

  // 3. Sign the Assertion.
  const wrapping = has.has('signature-wrapping');
  const signed = {
    assertion: !has.has('unsigned') && (sp.saml.signAssertion || wrapping),
    response: !has.has('unsigned') && sp.saml.signResponse && !wrapping,
  };
  const credentials = has.has('wrong-certificate') ? options.wrongCredentials! : idp.credentials;
  const algorithm: SignatureAlgorithmName | InsecureSignatureAlgorithmName = has.has('sha1-signature') ? 'rsa-sha1' : sp.saml.signatureAlgorithm;
  if (signed.assertion) xml = signXml(xml, { id: assertionId, credentials, algorithm });

  // 4. Corrupt, comment, wrap, encrypt.
  doc = parse(xml);
  response = doc.documentElement!;
  assertion = child(response, NS.saml, 'Assertion');
  if (has.has('bad-signature') && signed.assertion) corrupt(child(assertion, NS.ds, 'Signature'));
  if (has.has('comment-in-nameid')) commentInto(child(child(assertion, NS.saml, 'Subject'), NS.saml, 'NameID'));
  const assertionXml = serialize(assertion);
  if (wrapping) {
    const forged = assertion.cloneNode(true) as Element;
    const signature = childElements(forged, NS.ds, 'Signature')[0];
    if (signature) forged.removeChild(signature);
    forged.setAttribute('ID', idp.newId());
    const extensions = doc.createElementNS(NS.samlp, 'samlp:Extensions');
    const issuer = child(response, NS.saml, 'Issuer');
    response.insertBefore(extensions, issuer.nextSibling);
    extensions.appendChild(assertion);
    response.appendChild(forged);
  }
  if (sp.saml.encryptAssertion) {
    if (sp.saml.encryptionCert === null) throw new TypeError(`service provider ${sp.id}: encryptAssertion needs an encryptionCert`);
    const encryptedData = parse(await encryptAssertion(assertionXml, sp.saml.encryptionCert, sp.saml.keyEncryptionAlgorithm)).documentElement!;
    const encrypted = doc.createElementNS(NS.saml, 'saml:EncryptedAssertion');
    encrypted.appendChild(doc.importNode(encryptedData, true));
    response.replaceChild(encrypted, assertion);
  }
  xml = serialize(doc);

  // 5. Sign the Response.
  if (signed.response) {
    xml = signXml(xml, { id: built.responseId, credentials, algorithm });
    if (has.has('bad-signature')) {
      doc = parse(xml);
      corrupt(child(doc.documentElement!, NS.ds, 'Signature'));
      xml = serialize(doc);
    }
  }
  return { xml, responseId: built.responseId, assertionId, nameId: built.nameId, subject: built.subject, assertionXml, encrypted: sp.saml.encryptAssertion, signed };
}

/** Checks and normalizes the JSON of a SAML edit (review page); throws IdpError('bad_request') naming what is wrong. */
export function parseSamlEdit(value: unknown): SamlEdit {
  const bad = (message: string): never => {
    throw new IdpError('bad_request', `The edited assertion is not usable: ${message}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('give a JSON object with "nameId" and "attributes".');
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) if (key !== 'nameId' && key !== 'attributes') bad(`unknown key ${JSON.stringify(key)} (only "nameId" and "attributes" can be edited).`);
  if (typeof obj.nameId !== 'string' || obj.nameId.trim() === '') bad('"nameId" must be a non-empty string.');
  const attributes: Record<string, string | string[]> = {};
  const raw = obj.attributes ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('"attributes" must be an object of attribute name to a string or a list of strings.');
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '' || name.length > 256) bad(`attribute names must have 1 to 256 characters (${JSON.stringify(name.slice(0, 40))}).`);
    if (typeof v === 'string') attributes[name] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) attributes[name] = v as string[];
    else bad(`the attribute ${JSON.stringify(name)} must be a string or a list of strings.`);
  }
  return { nameId: obj.nameId as string, attributes };
}
