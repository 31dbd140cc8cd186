/**
 * The shared bootstrap of the tests: an IdP (and the demo SP) on free loopback
 * ports with a fresh data directory, configured like the demo.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { resolveConfigWithMetadata, type ResolvedConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { startAll, type Running } from '../../src/server.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import type { Clock } from '../../src/clock.js';

export const HS_SECRET = 'test-shared-secret-0123456789abcdef';
/** The Shared Token of the `messenger` SP (Secure Messenger), as in config/demo.yaml. */
export const MESSENGER_SHARED_TOKEN = 'demo-messenger-shared-token-CHANGE-ME-0123';
export const MESSENGER_ID = 'ea5380a4-77c1-436e-a47a-37fd2c8af550';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'mock-idp-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A config like the demo's, on the given ports. */
export function demoLikeConfig(idpPort: number, spPort: number, dataDir: string): ConfigInput {
  const idp = `http://localhost:${idpPort}`;
  const sp = `http://localhost:${spPort}`;
  return {
    baseUrl: idp,
    port: idpPort,
    host: '127.0.0.1',
    dataDir,
    passwordHashCost: 10,
    users: [
      {
        email: 'alice@example.com',
        password: 'alice-password',
        name: 'Alice Agent',
        attributes: { siteId: '10000', agentId: '1001', groups: ['admins', 'agents'], phone: '+1 555 0101', company: 'Example Shop', city: 'Springfield', country: 'US' },
      },
      { email: 'bob@example.com', password: 'bob-password', name: 'Bob Builder', attributes: { siteId: '10000', agentId: '1002' } },
      { email: 'carol@example.com', password: 'carol-password', name: 'Carol Inactive' },
      { email: 'dave@example.com', password: 'dave-password', name: 'Dave Disabled', disabled: true },
      { email: 'erin@example.com', password: 'erin-password' },
    ],
    serviceProviders: [
      {
        id: 'comm100',
        name: 'Comm100 (test)',
        logoutUrl: `${sp}/`,
        jwt: {
          redirectUrls: [`${sp}/sso/jwt/consumer`],
          algorithm: 'HS256',
          secret: HS_SECRET,
          issuer: 'jwt server',
          audience: 'Comm100',
          subject: 'comm100',
          ttlSeconds: 1800,
          claims: { name: 'name', siteId: 'siteId' },
        },
      },
      {
        id: 'desk',
        name: 'Desk (test)',
        logoutUrl: `${sp}/desk/`,
        jwt: {
          redirectUrls: [`${sp}/desk/sso/jwt/consumer`],
          algorithm: 'RS256',
          audience: 'desk',
          delivery: 'post',
          claims: { agentId: 'agentId', groups: 'groups' },
          identityClaim: 'identity',
        },
      },
      {
        id: 'es',
        jwt: { redirectUrls: ['https://es.example.test/consumer'], algorithm: 'ES256', subject: '{email}' },
      },
      {
        id: 'messenger',
        name: 'Secure Messenger (test website)',
        jwt: {
          redirectUrls: [`${sp}/securemessage/widget`],
          algorithm: 'HS256',
          secret: MESSENGER_SHARED_TOKEN,
          audience: 'messenger',
          ttlSeconds: 600,
          identityClaim: 'identity',
          claims: { 'comm100.name': 'name', 'comm100.email': 'email', 'comm100.phone': 'phone', 'comm100.company': 'company', 'comm100.city': 'city', 'comm100.country': 'country' },
        },
      },
    ],
    console: { embedUrl: `${sp}/agent` },
    website: { sp: 'messenger', installUrl: `${sp}/securemessage/install.js`, authorizeUrl: `${sp}/securemessage/authorize`, siteId: '10000', messengerId: MESSENGER_ID },
    demo: {
      enabled: true,
      spPort,
      spBaseUrl: sp,
      siteId: '10000',
      agents: [
        { email: 'alice@example.com', name: 'Alice Agent', active: true, admin: true, password: 'alice-sp-password' },
        { email: 'bob@example.com', name: 'Bob Builder', active: true, password: 'bob-sp-password' },
        { email: 'carol@example.com', name: 'Carol Inactive', active: false },
      ],
    },
  };
}

export interface TestIdp {
  url: string;
  spUrl: string;
  config: ResolvedConfig;
  running: Running;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestIdp(
  edit: (c: ConfigInput) => ConfigInput = (c) => c,
  options: { clock?: Clock; dataDir?: string; ports?: [number, number]; logger?: Logger } = {},
): Promise<TestIdp> {
  const [idpPort, spPort] = options.ports ?? [await freePort(), await freePort()];
  const dataDir = options.dataDir ?? tempDir();
  // With the SPs' metadata read (metadata, metadataFile relative to the working directory, metadataUrl), as the server reads it.
  const config = await resolveConfigWithMetadata(edit(demoLikeConfig(idpPort, spPort, dataDir)), { source: 'test config', baseDir: process.cwd() });
  const running = await startAll(config, { logger: options.logger ?? silentLogger, ...(options.clock ? { clock: options.clock } : {}) });
  return {
    url: config.baseUrl,
    spUrl: config.demo.spBaseUrl,
    config,
    running,
    dataDir,
    close: () => running.close(),
  };
}
