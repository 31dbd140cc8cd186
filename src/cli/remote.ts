/** What the commands that talk to a running IdP's control API share (`keys rotate --url`, `sp import --url`). */
import { UsageError } from './args.js';

/** An endpoint under the server's URL (which may have a path, behind a proxy). */
export function idpApiUrl(url: string, apiPath: string): URL {
  let base: URL;
  try {
    base = new URL(url.endsWith('/') ? url : `${url}/`);
  } catch {
    throw new UsageError(`--url takes the IdP's address, e.g. http://localhost:8080, not "${url}"`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`--url takes an http or https address, not "${url}"`);
  return new URL(apiPath, base);
}

/** The `error` and `message` of a mock-idp JSON error, or the start of whatever else came. */
export async function answerMessage(res: Response): Promise<{ error: string | undefined; message: string }> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.message === 'string') return { error: typeof body.error === 'string' ? body.error : undefined, message: body.message };
  } catch {
    // not JSON: shown as it came, cut short
  }
  return { error: undefined, message: text.trim().slice(0, 200) || '(an empty answer)' };
}
