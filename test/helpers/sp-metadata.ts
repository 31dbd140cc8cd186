/**
 * SP metadata for the end-to-end tests of "register an SP from its metadata":
 * an EntityDescriptor made from the public test certificates, and a loopback
 * HTTP server that serves one (its document and status can change).
 */
import http from 'node:http';
import type net from 'node:net';
import { SP_ENCRYPTION, SP_SIGNING } from '../saml/support.js';

export const BINDING = {
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  artifact: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact',
  paos: 'urn:oasis:names:tc:SAML:2.0:bindings:PAOS',
} as const;

export interface MetadataAcsInput {
  index: number;
  binding: string;
  location: string;
  isDefault?: boolean;
}

export interface SpMetadataOptions {
  entityId: string;
  /** AuthnRequestsSigned; omitted when undefined. */
  authnRequestsSigned?: boolean;
  /** A signing KeyDescriptor with the sp-signing test certificate (default true). */
  signingKey?: boolean;
  /** An encryption KeyDescriptor with the sp-encryption test certificate (default true), with these EncryptionMethods. */
  encryption?: { methods: string[] } | false;
  slo?: { binding: string; location: string }[];
  nameIdFormats?: string[];
  acs: MetadataAcsInput[];
}

const keyDescriptor = (use: 'signing' | 'encryption', certBase64: string, methods: string[] = []): string =>
  `<md:KeyDescriptor use="${use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBase64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>` +
  methods.map((m) => `<md:EncryptionMethod Algorithm="${m}"/>`).join('') +
  '</md:KeyDescriptor>';

/** An SP's EntityDescriptor (elements in the schema's order). Values are the test's own constants, not user input. */
export function spMetadataXml(o: SpMetadataOptions): string {
  const signed = o.authnRequestsSigned === undefined ? '' : ` AuthnRequestsSigned="${o.authnRequestsSigned}"`;
  const parts = [
    `<?xml version="1.0"?>\n<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${o.entityId}">`,
    `<md:SPSSODescriptor${signed} protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`,
    o.signingKey === false ? '' : keyDescriptor('signing', SP_SIGNING.certificateBase64),
    o.encryption === false ? '' : keyDescriptor('encryption', SP_ENCRYPTION.certificateBase64, o.encryption?.methods ?? []),
    ...(o.slo ?? []).map((s) => `<md:SingleLogoutService Binding="${s.binding}" Location="${s.location}"/>`),
    ...(o.nameIdFormats ?? []).map((f) => `<md:NameIDFormat>${f}</md:NameIDFormat>`),
    ...o.acs.map(
      (a) => `<md:AssertionConsumerService Binding="${a.binding}" Location="${a.location}" index="${a.index}"${a.isDefault === undefined ? '' : ` isDefault="${a.isDefault}"`}/>`,
    ),
    '</md:SPSSODescriptor>',
    '</md:EntityDescriptor>\n',
  ];
  return parts.join('\n');
}

export interface MetadataServer {
  url: string;
  /** What GET answers from now on. */
  serve(body: string, status?: number): void;
  /** How many requests it answered. */
  readonly hits: number;
  close(): Promise<void>;
}

/** A node:http server on 127.0.0.1 (a free port) answering every GET with the current document. */
export async function startMetadataServer(body: string): Promise<MetadataServer> {
  let current = { body, status: 200 };
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits += 1;
    res.writeHead(current.status, { 'content-type': 'application/samlmetadata+xml' });
    res.end(current.status === 200 ? current.body : 'internal error');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sp/metadata.xml`,
    serve(next, status = 200) {
      current = { body: next, status };
    },
    get hits() {
      return hits;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
