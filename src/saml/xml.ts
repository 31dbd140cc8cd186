/**
 * Parsing untrusted XML, and small DOM helpers.
 *
 * Incoming SAML messages are parsed with @xmldom/xmldom under rules stricter than
 * its defaults: any error or warning stops parsing, a DOCTYPE (and so any entity
 * declaration) is refused before parsing starts, the size is capped, and the
 * document must hold exactly one root element.
 */
import { DOMParser, XMLSerializer, type Document, type Element, type Node } from '@xmldom/xmldom';
import { IdpError } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';
import { LIMITS } from './constants.js';

export type { Document, Element };

// XML libraries that only some requests need, loaded when first used rather than at start-up.
/** Builds status Responses, logout messages, metadata and reports. */
export const xmlbuilder2 = lazyRequire<typeof import('xmlbuilder2')>('xmlbuilder2');
/** The reference XML signatures (the fast path only reads certificates with it, once per key). */
export const xmlCrypto = lazyRequire<typeof import('xml-crypto')>('xml-crypto');

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;

/** Matches a DOCTYPE or an entity declaration anywhere, whatever the case. */
const DTD_PATTERN = /<!\s*(DOCTYPE|ENTITY)/i;

/**
 * Parses untrusted XML into a DOM. `what` names the message in error messages
 * ("SAMLRequest", "LogoutRequest", …). Throws IdpError('invalid_saml_request').
 */
export function parseUntrustedXml(xml: string, what: string, maxBytes: number = LIMITS.maxXmlBytes): Document {
  const size = Buffer.byteLength(xml, 'utf8');
  if (size > maxBytes) {
    throw new IdpError('invalid_saml_request', `The ${what} is too large: ${size} bytes of XML, at most ${maxBytes} are accepted.`);
  }
  if (DTD_PATTERN.test(xml)) {
    throw new IdpError('invalid_saml_request', `The ${what} contains a DOCTYPE or an entity declaration, which are not accepted.`);
  }
  let doc: Document;
  let problem: string | undefined;
  try {
    doc = new DOMParser({
      locator: false,
      onError: (level, message) => {
        // Any problem stops parsing; the first one is the one reported.
        problem ??= `${level === 'fatalError' ? '' : `${level}: `}${firstLine(message)}`;
        throw new Error(problem);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (err) {
    const reason = problem ?? firstLine(err instanceof Error ? err.message : String(err));
    if (reason.includes('Only one element can be added')) {
      throw new IdpError('invalid_saml_request', `The ${what} must have exactly one root element, it has several.`);
    }
    throw new IdpError('invalid_saml_request', `The ${what} is not well-formed XML (${reason}).`);
  }
  if (doc.doctype) {
    throw new IdpError('invalid_saml_request', `The ${what} contains a DOCTYPE, which is not accepted.`);
  }
  const roots = childNodes(doc).filter((n) => n.nodeType === ELEMENT_NODE);
  if (roots.length !== 1 || !doc.documentElement) {
    throw new IdpError('invalid_saml_request', `The ${what} must have exactly one root element, it has ${roots.length}.`);
  }
  return doc;
}

/** The first line of a parser message, without the locator suffix, cut to a readable length. */
function firstLine(message: string): string {
  const line = (message.split('\n')[0] ?? '').replace(/\s*\|\|\s*@#\[.*$/, '').trim();
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/**
 * Parses XML this process made itself (a Response to change before signing it),
 * never input from outside: that goes through parseUntrustedXml.
 */
export function parseOwnXml(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

/** Every child node of `node` (elements, text, comments), in order. */
export function childNodes(node: Node): Node[] {
  const out: Node[] = [];
  for (let n = node.firstChild; n; n = n.nextSibling) out.push(n);
  return out;
}

/** Child elements of `parent`, optionally only those with this namespace and local name. */
export function childElements(parent: Node, ns?: string, localName?: string): Element[] {
  return childNodes(parent).filter(
    (n): n is Element =>
      n.nodeType === ELEMENT_NODE &&
      (ns === undefined || (n as Element).namespaceURI === ns) &&
      (localName === undefined || (n as Element).localName === localName),
  );
}

/** The only child element with this name, undefined when absent; an error when repeated. */
export function optionalChild(parent: Element, ns: string, localName: string, what: string): Element | undefined {
  const found = childElements(parent, ns, localName);
  if (found.length > 1) {
    throw new IdpError('invalid_saml_request', `The ${what} has ${found.length} ${localName} elements where at most one is allowed.`);
  }
  return found[0];
}

/** The first child element with this name, in XML this process made: its absence is a bug (TypeError). */
export function requiredChild(parent: Element, ns: string, localName: string): Element {
  const found = childElements(parent, ns, localName)[0];
  if (!found) throw new TypeError(`${parent.localName} has no ${localName}`);
  return found;
}

/** Replaces the content of `el` with one text node. */
export function setText(el: Element, value: string): void {
  for (const n of childNodes(el)) el.removeChild(n);
  el.appendChild(el.ownerDocument!.createTextNode(value));
}

/** Text content of an element made of text only (no child elements), trimmed. */
export function textContent(el: Element, what: string): string {
  let text = '';
  for (let n = el.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === TEXT_NODE || n.nodeType === CDATA_SECTION_NODE) text += n.nodeValue ?? '';
    else if (n.nodeType === ELEMENT_NODE) {
      throw new IdpError('invalid_saml_request', `The ${el.localName} of the ${what} must contain text only.`);
    }
  }
  return text.trim();
}

/** An attribute's value, or undefined when absent. */
export function attribute(el: Element, name: string): string | undefined {
  return el.hasAttribute(name) ? (el.getAttribute(name) ?? '') : undefined;
}

/** xs:boolean: "true"/"1" or "false"/"0"; anything else is an error. */
export function booleanAttribute(el: Element, name: string, what: string): boolean | undefined {
  const v = attribute(el, name);
  if (v === undefined) return undefined;
  const t = v.trim();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw new IdpError('invalid_saml_request', `The ${name} attribute of the ${what} must be true or false, not ${quote(v)}.`);
}

/** The root element, checked to be this namespace and local name. */
export function expectRoot(doc: Document, ns: string, localName: string, what: string): Element {
  const root = doc.documentElement!;
  if (root.namespaceURI !== ns || root.localName !== localName) {
    throw new IdpError('invalid_saml_request', `The root element of the ${what} must be ${localName} (in ${ns}), not ${quote(expandedName(root))}.`);
  }
  return root;
}

/** An element's name as {namespace}localName (the way xmllint writes it), or its plain name when it has no namespace. */
export function expandedName(el: Element): string {
  return el.namespaceURI ? `{${el.namespaceURI}}${el.localName}` : (el.localName ?? el.nodeName);
}

export function serialize(node: Node): string {
  return new XMLSerializer().serializeToString(node);
}

/**
 * Quotes an untrusted value for an error message: JSON-escaped (control characters
 * and quotes visible) and cut to 120 characters. HTML escaping is the view's job.
 */
export function quote(value: string): string {
  const cut = value.length > 120 ? `${value.slice(0, 117)}...` : value;
  return JSON.stringify(cut);
}

/** xs:dateTime as SAML wants it: UTC, "Z", whole seconds. */
export function samlInstant(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Parses xs:dateTime in UTC (with Z or an offset); undefined when invalid. */
export function parseInstant(value: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}
