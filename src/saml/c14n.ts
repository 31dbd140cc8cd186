/**
 * XML born canonical: a small element tree for the messages the IdP builds itself,
 * written out two ways without a DOM or a parser.
 *
 * - `serializeXml` gives the document text, byte for byte what @xmldom/xmldom's
 *   XMLSerializer writes for the same tree, which is the form xml-crypto's output
 *   takes (plus its carriage-return rule, see `wireText`).
 * - `canonicalXml` gives the element's Exclusive XML Canonicalization (exc-c14n
 *   without comments and without an InclusiveNamespaces prefix list): the octets a
 *   Reference digest and a SignatureValue are computed over.
 *
 * So a signature can be computed from the tree directly (sign.ts `signElement`),
 * where a general XML-DSig pass parses the text, runs XPath, canonicalizes a DOM
 * and serializes it again. Every value is escaped on the way out and checked on
 * the way in: a character that XML 1.0 cannot carry is refused when the tree is
 * built, never written.
 *
 * The tree is deliberately small: elements with a prefixed name, unprefixed
 * attributes and text. Namespace declarations are explicit on the elements that
 * carry them in the text (as a builder would put them); the canonical form works
 * out its own, per exc-c14n, from the prefixes each element uses.
 */
import { IdpError } from '../errors.js';

export interface XmlElement {
  /** The qualified name, `prefix:local`. */
  readonly name: string;
  readonly prefix: string;
  /** The element's namespace URI. */
  readonly ns: string;
  /** Namespace declarations written on this element in the document text, in order: [prefix, uri]. */
  readonly xmlns: (readonly [string, string])[];
  /** Unprefixed attributes in document order: [name, value]. */
  readonly attrs: (readonly [string, string])[];
  /** Child elements and non-empty text. */
  readonly children: XmlNode[];
}

export type XmlNode = XmlElement | string;

/** Characters outside XML 1.0's Char production (control characters, lone surrogates, U+FFFE/U+FFFF). */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function checkChars(value: string, what: string): string {
  const bad = NOT_XML_CHAR.exec(value);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new IdpError('bad_request', `The ${what} cannot be sent in XML: it contains the character U+${code}, which XML 1.0 does not allow.`);
  }
  return value;
}

/**
 * An element `prefix:local` in namespace `ns`. Attributes whose value is undefined
 * are left out; `xmlns` lists the declarations to write on it, as [prefix, uri].
 */
export function element(
  ns: string,
  name: string,
  attrs: Record<string, string | undefined> = {},
  children: (XmlNode | undefined)[] = [],
  xmlns: (readonly [string, string])[] = [],
): XmlElement {
  const colon = name.indexOf(':');
  if (colon <= 0) throw new TypeError(`element: ${name} must be a prefixed name`);
  const list: (readonly [string, string])[] = [];
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) list.push([key, checkChars(value, `${key} attribute of ${name}`)]);
  }
  const kids: XmlNode[] = [];
  for (const child of children) {
    if (child === undefined || child === '') continue;
    kids.push(typeof child === 'string' ? checkChars(child, `text of ${name}`) : child);
  }
  return { name, prefix: name.slice(0, colon), ns, xmlns, attrs: list, children: kids };
}

/** The first child element with this namespace and qualified name's local part. */
export function childElement(parent: XmlElement, ns: string, localName: string): XmlElement | undefined {
  for (const child of parent.children) {
    if (typeof child !== 'string' && child.ns === ns && child.name.slice(child.prefix.length + 1) === localName) return child;
  }
  return undefined;
}

/** The value of an unprefixed attribute, or undefined. */
export function attributeOf(el: XmlElement, name: string): string | undefined {
  for (const [key, value] of el.attrs) if (key === name) return value;
  return undefined;
}

// ---- the document text (what xmldom's XMLSerializer writes) ----------------------

const WIRE_ATTR = /[<>&"\t\n\r]/g;
const WIRE_ATTR_TEST = /[<>&"\t\n\r]/;
const WIRE_ATTR_MAP: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

/** An attribute value as xmldom escapes it. */
function wireAttr(value: string): string {
  return WIRE_ATTR_TEST.test(value) ? value.replace(WIRE_ATTR, (c) => WIRE_ATTR_MAP[c]!) : value;
}

const WIRE_TEXT = /[<>&\r]/g;
const WIRE_TEXT_TEST = /[<>&\r]/;
const WIRE_TEXT_MAP: Record<string, string> = { '<': '&lt;', '>': '&gt;', '&': '&amp;', '\r': '&#xD;' };

/**
 * Text as xmldom escapes it (<, >, &), and a carriage return as a character
 * reference the way xml-crypto writes its output: written raw, it would be read
 * back as a line feed (XML 1.0 section 2.11) and the signature would break.
 */
function wireText(value: string): string {
  return WIRE_TEXT_TEST.test(value) ? value.replace(WIRE_TEXT, (c) => WIRE_TEXT_MAP[c]!) : value;
}

function writeWire(el: XmlElement, inScope: ReadonlyMap<string, string>, out: string[]): void {
  out.push('<', el.name);
  let scope = inScope;
  if (el.xmlns.length > 0) {
    const next = new Map(inScope);
    for (const [prefix, uri] of el.xmlns) {
      out.push(' xmlns:', prefix, '="', wireAttr(uri), '"');
      next.set(prefix, uri);
    }
    scope = next;
  }
  if (scope.get(el.prefix) !== el.ns) {
    throw new TypeError(`serializeXml: the prefix ${el.prefix} of ${el.name} is not declared for ${el.ns}`);
  }
  for (const [name, value] of el.attrs) out.push(' ', name, '="', wireAttr(value), '"');
  if (el.children.length === 0) {
    out.push('/>');
    return;
  }
  out.push('>');
  for (const child of el.children) {
    if (typeof child === 'string') out.push(wireText(child));
    else writeWire(child, scope, out);
  }
  out.push('</', el.name, '>');
}

/** The document text of an element (no XML declaration), as xmldom would serialize the same tree. */
export function serializeXml(el: XmlElement): string {
  const out: string[] = [];
  writeWire(el, new Map(), out);
  return out.join('');
}

// ---- Exclusive XML Canonicalization ---------------------------------------------

const C14N_ATTR = /[&<"\r\n\t]/g;
const C14N_ATTR_TEST = /[&<"\r\n\t]/;
const C14N_ATTR_MAP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '"': '&quot;', '\r': '&#xD;', '\n': '&#xA;', '\t': '&#x9;' };

const C14N_TEXT = /[&<>\r]/g;
const C14N_TEXT_TEST = /[&<>\r]/;
const C14N_TEXT_MAP: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#xD;' };

function c14nAttr(value: string): string {
  return C14N_ATTR_TEST.test(value) ? value.replace(C14N_ATTR, (c) => C14N_ATTR_MAP[c]!) : value;
}

function c14nText(value: string): string {
  return C14N_TEXT_TEST.test(value) ? value.replace(C14N_TEXT, (c) => C14N_TEXT_MAP[c]!) : value;
}

function byName(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * exc-c14n of one element: a namespace is declared where its prefix is visibly
 * used and not already declared, with that value, by an ancestor in the output;
 * attributes (all unprefixed here) sorted by name; empty elements written as a
 * start and an end tag; the c14n escapes for text and attribute values.
 */
function writeCanonical(el: XmlElement, rendered: ReadonlyMap<string, string>, out: string[]): void {
  out.push('<', el.name);
  let scope = rendered;
  if (rendered.get(el.prefix) !== el.ns) {
    out.push(' xmlns:', el.prefix, '="', el.ns, '"');
    const next = new Map(rendered);
    next.set(el.prefix, el.ns);
    scope = next;
  }
  const attrs = el.attrs.length > 1 ? [...el.attrs].sort(byName) : el.attrs;
  for (const [name, value] of attrs) out.push(' ', name, '="', c14nAttr(value), '"');
  out.push('>');
  for (const child of el.children) {
    if (typeof child === 'string') out.push(c14nText(child));
    else writeCanonical(child, scope, out);
  }
  out.push('</', el.name, '>');
}

/**
 * The exclusive canonical form of an element as the apex of the canonicalized
 * subset: what xml-crypto's ExclusiveCanonicalization gives for it (no comments,
 * no InclusiveNamespaces), whatever its ancestors declare.
 */
export function canonicalXml(el: XmlElement): string {
  const out: string[] = [];
  writeCanonical(el, new Map(), out);
  return out.join('');
}
