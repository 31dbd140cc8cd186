/** The IdP's notion of "now". Tests and deterministic mode inject a fixed one. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function fixedClock(at: Date | string | number): Clock {
  const t = new Date(at).getTime();
  if (Number.isNaN(t)) throw new TypeError(`invalid time: ${String(at)}`);
  return { now: () => t };
}

export function offsetClock(offsetMs: number, base: Clock = systemClock): Clock {
  return { now: () => base.now() + offsetMs };
}

/** Seconds since the epoch, as JWT NumericDate. */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
