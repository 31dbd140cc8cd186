/**
 * The SAML sign-in, decided: every rule of answering an AuthnRequest (SP-initiated)
 * or an IdP-initiated sign-in, in order. Receiving the message (binding, XML,
 * signature, ACS) is src/saml/authn-request.ts; accepting its ID once is
 * `acceptOnce` below; what follows is pure: the request, the session as
 * it is, the time in, one outcome out.
 */
import { IdpError } from '../errors.js';
import type { SamlFault } from '../faults/catalog.js';
import { LIMITS } from '../limits.js';
import { optionalParam } from '../params.js';
import type { NameIdFormatUri } from '../config/sp-schema.js';
import type { AuthnRequest } from '../saml/authn-request.js';
import type { SamlStatus } from '../saml/constants.js';
import { allowCreateStatus, chooseNameIdFormat, nameIdOf, rememberedNameId, sameNameId } from '../saml/nameid.js';
import { quote } from '../saml/xml.js';
import type { SamlSp } from '../sps.js';
import type { StateStore } from '../state/types.js';
import type { User } from '../users/store.js';
import { loginHintStep } from './choice.js';
import { decide, type Step } from './steps.js';
import type { DeliveryChoice, RefusalRecord, SamlDelivery, SamlOutcome, SessionView, SignInEnv } from './types.js';

/** How long a request may wait for its user to sign in, and its ID is remembered against replay. */
export const PENDING_TTL_MS = 10 * 60 * 1000;

/** An AuthnRequest as kept while its user signs in: plain data, the SP by id. */
export type HeldAuthnRequest = Omit<AuthnRequest, 'sp'> & { spId: string };

/** What the decision reads of an AuthnRequest (a received one, or one held while its user signed in). */
export type DecidedRequest = Pick<AuthnRequest, 'id' | 'acsUrl' | 'relayState' | 'forceAuthn' | 'isPassive' | 'nameIdPolicy'>;

export interface SamlSignInInput {
  sp: SamlSp;
  /** The AuthnRequest answered; undefined for IdP-initiated SSO. */
  request: DecidedRequest | undefined;
  /** When the IdP received the request (ForceAuthn wants a sign-in after it). */
  receivedAt: number;
  choice: DeliveryChoice<SamlFault>;
  /** The query of this request (login_hint). */
  query: URLSearchParams;
  session: SessionView;
  env: SignInEnv;
}

interface SamlState extends SamlSignInInput {
  user: User | undefined;
  signIn: boolean | undefined;
  record: RefusalRecord | undefined;
  /** The NameID format the request's NameIDPolicy chose; undefined: the SP's default. */
  format: NameIdFormatUri | undefined;
}

/** Every field named up front: one object shape for every sign-in, which the steps then fill in. */
function stateOf(input: SamlSignInInput): SamlState {
  return { sp: input.sp, request: input.request, receivedAt: input.receivedAt, choice: input.choice, query: input.query, session: input.session, env: input.env, user: undefined, signIn: undefined, record: undefined, format: undefined };
}

const recordOf = (sp: SamlSp, initiator: 'sp' | 'idp', destination: string): RefusalRecord => ({
  sp: { id: sp.id, name: sp.name },
  protocol: 'saml',
  binding: 'post',
  initiator,
  destination,
});

function acsOf(s: SamlSignInInput): string {
  return s.request?.acsUrl ?? s.sp.saml.acsUrls[0]!;
}

function delivery(s: SamlState): SamlDelivery {
  const { sp, session } = s;
  const user = s.user!;
  const signIn = s.signIn!;
  const record = recordOf(sp, s.request ? 'sp' : 'idp', acsOf(s));
  s.record = record;
  const known = signIn ? undefined : session.saml;
  const sent = rememberedNameId(known?.sps[sp.id], sp);
  // The user's NameID for this SP (a transient one as this session already sent it): a user without one is refused (and the refusal recorded).
  const nameId = nameIdOf({ sp, user, format: s.format ?? sp.saml.nameIdFormat, source: s.env.nameIds, sent });
  return {
    kind: s.choice.review ? 'review' : 'deliver',
    sp,
    user,
    faults: s.choice.faults,
    acsUrl: acsOf(s),
    inResponseTo: s.request?.id,
    relayState: s.request ? s.request.relayState : relayStateOfIdpInit(s.query),
    sessionIndex: known?.sessionIndex,
    authnInstant: (signIn ? undefined : session.authTime) ?? s.env.now,
    nameId,
    session: { signIn, addSp: signIn || !session.sps.includes(sp.id), saml: known === undefined || !sameNameId(sent, nameId) },
    record,
  };
}

function statusOf(s: SamlSignInInput, status: SamlStatus): SamlOutcome {
  return { kind: 'status', sp: s.sp, acsUrl: acsOf(s), inResponseTo: s.request!.id, relayState: s.request!.relayState, status };
}

function relayStateOfIdpInit(query: URLSearchParams): string | undefined {
  return optionalParam(query, 'RelayState', LIMITS.relayStateChars);
}

/** Answering an AuthnRequest. */
export const AUTHN_REQUEST_STEPS: readonly Step<SamlState, SamlOutcome>[] = [
  {
    name: "NameIDPolicy: a format this IdP issues (else the SP's default), qualified by the SP itself",
    run(s) {
      const chosen = chooseNameIdFormat(s.request!.nameIdPolicy, s.sp);
      if ('status' in chosen) return statusOf(s, chosen.status);
      s.format = chosen.format;
      return undefined;
    },
  },
  loginHintStep(),
  {
    name: 'a signed-in user, signed in after the request when it asks for ForceAuthn',
    run(s) {
      const authTime = (s.signIn ? s.env.now : s.session.authTime) ?? 0;
      const fresh = s.user !== undefined && (!s.request!.forceAuthn || authTime >= s.receivedAt);
      return fresh ? delivery(s) : undefined;
    },
  },
  {
    name: 'IsPassive: a status instead of the login form',
    run(s) {
      if (!s.request!.isPassive) return undefined;
      const message = s.user ? 'The request asks for a new sign-in (ForceAuthn) without any interaction (IsPassive).' : 'The user is not signed in to the IdP, and the request is passive.';
      return { kind: 'status', sp: s.sp, acsUrl: acsOf(s), inResponseTo: s.request!.id, relayState: s.request!.relayState, status: { code: 'Responder', subCode: 'NoPassive', message } };
    },
  },
  {
    name: 'the login form (the password again, for ForceAuthn)',
    run(s) {
      return { kind: 'login', sp: s.sp, user: s.user, signIn: s.signIn! };
    },
  },
];

/**
 * AllowCreate="false" on a persistent NameID: the one rule that reads the durable
 * store (was this NameID established?), so it looks at the steps' delivery after
 * them rather than being one of them.
 */
async function allowCreateCheck(input: SamlSignInInput, outcome: SamlOutcome): Promise<SamlOutcome> {
  if ((outcome.kind !== 'deliver' && outcome.kind !== 'review') || !input.request) return outcome;
  const { sp, user, nameId } = outcome;
  const status = await allowCreateStatus(input.request.nameIdPolicy, nameId.format, () => input.env.nameIds.established(sp.id, user.email));
  return status ? statusOf(input, status) : outcome;
}

/** IdP-initiated (the SP's default NameID format): the user asks for an unsolicited Response to the SP's default ACS. */
export const IDP_INITIATED_STEPS: readonly Step<SamlState, SamlOutcome>[] = [
  {
    name: 'a signed-in user, else the login form',
    run(s) {
      s.user = s.session.user;
      s.signIn = false;
      return s.user ? undefined : { kind: 'login', sp: s.sp, user: undefined, signIn: false };
    },
  },
  { name: 'deliver, or hold for review', run: (s) => delivery(s) },
];

export function decideAuthnRequest(input: SamlSignInInput): Promise<SamlOutcome> {
  return allowCreateCheck(input, decide(AUTHN_REQUEST_STEPS, stateOf(input)));
}

export function decideIdpInitiated(input: SamlSignInInput): SamlOutcome {
  return decide(IDP_INITIATED_STEPS, stateOf(input));
}

/** The flow history's note of a refused SP-initiated sign-in. */
export function authnRequestRecord(request: Pick<AuthnRequest, 'sp' | 'acsUrl'>): RefusalRecord {
  return recordOf(request.sp, 'sp', request.acsUrl);
}

/** The flow history's note of a refused IdP-initiated sign-in. */
export function idpInitiatedRecord(sp: SamlSp): RefusalRecord {
  return recordOf(sp, 'idp', sp.saml.acsUrls[0]!);
}

/** RelayState of an IdP-initiated sign-in: at most once, within the limit. Throws IdpError('bad_request'). */
export function idpInitiatedRelayState(query: URLSearchParams): string | undefined {
  return relayStateOfIdpInit(query);
}

const REPLAY = 'replay:saml:';

function replayKey(what: string, issuer: string, id: string): string {
  return `${REPLAY}${what}:${issuer}\n${id}`;
}

/**
 * Accepts a message ID once (AuthnRequest, LogoutRequest): throws
 * IdpError('replayed_request') when it was already used and its memory has not
 * expired. Atomic in the state store, so two replicas cannot both accept it.
 */
export async function acceptOnce(state: StateStore, what: 'AuthnRequest' | 'LogoutRequest', issuer: string, id: string): Promise<void> {
  if (!(await state.setIfAbsent(replayKey(what, issuer, id), 1, PENDING_TTL_MS))) throw replayed(what, id);
}

/** Whether a message ID was already accepted (the fast path looks before it takes a request). */
export async function alreadyAccepted(state: StateStore, what: 'AuthnRequest' | 'LogoutRequest', issuer: string, id: string): Promise<boolean> {
  return (await state.get(replayKey(what, issuer, id))) !== undefined;
}

export function replayed(what: string, id: string): IdpError {
  return new IdpError('replayed_request', `This ${what} (ID ${quote(id)}) was already used; a SAML message is accepted once.`);
}

/** The request as it is kept while its user signs in. */
export function heldRequest(request: AuthnRequest): HeldAuthnRequest {
  const { sp, ...rest } = request;
  return { ...rest, spId: sp.id };
}
