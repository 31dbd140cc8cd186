/**
 * The values a sign-in decision takes and gives. No HTTP here: the routes and the
 * fast path build a `SessionView` and the request's parameters from what they
 * received, and turn the outcome into an answer (src/http/apply.ts).
 */
import type { IdpError } from '../errors.js';
import type { JwtFault, SamlFault } from '../faults/catalog.js';
import type { FlowBinding } from '../flows/types.js';
import type { SamlStatus } from '../saml/constants.js';
import type { NameIdSource, RememberedNameId, SamlNameId } from '../saml/nameid.js';
import type { JwtSp, SamlSp, SpDirectory } from '../sps.js';
import type { User } from '../users/store.js';

/** What the decision may know of the IdP session: read-only. */
export interface SessionView {
  /** The signed-in user, re-read from the store and active; undefined when nobody is signed in. */
  user: User | undefined;
  /** When that user signed in (ms since the epoch). */
  authTime: number | undefined;
  /** Service providers this session signed in to. */
  sps: readonly string[];
  /** The session's SAML state: its SessionIndex and the NameID sent to each SAML SP. */
  saml: { sessionIndex: string; sps: Readonly<Record<string, RememberedNameId>> } | undefined;
}

/** What a sign-in needs of the IdP around it: its rules, its SPs and its users. */
export interface SignInEnv {
  allowFaults: boolean;
  allowLoginHint: boolean;
  sps: SpDirectory;
  /** An active or disabled user by email, as the store has them. */
  findUser(email: string): User | undefined;
  /** ms since the epoch, from the IdP clock. */
  now: number;
  /** Persistent pseudonyms, fresh transient values (the decision's only randomness), established persistent NameIDs. */
  nameIds: NameIdSource;
}

/** What a sign-in request asks of its delivery. */
export interface DeliveryChoice<F> {
  faults: F[];
  review: boolean;
}

/** How a refusal is written into the flow history (absent: it is not, as for an unknown SP). */
export interface RefusalRecord {
  sp: { id: string; name: string };
  protocol: 'jwt' | 'saml';
  binding: FlowBinding;
  initiator: 'sp' | 'idp' | 'widget';
  destination?: string | undefined;
}

export interface Refuse {
  kind: 'refuse';
  error: IdpError;
  record: RefusalRecord | undefined;
}

/** Where a JWT goes once minted. */
export interface JwtTarget {
  method: 'redirect' | 'post';
  /** The redirect_url (the consumer). */
  url: string;
  relayState: string | undefined;
  /** Whether relayState is added (not when redirect_url already carries one). */
  addRelay: boolean;
}

/** What the session takes from a delivery (nothing, in the plain repeat of a sign-in). */
export interface SessionChanges {
  /** login_hint named another user: a new session signed in as `user`. */
  signIn: boolean;
  /** The SP joins the session's list (for sign-out). */
  addSp: boolean;
  /** SAML: the session's SessionIndex is new, or the SP's NameID is. */
  saml: boolean;
}

export interface JwtDelivery {
  kind: 'deliver' | 'review';
  sp: JwtSp;
  user: User;
  faults: JwtFault[];
  target: JwtTarget;
  session: SessionChanges;
  record: RefusalRecord;
}

export type JwtOutcome = Refuse | { kind: 'login'; signIn: boolean } | JwtDelivery;

export interface SamlDelivery {
  kind: 'deliver' | 'review';
  sp: SamlSp;
  user: User;
  faults: SamlFault[];
  acsUrl: string;
  /** The AuthnRequest's ID; undefined for IdP-initiated SSO. */
  inResponseTo: string | undefined;
  relayState: string | undefined;
  /** The session's SessionIndex; undefined when the session has none yet (the applier draws a new one). */
  sessionIndex: string | undefined;
  authnInstant: number;
  /** The NameID the Response will carry (src/saml/nameid.ts). */
  nameId: SamlNameId;
  session: SessionChanges;
  record: RefusalRecord;
}

export interface SamlStatusAnswer {
  kind: 'status';
  sp: SamlSp;
  acsUrl: string;
  inResponseTo: string | undefined;
  relayState: string | undefined;
  status: SamlStatus;
}

/** To the login form first; `user` set when the signed-in user must give their password again (ForceAuthn). */
export interface SamlLogin {
  kind: 'login';
  sp: SamlSp;
  user: User | undefined;
  signIn: boolean;
}

export type SamlOutcome = Refuse | SamlStatusAnswer | SamlLogin | SamlDelivery;
