/**
 * The HTTP bindings of SAML messages (SAML bindings 3.4 and 3.5), both ways:
 * - HTTP-Redirect: base64 of raw DEFLATE in the query, with the signature (if any)
 *   over the query string `SAMLRequest=…&RelayState=…&SigAlg=…` as received;
 * - HTTP-POST: base64 of the XML in a form field, the signature inside the XML.
 *
 * Decoding is bounded: the base64 text, the decoded bytes and the inflated XML are
 * capped, so a DEFLATE bomb is an error rather than a hang.
 */
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { IdpError } from '../errors.js';
import {
  DEFAULT_SIGNATURE_ALGORITHM,
  acceptedSignatureAlgorithmByUri,
  signatureAlgorithm,
  type InsecureSignatureAlgorithmName,
  type SignatureAlgorithmName,
} from './algorithms.js';
import { LIMITS, type BindingName } from './constants.js';
import { certificatesNamed, type CertificateSource, type SigningCredentials } from './sign.js';
import { quote } from './xml.js';

/** Which parameter carries the message. */
export type MessageParam = 'SAMLRequest' | 'SAMLResponse';

/** A message as it arrived, before decoding. */
export type IncomingMessage =
  | {
      binding: 'redirect';
      /** The query string exactly as received (no leading "?"), e.g. `req.originalUrl` after the "?". */
      rawQuery: string;
    }
  | {
      binding: 'post';
      /** The parsed form body. */
      body: Record<string, unknown>;
    };

/** A decoded message, still untrusted. */
export interface DecodedMessage {
  binding: BindingName;
  param: MessageParam;
  xml: string;
  relayState: string | undefined;
  /** HTTP-Redirect only: what the query-string signature needs. */
  redirectSignature: RedirectSignature | undefined;
}

/** The parts of an HTTP-Redirect query string that a signature covers, raw and decoded. */
export interface RedirectSignature {
  /** The octets that were signed, rebuilt from the raw (still URL-encoded) values. */
  signedOctets: string;
  sigAlg: string | undefined;
  signature: string | undefined;
}

function formDecode(raw: string, name: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new IdpError('invalid_saml_request', `The ${name} parameter is not correctly URL-encoded.`);
  }
}

/**
 * Splits a raw query string into the SAML parameters, keeping each value both as
 * received and decoded. A repeated SAML parameter is an error.
 */
export function parseRedirectQuery(rawQuery: string): Map<string, { raw: string; value: string }> {
  const params = new Map<string, { raw: string; value: string }>();
  const wanted = new Set(['SAMLRequest', 'SAMLResponse', 'RelayState', 'SigAlg', 'Signature']);
  const query = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const raw = eq === -1 ? '' : pair.slice(eq + 1);
    const name = formDecode(rawName, 'query');
    if (!wanted.has(name)) continue;
    if (params.has(name)) throw new IdpError('invalid_saml_request', `The ${name} parameter appears more than once.`);
    params.set(name, { raw, value: formDecode(raw, name) });
  }
  return params;
}

function checkRelayState(value: string | undefined): string | undefined {
  if (value !== undefined && value.length > LIMITS.maxRelayStateChars) {
    throw new IdpError('invalid_saml_request', `The RelayState is too long: ${value.length} characters, at most ${LIMITS.maxRelayStateChars} are accepted.`);
  }
  return value;
}

/** Decodes a message from either binding. `expected` says which parameter must carry it. */
export function decodeMessage(message: IncomingMessage, expected: MessageParam): DecodedMessage {
  if (message.binding === 'redirect') {
    const params = parseRedirectQuery(message.rawQuery);
    const msg = params.get(expected);
    if (!msg) throw new IdpError('invalid_saml_request', `The request has no ${expected} parameter.`);
    const relay = params.get('RelayState');
    const sigAlg = params.get('SigAlg');
    const signedOctets =
      `${expected}=${msg.raw}` + (relay ? `&RelayState=${relay.raw}` : '') + (sigAlg ? `&SigAlg=${sigAlg.raw}` : '');
    return {
      binding: 'redirect',
      param: expected,
      // A "+" of base64 that the sender left unencoded arrives as a space.
      xml: inflateMessage(decodeBase64(msg.value.replace(/ /g, '+'), expected), expected),
      relayState: checkRelayState(relay?.value),
      redirectSignature: { signedOctets, sigAlg: sigAlg?.value, signature: params.get('Signature')?.value },
    };
  }
  const value = message.body[expected];
  if (value === undefined) throw new IdpError('invalid_saml_request', `The form has no ${expected} field.`);
  if (typeof value !== 'string') throw new IdpError('invalid_saml_request', `The ${expected} field must appear once, as text.`);
  const relayState = message.body.RelayState;
  if (relayState !== undefined && typeof relayState !== 'string') {
    throw new IdpError('invalid_saml_request', 'The RelayState field must appear once, as text.');
  }
  return {
    binding: 'post',
    param: expected,
    xml: postedXml(decodeBase64(value, expected), expected),
    relayState: checkRelayState(relayState),
    redirectSignature: undefined,
  };
}

/** Strict base64 (line breaks and spaces allowed, as form encoders wrap it), capped in size. */
export function decodeBase64(text: string, what: string): Buffer {
  if (text.length > LIMITS.maxEncodedChars) {
    throw new IdpError(
      'invalid_saml_request',
      `The ${what} is too large: ${text.length} characters of base64, at most ${LIMITS.maxEncodedChars} are accepted.`,
    );
  }
  const compact = text.replace(/[\r\n\t ]+/g, '');
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new IdpError('invalid_saml_request', `The ${what} is not valid base64.`);
  }
  return Buffer.from(compact, 'base64');
}

/** Raw DEFLATE (RFC 1951) inflated with its output capped. */
export function inflateMessage(data: Buffer, what: string): string {
  let out: Buffer;
  try {
    out = zlib.inflateRawSync(data, { maxOutputLength: LIMITS.maxXmlBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new IdpError('invalid_saml_request', `The ${what} inflates to more than ${LIMITS.maxXmlBytes} bytes, which is not accepted.`);
    }
    throw new IdpError('invalid_saml_request', `The ${what} is not valid DEFLATE data (the HTTP-Redirect binding uses raw DEFLATE).`);
  }
  return utf8(out, what);
}

/**
 * The XML of an HTTP-POST message, which the binding sends base64-encoded but not
 * compressed (SAML Bindings §3.5.4). Some SP libraries DEFLATE it anyway (node-saml
 * by default): bytes that are not XML but inflate to XML are named as that mistake.
 */
function postedXml(data: Buffer, what: string): string {
  const start = data.subarray(0, 8).toString('latin1').replace(/^\xef\xbb\xbf/, '').trimStart();
  if (!start.startsWith('<')) {
    let inflated: Buffer | undefined;
    try {
      inflated = zlib.inflateRawSync(data, { maxOutputLength: LIMITS.maxXmlBytes });
    } catch {
      inflated = undefined;
    }
    if (inflated?.toString('utf8', 0, 64).trimStart().startsWith('<')) {
      throw new IdpError(
        'invalid_saml_request',
        `The ${what} looks DEFLATE-compressed: the HTTP-POST binding sends it base64-encoded but not compressed (SAML Bindings §3.5.4); only the HTTP-Redirect binding compresses. Turn off deflate for POST in the SP library.`,
      );
    }
  }
  return utf8(data, what);
}

function utf8(data: Buffer, what: string): string {
  if (data.length > LIMITS.maxXmlBytes) {
    throw new IdpError('invalid_saml_request', `The ${what} is too large: ${data.length} bytes of XML, at most ${LIMITS.maxXmlBytes} are accepted.`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new IdpError('invalid_saml_request', `The ${what} is not UTF-8 text.`);
  }
}

/**
 * Verifies the query-string signature of an HTTP-Redirect message with one of
 * the SP's configured certificates. Throws IdpError('invalid_signature').
 */
export function verifyRedirectSignature(sig: RedirectSignature, certificates: readonly string[], what: string, from: CertificateSource = 'requestSigningCert'): void {
  if (sig.sigAlg === undefined || sig.signature === undefined) {
    throw new IdpError(
      'invalid_signature',
      `The ${what} is not signed: the HTTP-Redirect binding needs SigAlg and Signature parameters, and this service provider's messages must be signed (requestSigningCert is set).`,
    );
  }
  const name = acceptedSignatureAlgorithmByUri(sig.sigAlg);
  if (name === undefined) {
    throw new IdpError('invalid_signature', `The SigAlg ${quote(sig.sigAlg)} is not accepted; sign with RSA-SHA256 or RSA-SHA512.`);
  }
  let signature: Buffer;
  try {
    signature = decodeBase64(sig.signature, 'Signature');
  } catch {
    throw new IdpError('invalid_signature', 'The Signature parameter is not valid base64.');
  }
  const verifies = (octets: string) =>
    certificates.some((certificatePem) => {
      try {
        return crypto.verify(signatureAlgorithm(name).nodeHash, Buffer.from(octets, 'utf8'), certificatePem, signature);
      } catch {
        return false;
      }
    });
  if (!verifies(sig.signedOctets)) {
    if (reEncodings(sig.signedOctets).some(verifies)) {
      throw new IdpError(
        'invalid_signature',
        `The signature of the ${what} verifies only over the query re-encoded (spaces as "+" rather than "%20", or other escapes changed): the SP must sign the query exactly as it sends it, the SAMLRequest, RelayState and SigAlg values as they appear in the URL (SAML Bindings §3.4.4.1).`,
      );
    }
    throw new IdpError('invalid_signature', `The signature of the ${what} does not verify with ${certificatesNamed(certificates, from)}.`);
  }
}

/** The signed octets with each value percent-encoded anew, spaces as "%20" and as "+": what a sender that re-encodes may have signed. */
function reEncodings(signedOctets: string): string[] {
  const parts = signedOctets.split('&').map((part) => {
    const i = part.indexOf('=');
    let value: string | undefined;
    try {
      value = decodeURIComponent(part.slice(i + 1).replace(/\+/g, '%20'));
    } catch {
      value = undefined;
    }
    return { name: part.slice(0, i), value };
  });
  if (parts.some((p) => p.value === undefined)) return [];
  const encoded = (space: string) => parts.map((p) => `${p.name}=${encodeURIComponent(p.value!).replace(/%20/g, space)}`).join('&');
  return [...new Set([encoded('%20'), encoded('+')])].filter((octets) => octets !== signedOctets);
}

/** Options for sending a message with HTTP-Redirect. */
export interface RedirectEncodeOptions {
  /** The endpoint; its own query is kept. */
  url: string;
  param: MessageParam;
  xml: string;
  relayState?: string | undefined;
  /** Sign the query string (SigAlg + Signature) with these credentials. */
  sign?: { credentials: SigningCredentials; algorithm?: SignatureAlgorithmName | InsecureSignatureAlgorithmName | undefined } | undefined;
}

/**
 * Form-encodes a query value as most SAML libraries do (space as "+", only letters,
 * digits and the unreserved "-_.~" left as they are, Python's quote_plus), because
 * some receivers re-encode the values they got before checking a Redirect signature
 * instead of using the query as received.
 */
export function formEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Builds the URL of an HTTP-Redirect message: DEFLATE, base64, URL-encode, then sign the query. */
export function encodeRedirect(options: RedirectEncodeOptions): string {
  const encoded = zlib.deflateRawSync(Buffer.from(options.xml, 'utf8')).toString('base64');
  let query = `${options.param}=${formEncode(encoded)}`;
  if (options.relayState !== undefined) query += `&RelayState=${formEncode(options.relayState)}`;
  if (options.sign) {
    const alg = signatureAlgorithm(options.sign.algorithm ?? DEFAULT_SIGNATURE_ALGORITHM);
    query += `&SigAlg=${formEncode(alg.signatureUri)}`;
    const signature = crypto.sign(alg.nodeHash, Buffer.from(query, 'utf8'), options.sign.credentials.privateKeyPem);
    query += `&Signature=${formEncode(signature.toString('base64'))}`;
  }
  return options.url + (options.url.includes('?') ? '&' : '?') + query;
}

/** The value of the form field of an HTTP-POST message. */
export function encodePost(xml: string): string {
  return Buffer.from(xml, 'utf8').toString('base64');
}
