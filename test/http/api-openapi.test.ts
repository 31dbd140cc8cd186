/**
 * The OpenAPI document against the real control API: every documented route is
 * called for real (valid body, admin token), its status must be one the document
 * lists and its JSON answer must match the documented schema. A small checker of
 * the JSON Schema subset the document uses; no validator dependency.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Router } from 'express';
import request from 'supertest';
import { apiRouter } from '../../src/http/api.js';
import { startTestIdp, tempDir, type TestIdp } from '../helpers/idp.js';

const TOKEN = 'an-admin-token-for-the-openapi-tests';

type Schema = { [k: string]: unknown };
type Doc = { paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>>; components: { schemas: Record<string, Schema> } };

function typeOk(type: string, value: unknown): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    default:
      return typeof value === type;
  }
}

/** The problems of a value against a schema, each naming where it is (empty when it conforms). */
function problemsOf(doc: Doc, schema: Schema, value: unknown, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = doc.components.schemas[name];
    return target ? problemsOf(doc, target, value, at) : [`${at}: $ref ${schema.$ref} names no schema`];
  }
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives && !alternatives.some((alt) => problemsOf(doc, alt, value, at).length === 0)) return [`${at}: matches none of the alternatives`];
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => typeOk(t, value))) return [`${at}: expected ${types.join(' or ')}, got ${JSON.stringify(value)}`];
  }
  const out: string[] = [];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) out.push(`${at}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) out.push(`${at}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) out.push(`${at}: does not match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) out.push(`${at}: below ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) out.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push(`${at}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) out.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items) value.forEach((item, i) => out.push(...problemsOf(doc, schema.items as Schema, item, `${at}[${i}]`)));
  }
  if (typeOk('object', value)) {
    const obj = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in obj)) out.push(`${at}: the required property ${key} is missing`);
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [key, v] of Object.entries(obj)) {
      if (props[key]) out.push(...problemsOf(doc, props[key], v, `${at}.${key}`));
      else if (schema.additionalProperties === false) out.push(`${at}: ${key} is not a documented property`);
      else if (typeOk('object', schema.additionalProperties)) out.push(...problemsOf(doc, schema.additionalProperties as Schema, v, `${at}.${key}`));
    }
  }
  return out;
}

/** `METHOD /path/{param}` for every route the API router really has. */
function routesOf(router: Router): string[] {
  const out: string[] = [];
  const walk = (stack: unknown[]) => {
    for (const layer of stack as { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) {
      if (layer.route) {
        for (const m of Object.keys(layer.route.methods)) out.push(`${m.toUpperCase()} ${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((router as unknown as { stack: unknown[] }).stack);
  return out.sort();
}

/** One real call per documented route, in an order where each finds what it needs. */
const CALLS: { route: string; path?: string; body?: unknown }[] = [
  { route: 'GET /api/openapi.json' },
  { route: 'GET /api/users' },
  { route: 'POST /api/users', body: { email: 'openapi@example.com', password: 'openapi-password', name: 'Open Api', attributes: { siteId: '7' } } },
  { route: 'GET /api/users/{email}', path: '/api/users/openapi@example.com' },
  { route: 'PATCH /api/users/{email}', path: '/api/users/openapi@example.com', body: { name: 'Open API' } },
  { route: 'GET /api/service-providers' },
  { route: 'POST /api/service-providers', body: { id: 'openapi', jwt: { redirectUrls: ['https://openapi.example.test/consumer'] }, saml: { entityId: 'openapi', acsUrls: ['https://openapi.example.test/acs'] } } },
  { route: 'GET /api/service-providers/{id}', path: '/api/service-providers/openapi' },
  { route: 'PUT /api/service-providers/{id}', path: '/api/service-providers/openapi', body: { id: 'openapi', jwt: { redirectUrls: ['https://openapi.example.test/consumer'], algorithm: 'RS256' }, saml: { entityId: 'openapi', acsUrls: ['https://openapi.example.test/acs'] } } },
  { route: 'POST /api/tokens', body: { sp: 'openapi', user: 'openapi@example.com', claims: { siteId: '8' }, faults: ['wrong-audience'] } },
  { route: 'POST /api/saml/responses', body: { sp: 'openapi', user: 'openapi@example.com', inResponseTo: '_openapi', fault: 'unsigned' } },
  { route: 'POST /api/sessions', body: { email: 'openapi@example.com' } },
  { route: 'GET /api/events', path: '/api/events?limit=5' },
  { route: 'POST /api/conformance', body: { sp: 'desk', protocol: 'jwt' } },
  { route: 'POST /api/keys/rotate' },
  { route: 'DELETE /api/service-providers/{id}', path: '/api/service-providers/openapi' },
  { route: 'DELETE /api/users/{email}', path: '/api/users/openapi@example.com' },
  { route: 'POST /api/reset' },
];

describe('the OpenAPI document of the control API', () => {
  let idp: TestIdp;
  let doc: Doc;

  before(async () => {
    // Keys of its own: the bundled development keys cannot be rotated (POST /api/keys/rotate).
    idp = await startTestIdp((c) => ({ ...c, adminToken: TOKEN, keysDir: tempDir('mock-idp-keys-') }));
    doc = (await request(idp.url).get('/api/openapi.json').expect(200)).body as Doc;
  });
  after(() => idp.close());

  it('documents every route the API has, and the test below calls every documented one', () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) => Object.keys(item).filter((k) => k !== 'parameters').map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const real = routesOf(apiRouter(idp.running.idp.context)).filter((r) => r !== 'GET /api/openapi.json');
    assert.deepEqual(documented, real);
    assert.deepEqual(CALLS.map((c) => c.route).filter((r) => r !== 'GET /api/openapi.json').sort(), documented);
  });

  it('answers every documented route with a documented status and an answer of the documented shape', async () => {
    const checked: string[] = [];
    for (const call of CALLS.filter((c) => c.route !== 'GET /api/openapi.json')) {
      const [method, route] = call.route.split(' ') as [string, string];
      const op = doc.paths[route]![method.toLowerCase()]!;
      if (call.body !== undefined) {
        const requestSchema = op.requestBody?.content['application/json']?.schema;
        assert.ok(requestSchema, `${call.route} documents its request body`);
        assert.deepEqual(problemsOf(doc, requestSchema, call.body), [], `${call.route}: the document accepts the test's valid body`);
      }
      const m = method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
      let req = request(idp.url)[m](call.path ?? route).set('Authorization', `Bearer ${TOKEN}`);
      if (call.body !== undefined) req = req.send(call.body as object);
      const res = await req;
      assert.ok(Object.keys(op.responses).includes(String(res.status)), `${call.route} answered ${res.status} (${res.text.slice(0, 200)}); the document lists ${Object.keys(op.responses).join(', ')}`);
      assert.ok(res.status < 300, `${call.route} succeeds with a valid body: ${res.status} ${res.text.slice(0, 300)}`);
      const responseSchema = op.responses[String(res.status)]!.content?.['application/json']?.schema;
      if (res.status === 204) {
        assert.equal(responseSchema, undefined, `${call.route}: a 204 documents no body`);
        assert.equal(res.text, '');
      } else {
        assert.ok(responseSchema, `${call.route}: the ${res.status} answer has a documented schema`);
        assert.deepEqual(problemsOf(doc, responseSchema, res.body), [], `${call.route}: the answer matches the document`);
      }
      checked.push(call.route);
    }
    assert.equal(checked.length, CALLS.length - 1);
  });

  it('answers the documented error shape and status for a bad body, a wrong token and an unknown id', async () => {
    const cases = [
      { route: 'POST /api/tokens', res: await request(idp.url).post('/api/tokens').set('Authorization', `Bearer ${TOKEN}`).send({ sp: 'comm100' }), status: 400 },
      { route: 'GET /api/users', res: await request(idp.url).get('/api/users').set('Authorization', `Bearer ${TOKEN}-wrong`), status: 401 },
      { route: 'POST /api/keys/rotate', res: await request(idp.url).post('/api/keys/rotate'), status: 401 },
      { route: 'GET /api/service-providers/{id}', res: await request(idp.url).get('/api/service-providers/none').set('Authorization', `Bearer ${TOKEN}`), status: 404 },
      { route: 'POST /api/tokens', res: await request(idp.url).post('/api/tokens').set('Authorization', `Bearer ${TOKEN}`).send({ sp: 'none', user: 'alice@example.com' }), status: 404 },
    ];
    for (const c of cases) {
      const [method, route] = c.route.split(' ') as [string, string];
      const documented = doc.paths[route]![method.toLowerCase()]!.responses[String(c.status)];
      assert.equal(c.res.status, c.status, c.route);
      assert.ok(documented?.content, `${c.route} documents its ${c.status}`);
      assert.deepEqual(problemsOf(doc, documented.content['application/json']!.schema, c.res.body), [], `${c.route} ${c.status}`);
    }
    assert.equal(cases[1]!.res.body.error, 'unauthorized');
    assert.match(JSON.stringify(doc.paths['/api/users']!.get!.responses['401']), /unauthorized/, 'the document names the code a wrong token gets');
  });

  it('says the events come newest first, as they do', async () => {
    assert.match(JSON.stringify(doc.paths['/api/events']), /newest first/);
    assert.doesNotMatch(JSON.stringify(doc.paths['/api/events']), /newest last/);
    const api = (path: string) => request(idp.url).post(path).set('Authorization', `Bearer ${TOKEN}`);
    const first = await api('/api/tokens').send({ sp: 'comm100', user: 'alice@example.com' }).expect(201);
    const second = await api('/api/tokens').send({ sp: 'comm100', user: 'bob@example.com' }).expect(201);
    const events = (await request(idp.url).get('/api/events?sp=comm100&limit=2').set('Authorization', `Bearer ${TOKEN}`).expect(200)).body.events as { user: string; jwt: { claims: { jti: string } } }[];
    assert.deepEqual(
      events.map((e) => e.user),
      ['bob@example.com', 'alice@example.com'],
    );
    assert.equal(events[0]!.jwt.claims.jti, second.body.claims.jti);
    assert.equal(events[1]!.jwt.claims.jti, first.body.claims.jti);
  });

  it('finds what the checker is for: a missing required property and a wrong type are problems', () => {
    const schema = { $ref: '#/components/schemas/Token' };
    assert.deepEqual(problemsOf(doc, schema, { token: 'x', header: {}, claims: {}, faults: [] }), []);
    assert.deepEqual(problemsOf(doc, schema, { token: 1, header: {}, claims: {} }), ['$: the required property faults is missing', '$.token: expected string, got 1']);
  });
});
