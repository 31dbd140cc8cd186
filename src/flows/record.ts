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
 * sign-in's hot path.
 */
export function flowJwt(token: string): FlowJwt {
  let decoded: FlowJwt | undefined;
  const decode = (): FlowJwt => {
    if (!decoded) {
      const [h, p, s] = token.split('.');
      decoded = { header: decodeSegment(h), claims: decodeSegment(p), signature: s ? truncated(s) : '' };
    }
    return decoded;
  };
  // Enumerable getters: structuredClone and JSON read them, so copies carry the decoded values.
  return Object.defineProperties({} as FlowJwt, {
    header: { enumerable: true, get: () => decode().header },
    claims: { enumerable: true, get: () => decode().claims },
    signature: { enumerable: true, get: () => decode().signature },
  });
}

/** Laid out with the SignatureValues (and CipherValues) cut. Our own XML: parsed without the untrusted-input checks' size limit. */
export function prettyForHistory(xml: string): string {
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  return prettyXml(doc.documentElement!, { truncateSignatureValues: true });
}


/**
 * The flow history's view of a SAML Response the IdP built. Parsing and laying out
 * the XML costs more than signing it, so that is done the first time the flow is
 * read (/flows, /api/events), not on the sign-in's hot path.
 */
export function flowSaml(facts: ResponseFacts, inResponseTo: string | undefined): FlowSaml {
  let laidOut: { xml: string; status: string | undefined; responseId: string | undefined; signedResponse: boolean; clearAssertion: string | undefined } | undefined;
  const layout = () => {
    if (!laidOut) {
      const root = new DOMParser().parseFromString(facts.xml, 'text/xml').documentElement!;
      const codes = Array.from(root.getElementsByTagNameNS(NS.samlp, 'StatusCode')).map((c) => (c.getAttribute('Value') ?? '').replace('urn:oasis:names:tc:SAML:2.0:status:', ''));
      laidOut = {
        xml: prettyXml(root, { truncateSignatureValues: true }),
        status: codes.length > 0 ? codes.join(' / ') : undefined,
        responseId: root.getAttribute('ID') || undefined,
        signedResponse: root.getElementsByTagNameNS(NS.ds, 'Signature').length > 0,
        clearAssertion: facts.encrypted && facts.assertionXml ? prettyForHistory(facts.assertionXml) : undefined,
      };
    }
    return laidOut;
  };
  const flow = { assertionId: facts.assertionId, inResponseTo, nameId: facts.nameId, encrypted: facts.encrypted ?? false } as FlowSaml;
  // Enumerable getters: structuredClone and JSON read them, so copies carry the laid-out values.
  Object.defineProperties(flow, {
    responseId: { enumerable: true, get: () => facts.responseId ?? layout().responseId },
    status: { enumerable: true, get: () => layout().status },
    signed: { enumerable: true, get: () => facts.signed ?? { response: layout().signedResponse, assertion: false } },
    xml: { enumerable: true, get: () => layout().xml },
    clearAssertion: { enumerable: true, get: () => layout().clearAssertion },
  });
  return flow;
}
