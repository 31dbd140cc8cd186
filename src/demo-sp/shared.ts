/**
 * What the demo SP's JWT and SAML sides both need: the agents it knows and how it
 * refuses the others, its one error (a status and a message for its error pages),
 * the check of a path to return to, the one-time use of a token or assertion ID,
 * and the session steps of a sign-in. Both sides
 * import this module; it imports neither.
 */
import type { Request } from 'express';
import type { StateStore } from '../state/types.js';

export interface DemoAgent {
  email: string;
  name?: string | undefined;
  active: boolean;
  /** The account administrator: the only agent who may sign in with the SP's own password while Agent SSO is on. */
  admin?: boolean | undefined;
  /** The agent's password at the SP itself (a demo value, never logged or shown). */
  password?: string | undefined;
}

/** What Comm100 answers an agent the IdP signed in but who has no active account there. */
export const COMM100_INACTIVE_MESSAGE =
  'Error signing into the account. This account does not exist in Comm100 or its status has been set inactive.';

/** One check a refused token failed: what this SP expected and what the token had. */
export interface RefusalCheck {
  /** What was checked: a claim name ("aud"), "signature", "alg", "kid", "format". */
  name: string;
  expected: string;
  actual: string;
}

/** A refused token as the error page shows it (src/demo-sp/refusal.ts makes it). */
export interface RefusalDetail {
  /** undefined when the part could not be decoded. */
  header: Record<string, unknown> | undefined;
  claims: Record<string, unknown> | undefined;
  /** The signature's first characters and "…" (enough to tell two apart, too little to replay). */
  signature: string | undefined;
  checks: RefusalCheck[];
}

/**
 * A refusal the demo SP explains on its error page: the HTTP status, a message meant
 * for the agent and, for a refused token, what arrived and which check failed.
 */
export class DemoError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly detail?: RefusalDetail,
    /** The `errorcode` of Comm100's SSO error redirect, explained on the error page. */
    readonly errorCode?: { code: number; name: string; explanation: string },
  ) {
    super(message);
  }
}

/** A local path to return to, or the fallback. */
export function localPath(value: unknown, fallback: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || /[\\\u0000-\u001f]/.test(value)) return fallback;
  return value;
}

/** An email as agents are compared: NFKC and lower case. */
export const emailKey = (email: string): string => email.normalize('NFKC').toLowerCase();

/** The active agent a sign-in names (by email, compared after NFKC and lower-casing), or undefined. */
export function activeAgentFinder(agents: readonly DemoAgent[]): (email: string) => DemoAgent | undefined {
  const byEmail = new Map(agents.map((a) => [emailKey(a.email), a]));
  return (email) => {
    const agent = byEmail.get(emailKey(email));
    return agent?.active ? agent : undefined;
  };
}

/**
 * The agent a sign-in names, or a 403 with Comm100's message when there is no such
 * agent or the agent is inactive.
 */
export function agentLookup(agents: readonly DemoAgent[]): (email: string) => DemoAgent {
  const find = activeAgentFinder(agents);
  return (email) => {
    const agent = find(email);
    if (!agent) throw new DemoError(403, COMM100_INACTIVE_MESSAGE);
    return agent;
  };
}

/** A new session id for a sign-in (no session fixation). */
export function regenerateSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((e: unknown) => (e ? reject(e) : resolve())));
}

/** Ends the session. A store's failure to delete it is not reported: the sign-out goes on, as it always has. */
export function destroySession(req: Request): Promise<void> {
  return new Promise((resolve) => req.session.destroy(() => resolve()));
}

/**
 * Marks `key` as used until `untilMs` (at least 1 ms from `now`); false when it already
 * was, i.e. a replay. Through the state interface, so the mark is where all state is.
 */
export function useOnce(state: StateStore, key: string, untilMs: number, now: number): Promise<boolean> {
  return state.setIfAbsent(key, true, Math.max(1, untilMs - now));
}
