/**
 * Steps every sign-in shares: what the request asks of its delivery (fault=,
 * review=) and the headless sign-in of login_hint. Both are checked before the
 * user is asked for anything: a refused fault never waits for a sign-in.
 */
import { IdpError } from '../errors.js';
import type { JwtFault, SamlFault } from '../faults/catalog.js';
import { parseJwtFaults, parseSamlFaults } from '../faults/parse.js';
import { jwtFaultUnfitFor } from '../issue/issuer.js';
import type { JwtSp, SamlSp } from '../sps.js';
import type { User } from '../users/store.js';
import type { Step } from './steps.js';
import type { DeliveryChoice, SessionView, SignInEnv } from './types.js';

const TRUE = new Set(['1', 'true', 'yes', 'on']);

function faultValues(env: SignInEnv, params: URLSearchParams): string[] {
  const values = params.getAll('fault').filter((v) => v.trim() !== '');
  if (values.length > 0 && !env.allowFaults) {
    throw new IdpError(
      'faults_disabled',
      'Fault injection is off, so the fault parameter is refused. Set allowFaults: true in the IdP config to use fault= on sign-in URLs, or add review=1 and choose a fault on the review page.',
    );
  }
  return values;
}

function wantsReview(sp: { review: boolean }, params: URLSearchParams): boolean {
  return sp.review || params.getAll('review').some((v) => TRUE.has(v.trim().toLowerCase()));
}

/** fault= and review= of a JWT sign-in. Throws IdpError('faults_disabled' | 'invalid_fault'). */
export function jwtDeliveryChoice(env: SignInEnv, params: URLSearchParams, sp: JwtSp): DeliveryChoice<JwtFault> {
  const faults = parseJwtFaults(faultValues(env, params));
  const unfit = jwtFaultUnfitFor(sp, faults);
  if (unfit) throw unfit;
  return { faults, review: wantsReview(sp, params) };
}

/** fault= and review= of a SAML sign-in. Throws IdpError('faults_disabled' | 'invalid_fault'). */
export function samlDeliveryChoice(env: SignInEnv, params: URLSearchParams, sp: SamlSp): DeliveryChoice<SamlFault> {
  return { faults: parseSamlFaults(faultValues(env, params)), review: wantsReview(sp, params) };
}

/** Who signs in: the login_hint's user (allowLoginHint only), else the session's. */
export interface SignedIn {
  user: User | undefined;
  /** The hint named someone other than the session's user: the session starts anew as them. */
  signIn: boolean;
}

/**
 * Headless sign-in for test suites: with `allowLoginHint: true`, a `login_hint`
 * parameter signs that user in without the form. Throws IdpError('bad_request')
 * for a hint while allowLoginHint is off, a repeated hint or one that names no active user.
 */
export function signedIn(env: SignInEnv, params: URLSearchParams, session: SessionView): SignedIn {
  const hints = params.getAll('login_hint');
  if (hints.length === 0) return { user: session.user, signIn: false };
  if (!env.allowLoginHint) {
    // Answered like fault= when allowFaults is off: a switched-off feature says how to switch it on.
    throw new IdpError(
      'bad_request',
      'Headless sign-in is off, so the login_hint parameter is refused. Set allowLoginHint: true in the IdP config to sign the hinted user in without the form, or leave login_hint out and sign in on the login page.',
    );
  }
  if (hints.length > 1) throw new IdpError('bad_request', 'The login_hint parameter is given more than once.');
  const user = env.findUser(hints[0]!);
  if (!user || user.disabled) throw new IdpError('bad_request', 'login_hint does not name an active user.');
  return { user, signIn: session.user?.email !== user.email };
}

/** The login_hint step of every SP-initiated sign-in: who signs in, and whether the session starts anew as them. */
export function loginHintStep<S extends { env: SignInEnv; query: URLSearchParams; session: SessionView; user?: User | undefined; signIn?: boolean }, O>(): Step<S, O> {
  return {
    name: 'login_hint',
    run(s) {
      const who = signedIn(s.env, s.query, s.session);
      s.user = who.user;
      s.signIn = who.signIn;
      return undefined;
    },
  };
}
