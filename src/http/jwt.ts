/**
 * JWT single sign-on over HTTP: the SP's "remote login URL", the token endpoint
 * for widgets (Contact JWT), and the JWKS. The sign-in itself is decided in
 * src/sso/jwt.ts and answered by src/http/apply.ts.
 */
import { Router, type Request, type Response } from 'express';
import { IdpError } from '../errors.js';
import { jwtEntry } from '../flows/entries.js';
import { recordDelivery } from '../issue/delivered.js';
import { queryOf } from '../params.js';
import { decideJwtSignIn } from '../sso/jwt.js';
import { requireSp, type JwtSp } from '../sps.js';
import { applyJwt } from './apply.js';
import type { AppContext } from './context.js';
import { noStore } from './security.js';
import { currentUser, rememberDelivery, sessionViewOf } from './session-user.js';
import { signInEnv } from './sign-in-env.js';

export function jwtRouter(ctx: AppContext): Router {
  const router = Router();

  const signIn = (spId: string | undefined) => async (req: Request, res: Response) => {
    const outcome = decideJwtSignIn({ spId, query: queryOf(req.originalUrl), session: sessionViewOf(ctx, req), env: signInEnv(ctx) });
    await applyJwt(ctx, req, res, outcome);
  };
  router.get('/sso/jwt/:spId', (req, res) => signIn(req.params.spId)(req, res));
  // Without an SP id: the SP whose allow-list matches the redirect_url.
  router.get('/sso/jwt', signIn(undefined));

  // Contact JWT for widgets: the token as JSON, CORS only for the SP's registered origins.
  const cors = (req: Request, res: Response, sp: JwtSp): void => {
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
    const sp = requireSp(ctx, req.params.spId, 'jwt');
    cors(req, res, sp);
    res.set('Access-Control-Allow-Methods', 'GET');
    res.set('Access-Control-Max-Age', '600');
    res.status(204).end();
  });

  router.get('/sso/token/:spId', async (req, res) => {
    const sp = requireSp(ctx, req.params.spId, 'jwt');
    cors(req, res, sp);
    const user = currentUser(ctx, req);
    if (!user) throw new IdpError('not_signed_in', 'Sign in to the IdP first.');
    const issued = await ctx.issuer.jwt(sp, user);
    rememberDelivery(req, sp.id);
    await recordDelivery(ctx, {
      flow: jwtEntry(sp, user.email, issued, { binding: 'json', initiator: 'widget', destination: req.get('origin') ?? '' }),
      sent: { spId: sp.id, jti: issued.claims.jti },
    });
    noStore(res);
    res.json({ token: issued.token, tokenType: 'JWT', sp: sp.id, expiresAt: new Date((issued.claims.exp ?? 0) * 1000).toISOString() });
  });

  // The public key (SPKI PEM) an SP's RS256/ES256 tokens verify with, for SPs that take a pasted key (Secure Messenger's "Public Key").
  router.get('/sso/public-key/:spId', (req, res) => {
    const sp = requireSp(ctx, req.params.spId, 'jwt');
    const alg = sp.jwt.algorithm;
    if (alg === 'HS256') {
      throw new IdpError('bad_request', `Service provider "${sp.id}" signs with HS256, a shared secret: there is no public key (give the SP the secret, or switch it to RS256 or ES256).`);
    }
    const key = ctx.keystore.jwtKeyFor(sp.id, alg);
    res.set('Cache-Control', 'public, max-age=300');
    res.set('Content-Disposition', `inline; filename="${sp.id}-${alg.toLowerCase()}.pub.pem"`);
    res.type('application/x-pem-file').send(key.publicKey.export({ type: 'spki', format: 'pem' }).toString());
  });

  router.get('/.well-known/jwks.json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.json(ctx.keystore.jwks());
  });

  return router;
}
