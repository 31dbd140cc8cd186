/**
 * A replay cache of message IDs (AuthnRequest and LogoutRequest IDs at the IdP,
 * assertion IDs at the demo SP): an ID seen before and not yet expired is refused.
 * In memory, bounded; the clock is injected.
 */
import type { Clock } from '../clock.js';
import { IdpError } from '../errors.js';
import { quote } from './xml.js';

export class ReplayCache {
  readonly #clock: Clock;
  readonly #maxEntries: number;
  /** ID -> when it may be forgotten (ms). Insertion order is roughly expiry order. */
  readonly #seen = new Map<string, number>();

  constructor(clock: Clock, options: { maxEntries?: number } = {}) {
    this.#clock = clock;
    this.#maxEntries = options.maxEntries ?? 100_000;
  }

  /**
   * Remembers `id` for `ttlMs`; throws IdpError('replayed_request') when it was
   * already seen and has not expired. `what` names the message in the error;
   * `scope` (e.g. the Issuer) keeps IDs of different senders apart.
   */
  use(id: string, ttlMs: number, what: string, scope = ''): void {
    const now = this.#clock.now();
    this.#sweep(now);
    const key = `${scope}\n${id}`;
    const until = this.#seen.get(key);
    if (until !== undefined && until > now) {
      throw new IdpError('replayed_request', `This ${what} (ID ${quote(id)}) was already used; a SAML message is accepted once.`);
    }
    this.#seen.delete(key);
    this.#seen.set(key, now + ttlMs);
    while (this.#seen.size > this.#maxEntries) {
      const oldest = this.#seen.keys().next().value as string;
      this.#seen.delete(oldest);
    }
  }

  has(id: string, scope = ''): boolean {
    const until = this.#seen.get(`${scope}\n${id}`);
    return until !== undefined && until > this.#clock.now();
  }

  get size(): number {
    return this.#seen.size;
  }

  #sweep(now: number): void {
    for (const [id, until] of this.#seen) {
      if (until > now) break;
      this.#seen.delete(id);
    }
  }
}
