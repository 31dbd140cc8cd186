/**
 * SAML single sign-on over HTTP: AuthnRequests by HTTP-Redirect and HTTP-POST,
 * their continuation after a cross-site POST or a sign-in, and IdP-initiated
 * SSO. Receiving the message is src/saml/authn-request.ts, accepting it once and
 * deciding the answer src/sso/saml.ts, answering src/http/apply.ts.
 */
import { Router, type Request, type Response } from 'express';
import { IdpError } from '../errors.js';
import { queryOf, rawQueryOf } from '../params.js';
import { receiveAuthnRequest, type AuthnRequest } from '../saml/authn-request.js';
import type { IncomingMessage } from '../saml/binding.js';
import { samlEndpoints } from '../saml/metadata.js';
import { samlDeliveryChoice } from '../sso/choice.js';
import { acceptOnce, authnRequestRecord, decideAuthnRequest, decideIdpInitiated, heldRequest, idpInitiatedRecord, idpInitiatedRelayState, type HeldAuthnRequest } from '../sso/saml.js';
import type { DeliveryChoice, SamlLogin } from '../sso/types.js';
import type { SamlFault } from '../faults/catalog.js';
import { requireSp } from '../sps.js';
import { applySaml, loginForThisRequest, recording } from './apply.js';
import type { AppContext } from './context.js';
import { park, unpark } from './saml-pending.js';
import type { SloHandler } from './saml-slo.js';
import { csrfToken, noStore } from './security.js';
import { sessionViewOf } from './session-user.js';
import { signInEnv } from './sign-in-env.js';

export function samlSsoRouter(ctx: AppContext, slo: SloHandler): Router {
  const router = Router();

  /** The login form, even for a signed-in user (ForceAuthn), coming back to the parked request. */
  const askForPassword = (req: Request, res: Response, next: string, login: SamlLogin): void => {
    if (!login.user) {
      res.redirect(303, `/login?continue=${encodeURIComponent(next)}&sp=${encodeURIComponent(login.sp.id)}`);
      return;
    }
    noStore(res);
    res.render('login', { title: 'Sign in', csrf: csrfToken(req), error: undefined, email: login.user.email, next, target: login.sp.name });
  };

  /** Answers an accepted AuthnRequest: an assertion, a status, or a sign-in first. */
  const answer = async (req: Request, res: Response, request: HeldAuthnRequest, receivedAt: number, choice: DeliveryChoice<SamlFault>): Promise<void> => {
    const sp = requireSp(ctx, request.spId, 'saml');
    const outcome = await decideAuthnRequest({
      sp,
      request,
      receivedAt,
      choice,
      query: queryOf(req.originalUrl),
      session: sessionViewOf(ctx, req),
      env: signInEnv(ctx),
    });
    await applySaml(ctx, req, res, outcome, async (login) => {
      const key = await park(ctx.state, { kind: 'authn', request, receivedAt, choice });
      askForPassword(req, res, `/saml/continue/${key}`, login);
    });
  };

  const receive = async (req: Request, res: Response, message: IncomingMessage): Promise<void> => {
    const request: AuthnRequest = receiveAuthnRequest(message, { serviceProviders: ctx.config.serviceProviders, ssoUrl: samlEndpoints(ctx.config.baseUrl).sso });
    // fault= and review= on the SSO URL (for either binding), checked before anything is answered.
    const choice = await recording(ctx, req, authnRequestRecord(request), async () => samlDeliveryChoice(signInEnv(ctx), queryOf(req.originalUrl), request.sp));
    await acceptOnce(ctx.state, 'AuthnRequest', request.issuer, request.id);
    const receivedAt = ctx.clock.now();
    if (message.binding === 'post') {
      // Cross-site POST: no session cookie here. Continue with a top-level GET that has it.
      const key = await park(ctx.state, { kind: 'authn', request: heldRequest(request), receivedAt, choice });
      noStore(res);
      res.redirect(303, `/saml/continue/${key}`);
      return;
    }
    await answer(req, res, heldRequest(request), receivedAt, choice);
  };

  router.get('/saml/sso', (req, res) => receive(req, res, { binding: 'redirect', rawQuery: rawQueryOf(req.originalUrl) }));
  router.post('/saml/sso', (req, res) => receive(req, res, { binding: 'post', body: (req.body ?? {}) as Record<string, unknown> }));

  router.get('/saml/continue/:key', async (req, res) => {
    const item = await unpark(ctx.state, req.params.key);
    if (!item) throw new IdpError('bad_request', 'This SAML request has expired or was already answered. Start the sign-in again from the service provider.');
    if (item.kind === 'authn') {
      await answer(req, res, item.request, item.receivedAt, item.choice);
      return;
    }
    await slo.continueMessage(req, res, item.message);
  });

  router.get('/saml/idp-init/:spId', async (req, res) => {
    const env = signInEnv(ctx);
    const query = queryOf(req.originalUrl);
    const sp = requireSp(ctx, req.params.spId, 'saml');
    idpInitiatedRelayState(query);
    const choice = await recording(ctx, req, idpInitiatedRecord(sp), async () => samlDeliveryChoice(env, query, sp));
    const outcome = decideIdpInitiated({ sp, request: undefined, receivedAt: env.now, choice, query, session: sessionViewOf(ctx, req), env });
    await applySaml(ctx, req, res, outcome, () => loginForThisRequest(req, res));
  });

  return router;
}
