/**
 * XML laid out for people: one element per line, indented, comments kept (a
 * comment inside a NameID is exactly what a reader must see). For display only:
 * the text is never signed or parsed again.
 */
import type { Element, Node } from '@xmldom/xmldom';

export interface PrettyOptions {
  /** Cut SignatureValue (and CipherValue) contents to their first characters, so a shown message cannot be replayed. */
  truncateSignatureValues?: boolean;
  indent?: string;
}

const ELEMENT = 1;
const TEXT = 3;
const CDATA = 4;
const COMMENT = 8;

const escText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escAttr = (s: string): string => escText(s).replace(/"/g, '&quot;').replace(/\r/g, '&#13;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');

/** How much of a cut value is kept. */
export const SHOWN_SIGNATURE_CHARS = 8;

export function truncated(value: string): string {
  const compact = value.replace(/\s+/g, '');
  return compact.length <= SHOWN_SIGNATURE_CHARS ? compact : `${compact.slice(0, SHOWN_SIGNATURE_CHARS)}…`;
}

function kids(node: Node): Node[] {
  const out: Node[] = [];
  for (let n = node.firstChild; n; n = n.nextSibling) out.push(n);
  return out;
}

function write(node: Element, depth: number, options: Required<PrettyOptions>, out: string[]): void {
  const pad = options.indent.repeat(depth);
  const attrs: string[] = [];
  for (let i = 0; i < node.attributes.length; i++) {
    const a = node.attributes.item(i)!;
    attrs.push(` ${a.name}="${escAttr(a.value)}"`);
  }
  const open = `${pad}<${node.tagName}${attrs.join('')}`;
  const children = kids(node).filter((n) => !((n.nodeType === TEXT || n.nodeType === CDATA) && (n.nodeValue ?? '').trim() === ''));
  if (children.length === 0) {
    out.push(`${open}/>`);
    return;
  }
  const cut = options.truncateSignatureValues && (node.localName === 'SignatureValue' || node.localName === 'CipherValue');
  // Text-only content (a NameID split by a comment included) stays on the element's line.
  if (children.every((n) => n.nodeType !== ELEMENT)) {
    const inner = children
      .map((n) => (n.nodeType === COMMENT ? `<!--${n.nodeValue ?? ''}-->` : escText(cut ? truncated(n.nodeValue ?? '') : (n.nodeValue ?? ''))))
      .join('');
    out.push(`${open}>${inner}</${node.tagName}>`);
    return;
  }
  out.push(`${open}>`);
  for (const n of children) {
    if (n.nodeType === ELEMENT) write(n as Element, depth + 1, options, out);
    else if (n.nodeType === COMMENT) out.push(`${pad}${options.indent}<!--${n.nodeValue ?? ''}-->`);
    else out.push(`${pad}${options.indent}${escText((n.nodeValue ?? '').trim())}`);
  }
  out.push(`${pad}</${node.tagName}>`);
}

/** The element and its descendants, indented. */
export function prettyXml(root: Element, options: PrettyOptions = {}): string {
  const out: string[] = [];
  write(root, 0, { truncateSignatureValues: options.truncateSignatureValues ?? false, indent: options.indent ?? '  ' }, out);
  return out.join('\n');
}
