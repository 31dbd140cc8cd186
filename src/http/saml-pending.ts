/**
 * SAML messages parked between a cross-site POST (or a sign-in) and the GET that
 * continues them (`/saml/continue/:key`): cross-site POSTs arrive without the
 * IdP's SameSite=Lax session cookie, so the browser is sent on with a top-level
 * GET that has it. Kept in the state store under an unguessable key; continuing
 * consumes it.
 */
import crypto from 'node:crypto';
import type { SamlFault } from '../faults/catalog.js';
import type { IncomingMessage } from '../saml/binding.js';
import { PENDING_TTL_MS, type HeldAuthnRequest } from '../sso/saml.js';
import type { DeliveryChoice } from '../sso/types.js';
import type { StateStore } from '../state/types.js';

export type Pending =
  | { kind: 'authn'; request: HeldAuthnRequest; receivedAt: number; choice: DeliveryChoice<SamlFault> }
  | { kind: 'message'; message: IncomingMessage };

const PREFIX = 'saml:pending:';

export async function park(state: StateStore, item: Pending): Promise<string> {
  const key = crypto.randomBytes(18).toString('base64url');
  await state.set(PREFIX + key, item, PENDING_TTL_MS);
  return key;
}

/** The parked message, once. */
export function unpark(state: StateStore, key: string): Promise<Pending | undefined> {
  return state.take<Pending>(PREFIX + key);
}
