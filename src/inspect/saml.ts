/**
 * Decoding a SAML message for people (the review page, /debug/decode, the flow
 * history): the message laid out, its assertions summarised, and every XML
 * signature in it checked against the certificates mock-idp holds (its own, current
 * and retired, and the SPs' request-signing certificates), with what each covers.
 *
 * Like inspect/jwt.ts it reports; it is not an SP's verdict.
 */
import zlib from 'node:zlib';
import { C14N, INSECURE_SIGNATURE_ALGORITHMS, SIGNATURE_ALGORITHMS } from '../saml/algorithms.js';
import { NS } from '../saml/constants.js';
import { attribute, childElements, parseInstant, parseUntrustedXml, serialize, xmlCrypto, type Document, type Element } from '../saml/xml.js';
import type { Keystore } from '../keys/keystore.js';
import { shownTime } from '../time-format.js';
import type { ResolvedServiceProvider } from '../config/load.js';
import { prettyXml } from './pretty-xml.js';

export interface SamlCertificate {
  /** For people: "IdP SAML signing certificate", "requestSigningCert of service provider signer". */
  label: string;
  pem: string;
}

export interface SamlTrust {
  certificates: SamlCertificate[];
}

export interface SamlSignatureReport {
  /** Where the signature sits: "Response", "Response/Assertion", "Response/Extensions/Assertion". */
  location: string;
  /** The ID of the element that carries it, and the URI its Reference names. */
  elementId: string | undefined;
  reference: string | undefined;
  /** "RSA-SHA256", "RSA-SHA1 (insecure)", or the URI when unknown. */
  algorithm: string;
  status: 'valid' | 'invalid';
  /** The certificate that verified it. */
  verifiedBy: string | undefined;
  /** Whose certificate KeyInfo carries: one of ours (label), "another certificate", or undefined when absent. */
  keyInfo: string | undefined;
}

export interface AssertionSummary {
  location: string;
  id: string | undefined;
  issuer: string | undefined;
  nameId: string | undefined;
  nameIdFormat: string | undefined;
  /** The NameID's text is split by comments (what a truncating parser reads is `nameIdFirstText`). */
  nameIdHasComment: boolean;
  nameIdFirstText: string | undefined;
  audiences: string[];
  notBefore: string | undefined;
  notOnOrAfter: string | undefined;
  recipient: string | undefined;
  inResponseTo: string | undefined;
  attributes: Record<string, string[]>;
  /** Covered by a valid signature (its own, or the Response's when it is the Response's direct child). */
  signed: boolean;
}

export interface SamlInspection {
  kind: 'saml';
  /** The root element's name: Response, AuthnRequest, LogoutRequest, … */
  messageType: string;
  encoding: 'xml' | 'base64' | 'deflate+base64';
  pretty: string;
  id: string | undefined;
  issuer: string | undefined;
  destination: string | undefined;
  inResponseTo: string | undefined;
  issueInstant: string | undefined;
  status: string | undefined;
  assertions: AssertionSummary[];
  encryptedAssertions: number;
  signatures: SamlSignatureReport[];
  problems: string[];
}

export class SamlDecodeError extends Error {
  override name = 'SamlDecodeError';
}

/** The IdP's SAML certificates (current and retired) and every SP's request-signing certificate. */
export function samlTrustOf(deps: { keystore: Keystore; serviceProviders: readonly ResolvedServiceProvider[] }): SamlTrust {
  const certificates: SamlCertificate[] = [{ label: 'IdP SAML signing certificate', pem: deps.keystore.saml.certificatePem }];
  for (const retired of deps.keystore.retired.samlCertificates) {
    certificates.push({ label: `retired IdP SAML certificate (retired ${shownTime(retired.retiredAt * 1000)})`, pem: retired.certificatePem });
  }
  for (const sp of deps.serviceProviders) {
    if (sp.saml?.requestSigningCert) certificates.push({ label: `requestSigningCert of service provider "${sp.id}"`, pem: sp.saml.requestSigningCert });
  }
  return { certificates };
}

const pemBody = (pem: string): string => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

/** What was pasted, briefly, for an error message: its start in quotes and its length. */
function given(text: string): string {
  const start = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return `"${start.replace(/\s+/g, ' ')}" (${text.length} character${text.length === 1 ? '' : 's'})`;
}

/** XML from what people paste: XML, base64 of XML, or the HTTP-Redirect's base64 of raw DEFLATE. */
export function decodeSamlText(text: string): { xml: string; encoding: SamlInspection['encoding'] } {
  const trimmed = text.trim().replace(/^\uFEFF/, '');
  if (trimmed.startsWith('<')) return { xml: trimmed, encoding: 'xml' };
  let compact = trimmed.replace(/\s+/g, '');
  if (/%[0-9A-Fa-f]{2}/.test(compact)) {
    try {
      compact = decodeURIComponent(compact);
    } catch {
      throw new SamlDecodeError('The text is neither XML nor base64, and its %-escapes are broken.');
    }
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new SamlDecodeError(`This is neither a JWT (three base64url parts separated by dots) nor a SAML message (XML, its base64, or the HTTP-Redirect binding's deflate + base64). Given: ${given(trimmed)}.`);
  }
  const bytes = Buffer.from(compact, 'base64');
  const asText = bytes.toString('utf8').trim();
  if (asText.startsWith('<')) return { xml: asText, encoding: 'base64' };
  try {
    return { xml: zlib.inflateRawSync(bytes, { maxOutputLength: 1024 * 1024 }).toString('utf8'), encoding: 'deflate+base64' };
  } catch {
    throw new SamlDecodeError(
      `This is not a JWT, SAML XML or the base64 of a SAML message: read as base64 it gives ${bytes.length} bytes that are neither XML nor raw DEFLATE data. Given: ${given(trimmed)}.`,
    );
  }
}

function algorithmName(uri: string): string {
  for (const [name, alg] of Object.entries(SIGNATURE_ALGORITHMS)) if (alg.signatureUri === uri) return name.toUpperCase();
  for (const [name, alg] of Object.entries(INSECURE_SIGNATURE_ALGORITHMS)) if (alg.signatureUri === uri) return `${name.toUpperCase()} (insecure)`;
  return uri || '(none)';
}

function pathOf(el: Element): string {
  const names: string[] = [];
  for (let n: Element | null = el; n && n.nodeType === 1; n = n.parentNode as Element | null) names.unshift(n.localName ?? n.nodeName);
  return names.join('/');
}

function text(el: Element | undefined): string | undefined {
  return el ? (el.textContent ?? '').trim() : undefined;
}

function descendants(root: Element, ns: string, localName: string): Element[] {
  return Array.from(root.getElementsByTagNameNS(ns, localName)) as Element[];
}

function checkSignature(xml: string, signature: Element, trust: SamlTrust): SamlSignatureReport {
  const parent = signature.parentNode as Element;
  const info = childElements(signature, NS.ds, 'SignedInfo')[0];
  const method = info ? childElements(info, NS.ds, 'SignatureMethod')[0] : undefined;
  const reference = info ? childElements(info, NS.ds, 'Reference')[0] : undefined;
  const keyInfoCert = descendants(signature, NS.ds, 'X509Certificate')[0];
  let keyInfo: string | undefined;
  if (keyInfoCert) {
    const body = (keyInfoCert.textContent ?? '').replace(/\s+/g, '');
    keyInfo = trust.certificates.find((c) => pemBody(c.pem) === body)?.label ?? 'another certificate (not one of this IdP\'s)';
  }
  let verifiedBy: string | undefined;
  const { SignedXml } = xmlCrypto();
  for (const cert of trust.certificates) {
    const verifier = new SignedXml({ publicCert: cert.pem, getCertFromKeyInfo: () => null });
    try {
      verifier.loadSignature(serialize(signature));
      if (verifier.checkSignature(xml)) {
        verifiedBy = cert.label;
        break;
      }
    } catch {
      // Not this certificate (or a signature xml-crypto cannot process).
    }
  }
  return {
    location: pathOf(parent),
    elementId: attribute(parent, 'ID'),
    reference: reference ? attribute(reference, 'URI') : undefined,
    algorithm: algorithmName(method ? (attribute(method, 'Algorithm') ?? '') : ''),
    status: verifiedBy ? 'valid' : 'invalid',
    verifiedBy,
    keyInfo,
  };
}

function summarize(assertion: Element, signatures: SamlSignatureReport[], responseSigned: boolean, isDirectChild: boolean): AssertionSummary {
  const subject = childElements(assertion, NS.saml, 'Subject')[0];
  const nameId = subject ? childElements(subject, NS.saml, 'NameID')[0] : undefined;
  let nameIdHasComment = false;
  let nameIdFirstText: string | undefined;
  if (nameId) {
    for (let n = nameId.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 8) nameIdHasComment = true;
      if (n.nodeType === 3 && nameIdFirstText === undefined) nameIdFirstText = n.nodeValue ?? '';
    }
  }
  const confirmationData = subject
    ? childElements(subject, NS.saml, 'SubjectConfirmation').flatMap((c) => childElements(c, NS.saml, 'SubjectConfirmationData'))[0]
    : undefined;
  const conditions = childElements(assertion, NS.saml, 'Conditions')[0];
  const attributes: Record<string, string[]> = {};
  for (const statement of childElements(assertion, NS.saml, 'AttributeStatement')) {
    for (const a of childElements(statement, NS.saml, 'Attribute')) {
      attributes[attribute(a, 'Name') ?? ''] = childElements(a, NS.saml, 'AttributeValue').map((v) => (v.textContent ?? '').trim());
    }
  }
  const id = attribute(assertion, 'ID');
  const ownSignature = signatures.find((s) => s.location === pathOf(assertion) && s.reference === `#${id}` && s.elementId === id);
  return {
    location: pathOf(assertion),
    id,
    issuer: text(childElements(assertion, NS.saml, 'Issuer')[0]),
    nameId: text(nameId),
    nameIdFormat: nameId ? attribute(nameId, 'Format') : undefined,
    nameIdHasComment,
    nameIdFirstText,
    audiences: conditions ? descendants(conditions, NS.saml, 'Audience').map((a) => (a.textContent ?? '').trim()) : [],
    notBefore: conditions ? attribute(conditions, 'NotBefore') : undefined,
    notOnOrAfter: conditions ? attribute(conditions, 'NotOnOrAfter') : undefined,
    recipient: confirmationData ? attribute(confirmationData, 'Recipient') : undefined,
    inResponseTo: confirmationData ? attribute(confirmationData, 'InResponseTo') : undefined,
    attributes,
    signed: ownSignature?.status === 'valid' || (responseSigned && isDirectChild),
  };
}

/** Decodes and checks a SAML message. Throws SamlDecodeError (or IdpError for unsafe XML). */
export function inspectSaml(input: string, trust: SamlTrust, nowMs: number, options: { truncateSignatureValues?: boolean } = {}): SamlInspection {
  const { xml, encoding } = decodeSamlText(input);
  const doc: Document = parseUntrustedXml(xml, 'SAML message', 1024 * 1024);
  const root = doc.documentElement!;
  if (root.namespaceURI !== NS.samlp && root.namespaceURI !== NS.saml) {
    throw new SamlDecodeError(`The XML's root element is ${root.localName ?? root.nodeName}${root.namespaceURI ? ` in ${root.namespaceURI}` : ''}, not a SAML protocol message or assertion.`);
  }
  const signatures = descendants(root, NS.ds, 'Signature').map((s) => checkSignature(xml, s, trust));
  const rootSignature = signatures.find((s) => s.location === pathOf(root) && s.reference === `#${attribute(root, 'ID') ?? ''}`);
  const responseSigned = rootSignature?.status === 'valid';
  const assertions = descendants(root, NS.saml, 'Assertion').map((a) => summarize(a, signatures, responseSigned, a.parentNode === root));
  const encryptedAssertions = descendants(root, NS.saml, 'EncryptedAssertion').length;
  const statusCode = childElements(root, NS.samlp, 'Status').flatMap((s) => childElements(s, NS.samlp, 'StatusCode'))[0];

  const problems: string[] = [];
  if (signatures.length === 0) problems.push('Nothing in the message is signed.');
  for (const s of signatures) {
    if (s.status === 'invalid') problems.push(`The signature on ${s.location} does not verify with any certificate of this IdP.`);
    if (s.algorithm.includes('insecure')) problems.push(`The signature on ${s.location} uses ${s.algorithm.replace(' (insecure)', '')}, which SPs should refuse.`);
    if (s.keyInfo?.startsWith('another')) problems.push(`The KeyInfo of the signature on ${s.location} carries a certificate that is not this IdP's.`);
  }
  const c14nUris: string[] = [C14N.exclusiveWithComments, C14N.inclusiveWithComments];
  for (const t of descendants(root, NS.ds, 'Transform')) {
    if (c14nUris.includes(attribute(t, 'Algorithm') ?? '')) problems.push('A signature canonicalizes with comments.');
  }
  const now = nowMs;
  for (const a of assertions) {
    if (a.location !== `${pathOf(root)}/Assertion`) {
      problems.push(`An Assertion sits at ${a.location}, not directly in the ${root.localName}: the shape of a signature-wrapping attack.`);
    } else if (!a.signed && root.localName === 'Response') {
      problems.push(`The Assertion ${a.id ?? ''} that an SP reads is covered by no valid signature.`);
    }
    if (a.nameIdHasComment) {
      problems.push(`The NameID is split by an XML comment: a careless SP reads only ${JSON.stringify(a.nameIdFirstText ?? '')} instead of ${JSON.stringify(a.nameId ?? '')}.`);
    }
    const nb = a.notBefore ? parseInstant(a.notBefore) : undefined;
    const nooa = a.notOnOrAfter ? parseInstant(a.notOnOrAfter) : undefined;
    if (nooa !== undefined && nooa <= now) problems.push(`The assertion ${a.id ?? ''} expired at ${shownTime(nooa)}.`);
    if (nb !== undefined && nb > now) problems.push(`The assertion ${a.id ?? ''} is not valid before ${shownTime(nb)}.`);
  }
  if (encryptedAssertions > 0) problems.push(`${encryptedAssertions === 1 ? 'The assertion is' : `${encryptedAssertions} assertions are`} encrypted for the SP; mock-idp cannot read ${encryptedAssertions === 1 ? 'it' : 'them'}.`);
  const ids = [...descendants(root, NS.saml, 'Assertion'), root].map((e) => attribute(e, 'ID')).filter((id): id is string => id !== undefined);
  if (new Set(ids).size !== ids.length) problems.push('Two elements share an ID.');

  return {
    kind: 'saml',
    messageType: root.localName ?? root.nodeName,
    encoding,
    pretty: prettyXml(root, { truncateSignatureValues: options.truncateSignatureValues ?? false }),
    id: attribute(root, 'ID'),
    issuer: text(childElements(root, NS.saml, 'Issuer')[0]),
    destination: attribute(root, 'Destination'),
    inResponseTo: attribute(root, 'InResponseTo'),
    issueInstant: attribute(root, 'IssueInstant'),
    status: statusCode ? attribute(statusCode, 'Value')?.replace('urn:oasis:names:tc:SAML:2.0:status:', '') : undefined,
    assertions,
    encryptedAssertions,
    signatures,
    problems,
  };
}

/** The XML of a message's first Assertion, or undefined (e.g. encrypted). */
export function assertionOf(xml: string): string | undefined {
  const doc = parseUntrustedXml(xml, 'SAML message', 1024 * 1024);
  const a = childElements(doc.documentElement!, NS.saml, 'Assertion')[0];
  return a ? serialize(a) : undefined;
}
