/**
 * Resolving one service provider as written (file, API) into what the IdP reads:
 * defaults derived (issuer, audience, origins), PEM paths read, and a SAML SP's
 * keys filled from its metadata where the config does not give them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { BINDINGS } from '../saml/constants.js';
import type { JwtSpConfig, SamlSpConfig, ServiceProviderConfig } from './schema.js';
import { summarizeSpMetadata } from '../saml/sp-metadata.js';
import { DEFAULT_NAMEID_FORMAT, fromMetadata, readSpMetadata, type AcsEndpoint, type MetadataCache, type SpMetadataOrigin } from './sp-metadata.js';
import { SP_METADATA_SOURCES, type KeyEncryptionAlgorithmName, type NameIdFormatUri } from './sp-schema.js';

export interface ResolvedJwtSp extends Omit<JwtSpConfig, 'issuer' | 'audience' | 'privateKey'> {
  issuer: string;
  audience: string;
  /** PEM text of an SP-specific private key, when configured. */
  privateKeyPem: string | undefined;
}

export interface ResolvedSamlSp
  extends Omit<SamlSpConfig, 'entityId' | 'acsUrls' | 'nameIdFormat' | 'encryptionCert' | 'requestSigningCert' | 'sloUrl' | 'keyEncryptionAlgorithm' | 'metadata' | 'metadataFile' | 'metadataUrl'> {
  entityId: string;
  /** The HTTP-POST AssertionConsumerService URLs, the default first. */
  acsUrls: string[];
  /** Every AssertionConsumerService (all bindings), for AssertionConsumerServiceIndex. */
  acs: AcsEndpoint[];
  nameIdFormat: NameIdFormatUri;
  /** PEM text (resolved from a path when one was given). */
  encryptionCert: string | null;
  keyEncryptionAlgorithm: KeyEncryptionAlgorithmName;
  /** Set when the SP's requests must be signed: the first of requestSigningCerts. */
  requestSigningCert: string | null;
  /** Certificates a signed request from the SP may verify with (a signature present is always checked). */
  requestSigningCerts: string[];
  sloUrl: string | null;
  /** Set for an SP registered from its metadata. */
  fromMetadata: SpMetadataOrigin | undefined;
}

export interface ResolvedServiceProvider extends Omit<ServiceProviderConfig, 'jwt' | 'saml' | 'name'> {
  name: string;
  /** Origins allowed for CORS on /sso/token/:id: those of redirectUrls plus allowedOrigins. */
  origins: string[];
  jwt: ResolvedJwtSp | undefined;
  saml: ResolvedSamlSp | undefined;
}

export function readPem(value: string | null, baseDir: string, where: string, source: string): string | null {
  if (value === null) return null;
  if (value.includes('-----BEGIN')) return value;
  const file = path.resolve(baseDir, value);
  try {
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes('-----BEGIN')) throw new ConfigError(`Invalid config in ${source}: ${where}: ${file} is not a PEM file`);
    return text;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`Invalid config in ${source}: ${where}: cannot read ${file}`);
  }
}

function resolveSaml(c: SamlSpConfig, where: string, { baseDir, source }: SpContext, origin: SpMetadataOrigin | undefined): ResolvedSamlSp {
  const { metadata: _m, metadataFile: _f, metadataUrl: _u, ...rest } = c;
  const md = origin && fromMetadata(origin.metadata, `${where}.${origin.kind}`, source);
  const taken: string[] = [];
  const take = <T>(key: string, explicit: T | undefined, fromMd: T | undefined, fallback: T): T => {
    if (explicit !== undefined) return explicit;
    if (fromMd !== undefined) {
      taken.push(key);
      return fromMd;
    }
    return fallback;
  };
  const explicitCert = c.requestSigningCert === undefined ? undefined : readPem(c.requestSigningCert, baseDir, `${where}.requestSigningCert`, source);
  let requestSigningCerts: string[];
  let requestSigningCert: string | null;
  if (explicitCert !== undefined || md === undefined) {
    requestSigningCerts = explicitCert ? [explicitCert] : [];
    requestSigningCert = explicitCert ?? null;
  } else {
    if (md.requireSignedRequests && md.requestSigningCerts.length === 0) {
      throw new ConfigError(`Invalid config in ${source}:\n  - ${where}.${origin!.kind}: the metadata says AuthnRequestsSigned="true" but has no signing KeyDescriptor; give saml.requestSigningCert`);
    }
    requestSigningCerts = md.requestSigningCerts;
    requestSigningCert = md.requireSignedRequests ? md.requestSigningCerts[0]! : null;
    if (md.requestSigningCerts.length > 0) taken.push(md.requireSignedRequests ? 'requestSigningCert' : 'request signing certificates (a signed request is verified)');
  }
  const acsUrls = take('acsUrls', c.acsUrls, md?.acsUrls, []);
  const acs = c.acsUrls === undefined && md ? md.acs : acsUrls.map((url, index) => ({ url, binding: BINDINGS.post, index, isDefault: index === 0 }));
  const encryptionCert =
    c.encryptionCert === undefined ? take('encryptionCert', undefined, md?.encryptionCert ?? undefined, null) : readPem(c.encryptionCert, baseDir, `${where}.encryptionCert`, source);
  if (c.encryptAssertion && encryptionCert === null) {
    throw new ConfigError(`Invalid config in ${source}:\n  - ${where}.encryptionCert: is required when encryptAssertion is true (the metadata has no encryption KeyDescriptor)`);
  }
  const resolved: ResolvedSamlSp = {
    ...rest,
    entityId: take('entityId', c.entityId, md?.entityId, ''),
    acsUrls,
    acs,
    nameIdFormat: take('nameIdFormat', c.nameIdFormat, md?.nameIdFormat, DEFAULT_NAMEID_FORMAT),
    encryptionCert,
    keyEncryptionAlgorithm: take('keyEncryptionAlgorithm', c.keyEncryptionAlgorithm, md?.keyEncryptionAlgorithm, 'rsa-oaep-mgf1p'),
    requestSigningCert,
    requestSigningCerts,
    sloUrl: c.sloUrl === undefined ? take('sloUrl', undefined, md?.sloUrl ?? undefined, null) : c.sloUrl,
    fromMetadata: origin && { ...origin, taken },
  };
  return resolved;
}

export interface SpContext {
  baseUrl: string;
  baseDir: string;
  source: string;
  /** metadataUrl documents already fetched. */
  metadataCache?: MetadataCache | undefined;
}

/** Reads the metadata of each SP that names some (in list order; undefined for the others). Throws ConfigError. */
export function readSpsMetadata(sps: readonly ServiceProviderConfig[], ctx: SpContext): Promise<(SpMetadataOrigin | undefined)[]> {
  return Promise.all(sps.map((sp, i) => (sp.saml ? readSpMetadata(sp.saml, `serviceProviders[${i}].saml`, { baseDir: ctx.baseDir, source: ctx.source, cache: ctx.metadataCache }) : undefined)));
}

/** Resolves one SP; `origin` is its metadata as read by `readSpsMetadata` (required when it names some). */
export function resolveSp(sp: ServiceProviderConfig, where: string, ctx: SpContext, origin: SpMetadataOrigin | undefined): ResolvedServiceProvider {
  const { baseUrl, baseDir, source } = ctx;
  const kind = sp.saml && SP_METADATA_SOURCES.find((k) => sp.saml![k] !== undefined);
  if (kind !== undefined && origin === undefined) {
    throw new ConfigError(`Invalid config in ${source}:\n  - ${where}.saml.${kind}: SP metadata is read while the config loads (loadConfig, startIdp, the server); this synchronous resolution cannot read it`);
  }
  const jwt: ResolvedJwtSp | undefined = sp.jwt && {
    ...sp.jwt,
    issuer: sp.jwt.issuer ?? baseUrl,
    audience: sp.jwt.audience ?? sp.id,
    privateKeyPem: readPem(sp.jwt.privateKey ?? null, baseDir, `${where}.jwt.privateKey`, source) ?? undefined,
  };
  const saml: ResolvedSamlSp | undefined = sp.saml && resolveSaml(sp.saml, `${where}.saml`, ctx, origin);
  const origins = new Set<string>(sp.allowedOrigins.map((o) => new URL(o).origin));
  for (const u of jwt?.redirectUrls ?? []) origins.add(new URL(u).origin);
  return { ...sp, name: sp.name ?? sp.id, origins: [...origins], jwt, saml };
}


/** An SP as check-config prints it: an inline metadata document shortened, and what the IdP took from its metadata. */
export function withMetadataShown(written: ServiceProviderConfig, resolved: ResolvedServiceProvider | undefined): unknown {
  const origin = resolved?.saml?.fromMetadata;
  if (!written.saml || !origin) return written;
  const saml = resolved.saml!;
  const metadata = written.saml.metadata === undefined ? {} : { metadata: `(${written.saml.metadata.length} characters of XML: an EntityDescriptor for ${origin.metadata.entityId})` };
  return {
    ...written,
    saml: {
      ...written.saml,
      ...metadata,
      fromMetadata: {
        readFrom: origin.kind === 'metadata' ? 'saml.metadata' : `${origin.kind} ${origin.where}`,
        taken: origin.taken,
        resolved: {
          entityId: saml.entityId,
          acsUrls: saml.acsUrls,
          acs: saml.acs,
          nameIdFormat: saml.nameIdFormat,
          sloUrl: saml.sloUrl,
          requestsMustBeSigned: saml.requestSigningCert !== null,
          requestSigningCertificates: saml.requestSigningCerts.length,
          encryptionCert: saml.encryptionCert === null ? null : '(a certificate)',
          keyEncryptionAlgorithm: saml.keyEncryptionAlgorithm,
        },
        summary: summarizeSpMetadata(origin.metadata),
      },
    },
  };
}

