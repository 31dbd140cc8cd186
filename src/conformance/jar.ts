/** A cookie jar for one simulated browser: name=value, per origin. */
export class Jar {
  readonly #cookies = new Map<string, Map<string, string>>();
  header(url: string): string | undefined {
    const c = this.#cookies.get(new URL(url).origin);
    return c && c.size > 0 ? [...c].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }
  /** Stores the response's cookies; returns the names it set. */
  store(url: string, res: Response): string[] {
    const origin = new URL(url).origin;
    const set: string[] = [];
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const i = pair.indexOf('=');
      if (i <= 0) continue;
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      const jar = this.#cookies.get(origin) ?? new Map<string, string>();
      if (/;\s*max-age=0/i.test(line) || /;\s*expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else {
        jar.set(name, value);
        set.push(name);
      }
      this.#cookies.set(origin, jar);
    }
    return set;
  }
}
