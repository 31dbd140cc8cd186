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
  '401': { description: 'Missing or wrong bearer token', content: { 'application/json': { schema: error } } },
};
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
      description: 'On when adminToken (or MOCK_IDP_ADMIN_TOKEN) is set. Every call needs `Authorization: Bearer <adminToken>`. Errors are `{ error, message, requestId }`.',
    },
    servers: [{ url: baseUrl }],
    security: [{ bearer: [] }],
    paths: {
      '/api/users': {
        get: { summary: 'List users', responses: { '200': { description: '{ users: [...] }' }, ...errors } },
        post: { summary: 'Create a user', requestBody: body('User'), responses: { '201': { description: 'The user (no password)' }, '409': { description: 'The email exists' }, ...errors } },
      },
      '/api/users/{email}': {
        parameters: [{ name: 'email', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'Get a user', responses: { '200': { description: 'The user' }, '404': { description: 'No such user' }, ...errors } },
        patch: { summary: 'Change a user (password, name, attributes, disabled)', requestBody: body('UserPatch'), responses: { '200': { description: 'The user' }, ...errors } },
        delete: { summary: 'Delete a user', responses: { '204': { description: 'Deleted' }, ...errors } },
      },
      '/api/service-providers': {
        get: { summary: 'List service providers (secrets masked)', responses: { '200': { description: '{ serviceProviders: [...] }' }, ...errors } },
        post: { summary: 'Register a service provider', requestBody: body('ServiceProvider'), responses: { '201': { description: 'The SP; `generatedSecret` once when an HS256 secret was generated' }, '409': { description: 'The id exists' }, ...errors } },
      },
      '/api/service-providers/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        get: { summary: 'Get a service provider', responses: { '200': { description: 'The SP' }, ...errors } },
        put: { summary: 'Replace a service provider', requestBody: body('ServiceProvider'), responses: { '200': { description: 'The SP' }, ...errors } },
        delete: { summary: 'Remove a service provider', responses: { '204': { description: 'Removed' }, ...errors } },
      },
      '/api/tokens': {
        post: { summary: 'Mint a JWT for an SP and a user', requestBody: body('TokenRequest'), responses: { '201': { description: '{ token, header, claims }' }, ...errors } },
      },
      '/api/saml/responses': {
        post: { summary: 'Build a signed SAMLResponse for an SP and a user', requestBody: body('SamlResponseRequest'), responses: { '201': { description: '{ samlResponse (base64), xml, acsUrl, responseId, assertionId }' }, ...errors } },
      },
      '/api/sessions': {
        post: { summary: 'Sign a user in headlessly; returns the session cookie to give a browser', requestBody: body('SessionRequest'), responses: { '201': { description: '{ name, value, expires, cookieHeader, setCookie }' }, ...errors } },
      },
      '/api/conformance': {
        post: { summary: 'Run the SP conformance runner: { sp, user?, protocol? } → the report (cases, verdicts, summary)', responses: { '200': { description: 'The report; ok is true only if every case went as expected' }, ...errors } },
      },
      '/api/reset': { post: { summary: "Back to the config file's users and service providers", responses: { '204': { description: 'Reset' }, ...errors } } },
      '/api/events': { get: { summary: 'The flow history, newest last', responses: { '200': { description: '{ events: [...] }' }, ...errors } } },
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
      },
    },
  };
  cached = { baseUrl, doc };
  return doc;
}
