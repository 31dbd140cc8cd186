/** Shared setup of the SAML tests: fixtures, a fixed clock, a test config, test keys. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { fixedClock, type Clock } from '../../src/clock.js';
import { resolveConfig, type ResolvedConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { sequentialIds, type IdGenerator } from '../../src/saml/ids.js';
import { findSpByEntityId, type SamlServiceProvider } from '../../src/saml/inbound.js';
import type { SamlIdpContext, SamlUser } from '../../src/saml/response.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'saml');

export function fixture(name: string): string {
  return fs.readFileSync(path.join(FIXTURES, name), 'utf8');
}

/** The fixtures' IssueInstant plus 30 seconds. */
export const NOW = Date.parse('2030-01-01T00:00:30Z');
export const clock: Clock = fixedClock(NOW);

export const IDP_BASE_URL = 'https://idp.example.test';
export const IDP_ENTITY_ID = `${IDP_BASE_URL}/saml/metadata`;
export const SSO_URL = `${IDP_BASE_URL}/saml/sso`;
export const SLO_URL = `${IDP_BASE_URL}/saml/slo`;

export interface TestKeyPair {
  privateKeyPem: string;
  certificatePem: string;
  certificateBase64: string;
}

export function keyPair(name: 'idp-signing' | 'sp-signing' | 'sp-encryption' | 'unrelated'): TestKeyPair {
  const certificatePem = fixture(`${name}.crt.pem`);
  return {
    privateKeyPem: fixture(`${name}.key.pem`),
    certificatePem,
    certificateBase64: new crypto.X509Certificate(certificatePem).raw.toString('base64'),
  };
}

export const IDP_KEYS = keyPair('idp-signing');
export const SP_SIGNING = keyPair('sp-signing');
export const SP_ENCRYPTION = keyPair('sp-encryption');
export const UNRELATED = keyPair('unrelated');

export const alice: SamlUser = {
  email: 'alice@example.com',
  name: 'Alice Agent',
  attributes: { siteId: '10000', agentId: '1001', roles: ['admin', 'agent'] },
};

type SamlInput = NonNullable<NonNullable<ConfigInput['serviceProviders']>[number]['saml']>;

/**
 * A resolved config with the SPs the tests use:
 * - comm100: entity ID "comm100", two ACS URLs, an sloUrl, defaults otherwise;
 * - signer: its requests must be signed with the sp-signing key;
 * - jwt-only: no SAML at all.
 * `overrides` replaces keys of comm100's saml section.
 */
export function testConfig(overrides: Partial<SamlInput> = {}, baseUrl = IDP_BASE_URL): ResolvedConfig {
  return resolveConfig(
    {
      baseUrl,
      serviceProviders: [
        {
          id: 'comm100',
          saml: {
            entityId: 'comm100',
            acsUrls: ['https://sp.example.test/acs', 'https://sp.example.test/acs/second'],
            sloUrl: 'https://sp.example.test/slo',
            ...overrides,
          },
        },
        {
          id: 'signer',
          saml: {
            entityId: 'https://signer.example.test/metadata',
            acsUrls: ['https://signer.example.test/acs'],
            sloUrl: 'https://signer.example.test/slo',
            requestSigningCert: SP_SIGNING.certificatePem,
          },
        },
        { id: 'jwt-only', jwt: { redirectUrls: ['https://jwt.example.test/consumer'], secret: 'a-test-secret-of-sufficient-length' } },
      ],
    },
    { source: 'test config', baseDir: FIXTURES },
  );
}

export function spOf(config: ResolvedConfig, entityId: string): SamlServiceProvider {
  const sp = findSpByEntityId(config.serviceProviders, entityId);
  if (!sp) throw new Error(`no SP ${entityId} in the test config`);
  return sp;
}

export function idpContext(options: { clock?: Clock; newId?: IdGenerator; entityId?: string } = {}): SamlIdpContext {
  return {
    entityId: options.entityId ?? IDP_ENTITY_ID,
    credentials: IDP_KEYS,
    clock: options.clock ?? clock,
    newId: options.newId ?? sequentialIds(),
  };
}

/** A raw HTTP-Redirect query string, built by hand (not with the code under test). */
export function redirectQuery(
  xml: string,
  options: {
    param?: 'SAMLRequest' | 'SAMLResponse';
    relayState?: string;
    sign?: { privateKeyPem: string; sigAlg?: string; hash?: string };
    deflated?: Buffer;
  } = {},
): string {
  const param = options.param ?? 'SAMLRequest';
  const deflated = options.deflated ?? zlib.deflateRawSync(Buffer.from(xml, 'utf8'));
  let query = `${param}=${encodeURIComponent(deflated.toString('base64'))}`;
  if (options.relayState !== undefined) query += `&RelayState=${encodeURIComponent(options.relayState)}`;
  if (options.sign) {
    const sigAlg = options.sign.sigAlg ?? 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
    query += `&SigAlg=${encodeURIComponent(sigAlg)}`;
    const signature = crypto.sign(options.sign.hash ?? 'sha256', Buffer.from(query), options.sign.privateKeyPem);
    query += `&Signature=${encodeURIComponent(signature.toString('base64'))}`;
  }
  return query;
}

/** The form body of an HTTP-POST message. */
export function postBody(xml: string, relayState?: string, param: 'SAMLRequest' | 'SAMLResponse' = 'SAMLRequest'): Record<string, unknown> {
  const body: Record<string, unknown> = { [param]: Buffer.from(xml, 'utf8').toString('base64') };
  if (relayState !== undefined) body.RelayState = relayState;
  return body;
}
