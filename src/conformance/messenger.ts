/**
 * Conformance of a messenger's Authorize API (Comm100 Secure Messenger's
 * POST /securemessage/authorize, `conformance.messenger`): the website's Contact
 * JWT is exchanged there for an access token. The runner POSTs every JWT case to
 * it as JSON instead of delivering it to redirectUrls, and judges the answer here.
 */
import type { ResolvedServiceProvider } from '../config/load.js';
import { CONTACT_JWT_FAULT_NAMES, type FaultInfo, type JwtFaultName } from '../faults/catalog.js';
import { faultsFor, type FaultFitContext } from '../issue/issuer.js';

export type MessengerTarget = NonNullable<NonNullable<ResolvedServiceProvider['conformance']>['messenger']>;

/**
 * The faults an Authorize API must refuse: what it verifies is the signature (by
 * the validation method: shared token, public key or JWKS, so also alg none and
 * HS/RS confusion), exp (required) and nbf when present (jose's jwtVerify), and
 * the identity key. It knows no audience, issuer or email claim, and it may
 * exchange the same Contact JWT more than once (a page reload), so wrong-audience,
 * wrong-issuer, missing-email, missing-jti, replayed-jti and the replay are not its cases.
 */
export const MESSENGER_FAULTS: readonly JwtFaultName[] = [
  'expired',
  'not-yet-valid',
  'clock-skew',
  'bad-signature',
  'wrong-key',
  'alg-none',
  'hs-rs-confusion',
  'old-shared-token',
  'missing-identity',
  'missing-exp',
];

/**
 * The JWT faults a conformance run sends to this SP: those `faultsFor` finds fit,
 * narrowed to the Authorize API's for a messenger; an agent SSO delivery keeps its
 * catalogue without the Contact JWT faults (its consumer reads no identity claim).
 */
export function jwtCaseFaults(sp: ResolvedServiceProvider, known: FaultFitContext): readonly FaultInfo[] {
  const fit = faultsFor('jwt', sp, known);
  if (sp.conformance?.messenger) return fit.filter((f) => MESSENGER_FAULTS.includes(f.name as JwtFaultName));
  return fit.filter((f) => !(CONTACT_JWT_FAULT_NAMES as readonly string[]).includes(f.name));
}

/** How many cases a run has for the SP's JWT section: the valid one, the faults, and the replay (none for a messenger). */
export function jwtCaseCount(sp: ResolvedServiceProvider, known: FaultFitContext): number {
  return 1 + jwtCaseFaults(sp, known).length + (sp.conformance?.messenger ? 0 : 1);
}

/** The Authorize API's request body, as the seed's curl sends it (the token under "contactJwt"). */
export function authorizeBody(target: MessengerTarget, contactJwt: string): Record<string, unknown> {
  return { siteId: Number(target.siteId), messengerId: target.messengerId, contactJwt, isPreview: false };
}

export interface MessengerJudgement {
  accepted: boolean;
  pass: boolean;
  /** Said beside the answer when the verdict needs it: a refusal that is not the 401 the API documents, or an answer that is no refusal. */
  note: string | undefined;
}

/**
 * A valid Contact JWT must get 200 with a string accessToken. A bad one must be
 * refused with a 4xx: 401 is what the Authorize API answers a verification
 * failure with; another 4xx still refuses the token (a pass, with a note); a 5xx,
 * a redirect or a 200 is no refusal (a fail).
 */
export function judgeAuthorize(expected: 'accept' | 'reject', answer: { status: number; body: string }): MessengerJudgement {
  let accessToken: unknown;
  try {
    accessToken = (JSON.parse(answer.body) as { accessToken?: unknown } | null)?.accessToken;
  } catch {
    accessToken = undefined;
  }
  const accepted = answer.status === 200 && typeof accessToken === 'string' && accessToken !== '';
  if (expected === 'accept') {
    const note = accepted ? undefined : answer.status === 200 ? '200 without a string accessToken' : undefined;
    return { accepted, pass: accepted, note };
  }
  if (accepted) return { accepted, pass: false, note: undefined };
  if (answer.status >= 400 && answer.status < 500) return { accepted, pass: true, note: answer.status === 401 ? undefined : '401 expected' };
  return { accepted, pass: false, note: 'no refusal: a 4xx (401) expected' };
}
