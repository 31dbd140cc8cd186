/**
 * What the flow history keeps of a token or a Response: decoded, laid out, and
 * with every signature cut to its first characters, so that nothing in the history
 * can be replayed at an SP.
 */
import { DOMParser } from '@xmldom/xmldom';
import { NS } from '../saml/constants.js';
import { prettyXml, truncated } from '../inspect/pretty-xml.js';
import type { FlowJwt, FlowSaml, ResponseFacts } from './types.js';

function decodeSegment(segment: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * The header and claims of a compact JWT and its signature cut to 8 characters,
 * decoded the first time the flow is read (/flows, /api/events), not on the
 * sign-in's hot path. Getters on the prototype (cheap to make, one per sign-in),
 * and toJSON so that JSON answers carry the decoded values.
 */
class LazyFlowJwt implements FlowJwt {
  #token: string;
  #decoded: FlowJwt | undefined;
  constructor(token: string) {
    this.#token = token;
  }
  #decode(): FlowJwt {
    if (!this.#decoded) {
      const [h, p, s] = this.#token.split('.');
      this.#decoded = { header: decodeSegment(h), claims: decodeSegment(p), signature: s ? truncated(s) : '' };
    }
    return this.#decoded;
  }
  get header(): Record<string, unknown> {
    return this.#decode().header;
  }
  get claims(): Record<string, unknown> {
    return this.#decode().claims;
  }
  get signature(): string {
    return this.#decode().signature;
  }
  toJSON(): FlowJwt {
    return { ...this.#decode() };
  }
}

export function flowJwt(token: string): FlowJwt {
  return new LazyFlowJwt(token);
}

/** Laid out with the SignatureValues (and CipherValues) cut. Our own XML: parsed without the untrusted-input checks' size limit. */
export function prettyForHistory(xml: string): string {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  return prettyXml(doc.documentElement!, { truncateSignatureValues: true });
}


interface LaidOut {
  xml: string;
  status: string | undefined;
  responseId: string | undefined;
  signedResponse: boolean;
  clearAssertion: string | undefined;
}

/**
 * The flow history's view of a SAML Response the IdP built. Parsing and laying out
 * the XML costs more than signing it, so that is done the first time the flow is
 * read (/flows, /api/events), not on the sign-in's hot path.
 */
class LazyFlowSaml implements FlowSaml {
  readonly assertionId: string | undefined;
  readonly inResponseTo: string | undefined;
  readonly nameId: string | undefined;
  readonly encrypted: boolean;
  #facts: ResponseFacts;
  #laidOut: LaidOut | undefined;
  constructor(facts: ResponseFacts, inResponseTo: string | undefined) {
    this.#facts = facts;
    this.assertionId = facts.assertionId;
    this.inResponseTo = inResponseTo;
    this.nameId = facts.nameId;
    this.encrypted = facts.encrypted ?? false;
  }
  #layout(): LaidOut {
    if (!this.#laidOut) {
      const facts = this.#facts;
      const root = new DOMParser().parseFromString(facts.xml, 'text/xml').documentElement!;
      const codes = Array.from(root.getElementsByTagNameNS(NS.samlp, 'StatusCode')).map((c) => (c.getAttribute('Value') ?? '').replace('urn:oasis:names:tc:SAML:2.0:status:', ''));
      this.#laidOut = {
        xml: prettyXml(root, { truncateSignatureValues: true }),
        status: codes.length > 0 ? codes.join(' / ') : undefined,
        responseId: root.getAttribute('ID') || undefined,
        signedResponse: root.getElementsByTagNameNS(NS.ds, 'Signature').length > 0,
        clearAssertion: facts.encrypted && facts.assertionXml ? prettyForHistory(facts.assertionXml) : undefined,
      };
    }
    return this.#laidOut;
  }
  get responseId(): string | undefined {
    return this.#facts.responseId ?? this.#layout().responseId;
  }
  get status(): string | undefined {
    return this.#layout().status;
  }
  get signed(): { response: boolean; assertion: boolean } {
    return this.#facts.signed ?? { response: this.#layout().signedResponse, assertion: false };
  }
  get xml(): string {
    return this.#layout().xml;
  }
  get clearAssertion(): string | undefined {
    return this.#layout().clearAssertion;
  }
  toJSON(): FlowSaml {
    const { responseId, assertionId, inResponseTo, nameId, status, signed, encrypted, xml, clearAssertion } = this;
    return { responseId, assertionId, inResponseTo, nameId, status, signed, encrypted, xml, clearAssertion };
  }
}

export function flowSaml(facts: ResponseFacts, inResponseTo: string | undefined): FlowSaml {
  return new LazyFlowSaml(facts, inResponseTo);
}
