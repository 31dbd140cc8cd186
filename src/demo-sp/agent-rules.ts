/**
 * The Agent SSO guide's rules for the demo SP's agents, as plain decisions (no
 * req/res): with SSO enabled only the account administrator signs in with the SP's
 * own email and password, the error codes the consumer's error redirect carries and
 * what they mean, and the site ID the SP remembers after the first sign-in.
 */
import crypto from 'node:crypto';
import { COMM100_INACTIVE_MESSAGE, emailKey, type DemoAgent } from './shared.js';

/** What Comm100 answers a non-admin agent who signs in with email and password while Agent SSO is on. */
export const COMM100_NON_ADMIN_MESSAGE =
  'Error signing into the account. Please note that with Agent SSO enabled, non-admin agents can only login via SSO. To do so, please click the Sign in with custom SSO link below.';

/** The SP's own password form, for an unknown email, an agent without an SP password, or a wrong one (the same words for all three). */
export const WRONG_PASSWORD_MESSAGE = 'Error signing into the account. The email or password is incorrect.';

export type PasswordOutcome =
  | { ok: true; agent: DemoAgent }
  | { ok: false; status: 401 | 403; message: string; /** Offer "Sign in with custom SSO". */ offerSso: boolean };

/** Equal passwords, compared in constant time over their digests (lengths differ freely). */
function samePassword(given: string, expected: string): boolean {
  const digest = (s: string) => crypto.createHash('sha256').update(s, 'utf8').digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}

/**
 * The SP's own email and password sign-in under Agent SSO: the password first (so the
 * answer does not tell which emails exist), then the agent's status, then the rule that
 * only an admin may use a password.
 */
export function passwordSignIn(agents: readonly DemoAgent[]): (email: string, password: string) => PasswordOutcome {
  const byEmail = new Map(agents.map((a) => [emailKey(a.email), a]));
  return (email, password) => {
    const agent = byEmail.get(emailKey(email.trim()));
    if (!agent || agent.password === undefined || !samePassword(password, agent.password)) {
      return { ok: false, status: 401, message: WRONG_PASSWORD_MESSAGE, offerSso: false };
    }
    if (!agent.active) return { ok: false, status: 403, message: COMM100_INACTIVE_MESSAGE, offerSso: false };
    if (agent.admin !== true) return { ok: false, status: 403, message: COMM100_NON_ADMIN_MESSAGE, offerSso: true };
    return { ok: true, agent };
  };
}

/** An error code of Comm100's SSO error redirect (`errorcode=`), as the error page explains it. */
export interface SsoErrorCode {
  code: number;
  name: string;
  explanation: string;
}

/** The codes this SP sends. The guide's FAQ documents 3, "Normal Error". */
export const SSO_ERROR_CODES: ReadonlyMap<number, SsoErrorCode> = new Map([
  [
    3,
    {
      code: 3,
      name: 'Normal Error',
      explanation:
        'The identity provider signed the agent in and the token was valid, but the SP refused the sign-in (Comm100\'s FAQ: "error code 3 refers to a \'Normal Error\'"; its support finds the detailed reason). This demo SP names the reason above.',
    },
  ],
]);

/** The reason an errorcode redirect names (a fixed word, never free text from the query). */
export const SSO_ERROR_REASONS = { 'no-active-agent': COMM100_INACTIVE_MESSAGE } as const;
export type SsoErrorReason = keyof typeof SSO_ERROR_REASONS;

/** The errorcode query value as a known or unknown code; undefined when it is not a small number. */
export function ssoErrorCode(value: unknown): SsoErrorCode | undefined {
  if (typeof value !== 'string' || !/^\d{1,4}$/.test(value)) return undefined;
  const code = Number(value);
  return (
    SSO_ERROR_CODES.get(code) ?? {
      code,
      name: 'Unknown error code',
      explanation: `This demo SP does not send error code ${code}; the one Comm100's guide documents is 3, a "Normal Error".`,
    }
  );
}

/** The cookie in which a tenant remembers the site ID after the first sign-in ("only the first login requires inputting the site ID"). */
export const siteIdCookieName = (mount: string): string => (mount ? `demosp${mount.replace(/\W/g, '-')}-siteid` : 'demosp-siteid');

/** How long the site ID is remembered. */
export const SITE_ID_COOKIE_MAX_AGE_MS = 365 * 24 * 3600_000;

/** A cookie's value from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
