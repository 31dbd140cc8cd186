/**
 * The configuration schema. It is also the configuration's documentation: every
 * key carries a description and its default, and the README's reference table is
 * generated from this file (`npm run config-docs`) and checked against it by a test.
 */
import { z } from 'zod';

const RESERVED_CLAIMS = ['iss', 'aud', 'sub', 'jti', 'iat', 'nbf', 'exp'] as const;

const httpUrl = z
  .string()
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password;
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without user name or password');

const emailString = z
  .string()
  .trim()
  .min(3)
  .max(254)
  .regex(/^[^\s@]+@[^\s@]+$/, 'must be an email address');

const pemOrPath = z
  .string()
  .min(1)
  .describe('PEM text, or a path to a PEM file (relative to the config file)');

export const userSchema = z
  .strictObject({
    email: emailString.describe('Identity of the user: unique, compared case-insensitively (NFKC).'),
    password: z
      .string()
      .min(1)
      .max(1024)
      .refine((p) => !p.includes('\u0000'), 'must not contain a NUL character')
      .describe('Password; stored hashed (scrypt), never logged. At most 1024 characters, no NUL.'),
    name: z.string().max(256).optional().describe('Display name, sent as the `name` claim / attribute when known.'),
    attributes: z
      .record(z.string().min(1).max(128), z.union([z.string().max(4096), z.array(z.string().max(4096)).max(64)]))
      .default({})
      .describe('Free-form attributes (strings or lists of strings), usable as JWT claims and SAML attributes.'),
    disabled: z.boolean().default(false).describe('A disabled user cannot sign in.'),
  })
  .describe('A user of the IdP.');

export const jwtSpSchema = z
  .strictObject({
    redirectUrls: z
      .array(httpUrl)
      .min(1)
      .describe(
        'Allow-list of consumer URLs. A redirect_url matches an entry when scheme, host, port and path are equal; its query may add anything.',
      ),
    algorithm: z.enum(['HS256', 'RS256', 'ES256']).default('HS256').describe('Signing algorithm.'),
    secret: z
      .string()
      .min(16, 'must be at least 16 characters')
      .optional()
      .describe(
        'HS256 only: the shared secret, used as raw UTF-8 bytes (as Comm100 does). Generated (32 random bytes, printed once, kept in the data directory) when absent.',
      ),
    privateKey: pemOrPath
      .optional()
      .describe('RS256/ES256 only: the signing key (PKCS#8 PEM or a path). Default: the IdP key for that algorithm under keysDir.'),
    issuer: z.string().min(1).optional().describe('`iss` claim. Default: baseUrl.'),
    audience: z.string().min(1).optional().describe('`aud` claim. Default: the SP id.'),
    subject: z
      .string()
      .min(1)
      .default('{email}')
      .describe('`sub` claim: a literal, or a template such as "{email}" or "{attributes.agentId}".'),
    ttlSeconds: z.number().int().min(1).max(86400).default(300).describe('Token lifetime: exp = iat + ttlSeconds.'),
    delivery: z
      .enum(['redirect', 'post'])
      .default('redirect')
      .describe(
        'redirect: 302 to redirect_url with jwt= appended, keeping its query; post: an auto-submitting form POSTing field `jwt` (Desk-style).',
      ),
    claims: z
      .record(z.string().min(1).max(128), z.string().min(1))
      .default({})
      .refine((c) => !Object.keys(c).some((k) => (RESERVED_CLAIMS as readonly string[]).includes(k)), {
        message: `must not redefine ${RESERVED_CLAIMS.join(', ')}`,
      })
      .describe('Extra claims: claim name -> user field (email, name) or attribute name. Missing values are omitted.'),
    identityClaim: z
      .string()
      .min(1)
      .optional()
      .describe('Contact JWT: a claim (e.g. "identity") that carries the user\'s email, for widgets that identify a visitor.'),
  })
  .superRefine((v, ctx) => {
    if (v.secret !== undefined && v.algorithm !== 'HS256') {
      ctx.addIssue({ code: 'custom', path: ['secret'], message: `is only used with HS256, not ${v.algorithm}` });
    }
    if (v.privateKey !== undefined && v.algorithm === 'HS256') {
      ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'is only used with RS256 or ES256' });
    }
  })
  .describe('JWT single sign-on for this service provider.');

export const NAMEID_FORMATS = {
  emailAddress: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
} as const;

export const samlSpSchema = z
  .strictObject({
    entityId: z.string().min(1).max(1024).describe("The SP's entity ID, also the Audience."),
    acsUrls: z.array(httpUrl).min(1).describe('Registered AssertionConsumerService URLs; the first is the default.'),
    nameIdFormat: z
      .enum([NAMEID_FORMATS.emailAddress, NAMEID_FORMATS.persistent, NAMEID_FORMATS.unspecified])
      .default(NAMEID_FORMATS.emailAddress)
      .describe('NameID format.'),
    nameId: z.string().min(1).default('email').describe('Which user field or attribute becomes the NameID.'),
    attributes: z
      .record(z.string().min(1).max(256), z.string().min(1))
      .default({ email: 'email', name: 'name' })
      .describe('SAML attribute name -> user field or attribute; list attributes become multi-valued.'),
    signResponse: z.boolean().default(false).describe('Sign the Response.'),
    signAssertion: z.boolean().default(true).describe('Sign the Assertion.'),
    signatureAlgorithm: z.enum(['rsa-sha256', 'rsa-sha512']).default('rsa-sha256').describe('Signature algorithm (never SHA-1).'),
    encryptAssertion: z.boolean().default(false).describe('Encrypt the Assertion (AES-256-GCM + RSA-OAEP) with encryptionCert.'),
    encryptionCert: pemOrPath.nullable().default(null).describe("The SP's encryption certificate (PEM or path)."),
    requestSigningCert: pemOrPath
      .nullable()
      .default(null)
      .describe('When set, AuthnRequests and LogoutRequests must be signed with this certificate (PEM or path).'),
    sloUrl: httpUrl.nullable().default(null).describe("The SP's SingleLogoutService URL."),
    assertionTtlSeconds: z.number().int().min(1).max(86400).default(300).describe('Assertion lifetime.'),
  })
  .superRefine((v, ctx) => {
    if (!v.signResponse && !v.signAssertion) {
      ctx.addIssue({ code: 'custom', path: ['signAssertion'], message: 'signResponse and signAssertion cannot both be false' });
    }
    if (v.encryptAssertion && !v.encryptionCert) {
      ctx.addIssue({ code: 'custom', path: ['encryptionCert'], message: 'is required when encryptAssertion is true' });
    }
  })
  .describe('SAML 2.0 single sign-on for this service provider.');

export const conformanceSchema = z
  .strictObject({
    startUrl: httpUrl
      .optional()
      .describe('SP-initiated SAML: a URL of the SP that answers with a redirect carrying a fresh AuthnRequest (e.g. its "Sign in with SAML" link).'),
    acceptedWhen: z
      .strictObject({
        status: z.union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)]).optional().describe('The SP answered with this status (or one of these).'),
        locationMatches: z.string().min(1).optional().describe('A regular expression the Location header matches.'),
        bodyContains: z.string().min(1).optional().describe('Text the answer body contains.'),
        cookieSet: z.string().min(1).optional().describe('The answer sets this cookie (the SP\'s session).'),
        probeUrl: httpUrl.optional().describe('A URL of the SP that answers 200 with the cookies the delivery set, and not otherwise.'),
      })
      .default({})
      .describe('How to tell that the SP accepted a token or assertion; every condition given must hold. Default: a status below 400 that sets a cookie.'),
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000).describe('Per-request timeout.'),
    totalTimeoutMs: z.number().int().min(1_000).max(600_000).default(120_000).describe('Cap on a whole run.'),
  })
  .describe('The SP conformance runner (`mock-idp conformance`): how to start SP-initiated SAML and how to tell acceptance.');

export const serviceProviderSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-", used in URLs')
      .describe('Identifier, used in URLs such as /sso/jwt/:id.'),
    name: z.string().min(1).max(256).optional().describe('Display name. Default: the id.'),
    logoutUrl: httpUrl.optional().describe('Where GET /logout?redirect_url= may send the browser after signing out.'),
    allowedOrigins: z
      .array(httpUrl)
      .default([])
      .describe('Extra origins allowed to call /sso/token/:id with CORS (the origins of redirectUrls are always allowed).'),
    jwt: jwtSpSchema.optional(),
    saml: samlSpSchema.optional(),
    review: z
      .boolean()
      .default(false)
      .describe('Show the review page (decoded token or assertion, Send, Edit and send, Copy as curl, a fault to inject) before every delivery to this SP, as `?review=1` does for one sign-in.'),
    conformance: conformanceSchema.optional(),
  })
  .superRefine((sp, ctx) => {
    // The runner only ever targets the SP's own registered origins.
    const origins = new Set([...(sp.jwt?.redirectUrls ?? []), ...(sp.saml?.acsUrls ?? [])].map((u) => new URL(u).origin));
    for (const key of ['startUrl', 'probeUrl'] as const) {
      const url = key === 'startUrl' ? sp.conformance?.startUrl : sp.conformance?.acceptedWhen.probeUrl;
      if (url !== undefined && !origins.has(new URL(url).origin)) {
        const path = key === 'startUrl' ? ['conformance', 'startUrl'] : ['conformance', 'acceptedWhen', 'probeUrl'];
        ctx.addIssue({ code: 'custom', path, message: "must be on the origin of one of the SP's redirectUrls or acsUrls" });
      }
    }
    if (sp.conformance?.acceptedWhen.locationMatches !== undefined) {
      try {
        new RegExp(sp.conformance.acceptedWhen.locationMatches);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['conformance', 'acceptedWhen', 'locationMatches'], message: 'is not a valid regular expression' });
      }
    }
  })
  .describe('A service provider registered with the IdP.');

/** The list of service providers, with ids unique (used for the file and the control API). */
export const serviceProvidersSchema = z.array(serviceProviderSchema).superRefine((list, ctx) => {
  const ids = new Map<string, number>();
  list.forEach((sp, i) => {
    const prev = ids.get(sp.id);
    if (prev !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicates serviceProviders[${prev}].id (${sp.id})` });
    ids.set(sp.id, i);
  });
});

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
      .default(604_800)
      .describe('How long a key replaced by `mock-idp keys rotate` stays in the JWKS and SAML metadata, so SPs that cache keys keep working.'),
    sessionSecret: z
      .string()
      .min(32, 'must be at least 32 characters')
      .optional()
      .describe('Secret signing the session cookie (env SESSION_SECRET overrides). Generated once and kept in the data directory when absent.'),
    sessionStore: z
      .enum(['sqlite', 'redis'])
      .default('sqlite')
      .describe('Where sign-in sessions live: the SQLite store in the data directory, or Redis (redisUrl) so several IdP replicas share them.'),
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
      .optional()
      .describe('Redis for sessionStore: redis (env REDIS_URL overrides), e.g. redis://127.0.0.1:6379/0.'),
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
      .describe('Login abuse controls: failed sign-ins are counted per account and per client address in the SQLite store (shared by every process on the data directory, kept across restarts).'),
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
    demo: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Start the demo service provider beside the IdP.'),
        spPort: z.number().int().min(0).max(65535).default(8081).describe('Port of the demo SP.'),
        spBaseUrl: httpUrl.default('http://localhost:8081').describe('Public URL of the demo SP.'),
        siteId: z.string().min(1).default('10000').describe('The demo SP\'s site id (as in LoginSSO.aspx?siteid=).'),
        agents: z
          .array(
            z.strictObject({
              email: emailString.describe('The agent\'s email, matched against the token\'s `email` claim.'),
              name: z.string().min(1).optional().describe('Display name at the SP.'),
              active: z.boolean().default(true).describe('An inactive agent is refused with the Comm100 message.'),
            }),
          )
          .default([])
          .describe("The demo SP's own agent list (an SSO email must match an active agent)."),
      })
      .prefault({})
      .describe('The demo service provider (Comm100-like). Off with a user config unless enabled.'),
  })
  .superRefine((c, ctx) => {
    if (c.sessionStore === 'redis' && !c.redisUrl) {
      ctx.addIssue({ code: 'custom', path: ['redisUrl'], message: 'is required when sessionStore is redis (or set REDIS_URL)' });
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
