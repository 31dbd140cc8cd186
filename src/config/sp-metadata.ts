/**
 * A SAML SP registered from its own metadata: reading the document (inline, a
 * file, or a URL), and filling the SP's saml keys that the config does not give
 * from what the metadata says. Explicit config keys always win.
 *
 * A document is parsed and validated once (src/saml/sp-metadata.ts); a URL's
 * document is kept in a `MetadataCache` so that changing the SP list (the
 * control API) does not fetch every URL again, and the refresh replaces it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { KEY_TRANSPORT_ALGORITHMS } from '../saml/algorithms.js';
import { BINDINGS } from '../saml/constants.js';
import { parseSpMetadata, SpMetadataError, type MetadataAcs, type SpMetadata } from '../saml/sp-metadata.js';
import type { SamlSpConfig } from './schema.js';
import { NAMEID_FORMATS, SUPPORTED_NAMEID_FORMATS, type KeyEncryptionAlgorithmName, type NameIdFormatUri } from './sp-schema.js';

/** An AssertionConsumerService of an SP: from its metadata, or one of its acsUrls (HTTP-POST, index = position, the first the default). */
export interface AcsEndpoint {
  url: string;
  binding: string;
  index: number;
  isDefault: boolean;
}

/** Where an SP's metadata came from and what the IdP took from it (shown on the SP's page and by check-config). */
export interface SpMetadataOrigin {
  kind: 'metadata' | 'metadataFile' | 'metadataUrl';
  /** The file's absolute path, the URL, or "inline". */
  where: string;
  /** When it was read or fetched (ms since the epoch). */
  readAt: number;
  /** The SHA-256 of the document's text (hex), to tell a changed document on refresh. */
  digest: string;
  /** The saml keys filled from the metadata (those not given in the config). */
  taken: string[];
  metadata: SpMetadata;
}

/** The documents of metadataUrls, by URL, as last fetched. */
export type MetadataCache = Map<string, SpMetadataOrigin>;

export interface MetadataContext {
  baseDir: string;
  /** Where the config came from, for messages. */
  source: string;
  /** URL documents already fetched (and where newly fetched ones are kept). */
  cache?: MetadataCache | undefined;
}

/** How long a metadataUrl may take to answer. */
export const METADATA_FETCH_TIMEOUT_MS = 10_000;

/** The key transport the IdP offers for an EncryptionMethod URI of SP metadata. */
function keyTransportOf(uri: string): KeyEncryptionAlgorithmName | undefined {
  return (Object.keys(KEY_TRANSPORT_ALGORITHMS) as KeyEncryptionAlgorithmName[]).find((name) => KEY_TRANSPORT_ALGORITHMS[name].uri === uri);
}

/** Parsed documents by the SHA-256 of their text: a change of the SP list does not validate every document again (about 0.3-1 s each). */
const parsedByDigest = new Map<string, SpMetadata>();
const PARSED_KEPT = 64;

function configError(source: string, where: string, message: string): ConfigError {
  return new ConfigError(`Invalid config in ${source}:\n  - ${where}: ${message}`);
}

/** The text of a metadataUrl: a 200 answer within the time and size limits. Throws Error with a message for people. */
export async function fetchMetadataText(url: string, timeoutMs = METADATA_FETCH_TIMEOUT_MS): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' } });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : (e.cause?.code ?? e.message);
    throw new Error(`cannot fetch ${url}: ${why}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`cannot fetch ${url}: it answered HTTP ${res.status}, not 200`);
  }
  const limit = LIMITS.spMetadataBytes;
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > limit) {
    await res.body?.cancel();
    throw new Error(`${url} answered ${declared} bytes; SP metadata is limited to ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`${url} answered more than ${limit} bytes; SP metadata is limited to ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `parseSpMetadata` once per document text: an identical document is taken from
 * the cache (its validUntil checked again). Throws SpMetadataError.
 */
export async function parseSpMetadataOnce(text: string, label: string): Promise<{ digest: string; metadata: SpMetadata }> {
  const digest = crypto.createHash('sha256').update(text).digest('hex');
  const known = parsedByDigest.get(digest);
  if (known !== undefined && (known.validUntil === undefined || known.validUntil > Date.now())) return { digest, metadata: known };
  // Parsed anew (also when the cached copy has expired since: the parser says so, precisely).
  const metadata = await parseSpMetadata(text, label);
  if (parsedByDigest.size >= PARSED_KEPT) parsedByDigest.delete(parsedByDigest.keys().next().value!);
  parsedByDigest.set(digest, metadata);
  return { digest, metadata };
}

async function originOf(kind: SpMetadataOrigin['kind'], where: string, text: string, label: string, source: string, at: string): Promise<SpMetadataOrigin> {
  try {
    const { digest, metadata } = await parseSpMetadataOnce(text, label);
    return { kind, where, readAt: Date.now(), digest, taken: [], metadata };
  } catch (err) {
    if (err instanceof SpMetadataError) throw configError(source, at, err.message);
    throw err;
  }
}

/** Reads, fetches (or takes from the cache) and parses the SP's metadata; undefined when it has none. Throws ConfigError. */
export async function readSpMetadata(c: SamlSpConfig, where: string, ctx: MetadataContext): Promise<SpMetadataOrigin | undefined> {
  // The message already names the key (`…saml.metadata: `); the parser's own label only says it is the document given there.
  if (c.metadata !== undefined) return originOf('metadata', 'inline', c.metadata, 'the document', ctx.source, `${where}.metadata`);
  if (c.metadataFile !== undefined) {
    const file = path.resolve(ctx.baseDir, c.metadataFile);
    const at = `${where}.metadataFile`;
    let text: string;
    try {
      if (fs.statSync(file).size > LIMITS.spMetadataBytes) throw configError(ctx.source, at, `${file} is larger than ${LIMITS.spMetadataBytes} bytes, the limit of SP metadata`);
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw configError(ctx.source, at, code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file} (${code ?? 'error'})`);
    }
    return originOf('metadataFile', file, text, path.basename(file), ctx.source, at);
  }
  if (c.metadataUrl !== undefined) {
    const url = c.metadataUrl;
    const cached = ctx.cache?.get(url);
    if (cached) return cached;
    const at = `${where}.metadataUrl`;
    let text: string;
    try {
      text = await fetchMetadataText(url);
    } catch (err) {
      throw configError(ctx.source, at, (err as Error).message);
    }
    const origin = await originOf('metadataUrl', url, text, url, ctx.source, at);
    ctx.cache?.set(url, origin);
    return origin;
  }
  return undefined;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
  } catch {
    return false;
  }
}

/** The default among endpoints (SAML metadata 2.2.3): the first isDefault="true", else the first without isDefault, else the first. */
function defaultFirst<T extends { isDefault: boolean | undefined }>(list: readonly T[]): T[] {
  const chosen = list.find((e) => e.isDefault === true) ?? list.find((e) => e.isDefault === undefined) ?? list[0];
  return chosen === undefined ? [] : [chosen, ...list.filter((e) => e !== chosen)];
}

/** What the SP's saml keys default to from its metadata, and which keys that fills. */
export interface FromMetadata {
  entityId: string;
  acs: AcsEndpoint[];
  acsUrls: string[];
  nameIdFormat: NameIdFormatUri | undefined;
  encryptionCert: string | null;
  keyEncryptionAlgorithm: KeyEncryptionAlgorithmName | undefined;
  requestSigningCerts: string[];
  requireSignedRequests: boolean;
  sloUrl: string | null;
}

/** Reads what the IdP uses from an SP's metadata. Throws ConfigError when it gives nothing usable. */
export function fromMetadata(md: SpMetadata, at: string, source: string): FromMetadata {
  for (const a of md.acs) {
    if (!isHttpUrl(a.location)) throw configError(source, at, `the AssertionConsumerService index ${a.index} has the Location ${JSON.stringify(a.location)}, not an absolute http(s) URL`);
  }
  const ordered = defaultFirst(md.acs);
  const defaultAcs = ordered[0];
  const acs: AcsEndpoint[] = md.acs.map((a: MetadataAcs) => ({ url: a.location, binding: a.binding, index: a.index, isDefault: a === defaultAcs }));
  const post = defaultFirst(md.acs.filter((a) => a.binding === BINDINGS.post));
  if (post.length === 0) {
    const listed = md.acs.map((a) => `${a.index}: ${a.binding}`).join(', ');
    throw configError(source, at, `the metadata lists no AssertionConsumerService with the HTTP-POST binding (it lists ${listed}); this IdP answers with HTTP-POST (${BINDINGS.post}), so give saml.acsUrls`);
  }
  const slo = md.slo.find((e) => e.binding === BINDINGS.redirect) ?? md.slo.find((e) => e.binding === BINDINGS.post);
  if (slo !== undefined && !isHttpUrl(slo.location)) throw configError(source, at, `the SingleLogoutService Location ${JSON.stringify(slo.location)} is not an absolute http(s) URL`);
  const keyTransport = md.encryptionMethods.map(keyTransportOf).find((name) => name !== undefined);
  return {
    entityId: md.entityId,
    acs,
    acsUrls: [...new Set(post.map((a) => a.location))],
    nameIdFormat: md.nameIdFormats.find((f): f is NameIdFormatUri => (SUPPORTED_NAMEID_FORMATS as readonly string[]).includes(f)),
    encryptionCert: md.encryptionCertificates[0] ?? null,
    keyEncryptionAlgorithm: keyTransport,
    requestSigningCerts: md.signingCertificates,
    requireSignedRequests: md.authnRequestsSigned === true,
    sloUrl: slo?.location ?? null,
  };
}

/** The NameID format when neither the config nor the metadata names a supported one. */
export const DEFAULT_NAMEID_FORMAT: NameIdFormatUri = NAMEID_FORMATS.emailAddress;

/** The metadataUrls of a resolved SP list, with their refresh intervals (ms). */
export function metadataUrlsOf(sps: readonly { saml?: { fromMetadata: SpMetadataOrigin | undefined; metadataRefreshSeconds: number } | undefined }[]): Map<string, number> {
  const urls = new Map<string, number>();
  for (const sp of sps) {
    const origin = sp.saml?.fromMetadata;
    if (origin?.kind !== 'metadataUrl') continue;
    const every = sp.saml!.metadataRefreshSeconds * 1000;
    urls.set(origin.where, Math.min(every, urls.get(origin.where) ?? every));
  }
  return urls;
}

/** Puts the SPs' metadataUrl documents that were read from the config into the cache. */
export function seedMetadataCache(cache: MetadataCache, sps: readonly { saml?: { fromMetadata: SpMetadataOrigin | undefined } | undefined }[]): void {
  for (const sp of sps) {
    const origin = sp.saml?.fromMetadata;
    if (origin?.kind === 'metadataUrl' && !cache.has(origin.where)) cache.set(origin.where, origin);
  }
}

export interface RefreshResult {
  /** URLs whose document changed. */
  changed: string[];
  /** URLs that could not be fetched or read, with why (the last good document is kept). */
  failed: { url: string; message: string }[];
}

/**
 * Fetches again the metadataUrls that are due (`now - readAt >= interval`) and
 * keeps the new documents in the cache. A URL that fails keeps its last good document.
 */
export async function refreshMetadataCache(cache: MetadataCache, urls: ReadonlyMap<string, number>, now: number): Promise<RefreshResult> {
  const result: RefreshResult = { changed: [], failed: [] };
  await Promise.all(
    [...urls].map(async ([url, every]) => {
      const old = cache.get(url);
      if (old && now - old.readAt < every) return;
      try {
        const text = await fetchMetadataText(url);
        const digest = crypto.createHash('sha256').update(text).digest('hex');
        if (old?.digest === digest) {
          cache.set(url, { ...old, readAt: now });
          return;
        }
        cache.set(url, await originOf('metadataUrl', url, text, url, 'the metadata refresh', url));
        result.changed.push(url);
      } catch (err) {
        result.failed.push({ url, message: err instanceof ConfigError ? err.message.replace(/^Invalid config in [^:]*:\n {2}- /, '') : (err as Error).message });
      }
    }),
  );
  return result;
}
