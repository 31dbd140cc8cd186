/**
 * The configuration schema. It is also the configuration's documentation: every
 * key carries a description and its default, and the README's reference table is
 * generated from this file (`npm run config-docs`) and checked against it by a test.
 *
 * The top-level keys are here; a user is in user-schema.ts, a service provider in
 * sp-schema.ts, the fields they share in fields.ts.
 */
import { z } from 'zod';
import { DEFAULT_KEY_ROTATION_GRACE_SECONDS } from './defaults.js';
import { emailString, httpUrl, pemOrPath } from './fields.js';
import { jwtSpSchema, samlSpSchema, serviceProviderSchema, serviceProvidersSchema } from './sp-schema.js';
import { userSchema } from './user-schema.js';

export { conformanceSchema, jwtSpSchema, NAMEID_FORMATS, samlSpSchema, serviceProviderSchema, serviceProvidersSchema } from './sp-schema.js';
export { userSchema } from './user-schema.js';
export { DEFAULT_KEY_ROTATION_GRACE_SECONDS } from './defaults.js';

/** The demo messenger's id (demo.messenger.messengerId): fixed, so the demo's installation code and tests can name it. */
export const DEMO_MESSENGER_ID = 'ea5380a4-77c1-436e-a47a-37fd2c8af550';

export const configSchema = z
  .strictObject({
    baseUrl: httpUrl.default('http://localhost:8080').describe('Public URL of the IdP (env BASE_URL overrides).'),
    port: z.number().int().min(0).max(65535).optional().describe("Port to listen on (env PORT overrides). Default: baseUrl's port, else 8080."),
    host: z.string().min(1).default('localhost').describe('Interface to listen on (env HOST overrides); 0.0.0.0 in the container.'),
    dataDir: z.string().min(1).default('./data').describe('Data directory for the SQLite store (env DATA_DIR overrides); ":memory:" keeps the store in memory (the library\'s default).'),
    keysDir: z
      .string()
      .min(1)
      .optional()
      .describe("Folder of signing keys (env KEYS_DIR overrides). Default: the package's keys/ with its labelled development keys; missing keys are generated there."),
    tls: z
      .strictObject({
        cert: pemOrPath.optional().describe('Server certificate (PEM or path); with key, the IdP serves https.'),
        key: pemOrPath.optional().describe('Server private key (PEM or path).'),
        selfSigned: z
          .boolean()
          .default(false)
          .describe('Serve https with a self-signed certificate for localhost and 127.0.0.1, generated under keysDir (as `--https` does).'),
      })
      .optional()
      .superRefine((t, ctx) => {
        if (t && (t.cert === undefined) !== (t.key === undefined)) {
          ctx.addIssue({ code: 'custom', path: [t.cert === undefined ? 'cert' : 'key'], message: 'cert and key go together' });
        }
        if (t && t.cert === undefined && !t.selfSigned) {
          ctx.addIssue({ code: 'custom', path: ['cert'], message: 'give cert and key, or selfSigned: true' });
        }
      })
      .describe('HTTPS. Cookies become Secure and baseUrl uses https.'),
    keyRotationGraceSeconds: z
      .number()
      .int()
      .min(0)
      .max(31_536_000)
      .default(DEFAULT_KEY_ROTATION_GRACE_SECONDS)
      .describe('How long a key replaced by `mock-idp keys rotate` (or POST /api/keys/rotate) stays in the JWKS and SAML metadata, so SPs that cache keys keep working.'),
    sessionSecret: z
      .string()
      .min(32, 'must be at least 32 characters')
      .optional()
      .describe('Secret signing the session cookie (env SESSION_SECRET overrides). Generated once and kept in the data directory when absent.'),
    store: z
      .enum(['sqlite', 'redis'])
      .optional()
      .describe(
        'Where the IdP keeps what several replicas must share: sessions, pending SAML requests, review holds, replay marks, login throttle counts, the flow history, run-time users and service providers, the signing keys. sqlite (the default): the data directory, for one process or processes on one data directory; redis: redisUrl, for replicas behind a load balancer.',
      ),
    sessionStore: z.enum(['sqlite', 'redis']).optional().describe('The former name of store, still read (give one of the two).'),
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional()
      .describe('Redis for store: redis (env REDIS_URL overrides), e.g. redis://127.0.0.1:6379/0.'),
    sessionTtlSeconds: z.number().int().min(60).max(2592000).default(28800).describe('Lifetime of an IdP sign-in session.'),
    passwordHashCost: z
      .number()
      .int()
      .min(10)
      .max(20)
      .default(14)
      .describe('log2 of the scrypt cost N. Lower is faster for test suites, higher is closer to production.'),
    loginThrottle: z
      .strictObject({
        enabled: z.boolean().default(true).describe('Throttle failed sign-ins. Turn off only for suites that test wrong passwords in bulk.'),
        maxFailuresPerAccount: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(5)
          .describe('Failed sign-ins for one email (known or not) within windowSeconds before that account is locked for lockoutSeconds. A successful sign-in clears the count.'),
        maxFailuresPerIp: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(50)
          .describe('Failed sign-ins from one client address within windowSeconds before that address is locked for lockoutSeconds. Not cleared by a success (one valid account must not unlock unlimited guessing).'),
        windowSeconds: z.number().int().min(1).max(86_400).default(900).describe('How long failed sign-ins are counted: the window starts at the first failure.'),
        lockoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(86_400)
          .default(900)
          .describe('How long a locked account or address is answered 429 (with Retry-After) without checking the password.'),
      })
      .prefault({})
      .describe('Login abuse controls: failed sign-ins are counted per account and per client address in the SQLite store (shared by every process on the data directory, kept across restarts), or in Redis with store: redis (shared by every replica).'),
    adminToken: z
      .string()
      .min(16, 'must be at least 16 characters')
      .optional()
      .describe('Turns on the control API under /api: clients send `Authorization: Bearer <adminToken>` (env MOCK_IDP_ADMIN_TOKEN overrides).'),
    allowLoginHint: z
      .boolean()
      .default(false)
      .describe('Headless sign-in: `login_hint=<email>` on /sso/jwt/… and /saml/sso signs that user in without the form. For test suites only; warned about at start.'),
    showUserPicker: z
      .boolean()
      .default(false)
      .describe('The login form lists the users: a click signs one in without a password (typing still works). On in the demo config.'),
    allowFaults: z
      .boolean()
      .default(false)
      .describe(
        'Honour `fault=` on the sign-in URLs (/sso/jwt/…, /saml/sso, /saml/idp-init/…) to send one deliberately broken token or Response. Off: such a request is refused with 400. The review page offers faults either way.',
      ),
    flowHistorySize: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(1000)
      .describe('How many single sign-ons the flow history (/flows, GET /api/events) keeps, newest first; 0 keeps none. In memory: a restart empties it.'),
    clock: z
      .union([z.iso.datetime({ offset: true }), z.number().int()])
      .optional()
      .describe('Deterministic mode: a fixed time (ISO 8601, e.g. "2030-01-01T00:00:00Z") or an offset in seconds from the real time, used for every iat/exp and SAML timestamp.'),
    deterministicSeed: z
      .string()
      .min(1)
      .optional()
      .describe('Deterministic mode: jti values, SAML IDs and session indexes derive from this seed (in order), so with a fixed clock the same calls give byte-for-byte the same tokens and assertions.'),
    users: z.array(userSchema).default([]).describe('Users who can sign in.'),
    serviceProviders: serviceProvidersSchema.default([]).describe('Registered service providers.'),
    saml: z
      .strictObject({
        entityId: z.string().min(1).optional().describe('IdP entity ID. Default: <baseUrl>/saml/metadata.'),
      })
      .prefault({})
      .describe('IdP-wide SAML settings.'),
    console: z
      .strictObject({
        embedUrl: httpUrl.optional().describe('A service provider page the "Vincall"-style console embeds in an iframe after login.'),
        title: z.string().min(1).max(128).default('Vincall console').describe('Title of the console page.'),
      })
      .prefault({})
      .describe('The third-party console on the IdP home page (extended authentication).'),
    website: z
      .strictObject({
        sp: z
          .string()
          .min(1)
          .optional()
          .describe("The JWT service provider (its id) whose Contact JWT /website mints for the signed-in customer. Without it /website is off (404)."),
        installUrl: httpUrl.optional().describe('The messenger\'s installation script, put in the snippet as <script src>; its origin is allowed for scripts and frames on /website only. Required with sp.'),
        authorizeUrl: httpUrl
          .optional()
          .describe('The messenger\'s Authorize API: for /website?variant=comm100-jwt the IdP POSTs {siteId, messengerId, contactJwt, isPreview: false} there and puts the accessToken in the snippet as data-comm100-jwt.'),
        siteId: z.string().min(1).optional().describe("The snippet's data-site-id. Default: demo.siteId."),
        messengerId: z.string().min(1).optional().describe("The snippet's data-messenger-id. Required with sp."),
        title: z.string().min(1).max(128).default('Example Shop').describe('Title of the customer website page.'),
      })
      .prefault({})
      .superRefine((w, ctx) => {
        if (w.sp === undefined) return;
        if (w.installUrl === undefined) ctx.addIssue({ code: 'custom', path: ['installUrl'], message: 'is required with sp' });
        if (w.messengerId === undefined) ctx.addIssue({ code: 'custom', path: ['messengerId'], message: 'is required with sp' });
      })
      .describe('The customer website at /website: the signed-in user is a customer, and the page embeds a messenger with their Contact JWT (Secure Messenger).'),
    demo: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Start the demo service provider beside the IdP.'),
        spPort: z.number().int().min(0).max(65535).default(8081).describe('Port of the demo SP (env DEMO_SP_PORT overrides).'),
        spBaseUrl: httpUrl
          .default('http://localhost:8081')
          .describe('Public URL of the demo SP. Default: http://localhost:<spPort>. `${demo.spBaseUrl}` at the start of a URL under serviceProviders, console or website stands for it, so the demo SP\'s registered URLs move with its port.'),
        siteId: z.string().min(1).default('10000').describe('The demo SP\'s site id (as in LoginSSO.aspx?siteid=).'),
        agents: z
          .array(
            z.strictObject({
              email: emailString.describe('The agent\'s email, matched against the token\'s `email` claim.'),
              name: z.string().min(1).optional().describe('Display name at the SP.'),
              active: z.boolean().default(true).describe('An inactive agent is refused with the Comm100 message.'),
              admin: z
                .boolean()
                .default(false)
                .describe("The account administrator: with Agent SSO enabled, only an admin may sign in with the SP's own email and password (its /login form); a non-admin is sent to SSO with Comm100's message."),
              password: z
                .string()
                .min(1)
                .max(256)
                .optional()
                .describe("The agent's password at the SP itself (its own email and password form), in plain text: a demo value, never logged. Without it the agent can sign in only with SSO."),
            }),
          )
          .default([])
          .describe("The demo SP's own agent list (an SSO email must match an active agent)."),
        desk: z
          .strictObject({
            authenticationServiceName: z
              .string()
              .min(1)
              .max(64)
              .optional()
              .describe('The Desk-style SP (the demo SP\'s JWT tenant mounted at /desk) offers "Login with <this name>" on its sign-in page, as Desk does with the Authentication Service Name. Without it the page offers only the site-ID form.'),
          })
          .prefault({})
          .describe('The Desk-style SP of the demo SP.'),
        messenger: z
          .strictObject({
            siteId: z.string().regex(/^\d+$/, 'must be a number (digits)').optional().describe('The site the messenger belongs to (the Authorize API\'s `siteId`). Default: demo.siteId.'),
            messengerId: z.uuid().default(DEMO_MESSENGER_ID).describe('The messenger\'s id (the Authorize API\'s `messengerId`, the installation code\'s data-messenger-id).'),
            spId: z.string().min(1).default('messenger').describe('The IdP service provider that mints the Contact JWT; its jwt settings give the defaults below.'),
            validation: z
              .enum(['sharedToken', 'publicKey', 'jwks'])
              .optional()
              .describe('How the messenger verifies a Contact JWT: sharedToken (HS256), publicKey (RS256 with publicKey) or jwks (RS256 with the keys at jwksUrl). Default: sharedToken when the spId SP signs HS256, else jwks.'),
            sharedToken: z.string().min(1).optional().describe('The Shared Token (HS256 secret, as raw UTF-8 bytes). Default: the spId SP\'s jwt.secret. The settings page can reset it.'),
            publicKey: pemOrPath.optional().describe('validation: publicKey: the website\'s RS256 public key (SPKI PEM, or a path to one).'),
            jwksUrl: httpUrl.optional().describe('validation: jwks: where the website publishes its keys. Default: <baseUrl>/.well-known/jwks.json (the IdP\'s JWKS).'),
            identityKey: z.string().min(1).optional().describe('The claim that identifies the customer. Default: the spId SP\'s jwt.identityClaim, else "identity".'),
            allowedUrls: z
              .array(httpUrl)
              .min(1)
              .optional()
              .describe('"Display Secure Messenger on specified URLs only": a page whose URL starts with one of these may embed the widget (frame-ancestors lists their origins). Default: [<baseUrl>/website].'),
            accessTokenTtlSeconds: z.number().int().min(1).max(3600).default(600).describe('Lifetime of the Comm100 JWT the Authorize API answers (at most 3600).'),
            accessTokenSecret: z
              .string()
              .min(32, 'must be at least 32 characters')
              .optional()
              .describe('The demo SP\'s own HS256 secret for the Comm100 JWT. Default: generated at start.'),
          })
          .prefault({})
          .superRefine((m, ctx) => {
            if (m.validation === 'publicKey' && m.publicKey === undefined) ctx.addIssue({ code: 'custom', path: ['publicKey'], message: 'is required with validation: publicKey' });
          })
          .describe('The Secure Messenger the demo SP plays (Comm100\'s side of a Contact JWT): the widget at /securemessage/widget and the Authorize API at POST /securemessage/authorize.'),
      })
      .prefault({})
      .describe('The demo service provider (Comm100-like). Off with a user config unless enabled.'),
  })
  .superRefine((c, ctx) => {
    if (c.store !== undefined && c.sessionStore !== undefined && c.store !== c.sessionStore) {
      ctx.addIssue({ code: 'custom', path: ['sessionStore'], message: `is the former name of store and says ${c.sessionStore} where store says ${c.store}: give only store` });
    } else if ((c.store ?? c.sessionStore) === 'redis' && !c.redisUrl) {
      ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: 'is required when store is redis (or set REDIS_URL)' });
    }
    const emails = new Map<string, number>();
    c.users.forEach((u, i) => {
      const key = u.email.normalize('NFKC').toLowerCase();
      const prev = emails.get(key);
      if (prev !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['users', i, 'email'], message: `duplicates users[${prev}].email (${u.email})` });
      }
      emails.set(key, i);
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type UserConfig = z.output<typeof userSchema>;
export type ServiceProviderConfig = z.output<typeof serviceProviderSchema>;
export type JwtSpConfig = z.output<typeof jwtSpSchema>;
export type SamlSpConfig = z.output<typeof samlSpSchema>;
