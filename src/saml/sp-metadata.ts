/**
 * An SP's own SAML metadata (SAML metadata 2.3.2, 2.4.4): an EntityDescriptor with
 * one SPSSODescriptor, parsed with the same hardened XML parsing as requests and
 * validated against the metadata schema, reduced to what the IdP uses.
 *
 * The order of the checks: the size (before any parsing), the hardened parser (no
 * DTD, one root), the shape (the root element, one SAML 2.0 SPSSODescriptor, at least
 * one AssertionConsumerService: cheap, and clearer than the schema's words for an
 * AuthnRequest or an IdP's metadata), the schema (metadata-schema.ts), then what the
 * schema cannot say: not expired, unique ACS indexes, certificates that parse.
 */
import crypto from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { IdpError } from '../errors.js';
import { pemFromBase64 } from '../keys/key-files.js';
import { LIMITS, NS, PROTOCOL_SAML2 } from './constants.js';
import { validateMetadataSchema, type SchemaProblem } from './metadata-schema.js';
import { attribute, booleanAttribute, childElements, expandedName, parseInstant, parseUntrustedXml, quote, textContent, type Element } from './xml.js';

/** An AssertionConsumerService (an IndexedEndpointType). */
export interface MetadataAcs {
  binding: string;
  location: string;
  index: number;
  /** The isDefault attribute; undefined when absent. */
  isDefault: boolean | undefined;
}

/** A SingleLogoutService (an EndpointType). */
export interface MetadataEndpoint {
  binding: string;
  location: string;
  responseLocation: string | undefined;
}

export interface SpMetadata {
  entityId: string;
  /** Every AssertionConsumerService, in document order. */
  acs: MetadataAcs[];
  /** Every SingleLogoutService, in document order. */
  slo: MetadataEndpoint[];
  /** PEM certificates of the KeyDescriptors for signing (use="signing" or no use), in document order. */
  signingCertificates: string[];
  /** PEM certificates of the KeyDescriptors for encryption (use="encryption" or no use), in document order. */
  encryptionCertificates: string[];
  /** The Algorithm URIs of the EncryptionMethods of the encryption KeyDescriptors, in document order. */
  encryptionMethods: string[];
  /** The NameIDFormat values, in document order. */
  nameIdFormats: string[];
  /** The SPSSODescriptor's AuthnRequestsSigned; undefined when absent. */
  authnRequestsSigned: boolean | undefined;
  /** The SPSSODescriptor's WantAssertionsSigned; undefined when absent. */
  wantAssertionsSigned: boolean | undefined;
  /** The earliest validUntil of the document (ms since the epoch): it must not be used after. */
  validUntil: number | undefined;
}

/** Why a metadata document was refused: the message names what is wrong (and where, when it can). */
export class SpMetadataError extends Error {
  override name = 'SpMetadataError';
}

/**
 * Parses and validates an SP's metadata. `source` names where it came from in
 * messages ("metadataFile sp.xml"); `clock` decides whether validUntil has passed.
 * Throws SpMetadataError.
 */
export async function parseSpMetadata(xml: string, source: string, clock: Clock = systemClock): Promise<SpMetadata> {
  const fail = (message: string): never => {
    throw new SpMetadataError(`${source}: ${message}`);
  };
  try {
    const doc = parseUntrustedXml(xml, 'SP metadata', LIMITS.maxSpMetadataBytes);
    // The shape first: for an AuthnRequest, an IdP's metadata or a missing ACS, these say more than the schema's words.
    const { entity, enclosing } = pickEntity(doc.documentElement!, fail);
    const sp = pickSpDescriptor(entity, fail);
    const problems = await validateMetadataSchema(xml);
    if (problems.length > 0) throw new SpMetadataError(schemaMessage(source, problems));
    return readEntity(entity, sp, enclosing, clock.now(), fail);
  } catch (err) {
    // The XML helpers speak of requests (IdpError); here the same words are about this document.
    if (err instanceof IdpError) fail(err.message);
    throw err;
  }
}

type Fail = (message: string) => never;

/** At most this many schema violations are quoted; the first ones are the useful ones. */
const MAX_SCHEMA_PROBLEMS = 3;

/** "sp.xml line 12: Element '{…}AssertionConsumerService': The attribute 'index' is required but missing." */
function schemaMessage(source: string, problems: SchemaProblem[]): string {
  const quoted = problems.slice(0, MAX_SCHEMA_PROBLEMS).map((p) => `${source}${p.line === undefined ? '' : ` line ${p.line}`}: ${p.message}`);
  const more = problems.length - quoted.length;
  // xmllint's sentences end with a full stop: one space between them reads as a list.
  return `${quoted.join(' ')}${more > 0 ? ` (and ${more} more schema error${more === 1 ? '' : 's'})` : ''}`;
}

const isMd = (el: Element, localName: string): boolean => el.namespaceURI === NS.md && el.localName === localName;

function entityName(entity: Element): string {
  return `the EntityDescriptor ${quote(attribute(entity, 'entityID') ?? '')}`;
}

function describesIdp(entity: Element): boolean {
  return childElements(entity, NS.md, 'IDPSSODescriptor').length > 0;
}

/** The SPSSODescriptors of `entity` that speak SAML 2.0 (the list is space-separated URIs). */
function saml2SpDescriptors(entity: Element): Element[] {
  return childElements(entity, NS.md, 'SPSSODescriptor').filter((sp) =>
    (attribute(sp, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(PROTOCOL_SAML2),
  );
}

/** Every EntityDescriptor under an EntitiesDescriptor (which may nest), with the EntitiesDescriptors around it. */
function entitiesUnder(group: Element, enclosing: Element[]): { entity: Element; enclosing: Element[] }[] {
  return childElements(group, NS.md).flatMap((child) => {
    if (isMd(child, 'EntityDescriptor')) return [{ entity: child, enclosing: [...enclosing, group] }];
    if (isMd(child, 'EntitiesDescriptor')) return entitiesUnder(child, [...enclosing, group]);
    return [];
  });
}

/** The root is the SP's EntityDescriptor, or an EntitiesDescriptor holding exactly one with an SPSSODescriptor. */
function pickEntity(root: Element, fail: Fail): { entity: Element; enclosing: Element[] } {
  if (isMd(root, 'EntityDescriptor')) return { entity: root, enclosing: [] };
  if (!isMd(root, 'EntitiesDescriptor')) {
    return fail(
      `the root element is ${quote(expandedName(root))}, not SAML metadata: an SP's metadata is an md:EntityDescriptor ` +
        `(or an md:EntitiesDescriptor holding one), with md = ${NS.md}.`,
    );
  }
  const all = entitiesUnder(root, []);
  const sps = all.filter((e) => childElements(e.entity, NS.md, 'SPSSODescriptor').length > 0);
  if (sps.length === 1) return sps[0]!;
  if (sps.length === 0) {
    const idps = all.filter((e) => describesIdp(e.entity)).length;
    return fail(
      `the EntitiesDescriptor holds ${all.length} EntityDescriptor${all.length === 1 ? '' : 's'}, none with an SPSSODescriptor` +
        `${idps > 0 ? ' (it describes IdPs?)' : ''}.`,
    );
  }
  const ids = sps.map((e) => quote(attribute(e.entity, 'entityID') ?? '')).join(', ');
  return fail(`the EntitiesDescriptor holds ${sps.length} SPs (${ids}); give the metadata of one SP, its EntityDescriptor alone.`);
}

/** A validUntil in the past refuses the whole document (metadata 2.3.1: it must not be used after). */
function checkValidUntil(el: Element, what: string, now: number, fail: Fail): number | undefined {
  const value = attribute(el, 'validUntil');
  if (value === undefined) return undefined;
  // xs:dateTime may lack a time zone; SAML times are UTC (core 1.3.3).
  const until = parseInstant(value.trim()) ?? parseInstant(`${value.trim()}Z`);
  if (until === undefined) return fail(`the validUntil of ${what} is not a date and time: ${quote(value)}.`);
  if (until <= now) fail(`${what} expired on ${value.trim()} (its validUntil): get the SP's current metadata.`);
  return until;
}

/** The one SAML 2.0 SPSSODescriptor of `entity`, with at least one AssertionConsumerService. */
function pickSpDescriptor(entity: Element, fail: Fail): Element {
  const name = entityName(entity);
  const descriptors = saml2SpDescriptors(entity);
  if (descriptors.length === 0) {
    const why = describesIdp(entity) ? 'it describes an IdP?' : `protocolSupportEnumeration must include ${PROTOCOL_SAML2}`;
    return fail(`${name} has no SPSSODescriptor for SAML 2.0 (${why}).`);
  }
  if (descriptors.length > 1) return fail(`${name} has ${descriptors.length} SPSSODescriptors for SAML 2.0; give one.`);
  const sp = descriptors[0]!;
  if (childElements(sp, NS.md, 'AssertionConsumerService').length === 0) {
    return fail(`the SPSSODescriptor of ${name} lists no AssertionConsumerService: the IdP would have nowhere to send the Response.`);
  }
  return sp;
}

function readEntity(entity: Element, sp: Element, enclosing: Element[], now: number, fail: Fail): SpMetadata {
  const entityId = attribute(entity, 'entityID') ?? '';
  const name = entityName(entity);
  const until = [
    ...enclosing.map((group) => checkValidUntil(group, `the EntitiesDescriptor ${quote(attribute(group, 'Name') ?? '')}`, now, fail)),
    checkValidUntil(entity, name, now, fail),
    checkValidUntil(sp, `the SPSSODescriptor of ${name}`, now, fail),
  ].filter((t): t is number => t !== undefined);

  const what = `SPSSODescriptor of ${name}`;
  const acs = childElements(sp, NS.md, 'AssertionConsumerService').map(
    (el): MetadataAcs => ({
      binding: attribute(el, 'Binding') ?? '',
      location: attribute(el, 'Location') ?? '',
      index: Number(attribute(el, 'index')),
      isDefault: booleanAttribute(el, 'isDefault', `AssertionConsumerService of the ${what}`),
    }),
  );
  const repeated = [...new Set(acs.map((a) => a.index))]
    .map((index) => ({ index, count: acs.filter((a) => a.index === index).length }))
    .filter((r) => r.count > 1);
  if (repeated.length > 0) {
    const list = repeated.map((r) => `${r.index} (${r.count} times)`).join(', ');
    fail(`the ${what} repeats AssertionConsumerService indexes: ${list}; each index must be unique.`);
  }

  const slo = childElements(sp, NS.md, 'SingleLogoutService').map(
    (el): MetadataEndpoint => ({
      binding: attribute(el, 'Binding') ?? '',
      location: attribute(el, 'Location') ?? '',
      responseLocation: attribute(el, 'ResponseLocation'),
    }),
  );

  const signingCertificates: string[] = [];
  const encryptionCertificates: string[] = [];
  const encryptionMethods: string[] = [];
  childElements(sp, NS.md, 'KeyDescriptor').forEach((kd, i) => {
    const use = attribute(kd, 'use');
    const label = `KeyDescriptor ${i + 1}${use === undefined ? '' : ` (use="${use}")`} of the ${what}`;
    const certificates = childElements(kd, NS.ds, 'KeyInfo')
      .flatMap((info) => childElements(info, NS.ds, 'X509Data'))
      .flatMap((data) => childElements(data, NS.ds, 'X509Certificate'))
      .map((el) => certificatePem(textContent(el, label), label, fail));
    if (use !== 'encryption') signingCertificates.push(...certificates);
    if (use !== 'signing') {
      encryptionCertificates.push(...certificates);
      encryptionMethods.push(...childElements(kd, NS.md, 'EncryptionMethod').map((m) => attribute(m, 'Algorithm') ?? ''));
    }
  });

  return {
    entityId,
    acs,
    slo,
    signingCertificates,
    encryptionCertificates,
    encryptionMethods,
    nameIdFormats: childElements(sp, NS.md, 'NameIDFormat').map((el) => textContent(el, what)),
    authnRequestsSigned: booleanAttribute(sp, 'AuthnRequestsSigned', what),
    wantAssertionsSigned: booleanAttribute(sp, 'WantAssertionsSigned', what),
    validUntil: until.length === 0 ? undefined : Math.min(...until),
  };
}

/** The X509Certificate as PEM, checked to be a certificate node:crypto reads. */
function certificatePem(base64: string, label: string, fail: Fail): string {
  const pem = pemFromBase64(base64, 'CERTIFICATE');
  try {
    new crypto.X509Certificate(pem);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    fail(`the X509Certificate of the ${label} is not a readable certificate (${reason}).`);
  }
  return pem;
}

/** A few lines that say what the metadata gave, for the log and the admin page. */
export function summarizeSpMetadata(md: SpMetadata): string[] {
  const endpoint = (binding: string, location: string) => `${binding.replace(/^urn:oasis:names:tc:SAML:2\.0:bindings:/, '')} ${location}`;
  const flag = (name: string, v: boolean | undefined) => `${name}=${v === undefined ? '(absent)' : String(v)}`;
  return [
    `entityID ${md.entityId}`,
    ...md.acs.map((a) => `ACS ${a.index}${a.isDefault ? ' (default)' : ''}: ${endpoint(a.binding, a.location)}`),
    ...md.slo.map((s) => `SLO: ${endpoint(s.binding, s.location)}${s.responseLocation ? ` (responses to ${s.responseLocation})` : ''}`),
    `certificates: ${md.signingCertificates.length} for signing, ${md.encryptionCertificates.length} for encryption` +
      `${md.encryptionMethods.length > 0 ? ` (${md.encryptionMethods.join(', ')})` : ''}`,
    `NameID formats: ${md.nameIdFormats.length > 0 ? md.nameIdFormats.join(', ') : '(none listed)'}`,
    `${flag('AuthnRequestsSigned', md.authnRequestsSigned)}, ${flag('WantAssertionsSigned', md.wantAssertionsSigned)}`,
  ];
}
