/**
 * The control API: JSON over HTTP under /api, for test suites in other
 * languages and for containers. On only when `adminToken` is set; every call
 * needs `Authorization: Bearer <adminToken>` (compared in constant time).
 * Bodies are validated with the config schema, so a bad body is a 400 naming
 * the field; changes persist in the store (with store: redis, in Redis, for
 * every replica: `ctx.changes`, src/replicas/).
 */
import { summarizeSpMetadata } from '../saml/sp-metadata.js';
import crypto from 'node:crypto';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { maskSecrets } from '../config/mask.js';
import { serviceProviderSchema, userSchema } from '../config/schema.js';
import { ConfigError, IdpError } from '../errors.js';
import { mintJwtFor, samlResponseFor } from '../mint.js';
import { faultLabel, parseFaults } from '../faults/index.js';
import type { User } from '../users/store.js';
import type { ServiceProvidersEdit } from '../replicas/changes.js';
import type { AppContext } from './context.js';
import { openApiDocument } from './openapi.js';
import { conformanceApi } from './conformance.js';
import { keysApi } from './keys-api.js';
import { parseBody } from './body.js';

function tokenMatches(given: string, expected: string): boolean {
  // Hash both sides so the comparison takes the same time whatever the lengths.
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export const userPatchSchema = userSchema.omit({ email: true }).partial().strict();
const faultsField = z.union([z.string(), z.array(z.string()).max(8)]).optional().describe('Faults to inject, e.g. "expired" or ["wrong-audience", "clock-skew=120"].');
/** `faults` and its other spelling `fault` (the sign-in URL's parameter name): the same value, one of the two. */
const faultFields = { faults: faultsField, fault: faultsField };
export const tokenRequestSchema = z.strictObject({
  sp: z.string().min(1).describe('Service provider id.'),
  user: z.string().min(1).describe('Email of the user.'),
  claims: z.record(z.string(), z.unknown()).default({}).describe('Claims to set; null removes one.'),
  ...faultFields,
});
export const samlResponseRequestSchema = z.strictObject({
  sp: z.string().min(1),
  user: z.string().min(1),
  acsUrl: z.string().optional(),
  inResponseTo: z.string().min(1).max(256).optional(),
  ...faultFields,
});
const eventsQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  sp: z.string().min(1).optional(),
  protocol: z.enum(['jwt', 'saml']).optional(),
  after: z.string().min(1).optional(),
});
export const sessionRequestSchema = z.strictObject({ email: z.string().min(1) });

type FaultsValue = z.infer<typeof faultsField>;

/** The faults a body asks for, under either spelling; both at once is a 400 rather than a guess. */
function requestedFaults(body: { fault?: FaultsValue; faults?: FaultsValue }): FaultsValue {
  if (body.fault !== undefined && body.faults !== undefined) {
    throw new IdpError('bad_request', 'Give the faults as either "fault" or "faults", not both: they mean the same.', { detail: 'fault, faults' });
  }
  return body.fault ?? body.faults;
}

function publicUser(u: User): Record<string, unknown> {
  return { email: u.email, name: u.name ?? null, attributes: u.attributes, disabled: u.disabled };
}

/** A service provider as the API shows it: as written, with secrets masked, and what was taken from its SAML metadata. */
function publicSp(input: unknown, ctx: AppContext): unknown {
  const masked = maskSecrets(input) as Record<string, unknown>;
  const saml = typeof masked.id === 'string' ? ctx.sp(masked.id)?.saml : undefined;
  if (!saml?.fromMetadata) return masked;
  const { kind, where, readAt, taken, metadata } = saml.fromMetadata;
  return { ...masked, fromMetadata: { [kind]: where, readAt: new Date(readAt).toISOString(), taken, entityId: metadata.entityId, summary: summarizeSpMetadata(metadata) } };
}

/** The control API takes an SP's metadata as text or a URL, never as a path on the IdP's machine. */
function refuseMetadataFile(body: unknown): void {
  const saml = (body as { saml?: { metadataFile?: unknown } } | undefined)?.saml;
  if (saml?.metadataFile !== undefined) {
    throw new IdpError('bad_request', 'saml.metadataFile names a file on the IdP\'s machine, which the control API does not read: send the document itself as saml.metadata (`mock-idp sp import FILE --url …` does), or a saml.metadataUrl.', { detail: 'saml.metadataFile' });
  }
}

function spInputs(ctx: AppContext): Record<string, unknown>[] {
  return ctx.config.serviceProviderInputs as Record<string, unknown>[];
}

export function apiRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/api/openapi.json', (_req, res) => {
    res.json(openApiDocument(ctx.config.baseUrl));
  });

  router.use('/api', (req: Request, res: Response, next: NextFunction) => {
    res.set('Cache-Control', 'no-store');
    const expected = ctx.config.adminToken;
    if (!expected) {
      next(new IdpError('not_found', 'The control API is off: set adminToken in the config (or MOCK_IDP_ADMIN_TOKEN).'));
      return;
    }
    const header = req.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m || !tokenMatches(m[1]!, expected)) {
      next(
        new IdpError('unauthorized', m ? 'The bearer token is not the adminToken.' : 'Send Authorization: Bearer <adminToken>.', {
          headers: { 'WWW-Authenticate': 'Bearer realm="mock-idp"' },
        }),
      );
      return;
    }
    next();
  });

  // ---- users ----
  router.get('/api/users', (_req, res) => {
    res.json({ users: ctx.users.list().map(publicUser) });
  });
  router.post('/api/users', async (req, res) => {
    const input = parseBody(userSchema, req.body, 'user');
    res.status(201).json(publicUser(await ctx.changes.createUser(input)));
  });
  router.get('/api/users/:email', (req, res) => {
    const user = ctx.users.find(req.params.email);
    if (!user) throw new IdpError('not_found', `There is no user ${req.params.email}.`);
    res.json(publicUser(user));
  });
  router.patch('/api/users/:email', async (req, res) => {
    const patch = parseBody(userPatchSchema, req.body, 'user update');
    res.json(publicUser(await ctx.changes.updateUser(req.params.email, patch)));
  });
  router.delete('/api/users/:email', async (req, res) => {
    await ctx.changes.deleteUser(req.params.email);
    res.status(204).end();
  });

  // ---- service providers ----
  /** Applies an edit of the list (which may run again when another replica changed it meanwhile). */
  const editSps = async (edit: ServiceProvidersEdit) => {
    let edited: readonly unknown[] = [];
    try {
      return await ctx.changes.editServiceProviders((list) => (edited = edit(list)));
    } catch (err) {
      // The message's serviceProviders[i] is a place in the whole new list: it also names that SP's id.
      const named = (m: string) => m.replace(/serviceProviders\[(\d+)\]/g, (all, i: string) => {
        const id = (edited[Number(i)] as { id?: unknown } | undefined)?.id;
        return typeof id === 'string' ? `${all} (${JSON.stringify(id)})` : all;
      });
      if (err instanceof ConfigError) throw new IdpError('bad_request', named(err.message));
      throw err;
    }
  };
  const indexIn = (list: readonly Record<string, unknown>[], id: string): number => {
    const i = list.findIndex((sp) => sp.id === id);
    if (i === -1) throw new IdpError('not_found', `There is no service provider ${id}.`);
    return i;
  };

  router.get('/api/service-providers', (_req, res) => {
    res.json({ serviceProviders: spInputs(ctx).map((sp) => publicSp(sp, ctx)) });
  });
  router.post('/api/service-providers', async (req, res) => {
    const input = parseBody(serviceProviderSchema, req.body, 'service provider');
    refuseMetadataFile(req.body);
    const generated = await editSps((list) => {
      if (list.some((sp) => sp.id === input.id)) throw new IdpError('conflict', `A service provider with the id ${input.id} already exists.`);
      return [...list, req.body];
    });
    const secret = generated.find((g) => g.spId === input.id)?.secret;
    // A generated HS256 secret is returned once, here, to configure the SP with.
    res.status(201).json({ ...(publicSp(req.body, ctx) as object), ...(secret ? { generatedSecret: secret } : {}) });
  });
  router.get('/api/service-providers/:id', (req, res) => {
    const list = spInputs(ctx);
    res.json(publicSp(list[indexIn(list, req.params.id)], ctx));
  });
  router.put('/api/service-providers/:id', async (req, res) => {
    indexIn(spInputs(ctx), req.params.id);
    const body = { ...(req.body as Record<string, unknown>), id: (req.body as Record<string, unknown> | undefined)?.id ?? req.params.id };
    parseBody(serviceProviderSchema, body, 'service provider');
    refuseMetadataFile(body);
    if (body.id !== req.params.id) throw new IdpError('bad_request', `The body's id (${String(body.id)}) differs from the URL's (${req.params.id}).`);
    const generated = await editSps((list) => {
      const i = indexIn(list, req.params.id);
      return list.map((sp, j) => (j === i ? body : sp));
    });
    const secret = generated.find((g) => g.spId === req.params.id)?.secret;
    res.json({ ...(publicSp(body, ctx) as object), ...(secret ? { generatedSecret: secret } : {}) });
  });
  router.delete('/api/service-providers/:id', async (req, res) => {
    await editSps((list) => {
      const i = indexIn(list, req.params.id);
      return list.filter((_, j) => j !== i);
    });
    res.status(204).end();
  });

  // ---- tokens, responses, sessions ----
  router.post('/api/tokens', async (req, res) => {
    const body = parseBody(tokenRequestSchema, req.body, 'token request');
    const minted = await mintJwtFor(ctx, body.sp, body.user, body.claims, parseFaults('jwt', requestedFaults(body)));
    res.status(201).json(minted);
  });
  router.post('/api/saml/responses', async (req, res) => {
    const body = parseBody(samlResponseRequestSchema, req.body, 'SAML response request');
    const faults = parseFaults('saml', requestedFaults(body));
    const built = await samlResponseFor(ctx, body.sp, body.user, { acsUrl: body.acsUrl, inResponseTo: body.inResponseTo, faults });
    const { issued: _issued, ...answer } = built;
    res.status(201).json({ ...answer, faults: faults.map(faultLabel) });
  });
  router.get('/api/events', async (req, res) => {
    const q = parseBody(eventsQuerySchema, req.query, 'events query');
    res.json({ events: await ctx.flows.list({ limit: q.limit ?? 100, spId: q.sp, protocol: q.protocol, after: q.after }) });
  });
  router.post('/api/sessions', async (req, res) => {
    const body = parseBody(sessionRequestSchema, req.body, 'session request');
    const user = ctx.users.find(body.email);
    if (!user || user.disabled) throw new IdpError('bad_request', `There is no active user ${body.email}.`);
    res.status(201).json(await ctx.sessions.issue(user.email, ctx.clock.now()));
  });

  router.use(conformanceApi(ctx));
  router.use(keysApi(ctx));

  router.post('/api/reset', async (_req, res) => {
    await ctx.changes.reset();
    res.status(204).end();
  });

  return router;
}
