/**
 * What a sign-in answers, as plain values, and the one writer of them: the
 * Express routes and the fast path send a delivery through here, so the
 * redirect page, the auto-POST page and the cache headers have one source.
 */
import type http from 'node:http';
import ejs from 'ejs';
import { encodePost } from '../saml/binding.js';
import { appendToUrl } from '../jwt/redirect-url.js';

export interface Answer {
  status: number;
  contentType: string;
  body: string;
  location?: string | undefined;
  /** Set when the body was chosen by the Accept header. */
  vary?: string | undefined;
}

/** Renders a view of views/ with its locals (the app's ejs engine, or the fast path's compiled templates). */
export type Render = (view: string, locals: Record<string, unknown>) => Promise<string>;

/** A JWT on its way to the SP. */
export interface JwtSend {
  method: 'redirect' | 'post';
  /** The redirect_url (the consumer). */
  url: string;
  token: string;
  relayState: string | undefined;
  /** Whether relayState is added (not when redirect_url already carries one). */
  addRelay: boolean;
  spName: string;
}

/** A SAML Response on its way to the ACS. */
export interface SamlSend {
  acsUrl: string;
  xml: string;
  relayState: string | undefined;
  spName: string;
}

const REDIRECT_TITLES: Record<number, string> = { 302: 'Found', 303: 'See Other' };

/** A redirect, with the small body Express writes: an HTML page for a client that asks for HTML, else a line of text. */
export function redirectAnswer(accept: string | undefined, location: string, status = 302): Answer {
  const title = REDIRECT_TITLES[status] ?? 'Found';
  if (accept?.includes('text/html')) {
    return {
      status,
      contentType: 'text/html; charset=utf-8',
      body: `<!DOCTYPE html><head><title>${title}</title></head><body><p>${title}. Redirecting to ${ejs.escapeXML(location)}</p></body>`,
      location,
      vary: 'Accept',
    };
  }
  return { status, contentType: 'text/plain; charset=utf-8', body: `${title}. Redirecting to ${location}`, location, vary: 'Accept' };
}

export function jwtFields(send: JwtSend): Record<string, string> {
  const fields: Record<string, string> = { jwt: send.token };
  if (send.addRelay && send.relayState !== undefined) fields.relayState = send.relayState;
  return fields;
}

export function samlFields(send: SamlSend): Record<string, string> {
  const fields: Record<string, string> = { SAMLResponse: encodePost(send.xml) };
  if (send.relayState !== undefined) fields.RelayState = send.relayState;
  return fields;
}

/** Where a JWT lands: for redirect delivery, the redirect_url with jwt= (and relayState=) appended. */
export function jwtLocation(send: JwtSend): string {
  return send.method === 'redirect' ? appendToUrl(new URL(send.url), jwtFields(send)) : send.url;
}

/** The auto-submitting form page (no inline script: /static/autopost.js). */
export async function postAnswer(render: Render, view: 'auto-post' | 'saml-post', title: string, action: string, fields: Record<string, string>, spName: string): Promise<Answer> {
  const body = await render(view, { title, action, fields, spName });
  return { status: 200, contentType: 'text/html; charset=utf-8', body };
}

/** A JWT delivered: a 302 to the consumer with jwt=, or the auto-POST page (Desk-style). */
export function jwtAnswer(send: JwtSend, accept: string | undefined, render: Render): Promise<Answer> {
  if (send.method === 'redirect') return Promise.resolve(redirectAnswer(accept, jwtLocation(send)));
  return postAnswer(render, 'auto-post', `Signing in to ${send.spName}`, send.url, jwtFields(send), send.spName);
}

/** A SAML Response delivered: the auto-POST page to the ACS. */
export function samlAnswer(send: SamlSend, render: Render, what = 'Signing in to'): Promise<Answer> {
  return postAnswer(render, 'saml-post', `${what} ${send.spName}`, send.acsUrl, samlFields(send), send.spName);
}

/** The headers of an answer, after the ones every answer has (security headers, request id), as a flat list. */
export function answerHeaders(a: Answer): string[] {
  const headers = ['Cache-Control', 'no-store', 'Pragma', 'no-cache', 'Content-Type', a.contentType, 'Content-Length', String(Buffer.byteLength(a.body))];
  if (a.location !== undefined) headers.push('Location', a.location);
  if (a.vary !== undefined) headers.push('Vary', a.vary);
  return headers;
}

/** Writes an answer on a response whose other headers (security, request id) are set already. */
export function writeAnswer(res: http.ServerResponse, a: Answer): void {
  const h = answerHeaders(a);
  for (let i = 0; i < h.length; i += 2) res.setHeader(h[i]!, h[i + 1]!);
  res.statusCode = a.status;
  res.end(a.body);
}
