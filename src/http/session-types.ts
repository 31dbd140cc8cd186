import 'express-session';
import type { RememberedNameId } from '../saml/nameid.js';

/** A single logout in progress (IdP- or SP-initiated), one SP after the other. */
export interface LogoutChain {
  /** SP ids still to be sent a LogoutRequest. */
  queue: string[];
  /** The LogoutRequest awaiting its LogoutResponse. */
  current?: { spId: string; requestId: string } | undefined;
  results: { spId: string; name: string; ok: boolean; detail: string }[];
  /** SP-initiated: the LogoutResponse owed to the SP that started it. */
  answer?: { spId: string; inResponseTo: string; relayState: string | undefined; binding: 'redirect' | 'post' } | undefined;
}

declare module 'express-session' {
  interface SessionData {
    csrf?: string;
    /** The signed-in user: their email (the store is asked for the rest on each use). */
    user?: { email: string; authTime: number };
    /** Service providers this session signed in to, for single logout. */
    sps?: string[];
    /** SAML state of this IdP session: its SessionIndex and the SPs it sent assertions to. */
    saml?: { sessionIndex: string; sps: Record<string, RememberedNameId> };
    /** A single logout in progress (IdP- or SP-initiated), one SP after the other. */
    samlLogout?: LogoutChain;
  }
}
