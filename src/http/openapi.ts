/**
 * The control API's OpenAPI 3.1 document, with its request schemas generated
 * from the same zod schemas that validate the config and the API bodies.
 */
import { z } from 'zod';
import { serviceProviderSchema, userSchema } from '../config/schema.js';
import { JWT_FAULT_NAMES, SAML_FAULT_NAMES } from '../faults/catalog.js';

let cached: { baseUrl: string; doc: unknown } | undefined;

function schema(s: z.ZodType): unknown {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const error = { $ref: '#/components/schemas/Error' };
const errors = {
  '400': { description: 'Invalid body: the message names each bad field', content: { 'application/json': { schema: error } } },
  '401': { description: 'Missing or wrong bearer token: error `unauthorized`, with WWW-Authenticate: Bearer', content: { 'application/json': { schema: error } } },
  '503': { description: 'store: redis, and Redis does not answer: error `service_unavailable`, with Retry-After; nothing was changed', content: { 'application/json': { schema: error } } },
};
const failure = (description: string) => ({ description, content: { 'application/json': { schema: error } } });
const noSuch = (what: string) => failure(`No such ${what}`);
const answer = (description: string, ref: string) => ({ description, ...json(ref) });
const json = (ref: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
const body = (ref: string) => ({ required: true, ...json(ref) });

/** `faults` and its other spelling `fault`: one name, a comma-separated list, or an array (at most 8). */
function faultProperties(names: readonly string[]): Record<string, unknown> {
  const value = {
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, maxItems: 8 }],
    description: `Faults to inject, e.g. "expired", "wrong-audience,missing-jti" or ["wrong-audience", "clock-skew=120"]. Names: ${names.join(', ')}. Unknown names are a 400 that lists them.`,
  };
  return { faults: value, fault: { ...value, description: 'The same as faults (the name the sign-in URLs use); give one of the two, both is a 400.' } };
}

export function openApiDocument(baseUrl: string): unknown {
  if (cached?.baseUrl === baseUrl) return cached.doc;
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'mock-idp control API',
      version: '1',
      description: 'On when adminToken (or MOCK_IDP_ADMIN_TOKEN) is set. Every call needs `Authorization: Bearer <adminToken>`. Errors are `{ error, message, requestId }`; a missing or wrong token is a 401 with error `unauthorized`.',
    },
    servers: [{ url: baseUrl }],
    security: [{ bearer: [] }],
    paths: {
      '/api/users': {
        get: { summary: 'List users', responses: { '200': answer('{ users: [...] }', 'UserList'), ...errors } },
        post: { summary: 'Create a user', requestBody: body('User'), responses: { '201': answer('The user (no password)', 'PublicUser'), '409': failure('The email exists'), ...errors } },
      },
      '/api/users/{email}': {
        parameters: [{ name: 'email', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'Get a user', responses: { '200': answer('The user', 'PublicUser'), '404': noSuch('user'), ...errors } },
        patch: { summary: 'Change a user (password, name, attributes, disabled)', requestBody: body('UserPatch'), responses: { '200': answer('The user', 'PublicUser'), '404': noSuch('user'), ...errors } },
        delete: { summary: 'Delete a user', responses: { '204': { description: 'Deleted' }, '404': noSuch('user'), ...errors } },
      },
      '/api/service-providers': {
        get: { summary: 'List service providers (secrets masked)', responses: { '200': answer('{ serviceProviders: [...] }', 'ServiceProviderList'), ...errors } },
        post: {
          summary: 'Register a service provider',
          requestBody: body('ServiceProvider'),
          responses: { '201': answer('The SP; `generatedSecret` once when an HS256 secret was generated', 'ServiceProviderAnswer'), '409': failure('The id exists'), ...errors },
        },
      },
      '/api/service-providers/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'Get a service provider', responses: { '200': answer('The SP (secrets masked)', 'ServiceProviderAnswer'), '404': noSuch('service provider'), ...errors } },
        put: {
          summary: 'Replace a service provider',
          requestBody: body('ServiceProvider'),
          responses: { '200': answer('The SP; `generatedSecret` once when an HS256 secret was generated', 'ServiceProviderAnswer'), '404': noSuch('service provider'), ...errors },
        },
        delete: { summary: 'Remove a service provider', responses: { '204': { description: 'Removed' }, '404': noSuch('service provider'), ...errors } },
      },
      '/api/tokens': {
        post: { summary: 'Mint a JWT for an SP and a user', requestBody: body('TokenRequest'), responses: { '201': answer('{ token, header, claims, faults }', 'Token'), '404': noSuch('service provider'), ...errors } },
      },
      '/api/saml/responses': {
        post: {
          summary: 'Build a signed SAMLResponse for an SP and a user',
          requestBody: body('SamlResponseRequest'),
          responses: { '201': answer('{ samlResponse (base64), xml, acsUrl, responseId, assertionId, faults }', 'SamlResponse'), '404': noSuch('service provider'), ...errors },
        },
      },
      '/api/sessions': {
        post: {
          summary: 'Sign a user in headlessly; returns the session cookie to give a browser',
          requestBody: body('SessionRequest'),
          responses: { '201': answer('{ name, value, expires, cookieHeader, setCookie }', 'Session'), ...errors },
        },
      },
      '/api/conformance': {
        post: {
          summary: 'Run the SP conformance runner: { sp, user?, protocol? } → the report (cases, verdicts, summary)',
          requestBody: body('ConformanceRequest'),
          responses: { '200': answer('The report; ok is true only if every case went as expected', 'ConformanceReport'), '404': noSuch('service provider'), ...errors },
        },
      },
      '/api/keys/rotate': {
        post: {
          summary: 'Rotate the signing keys in the running server: new tokens and Responses are signed with new keys at once; the replaced ones stay in the JWKS and SAML metadata for keyRotationGraceSeconds',
          responses: {
            '200': answer('For each key (JWT RS256, JWT ES256, SAML): the new one, the replaced one and until when it stays published', 'KeyRotation'),
            '409': failure('Not rotated: the keys are the development keys shipped with mock-idp, or deterministicSeed is set (the message says which and what to do)'),
            ...errors,
          },
        },
      },
      '/api/reset': { post: { summary: "Back to the config file's users and service providers", responses: { '204': { description: 'Reset' }, ...errors } } },
      '/api/events': {
        get: {
          summary: 'The flow history, newest first',
          parameters: [
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } },
            { name: 'sp', in: 'query', schema: { type: 'string' }, description: 'Only this service provider id' },
            { name: 'protocol', in: 'query', schema: { type: 'string', enum: ['jwt', 'saml'] } },
            { name: 'after', in: 'query', schema: { type: 'string' }, description: 'Only the flows newer than the one with this id' },
          ],
          responses: { '200': answer('{ events: [...] }, newest first', 'Events'), ...errors },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, requestId: { type: 'string' } }, required: ['error', 'message'] },
        User: schema(userSchema),
        UserPatch: schema(userSchema.omit({ email: true }).partial()),
        ServiceProvider: schema(serviceProviderSchema),
        TokenRequest: {
          type: 'object',
          required: ['sp', 'user'],
          properties: {
            sp: { type: 'string' },
            user: { type: 'string', description: 'email' },
            claims: { type: 'object', description: 'claims to set; null removes one' },
            ...faultProperties(JWT_FAULT_NAMES.map((n) => (n === 'clock-skew' ? 'clock-skew=<seconds>' : n))),
          },
          additionalProperties: false,
        },
        SamlResponseRequest: {
          type: 'object',
          required: ['sp', 'user'],
          properties: { sp: { type: 'string' }, user: { type: 'string' }, acsUrl: { type: 'string' }, inResponseTo: { type: 'string' }, ...faultProperties(SAML_FAULT_NAMES) },
          additionalProperties: false,
        },
        SessionRequest: { type: 'object', required: ['email'], properties: { email: { type: 'string' } } },
        ConformanceRequest: {
          type: 'object',
          required: ['sp'],
          properties: { sp: { type: 'string' }, user: { type: 'string', description: 'email; default the first active user' }, protocol: { type: 'string', enum: ['jwt', 'saml'] } },
          additionalProperties: false,
        },
        PublicUser: {
          type: 'object',
          required: ['email', 'name', 'attributes', 'disabled'],
          properties: { email: { type: 'string' }, name: { type: ['string', 'null'] }, attributes: { type: 'object' }, disabled: { type: 'boolean' } },
        },
        UserList: { type: 'object', required: ['users'], properties: { users: { type: 'array', items: { $ref: '#/components/schemas/PublicUser' } } } },
        ServiceProviderAnswer: {
          type: 'object',
          required: ['id'],
          description: 'The service provider as written, secrets shown as ********',
          properties: { id: { type: 'string' }, generatedSecret: { type: 'string', description: 'Only in the answer that generated it' } },
        },
        ServiceProviderList: { type: 'object', required: ['serviceProviders'], properties: { serviceProviders: { type: 'array', items: { $ref: '#/components/schemas/ServiceProviderAnswer' } } } },
        Token: {
          type: 'object',
          required: ['token', 'header', 'claims', 'faults'],
          properties: { token: { type: 'string' }, header: { type: 'object' }, claims: { type: 'object' }, faults: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } },
        },
        SamlResponse: {
          type: 'object',
          required: ['samlResponse', 'xml', 'acsUrl', 'responseId', 'assertionId', 'faults'],
          properties: {
            samlResponse: { type: 'string', description: 'base64 of xml, as the SAMLResponse form field carries it' },
            xml: { type: 'string' },
            acsUrl: { type: 'string' },
            responseId: { type: 'string' },
            assertionId: { type: 'string' },
            faults: { type: 'array', items: { type: 'string' } },
          },
        },
        Session: {
          type: 'object',
          required: ['name', 'value', 'expires', 'cookieHeader', 'setCookie'],
          properties: { name: { type: 'string' }, value: { type: 'string' }, expires: { type: 'string' }, cookieHeader: { type: 'string' }, setCookie: { type: 'string' } },
        },
        ConformanceReport: {
          type: 'object',
          required: ['sp', 'spName', 'startedAt', 'durationMs', 'ok', 'cases', 'summary'],
          properties: {
            sp: { type: 'string' },
            spName: { type: 'string' },
            startedAt: { type: 'string' },
            durationMs: { type: 'number' },
            ok: { type: 'boolean' },
            stopped: { type: 'string' },
            cases: { type: 'array', items: { type: 'object', required: ['id', 'verdict'], properties: { id: { type: 'string' }, verdict: { type: 'string' } } } },
            summary: {
              type: 'object',
              required: ['total', 'passed', 'failed', 'errors', 'notRun'],
              properties: { total: { type: 'integer' }, passed: { type: 'integer' }, failed: { type: 'integer' }, errors: { type: 'integer' }, notRun: { type: 'integer' } },
            },
          },
        },
        Flow: {
          type: 'object',
          required: ['id', 'time', 'protocol', 'binding', 'initiator', 'sp', 'faults', 'reviewed', 'edited', 'outcome'],
          properties: {
            id: { type: 'string' },
            time: { type: 'string', description: 'ISO time, from the IdP clock' },
            protocol: { type: 'string', enum: ['jwt', 'saml'] },
            binding: { type: 'string', enum: ['redirect', 'post', 'json'] },
            initiator: { type: 'string', enum: ['sp', 'idp', 'widget', 'api'] },
            sp: { type: 'object', required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string' } } },
            user: { type: 'string' },
            destination: { type: 'string' },
            faults: { type: 'array', items: { type: 'string' } },
            reviewed: { type: 'boolean' },
            edited: { type: 'boolean' },
            outcome: { type: 'string', enum: ['delivered', 'awaiting-review', 'status', 'refused'] },
            detail: { type: 'string' },
          },
        },
        KeyName: {
          description: 'A JWT key by its kid; the SAML signing certificate by its SHA-256 fingerprint and serial number (hex)',
          oneOf: [
            { type: 'object', required: ['kid'], properties: { kid: { type: 'string' } }, additionalProperties: false },
            { type: 'object', required: ['sha256', 'serialNumber'], properties: { sha256: { type: 'string' }, serialNumber: { type: 'string' } }, additionalProperties: false },
          ],
        },
        RotatedKey: {
          type: 'object',
          required: ['use', 'current', 'retired', 'retiredUntil'],
          properties: {
            use: { type: 'string', enum: ['jwt', 'saml'] },
            alg: { type: 'string', enum: ['RS256', 'ES256'], description: 'For a JWT key' },
            current: { $ref: '#/components/schemas/KeyName' },
            retired: { oneOf: [{ $ref: '#/components/schemas/KeyName' }, { type: 'null' }], description: 'The key replaced; null when there was none' },
            retiredUntil: { type: ['string', 'null'], description: 'ISO time until which the replaced key stays published' },
          },
          additionalProperties: false,
        },
        KeyRotation: {
          type: 'object',
          required: ['rotatedAt', 'graceSeconds', 'keys'],
          properties: {
            rotatedAt: { type: 'string', description: 'ISO time, from the IdP clock' },
            graceSeconds: { type: 'integer', description: 'keyRotationGraceSeconds' },
            keys: { type: 'array', items: { $ref: '#/components/schemas/RotatedKey' } },
          },
        },
        Events: { type: 'object', required: ['events'], properties: { events: { type: 'array', description: 'Newest first', items: { $ref: '#/components/schemas/Flow' } } } },
      },
    },
  };
  cached = { baseUrl, doc };
  return doc;
}
