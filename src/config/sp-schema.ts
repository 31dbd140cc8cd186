/**
 * The schema of a service provider: its JWT and SAML single sign-on, its
 * conformance runner settings, and the list of them with unique ids (the config
 * file and the control API).
 */
import { z } from 'zod';
import { httpUrl, pemOrPath } from './fields.js';

const RESERVED_CLAIMS = ['iss', 'aud', 'sub', 'jti', 'iat', 'nbf', 'exp'] as const;

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
  transient: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  unspecified: 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
} as const;

/** The NameID formats the IdP issues, as SAML names them. */
export const SUPPORTED_NAMEID_FORMATS = [NAMEID_FORMATS.emailAddress, NAMEID_FORMATS.persistent, NAMEID_FORMATS.transient, NAMEID_FORMATS.unspecified] as const;

export type NameIdFormatUri = (typeof SUPPORTED_NAMEID_FORMATS)[number];

/** Key transport of an EncryptedAssertion's AES key (xmlenc 5.5.2): RSA-OAEP with SHA-1 and MGF1-SHA-1, or the XML Encryption 1.1 form with SHA-256 and MGF1-SHA-256. */
export const KEY_ENCRYPTION_ALGORITHMS = ['rsa-oaep-mgf1p', 'rsa-oaep-sha256'] as const;

export type KeyEncryptionAlgorithmName = (typeof KEY_ENCRYPTION_ALGORITHMS)[number];

/** Where an SP's own metadata (an EntityDescriptor) comes from: at most one of these. */
export const SP_METADATA_SOURCES = ['metadata', 'metadataFile', 'metadataUrl'] as const;

export const samlSpSchema = z
  .strictObject({
    metadata: z
      .string()
      .min(1)
      .optional()
      .describe("The SP's SAML metadata itself (an EntityDescriptor, as XML text). What it says fills every key below that is not given."),
    metadataFile: z
      .string()
      .min(1)
      .optional()
      .describe("A file holding the SP's SAML metadata (relative to the config file), read at start."),
    metadataUrl: httpUrl
      .optional()
      .describe("The URL of the SP's SAML metadata, fetched at start (a start error when it cannot be fetched or read) and again every metadataRefreshSeconds."),
    metadataRefreshSeconds: z
      .number()
      .int()
      .min(5)
      .max(7 * 86400)
      .default(3600)
      .describe('metadataUrl only: how often the metadata is fetched again. A failed fetch keeps the last good metadata (and is logged).'),
    entityId: z.string().min(1).max(1024).optional().describe("The SP's entity ID, also the Audience. Default: the metadata's entityID (required without metadata)."),
    acsUrls: z
      .array(httpUrl)
      .min(1)
      .optional()
      .describe("Registered AssertionConsumerService URLs (HTTP-POST); the first is the default. Default: the metadata's AssertionConsumerServices (required without metadata)."),
    nameIdFormat: z
      .enum(SUPPORTED_NAMEID_FORMATS)
      .optional()
      .describe("The default NameID format, when an AuthnRequest's NameIDPolicy asks for none (or for unspecified). Default: the first supported NameIDFormat of the metadata, else emailAddress."),
    nameId: z.string().min(1).default('email').describe('emailAddress and unspecified: which user field or attribute becomes the NameID.'),
    attributes: z
      .record(z.string().min(1).max(256), z.string().min(1))
      .default({ email: 'email', name: 'name' })
      .describe('SAML attribute name -> user field or attribute; list attributes become multi-valued.'),
    signResponse: z.boolean().default(false).describe('Sign the Response.'),
    signAssertion: z.boolean().default(true).describe('Sign the Assertion.'),
    signatureAlgorithm: z.enum(['rsa-sha256', 'rsa-sha512']).default('rsa-sha256').describe('Signature algorithm (never SHA-1).'),
    encryptAssertion: z.boolean().default(false).describe('Encrypt the Assertion (AES-256-GCM, its key by keyEncryptionAlgorithm) with encryptionCert.'),
    encryptionCert: pemOrPath.nullable().optional().describe("The SP's encryption certificate (PEM or path). Default: the metadata's encryption KeyDescriptor."),
    keyEncryptionAlgorithm: z
      .enum(KEY_ENCRYPTION_ALGORITHMS)
      .optional()
      .describe("How the assertion's AES key is encrypted: rsa-oaep-mgf1p (xmlenc#rsa-oaep-mgf1p, SHA-1), or rsa-oaep-sha256 (xmlenc11#rsa-oaep with SHA-256 and MGF1-SHA-256). Default: the one the metadata's EncryptionMethod names, else rsa-oaep-mgf1p."),
    requestSigningCert: pemOrPath
      .nullable()
      .optional()
      .describe("When set, AuthnRequests and LogoutRequests must be signed with this certificate (PEM or path). Default: with metadata that says AuthnRequestsSigned=\"true\", its signing certificates."),
    sloUrl: httpUrl.nullable().optional().describe("The SP's SingleLogoutService URL. Default: the metadata's SingleLogoutService."),
    assertionTtlSeconds: z.number().int().min(1).max(86400).default(300).describe('Assertion lifetime.'),
  })
  .superRefine((v, ctx) => {
    const sources = SP_METADATA_SOURCES.filter((k) => v[k] !== undefined);
    if (sources.length > 1) {
      ctx.addIssue({ code: 'custom', path: [sources[1]!], message: `give the metadata one way: ${sources.join(' and ')} are both set` });
    }
    if (sources.length === 0) {
      if (v.entityId === undefined) ctx.addIssue({ code: 'custom', path: ['entityId'], message: 'is required (or give the SP\'s metadata: metadata, metadataFile or metadataUrl)' });
      if (v.acsUrls === undefined) ctx.addIssue({ code: 'custom', path: ['acsUrls'], message: 'is required (or give the SP\'s metadata: metadata, metadataFile or metadataUrl)' });
    }
    if (!v.signResponse && !v.signAssertion) {
      ctx.addIssue({ code: 'custom', path: ['signAssertion'], message: 'signResponse and signAssertion cannot both be false' });
    }
    if (v.encryptAssertion && v.encryptionCert === null) {
      ctx.addIssue({ code: 'custom', path: ['encryptionCert'], message: 'is required when encryptAssertion is true' });
    }
    if (v.encryptAssertion && v.encryptionCert === undefined && sources.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['encryptionCert'], message: 'is required when encryptAssertion is true (or give the SP\'s metadata with an encryption key)' });
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
    messenger: z
      .strictObject({
        authorizeUrl: httpUrl.describe("The messenger's Authorize API (Comm100's POST /securemessage/authorize), on one of the SP's registered origins."),
        siteId: z
          .union([z.number().int().min(0), z.string().regex(/^\d{1,15}$/, 'must be a number')])
          .describe('The site the messenger belongs to, sent as the number siteId.'),
        messengerId: z.string().min(1).max(256).describe('The messenger (a UUID in Comm100).'),
      })
      .optional()
      .describe(
        'A messenger widget (Comm100 Secure Messenger) whose Authorize API exchanges this SP\'s Contact JWT: the JWT cases are POSTed there as JSON {siteId, messengerId, contactJwt, isPreview: false} instead of delivered to redirectUrls; a valid one must get 200 with an accessToken, every bad one a 4xx (401 expected).',
      ),
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
    // The runner only ever targets the SP's own registered origins (those of an SP's metadata are known once it is read: not checked here).
    const fromMetadata = sp.saml !== undefined && sp.saml.acsUrls === undefined;
    const origins = new Set([...(sp.jwt?.redirectUrls ?? []), ...(sp.saml?.acsUrls ?? [])].map((u) => new URL(u).origin));
    for (const key of ['startUrl', 'probeUrl'] as const) {
      const url = key === 'startUrl' ? sp.conformance?.startUrl : sp.conformance?.acceptedWhen.probeUrl;
      if (url !== undefined && !fromMetadata && !origins.has(new URL(url).origin)) {
        const path = key === 'startUrl' ? ['conformance', 'startUrl'] : ['conformance', 'acceptedWhen', 'probeUrl'];
        ctx.addIssue({ code: 'custom', path, message: "must be on the origin of one of the SP's redirectUrls or acsUrls" });
      }
    }
    const messenger = sp.conformance?.messenger;
    if (messenger !== undefined) {
      if (sp.jwt === undefined) ctx.addIssue({ code: 'custom', path: ['conformance', 'messenger'], message: 'needs a jwt section: the Contact JWT is minted from it' });
      const allowed = new Set([...origins, ...sp.allowedOrigins.map((u) => new URL(u).origin)]);
      if (!fromMetadata && !allowed.has(new URL(messenger.authorizeUrl).origin)) {
        ctx.addIssue({ code: 'custom', path: ['conformance', 'messenger', 'authorizeUrl'], message: "must be on the origin of one of the SP's redirectUrls, acsUrls or allowedOrigins" });
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
