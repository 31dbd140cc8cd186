/**
 * XML signatures: the signing step every signed SAML message goes through, and the
 * verification of an enveloped signature on an incoming message.
 *
 * Signatures are enveloped, exclusive-c14n, RSA-SHA256 (or RSA-SHA512) with digests
 * of the same strength, placed right after the signed element's Issuer as the SAML
 * schema wants, with a KeyInfo carrying the signing certificate.
 *
 * Two ways to the same signature:
 * - `signXml` signs XML text with xml-crypto (parse, XPath, canonicalize, serialize):
 *   the reference, used for messages that are not on a hot path (logout messages,
 *   status responses, metadata, encrypted assertions);
 * - `signElement` signs an element of a tree built with c14n.ts, which is canonical
 *   from birth: one SHA digest of the canonical octets, SignedInfo written
 *   canonically, one RSA signature with a key parsed once. It produces exactly what
 *   `signXml` produces for the serialized tree (test/saml/fast-sign.test.ts holds it
 *   to that), in a fraction of the time: the single sign-on Response uses it.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { IdpError } from '../errors.js';
import {
  ACCEPTED_C14N_URIS,
  ACCEPTED_DIGEST_URIS,
  C14N,
  DEFAULT_SIGNATURE_ALGORITHM,
  TRANSFORM_ENVELOPED_SIGNATURE,
  acceptedSignatureAlgorithmByUri,
  signatureAlgorithm,
  type InsecureSignatureAlgorithmName,
  type SignatureAlgorithmName,
} from './algorithms.js';
import { attributeOf, canonicalXml, childElement, element, type XmlElement } from './c14n.js';
import { NS } from './constants.js';
import { isSafeId } from './ids.js';
import { attribute, childElements, quote, serialize, xmlCrypto, type Document, type Element } from './xml.js';

/** What signing needs from the keystore (`Keystore.saml` fits). */
export interface SigningCredentials {
  privateKeyPem: string;
  certificatePem: string;
}

export interface SignXmlOptions {
  /** The ID attribute of the element to sign. */
  id: string;
  credentials: SigningCredentials;
  /** Default rsa-sha256. rsa-sha1 exists only for fault injection. */
  algorithm?: SignatureAlgorithmName | InsecureSignatureAlgorithmName | undefined;
  /**
   * Where the Signature goes: after the element's saml:Issuer child (default, as
   * the SAML schema orders it), or as its first child (metadata has no Issuer).
   */
  placement?: 'after-issuer' | 'first-child';
}

/** Signs the element with `options.id` and returns the whole document with the signature in it. */
export function signXml(xml: string, options: SignXmlOptions): string {
  if (!isSafeId(options.id)) throw new TypeError(`signXml: not a usable ID: ${quote(options.id)}`);
  const alg = signatureAlgorithm(options.algorithm ?? DEFAULT_SIGNATURE_ALGORITHM);
  const target = `//*[@ID='${options.id}']`;
  const { SignedXml } = xmlCrypto();
  const sig = new SignedXml({
    privateKey: options.credentials.privateKeyPem,
    publicCert: options.credentials.certificatePem,
    signatureAlgorithm: alg.signatureUri,
    canonicalizationAlgorithm: C14N.exclusive,
  });
  sig.addReference({
    xpath: target,
    digestAlgorithm: alg.digestUri,
    transforms: [TRANSFORM_ENVELOPED_SIGNATURE, C14N.exclusive],
  });
  const location =
    (options.placement ?? 'after-issuer') === 'after-issuer'
      ? { reference: `${target}/*[local-name(.)='Issuer' and namespace-uri(.)='${NS.saml}']`, action: 'after' as const }
      : { reference: target, action: 'prepend' as const };
  sig.computeSignature(xml, { prefix: 'ds', location });
  return sig.getSignedXml();
}

/** A private key parsed once and the certificates KeyInfo publishes, by the credentials they came from. */
interface PreparedCredentials {
  privateKeyPem: string;
  certificatePem: string;
  key: KeyObject;
  certificates: string[];
}

const prepared = new WeakMap<SigningCredentials, PreparedCredentials>();

function prepare(credentials: SigningCredentials): PreparedCredentials {
  const cached = prepared.get(credentials);
  if (cached && cached.privateKeyPem === credentials.privateKeyPem && cached.certificatePem === credentials.certificatePem) return cached;
  const fresh: PreparedCredentials = {
    privateKeyPem: credentials.privateKeyPem,
    certificatePem: credentials.certificatePem,
    key: crypto.createPrivateKey(credentials.privateKeyPem),
    // The same certificate text xml-crypto puts in KeyInfo.
    certificates: xmlCrypto().pemCertificates(credentials.certificatePem),
  };
  prepared.set(credentials, fresh);
  return fresh;
}

const ds = (name: string, attrs: Record<string, string> = {}, children: (XmlElement | string)[] = []): XmlElement =>
  element(NS.ds, `ds:${name}`, attrs, children);

/**
 * Signs an element of a c14n.ts tree in place: its enveloped signature goes after
 * its saml:Issuer child (or first, with placement 'first-child'), exactly as
 * `signXml` would place and compute it for `serializeXml` of the same tree. The
 * element's ID attribute is what the Reference points at. The digest covers the
 * element as it is now, so sign inner elements before outer ones.
 */
export function signElement(target: XmlElement, options: Omit<SignXmlOptions, 'id'>): void {
  const id = attributeOf(target, 'ID');
  if (id === undefined || !isSafeId(id)) throw new TypeError(`signElement: ${target.name} has no usable ID: ${quote(id ?? '')}`);
  const alg = signatureAlgorithm(options.algorithm ?? DEFAULT_SIGNATURE_ALGORITHM);
  const { key, certificates } = prepare(options.credentials);

  const digest = crypto.createHash(alg.nodeHash).update(canonicalXml(target), 'utf8').digest('base64');
  const signedInfo = ds('SignedInfo', {}, [
    ds('CanonicalizationMethod', { Algorithm: C14N.exclusive }),
    ds('SignatureMethod', { Algorithm: alg.signatureUri }),
    ds('Reference', { URI: `#${id}` }, [
      ds('Transforms', {}, [ds('Transform', { Algorithm: TRANSFORM_ENVELOPED_SIGNATURE }), ds('Transform', { Algorithm: C14N.exclusive })]),
      ds('DigestMethod', { Algorithm: alg.digestUri }),
      ds('DigestValue', {}, [digest]),
    ]),
  ]);
  const signatureValue = crypto.sign(alg.nodeHash, Buffer.from(canonicalXml(signedInfo), 'utf8'), key).toString('base64');
  const children: XmlElement[] = [signedInfo, ds('SignatureValue', {}, [signatureValue])];
  if (certificates.length > 0) {
    children.push(ds('KeyInfo', {}, [ds('X509Data', {}, certificates.map((c) => ds('X509Certificate', {}, [c])))]));
  }
  const signature = element(NS.ds, 'ds:Signature', {}, children, [['ds', NS.ds]]);

  if ((options.placement ?? 'after-issuer') === 'first-child') {
    target.children.unshift(signature);
    return;
  }
  const issuer = childElement(target, NS.saml, 'Issuer');
  if (!issuer) throw new TypeError(`signElement: ${target.name} has no saml:Issuer to put the signature after`);
  target.children.splice(target.children.indexOf(issuer) + 1, 0, signature);
}

/** The SP's certificates as messages name them. */
export function certificatesNamed(certificates: readonly string[], from: CertificateSource): string {
  if (from === 'requestSigningCert') return "the service provider's certificate (requestSigningCert)";
  return certificates.length === 1 ? "the service provider's signing certificate (from its metadata)" : `any of the ${certificates.length} signing certificates of the service provider's metadata`;
}

/** Where the certificates an SP's messages are verified with come from. */
export type CertificateSource = 'requestSigningCert' | 'metadata';

/**
 * Verifies the enveloped signature of a message's root element with a configured
 * certificate (never one from KeyInfo) and returns the XML that was signed, in
 * canonical form: callers read the message from it, not from the original text.
 *
 * `xml` is the message text and `doc` its DOM as parsed by parseUntrustedXml.
 * Throws IdpError('invalid_signature') with a message saying what is wrong.
 */
export function verifyEnvelopedSignature(xml: string, doc: Document, certificates: readonly string[], what: string, from: CertificateSource = 'requestSigningCert'): string {
  const root = doc.documentElement!;
  const rootId = attribute(root, 'ID');
  const signatures = childElements(root, NS.ds, 'Signature');
  if (signatures.length === 0) {
    throw new IdpError('invalid_signature', `The ${what} is not signed, and this service provider's messages must be signed (requestSigningCert is set).`);
  }
  if (signatures.length > 1) {
    throw new IdpError('invalid_signature', `The ${what} has ${signatures.length} signatures; exactly one is accepted.`);
  }
  if (rootId === undefined || rootId === '') {
    throw new IdpError('invalid_signature', `The ${what} has no ID attribute, so its signature cannot refer to it.`);
  }
  const signature = signatures[0]!;
  checkSignatureStructure(signature, rootId, what);

  const { SignedXml } = xmlCrypto();
  const signatureXml = serialize(signature);
  const verifier = certificates
    .map((publicCert) => new SignedXml({ publicCert, getCertFromKeyInfo: () => null }))
    .find((v) => {
      try {
        v.loadSignature(signatureXml);
        return v.checkSignature(xml);
      } catch {
        return false;
      }
    });
  if (!verifier) {
    throw new IdpError('invalid_signature', `The signature of the ${what} does not verify with ${certificatesNamed(certificates, from)}.`);
  }
  const signed = verifier.getSignedReferences();
  if (signed.length !== 1 || signed[0] === undefined) {
    throw new IdpError('invalid_signature', `The signature of the ${what} must cover exactly one element, the message itself.`);
  }
  return signed[0];
}

/** The algorithms and the single Reference to the root, checked before any cryptography. */
function checkSignatureStructure(signature: Element, rootId: string, what: string): void {
  const signedInfo = childElements(signature, NS.ds, 'SignedInfo');
  if (signedInfo.length !== 1) {
    throw new IdpError('invalid_signature', `The signature of the ${what} has no single SignedInfo.`);
  }
  const info = signedInfo[0]!;
  const c14n = childElements(info, NS.ds, 'CanonicalizationMethod')[0];
  const c14nUri = c14n ? (attribute(c14n, 'Algorithm') ?? '') : '';
  if (!ACCEPTED_C14N_URIS.includes(c14nUri)) {
    throw new IdpError('invalid_signature', `The signature of the ${what} uses the canonicalization ${quote(c14nUri)}, which is not accepted.`);
  }
  const method = childElements(info, NS.ds, 'SignatureMethod')[0];
  const methodUri = method ? (attribute(method, 'Algorithm') ?? '') : '';
  if (acceptedSignatureAlgorithmByUri(methodUri) === undefined) {
    throw new IdpError(
      'invalid_signature',
      `The signature of the ${what} uses the algorithm ${quote(methodUri)}, which is not accepted; sign with RSA-SHA256 or RSA-SHA512.`,
    );
  }
  const references = childElements(info, NS.ds, 'Reference');
  if (references.length !== 1) {
    throw new IdpError('invalid_signature', `The signature of the ${what} must have exactly one Reference, it has ${references.length}.`);
  }
  const reference = references[0]!;
  const uri = attribute(reference, 'URI') ?? '';
  if (uri !== `#${rootId}`) {
    throw new IdpError('invalid_signature', `The signature of the ${what} must refer to the message's own ID (#${rootId}), not ${quote(uri)}.`);
  }
  const digest = childElements(reference, NS.ds, 'DigestMethod')[0];
  const digestUri = digest ? (attribute(digest, 'Algorithm') ?? '') : '';
  if (!ACCEPTED_DIGEST_URIS.includes(digestUri)) {
    throw new IdpError(
      'invalid_signature',
      `The signature of the ${what} uses the digest ${quote(digestUri)}, which is not accepted; use SHA-256 or SHA-512.`,
    );
  }
  for (const transforms of childElements(reference, NS.ds, 'Transforms')) {
    for (const t of childElements(transforms, NS.ds, 'Transform')) {
      const tUri = attribute(t, 'Algorithm') ?? '';
      if (tUri !== TRANSFORM_ENVELOPED_SIGNATURE && !ACCEPTED_C14N_URIS.includes(tUri)) {
        throw new IdpError('invalid_signature', `The signature of the ${what} uses the transform ${quote(tUri)}, which is not accepted.`);
      }
    }
  }
}
