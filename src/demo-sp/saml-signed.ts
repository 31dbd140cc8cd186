/**
 * The signed content of a SAMLResponse, read the way the demo SP trusts it: the
 * Response and the Assertion as the IdP's signatures cover them (never the rest of
 * the document), with SHA-1 refused, the assertion decrypted when it is encrypted,
 * and a NameID split by a comment refused.
 */
import { NS } from '../saml/constants.js';
import { attribute, childElements, parseUntrustedXml, serialize, xmlCrypto, type Element } from '../saml/xml.js';
import type { IdpInfo } from './saml-idp.js';
import { DemoError } from './shared.js';

/** The text of an element, trimmed; '' for none. */
export function text(el: Element | undefined): string {
  return (el?.textContent ?? '').trim();
}

/** The signature and digest algorithms this SP accepts: never SHA-1 (saml2-js would). */
const ACCEPTED_SIGNATURE_METHODS = new Set(['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512']);
const ACCEPTED_DIGEST_METHODS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);

/** Verifies an enveloped signature on `element` (a child ds:Signature) with one of the certificates; the signed XML. */
function signedXmlOf(xml: string, element: Element, certificatesPem: string[]): string | undefined {
  const signature = childElements(element, NS.ds, 'Signature')[0];
  const id = attribute(element, 'ID');
  if (!signature || !id) return undefined;
  const methods = (name: string) => Array.from(signature.getElementsByTagNameNS(NS.ds, name)).map((m) => m.getAttribute('Algorithm') ?? '');
  const signatureMethods = methods('SignatureMethod');
  const digestMethods = methods('DigestMethod');
  if (signatureMethods.length !== 1 || !ACCEPTED_SIGNATURE_METHODS.has(signatureMethods[0]!) || digestMethods.length === 0 || !digestMethods.every((d) => ACCEPTED_DIGEST_METHODS.has(d))) {
    throw new DemoError(401, `The ${element.localName} is signed with ${[...signatureMethods, ...digestMethods].join(' / ') || 'no named algorithm'}; this SP accepts only RSA-SHA256 or RSA-SHA512 with SHA-256 or SHA-512 digests (never SHA-1).`);
  }
  const { SignedXml } = xmlCrypto();
  for (const cert of certificatesPem) {
    const verifier = new SignedXml({ publicCert: cert, getCertFromKeyInfo: () => null });
    try {
      verifier.loadSignature(serialize(signature));
      if (!verifier.checkSignature(xml)) continue;
    } catch {
      continue;
    }
    const refs = verifier.getSignedReferences();
    // The signature must cover this very element, by its ID.
    const uri = signature.getElementsByTagNameNS(NS.ds, 'Reference')[0]?.getAttribute('URI');
    if (refs.length === 1 && uri === `#${id}`) return refs[0];
  }
  return undefined;
}

async function decrypt(encryptedAssertion: Element, keyPem: string | undefined): Promise<string> {
  if (!keyPem) throw new DemoError(400, 'The assertion is encrypted, but this SP has no decryption key.');
  const { default: xmlenc } = await import('xml-encryption');
  return new Promise((resolve, reject) =>
    xmlenc.decrypt(serialize(encryptedAssertion), { key: keyPem, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false }, (err, result) =>
      err || result === undefined ? reject(new DemoError(400, 'The encrypted assertion could not be decrypted.')) : resolve(result),
    ),
  );
}

/**
 * The key transports saml2-js decrypts: its own xml-encryption (3.x) knows
 * rsa-oaep-mgf1p (and the insecure rsa-1_5), not xmlenc11#rsa-oaep, and says so
 * inside a stack trace. The ACS checks first, to name the fix instead.
 */
const SAML2JS_KEY_TRANSPORTS = ['http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p'];

/** Refuses a Response whose assertion key saml2-js cannot decrypt (a 400 naming the algorithm and the fix). */
export function refuseUndecryptableKeyTransport(responseXml: string): void {
  let doc;
  try {
    doc = parseUntrustedXml(responseXml, 'SAMLResponse');
  } catch {
    return; // saml2-js and extractSigned name what is wrong with it
  }
  for (const key of Array.from(doc.getElementsByTagNameNS(NS.xenc, 'EncryptedKey'))) {
    for (const method of childElements(key, NS.xenc, 'EncryptionMethod')) {
      const uri = method.getAttribute('Algorithm') ?? '';
      if (SAML2JS_KEY_TRANSPORTS.includes(uri)) continue;
      throw new DemoError(
        400,
        `The assertion's key is encrypted with ${uri || 'no named algorithm'}, which this SP (saml2-js, with xml-encryption 3) cannot decrypt: it knows only ${SAML2JS_KEY_TRANSPORTS.join(', ')}. Register it at the IdP with keyEncryptionAlgorithm: rsa-oaep-mgf1p (the default).`,
      );
    }
  }
}

/**
 * A comment inside a NameID, as received (the signed XML that the checks read has none:
 * exclusive c14n drops comments). Signatures do not cover comments, and a parser that
 * reads only the first text node stops at one (CVE-2017-11427), so this SP refuses it.
 */
function refuseCommentedNameId(root: Element): void {
  const nameIds = root.localName === 'NameID' ? [root] : Array.from(root.getElementsByTagNameNS(NS.saml, 'NameID'));
  for (const nameId of nameIds) {
    for (let n = nameId.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 8) {
        throw new DemoError(
          401,
          `The NameID ${JSON.stringify(text(nameId))} is split by an XML comment. Signatures do not cover comments, so a careless SP would read only ${JSON.stringify((nameId.firstChild?.nodeValue ?? '').trim())}; this SP refuses such a NameID.`,
        );
      }
    }
  }
}

/** A SAMLResponse's signed parts, each re-read from the XML its signature covers. */
export interface SignedResponse {
  /** The Response as signed, or as received when only the assertion is signed. */
  response: Element;
  assertion: Element;
  signedBy: 'Response' | 'Assertion';
  encrypted: boolean;
  /** The assertion as the checks read it. */
  assertionXml: string;
}

/**
 * The signed Response (when the IdP signs it) and the signed or enclosed Assertion,
 * re-read from the XML the signatures cover, never from the rest of the document.
 */
export async function extractSigned(responseXml: string, idp: IdpInfo, keyPem: string | undefined): Promise<SignedResponse> {
  // The IdP's parser refuses DTDs, oversize and malformed XML with an IdpError; here that is a 400 page.
  const parse = (text: string, what: string) => {
    try {
      return parseUntrustedXml(text, what);
    } catch (err) {
      throw new DemoError(400, err instanceof Error ? err.message : `The ${what} could not be read.`);
    }
  };
  let response = parse(responseXml, 'SAMLResponse').documentElement!;
  refuseCommentedNameId(response);
  let signedBy: 'Response' | 'Assertion' | undefined;
  const signedResponse = signedXmlOf(responseXml, response, idp.certificatesPem);
  if (signedResponse) {
    response = parse(signedResponse, 'signed Response').documentElement!;
    signedBy = 'Response';
  }
  const encrypted = childElements(response, NS.saml, 'EncryptedAssertion');
  const plain = childElements(response, NS.saml, 'Assertion');
  if (encrypted.length + plain.length !== 1) throw new DemoError(400, 'The Response must hold exactly one assertion.');
  const assertionXml = encrypted[0] ? await decrypt(encrypted[0], keyPem) : serialize(plain[0]!);
  let assertion = parse(assertionXml, 'Assertion').documentElement!;
  refuseCommentedNameId(assertion);
  const signedAssertion = signedXmlOf(assertionXml, assertion, idp.certificatesPem);
  if (signedAssertion) {
    assertion = parse(signedAssertion, 'signed Assertion').documentElement!;
    signedBy = 'Assertion';
  }
  if (!signedBy) throw new DemoError(401, 'Neither the Response nor the assertion carries a valid IdP signature.');
  return { response, assertion, signedBy, encrypted: encrypted.length === 1, assertionXml: serialize(assertion) };
}
