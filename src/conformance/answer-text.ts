/** The one line of an SP's answer the report shows, and how long lines are cut. */

/** Cuts text to at most `max` characters at a word boundary, ending in "…" when it cut. */
export function cutAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const room = text.slice(0, max - 1);
  const space = room.lastIndexOf(' ');
  // A single very long word (a URL, a token) is cut where it must be.
  const kept = space >= max / 2 ? room.slice(0, space) : room;
  return `${kept.replace(/[\s,;:.(-]+$/, '')}…`;
}

/** The most telling line of an answer: an error message if the page has one, else the first non-empty line. */
export function firstLineOf(body: string, max = 200): string {
  // A JSON API's error ({error, message}, as an Authorize API answers) says it in its message.
  const json = jsonMessage(body);
  if (json !== undefined) return cutAtWord(json, max);
  // An error message the page marks as such is the most telling line.
  const alert = /role="alert"[^>]*>([^<]+)</.exec(body)?.[1];
  const text = (alert ?? body)
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]+>/g, '\n')
    .replace(/&#34;|&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
  const lines = text.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter(Boolean);
  const telling = lines.find((l) => /refus|reject|error|invalid|denied|expired|not /i.test(l));
  return cutAtWord(telling ?? lines[0] ?? '', max);
}

function jsonMessage(body: string): string | undefined {
  if (!body.trimStart().startsWith('{')) return undefined;
  try {
    const v = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof v.message === 'string') return typeof v.error === 'string' ? `${v.error}: ${v.message}` : v.message;
  } catch {
    // Not JSON after all: read as text.
  }
  return undefined;
}
