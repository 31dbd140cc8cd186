/**
 * JWT single sign-on: the SP's "remote login URL", the token endpoint for
 * widgets (Contact JWT), and the JWKS.
 */
import { Router, type Request, type Response } from 'express';
import type { ResolvedJwtSp, ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import { hasParam, matchesAllowList, parseRedirectUrl, singleParam } from '../jwt/redirect-url.js';
import type { AppContext } from './context.js';
import { completeJwt, jwtDeliveryChoice, jwtFlow, recordingRefusals, rememberSp, type JwtSend } from './deliver.js';
import { holdJwtForReview } from './review.js';
import { currentUser, redirectToLogin, signInByHint } from './login.js';
import { noStore } from './security.js';

export type JwtSp = ResolvedServiceProvider & { jwt: ResolvedJwtSp };

/** The raw query of a request, parsed without Express' array/object coercions. */
export function rawQuery(req: Request): URLSearchParams {
  const i = req.originalUrl.indexOf('?');
  return new URLSearchParams(i === -1 ? '' : req.originalUrl.slice(i + 1));
}

function jwtSp(ctx: AppContext, id: string): JwtSp {
  const sp = ctx.sp(id);
  if (!sp) throw new IdpError('unknown_sp', `There is no service provider "${id}".`);
  if (!sp.jwt) throw new IdpError('sp_protocol_disabled', `Service provider "${sp.name}" is not set up for JWT single sign-on.`);
  return sp as JwtSp;
}

/** The relayState (or RelayState) parameter beside redirect_url. Throws IdpError('bad_request') when repeated or too long. */
export function relayStateOf(params: URLSearchParams): string | undefined {
  for (const name of ['RelayState', 'relayState']) {
    const values = params.getAll(name);
    if (values.length > 1) throw new IdpError('bad_request', `The ${name} parameter is given ${values.length} times; give it once.`);
    if (values.length === 1) {
      if (values[0]!.length > 2048) throw new IdpError('bad_request', `The ${name} parameter is longer than 2048 characters.`);
      return values[0];
    }
  }
  return undefined;
}

/** A token on its way to the SP's redirect_url, the way the SP asked for it. */
export function jwtSendOf(sp: JwtSp, url: URL, token: string, relayState: string | undefined): JwtSend {
  return {
    method: sp.jwt.delivery,
    url: url.href,
    token,
    relayState,
    addRelay: relayState !== undefined && !hasParam(url, 'relayState', 'RelayState'),
    spName: sp.name,
  };
}

async function deliver(ctx: AppContext, req: Request, res: Response, sp: JwtSp, url: URL, relayState: string | undefined): Promise<void> {
  // fault= and review= are checked before anything else: a refused fault never waits for a sign-in.
  const choice = jwtDeliveryChoice(ctx, rawQuery(req), sp);
  const user = (await signInByHint(ctx, req)) ?? currentUser(ctx, req);
  if (!user) {
    redirectToLogin(req, res);
    return;
  }
  const issued = await ctx.faults.mintJwt(sp, user, { faults: choice.faults });
  const send = jwtSendOf(sp, url, issued.token, relayState);
  if (choice.review) {
    holdJwtForReview(ctx, req, res, sp, user, send, issued, choice.faults);
    return;
  }
  completeJwt(ctx, req, res, sp, user.email, send, issued);
}

export function jwtRouter(ctx: AppContext): Router {
  const router = Router();

  router.get('/sso/jwt/:spId', async (req, res) => {
    const sp = jwtSp(ctx, req.params.spId);
    // An SP's sign-in the IdP refuses (redirect_url, fault=) is in the flow history too.
    await recordingRefusals(ctx, req, { sp, protocol: 'jwt', binding: sp.jwt.delivery, initiator: 'sp' }, async () => {
      const params = rawQuery(req);
      const url = parseRedirectUrl(singleParam(params, 'redirect_url'));
      if (!matchesAllowList(url, sp.jwt.redirectUrls)) {
        throw new IdpError(
          'invalid_redirect_url',
          `The redirect_url is not registered for ${sp.name}: ${url.origin}${url.pathname} is not in its redirectUrls.`,
        );
      }
      await deliver(ctx, req, res, sp, url, relayStateOf(params));
    });
  });

  // Without an SP id: the SP whose allow-list matches the redirect_url.
  router.get('/sso/jwt', async (req, res) => {
    const params = rawQuery(req);
    const url = parseRedirectUrl(singleParam(params, 'redirect_url'));
    const matches = ctx.config.serviceProviders.filter((sp): sp is JwtSp => !!sp.jwt && matchesAllowList(url, sp.jwt.redirectUrls));
    if (matches.length === 0) {
      throw new IdpError('invalid_redirect_url', `No service provider has ${url.origin}${url.pathname} among its redirectUrls.`);
    }
    if (matches.length > 1) {
      throw new IdpError(
        'ambiguous_sp',
        `Several service providers (${matches.map((s) => s.id).join(', ')}) accept this redirect_url; use /sso/jwt/<id> to pick one.`,
      );
    }
    const sp = matches[0]!;
    await recordingRefusals(ctx, req, { sp, protocol: 'jwt', binding: sp.jwt.delivery, initiator: 'sp', destination: url.href }, () =>
      deliver(ctx, req, res, sp, url, relayStateOf(params)),
    );
  });

  // Contact JWT for widgets: the token as JSON, CORS only for the SP's registered origins.
  const cors = (req: Request, res: Response, sp: ResolvedServiceProvider): void => {
    const origin = req.get('origin');
    res.vary('Origin');
    if (origin === undefined) return;
    if (!sp.origins.includes(origin)) {
      throw new IdpError('forbidden_origin', `The origin ${origin} is not registered for ${sp.name}.`);
    }
    res.set('Access-Control-Allow-Origin', origin);
    res.set('Access-Control-Allow-Credentials', 'true');
  };

  router.options('/sso/token/:spId', (req, res) => {
    const sp = jwtSp(ctx, req.params.spId);
    cors(req, res, sp);
    res.set('Access-Control-Allow-Methods', 'GET');
    res.set('Access-Control-Max-Age', '600');
    res.status(204).end();
  });

  router.get('/sso/token/:spId', async (req, res) => {
    const sp = jwtSp(ctx, req.params.spId);
    cors(req, res, sp);
    const user = currentUser(ctx, req);
    if (!user) throw new IdpError('not_signed_in', 'Sign in to the IdP first.');
    const issued = await ctx.faults.mintJwt(sp, user);
    const { token, claims } = issued;
    rememberSp(req, sp.id);
    ctx.faults.remember(sp.id, { jti: claims.jti });
    ctx.flows.record(jwtFlow(sp, user.email, { method: 'post', url: req.get('origin') ?? '', token, relayState: undefined, addRelay: false, spName: sp.name }, issued, { binding: 'json' }));
    noStore(res);
    res.json({ token, tokenType: 'JWT', sp: sp.id, expiresAt: new Date((claims.exp ?? 0) * 1000).toISOString() });
  });

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.json(ctx.keystore.jwks());
  });

  return router;
}
