/**
 * /debug/decode: paste a JWT or a SAML message (XML, base64, or the HTTP-Redirect
 * binding's deflate + base64, alone or inside a URL or form body) and see it
 * decoded, with its signatures checked against the keys mock-idp holds, and which
 * key verified each one. Nothing is stored; the page changes nothing.
 */
import { Router, type Request, type Response } from 'express';
import { IdpError } from '../errors.js';
import { JwtDecodeError, inspectJwt, jwtTrustOf, looksLikeJwt, type JwtInspection } from '../inspect/jwt.js';
import { SamlDecodeError, inspectSaml, samlTrustOf, type SamlInspection } from '../inspect/saml.js';
import type { AppContext } from './context.js';
import { field, noStore } from './security.js';
import { shownTime } from '../time-format.js';

/** The most text the form takes (the body parser caps the request at 64 kB anyway). */
const MAX_INPUT_CHARS = 60_000;

/** The token or message inside what was pasted: a URL or form body with jwt=, SAMLResponse= or SAMLRequest=, or the value itself. */
export function extractMessage(input: string): string {
  const text = input.trim();
  const query = /^https?:\/\//i.test(text) ? (URL.canParse(text) ? new URL(text).search.slice(1) : '') : /^[A-Za-z]+=/.test(text) && text.includes('=') ? text : undefined;
  if (query !== undefined) {
    const params = new URLSearchParams(query);
    for (const name of ['jwt', 'SAMLResponse', 'SAMLRequest', 'token', 'id_token']) {
      const v = params.get(name);
      if (v) return v.trim();
    }
  }
  return text;
}

export type Decoded = JwtInspection | SamlInspection;

/** Decodes what was pasted; throws IdpError('bad_request') with a sentence when it is neither a JWT nor a SAML message. */
export function decodeInput(ctx: AppContext, input: string): Decoded {
  if (input.trim() === '') throw new IdpError('bad_request', 'Paste a JWT or a SAMLResponse (or SAMLRequest) to decode.');
  if (input.length > MAX_INPUT_CHARS) throw new IdpError('bad_request', `The text is longer than ${MAX_INPUT_CHARS} characters.`);
  const message = extractMessage(input);
  const now = ctx.clock.now();
  try {
    if (looksLikeJwt(message)) {
      return inspectJwt(message, jwtTrustOf({ keystore: ctx.keystore, secrets: ctx.jwtSigner.secrets, serviceProviders: ctx.config.serviceProviders }), now);
    }
    return inspectSaml(message, samlTrustOf({ keystore: ctx.keystore, serviceProviders: ctx.config.serviceProviders }), now);
  } catch (err) {
    if (err instanceof JwtDecodeError || err instanceof SamlDecodeError) throw new IdpError('bad_request', err.message);
    if (err instanceof IdpError) throw new IdpError('bad_request', err.message);
    throw err;
  }
}

export function debugRouter(ctx: AppContext): Router {
  const router = Router();

  const page = (req: Request, res: Response, input: string, decoded: Decoded | undefined, error: string | undefined, status = 200): void => {
    noStore(res);
    if (req.method === 'POST' && req.accepts(['html', 'json']) === 'json') {
      if (error !== undefined) res.status(status).json({ error: 'bad_request', message: error });
      else res.json(decoded);
      return;
    }
    res.status(status).render('debug-decode', { title: 'Decode a JWT or SAML message', input, decoded, error, shownTime });
  };

  router.get('/debug/decode', (req, res) => {
    page(req, res, '', undefined, undefined);
  });

  router.post('/debug/decode', (req, res) => {
    const input = field(req.body, 'input') ?? '';
    let decoded: Decoded;
    try {
      decoded = decodeInput(ctx, input);
    } catch (err) {
      if (err instanceof IdpError && err.status < 500) {
        page(req, res, input.slice(0, MAX_INPUT_CHARS), undefined, err.message, 400);
        return;
      }
      throw err;
    }
    page(req, res, input, decoded, undefined);
  });

  return router;
}
