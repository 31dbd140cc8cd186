/**
 * What the flow history keeps of a token or a Response: decoded, laid out, and
 * with every signature cut to its first characters, so that nothing in the history
 * can be replayed at an SP.
 */
import { DOMParser } from '@xmldom/xmldom';
import { NS } from '../saml/constants.js';
import { prettyXml, truncated } from '../inspect/pretty-xml.js';
import type { FlowJwt, FlowSaml } from './history.js';

function decodeSegment(segment: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment ?? '', 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The header and claims of a compact JWT and its signature cut to 8 characters. */
export function flowJwt(token: string): FlowJwt {
  const [h, p, s] = token.split('.');
  return { header: decodeSegment(h), claims: decodeSegment(p), signature: s ? truncated(s) : '' };
}

/** Laid out with the SignatureValues (and CipherValues) cut. Our own XML: parsed without the untrusted-input checks' size limit. */
export function prettyForHistory(xml: string): string {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  return prettyXml(doc.documentElement!, { truncateSignatureValues: true });
}

export interface ResponseFacts {
  xml: string;
  responseId?: string | undefined;
  assertionId?: string | undefined;
  nameId?: string | undefined;
  assertionXml?: string | undefined;
  encrypted?: boolean | undefined;
  signed?: { response: boolean; assertion: boolean } | undefined;
}

/** The flow history's view of a SAML Response the IdP built. */
export function flowSaml(facts: ResponseFacts, inResponseTo: string | undefined): FlowSaml {
  const doc = new DOMParser().parseFromString(facts.xml, 'text/xml');
  const root = doc.documentElement!;
  const codes = Array.from(root.getElementsByTagNameNS(NS.samlp, 'StatusCode')).map((c) => (c.getAttribute('Value') ?? '').replace('urn:oasis:names:tc:SAML:2.0:status:', ''));
  return {
    responseId: facts.responseId ?? (root.getAttribute('ID') || undefined),
    assertionId: facts.assertionId,
    inResponseTo,
    nameId: facts.nameId,
    status: codes.length > 0 ? codes.join(' / ') : undefined,
    signed: facts.signed ?? { response: root.getElementsByTagNameNS(NS.ds, 'Signature').length > 0, assertion: false },
    encrypted: facts.encrypted ?? false,
    xml: prettyXml(root, { truncateSignatureValues: true }),
    clearAssertion: facts.encrypted && facts.assertionXml ? prettyForHistory(facts.assertionXml) : undefined,
  };
}
