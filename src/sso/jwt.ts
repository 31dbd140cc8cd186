/**
 * The JWT sign-in, decided: every rule of an SP's remote-login request, in order.
 * Input: the SP id from the URL (or none: the SP whose redirectUrls match), the
 * query, the session as it is, the IdP's rules. Output: refuse, to the login
 * form, hold for review, or deliver (with what the session takes from it).
 */
import { IdpError } from '../errors.js';
import type { JwtFault } from '../faults/catalog.js';
import { hasParam, matchesAllowList, parseRedirectUrl, registeredUrlsDetail, singleParam } from '../jwt/redirect-url.js';
import { relayStateOf } from '../params.js';
import { isJwtSp, requireSp, type JwtSp } from '../sps.js';
import type { User } from '../users/store.js';
import { jwtDeliveryChoice, loginHintStep } from './choice.js';
import { decide, type Step } from './steps.js';
import type { DeliveryChoice, JwtOutcome, RefusalRecord, SessionView, SignInEnv } from './types.js';

export interface JwtSignInInput {
  /** The SP id of /sso/jwt/:spId; undefined for /sso/jwt, which picks the SP by its redirectUrls. */
  spId: string | undefined;
  query: URLSearchParams;
  session: SessionView;
  env: SignInEnv;
}

interface JwtState extends JwtSignInInput {
  sp: JwtSp | undefined;
  url: URL | undefined;
  relayState: string | undefined;
  choice: DeliveryChoice<JwtFault> | undefined;
  user: User | undefined;
  signIn: boolean | undefined;
  record: RefusalRecord | undefined;
}

const recordOf = (sp: JwtSp, destination?: string): RefusalRecord => ({
  sp: { id: sp.id, name: sp.name },
  protocol: 'jwt',
  binding: sp.jwt.delivery,
  initiator: 'sp',
  destination,
});

export const JWT_STEPS: readonly Step<JwtState, JwtOutcome>[] = [
  {
    name: 'the service provider named in the URL',
    run(s) {
      if (s.spId === undefined) return undefined;
      s.sp = requireSp(s.env.sps, s.spId, 'jwt');
      // From here on, a refusal is in the flow history too.
      s.record = recordOf(s.sp);
      return undefined;
    },
  },
  {
    name: 'redirect_url: one absolute http(s) URL among the SP’s redirectUrls',
    run(s) {
      const url = parseRedirectUrl(singleParam(s.query, 'redirect_url'));
      s.url = url;
      if (s.sp) {
        if (!matchesAllowList(url, s.sp.jwt.redirectUrls)) {
          throw new IdpError('invalid_redirect_url', `The redirect_url is not registered for ${s.sp.name}: ${url.origin}${url.pathname} is not in its redirectUrls.`, {
            detail: registeredUrlsDetail(s.sp.name, s.sp.jwt.redirectUrls),
          });
        }
        return undefined;
      }
      const matches = s.env.sps.config.serviceProviders.filter((sp): sp is JwtSp => isJwtSp(sp) && matchesAllowList(url, sp.jwt.redirectUrls));
      if (matches.length === 0) throw new IdpError('invalid_redirect_url', `No service provider has ${url.origin}${url.pathname} among its redirectUrls.`);
      if (matches.length > 1) {
        throw new IdpError('ambiguous_sp', `Several service providers (${matches.map((m) => m.id).join(', ')}) accept this redirect_url; use /sso/jwt/<id> to pick one.`);
      }
      s.sp = matches[0]!;
      s.record = recordOf(s.sp, url.href);
      return undefined;
    },
  },
  {
    name: 'relayState: at most once, within the limit',
    run(s) {
      s.relayState = relayStateOf(s.query);
      return undefined;
    },
  },
  {
    name: 'fault= and review=',
    run(s) {
      s.choice = jwtDeliveryChoice(s.env, s.query, s.sp!);
      return undefined;
    },
  },
  loginHintStep(),
  {
    name: 'a signed-in user, else the login form',
    run(s) {
      return s.user ? undefined : { kind: 'login', signIn: false };
    },
  },
  {
    name: 'deliver, or hold for review',
    run(s) {
      const sp = s.sp!;
      const url = s.url!;
      return {
        kind: s.choice!.review ? 'review' : 'deliver',
        sp,
        user: s.user!,
        faults: s.choice!.faults,
        target: {
          method: sp.jwt.delivery,
          url: url.href,
          relayState: s.relayState,
          addRelay: s.relayState !== undefined && !hasParam(url, 'relayState', 'RelayState'),
        },
        session: { signIn: s.signIn!, addSp: s.signIn! || !s.session.sps.includes(sp.id), saml: false },
        record: s.record!,
      };
    },
  },
];

export function decideJwtSignIn(input: JwtSignInInput): JwtOutcome {
  // Every field named up front: one object shape for every sign-in, which the steps then fill in.
  const state: JwtState = {
    spId: input.spId,
    query: input.query,
    session: input.session,
    env: input.env,
    sp: undefined,
    url: undefined,
    relayState: undefined,
    choice: undefined,
    user: undefined,
    signIn: undefined,
    record: undefined,
  };
  return decide(JWT_STEPS, state);
}
