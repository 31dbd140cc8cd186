/** Shared setup of the SAML HTTP tests: an IdP with SAML SPs on a free port, and page readers. */
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import type { Response } from 'supertest';
import type { ConfigInput } from '../../src/config/schema.js';
import { startTestIdp, type TestIdp } from '../helpers/idp.js';
import { hiddenField } from '../helpers/http.js';
import type { Clock } from '../../src/clock.js';
import { SP_ENCRYPTION, SP_SIGNING } from './support.js';

export const ACS = 'https://sp.example.test/saml/acs';
export const ACS_2 = 'https://sp.example.test/saml/acs2';
export const SP_SLO = 'https://sp.example.test/saml/slo';
export const SIGNER_ACS = 'https://signer.example.test/acs';
export const SIGNER_SLO = 'https://signer.example.test/slo';

type SpInput = NonNullable<ConfigInput['serviceProviders']>[number];

/** The SAML SPs of the HTTP tests, added to the demo-like config. */
export function samlSps(): SpInput[] {
  return [
    {
      id: 'saml-sp',
      name: 'SAML SP (test)',
      saml: { entityId: 'https://sp.example.test/metadata', acsUrls: [ACS, ACS_2], sloUrl: SP_SLO, signResponse: true },
    },
    {
      id: 'signer',
      name: 'Signing SP (test)',
      saml: {
        entityId: 'https://signer.example.test/metadata',
        acsUrls: [SIGNER_ACS],
        sloUrl: SIGNER_SLO,
        requestSigningCert: SP_SIGNING.certificatePem,
        encryptAssertion: true,
        encryptionCert: SP_ENCRYPTION.certificatePem,
      },
    },
    { id: 'no-slo', saml: { entityId: 'https://no-slo.example.test', acsUrls: ['https://no-slo.example.test/acs'] } },
  ];
}

/** `dataDir` and `ports`: to start again an IdP that was stopped (the same data directory and base URL). */
export function startSamlIdp(options: { clock?: Clock; edit?: (c: ConfigInput) => ConfigInput; dataDir?: string; ports?: [number, number] } = {}): Promise<TestIdp> {
  return startTestIdp((c) => (options.edit ?? ((x) => x))({ ...c, serviceProviders: [...(c.serviceProviders ?? []), ...samlSps()] }), {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    ...(options.ports ? { ports: options.ports } : {}),
  });
}

export interface AutoPost {
  action: string;
  fields: Record<string, string>;
  /** SAMLResponse or SAMLRequest, decoded. */
  xml: string;
}

/** Reads the auto-POST page the IdP sends a message with. */
export function autoPost(res: Response): AutoPost {
  assert.equal(res.status, 200, `expected the auto-POST page, got ${res.status}: ${res.text.slice(0, 300)}`);
  const action = /<form method="post" action="([^"]+)" id="saml-post" data-auto-submit>/.exec(res.text)?.[1];
  assert.ok(action, 'the page has the auto-POST form');
  const fields: Record<string, string> = {};
  for (const name of ['SAMLResponse', 'SAMLRequest', 'RelayState']) {
    const v = hiddenField(res.text, name);
    if (v !== undefined) fields[name] = v;
  }
  const message = fields.SAMLResponse ?? fields.SAMLRequest;
  assert.ok(message, 'the form carries a SAML message');
  return { action: action.replace(/&amp;/g, '&'), fields, xml: Buffer.from(message, 'base64').toString('utf8') };
}

/** The XML of an HTTP-Redirect message in a Location. */
export function redirectMessage(location: string, param: 'SAMLRequest' | 'SAMLResponse'): { url: URL; xml: string } {
  const url = new URL(location);
  const value = url.searchParams.get(param);
  assert.ok(value, `the Location carries ${param}`);
  return { url, xml: zlib.inflateRawSync(Buffer.from(value, 'base64')).toString('utf8') };
}
