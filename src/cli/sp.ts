/**
 * `mock-idp sp import <file|url> [--id ID]`: registers a SAML SP from its own
 * metadata. The document is read (or fetched) here and registered with its text
 * as `saml.metadata`: in the data directory's store (as `users add` does; a
 * server started on it, or with store: redis every running replica, has it), or
 * with --url through a running IdP's control API (POST /api/service-providers).
 *
 * Exit codes, as the other commands: 0 registered; 2 a wrong command line,
 * metadata that cannot be used, an id taken, or what the server's config must
 * change; 3 the server could not be reached; 1 any other answer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fetchMetadataText, parseSpMetadataOnce } from '../config/sp-metadata.js';
import { isNetworkFailure, networkReason } from '../conformance/reach.js';
import { IdpError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { samlEndpoints } from '../saml/metadata.js';
import { SpMetadataError, summarizeSpMetadata, type SpMetadata } from '../saml/sp-metadata.js';
import { COMMON_OPTIONS, OFFLINE_OPTIONS, UsageError, offlineServices, parse } from './args.js';
import { answerMessage, idpApiUrl } from './remote.js';

const SP_HELP = `Usage: mock-idp sp import <FILE|URL> [--id ID] [options]

Registers a SAML service provider from its metadata (an EntityDescriptor): its
entity ID, AssertionConsumerServices, SingleLogoutService, certificates,
NameIDFormat and AuthnRequestsSigned are taken from it. The metadata is
validated against the SAML metadata schema first.

  --id ID              the SP's id in mock-idp (default: made from its entityID)
  --url URL            register it with the IdP running at URL (its control API)
                       instead of in the data directory's store
  --admin-token T      with --url: the IdP's adminToken (env MOCK_IDP_ADMIN_TOKEN)

Without --url the SP is kept in the data directory's store and a server started
on it has it (with store: redis, every running replica has it at once).

Options:
${COMMON_OPTIONS}`;

const SP_OPTIONS = {
  ...OFFLINE_OPTIONS,
  id: { type: 'string' },
  url: { type: 'string' },
  'admin-token': { type: 'string' },
} as const;

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TIMEOUT_MS = 30_000;

/** An id for the SP from its entityID: the host and path of a URL, or the URN's last part, as letters, digits, ".", "_" and "-". */
export function idFromEntityId(entityId: string): string {
  let base = entityId;
  try {
    const u = new URL(entityId);
    base = u.protocol === 'urn:' ? u.pathname.split(':').pop()! : `${u.host}${u.pathname}`;
  } catch {
    // not a URL: used as it is
  }
  const id = base
    .replace(/\/(saml2?|shibboleth|metadata|sp|mellon)?\/?$/i, '')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+|-+$/g, '')
    .slice(0, 64);
  return ID_PATTERN.test(id) ? id : 'sp';
}

async function readDocument(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    try {
      return await fetchMetadataText(source);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const file = path.resolve(source);
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${file} does not exist (give a metadata file or an http(s) URL)` : `cannot read ${file} (${code ?? 'error'})`);
  }
  if (size > LIMITS.spMetadataBytes) throw new UsageError(`${file} is larger than ${LIMITS.spMetadataBytes} bytes, the limit of SP metadata`);
  return fs.readFileSync(file, 'utf8');
}

function report(id: string, md: SpMetadata, where: string, idpMetadataUrl: string): string {
  return [
    `Registered the SAML service provider "${id}" ${where}, from its metadata:`,
    ...summarizeSpMetadata(md).map((line) => `  ${line}`),
    `Give the SP this IdP's metadata: ${idpMetadataUrl} (or ${idpMetadataUrl}/${id}, set as this SP is)`,
    '',
  ].join('\n');
}

export async function sp(args: string[]): Promise<number> {
  const { values, positionals } = parse({ args, options: SP_OPTIONS, allowPositionals: true });
  if (values.help) {
    process.stdout.write(SP_HELP);
    return 0;
  }
  const [action, source, ...extra] = positionals;
  if (action !== 'import') throw new UsageError(action === undefined ? 'sp takes import <FILE|URL>' : `sp takes import, not "${action}"`);
  if (source === undefined) throw new UsageError('sp import needs the SP\'s metadata: a FILE or an http(s) URL');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (values.id !== undefined && !ID_PATTERN.test(values.id)) throw new UsageError(`--id must be 1-64 letters, digits, ".", "_" or "-", not "${values.id}"`);
  if (values.url === undefined && values['admin-token'] !== undefined) throw new UsageError('--admin-token goes with --url');

  const text = await readDocument(source);
  let md: SpMetadata;
  try {
    md = (await parseSpMetadataOnce(text, source)).metadata;
  } catch (err) {
    if (err instanceof SpMetadataError) throw new UsageError(`the metadata cannot be used: ${err.message}`);
    throw err;
  }
  const id = values.id ?? idFromEntityId(md.entityId);
  const input = { id, saml: { metadata: text } };

  if (values.url !== undefined) {
    const local = (['config', 'data-dir'] as const).find((o) => values[o] !== undefined);
    if (local) throw new UsageError(`--url registers the SP with the IdP running there; --${local} is for the data directory's store instead`);
    return importRemote(values.url, values['admin-token'] ?? (process.env.MOCK_IDP_ADMIN_TOKEN || undefined), input, md);
  }
  const services = await offlineServices(values);
  try {
    await services.changes.editServiceProviders((list) => {
      if (list.some((s) => s.id === id)) throw new IdpError('conflict', `A service provider with the id ${id} already exists; choose another with --id.`);
      return [...list, input];
    });
    process.stdout.write(report(id, md, `in the store of ${services.config.dataDir}`, samlEndpoints(services.config.baseUrl).metadata));
    return 0;
  } catch (err) {
    if (err instanceof IdpError && err.code === 'conflict') throw new UsageError(err.message);
    throw err;
  } finally {
    await services.close();
  }
}

async function importRemote(url: string, token: string | undefined, input: { id: string; saml: { metadata: string } }, md: SpMetadata): Promise<number> {
  const endpoint = idpApiUrl(url, 'api/service-providers');
  const fail = (code: number, message: string): number => {
    process.stderr.write(`mock-idp: ${message}\n`);
    return code;
  };
  let res: Response;
  try {
    res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(input),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    if (!isNetworkFailure(err)) throw err;
    return fail(3, `cannot reach the IdP at ${url} (${networkReason(err, TIMEOUT_MS)}): is it running there? Nothing was registered.`);
  }
  if (res.status === 201) {
    await res.body?.cancel();
    process.stdout.write(report(input.id, md, `with the IdP at ${url}`, new URL('../saml/metadata', endpoint).href));
    return 0;
  }
  const { message } = await answerMessage(res);
  if (res.status === 401) return fail(2, `the IdP at ${url} ${token ? 'refused the admin token' : 'needs its admin token'} (401: ${message}): give its adminToken with --admin-token or MOCK_IDP_ADMIN_TOKEN.`);
  if (res.status === 404 && /control API is off/.test(message)) return fail(2, `the control API of the IdP at ${url} is off (404): start it with adminToken in its config (or MOCK_IDP_ADMIN_TOKEN).`);
  if (res.status === 409 || res.status === 400) return fail(2, `the IdP at ${url} did not register the SP (${res.status}): ${message}`);
  return fail(1, `the IdP at ${url} answered ${res.status} to POST /api/service-providers: ${message}`);
}
