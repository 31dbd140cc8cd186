/** HTTP helpers for supertest-based tests: sign in through the real form, read tokens. */
import assert from 'node:assert/strict';
import type { Response } from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';

export type Agent = InstanceType<typeof TestAgent>;

export function csrfFrom(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  assert.ok(m, 'the page has a CSRF field');
  return m[1]!;
}

/**
 * Signs in through GET /login + POST /login, as a browser would; returns the POST
 * response after checking its status (303 for a successful sign-in).
 */
export async function login(agent: Agent, email: string, password: string, next = '', status = 303): Promise<Response> {
  const form = await agent.get(`/login${next ? `?continue=${encodeURIComponent(next)}` : ''}`).expect(200);
  const res = await agent.post('/login').type('form').send({ csrf: csrfFrom(form.text), email, password, continue: next });
  assert.equal(res.status, status, `POST /login answered ${res.status}: ${res.text.slice(0, 300)}`);
  return res;
}

/** The `jwt` parameter of a redirect Location. */
export function jwtFromLocation(location: string | undefined): string {
  assert.ok(location, 'the response has a Location');
  const token = new URL(location).searchParams.get('jwt');
  assert.ok(token, `the Location carries jwt=: ${location}`);
  return token;
}

/** HTML text with the entities EJS writes decoded, to compare with what a user reads. */
export function unescapeHtml(html: string): string {
  return html.replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** The value of a hidden field in an auto-POST form. */
export function hiddenField(html: string, name: string): string | undefined {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  return m?.[1] === undefined ? undefined : unescapeHtml(m[1]);
}

export function setCookies(res: Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  return Array.isArray(raw) ? (raw as string[]) : typeof raw === 'string' ? [raw] : [];
}
