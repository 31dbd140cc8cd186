/**
 * An SP's own SAML metadata (SAML metadata 2.3.2, 2.4.4): an EntityDescriptor with
 * one SPSSODescriptor, parsed with the same hardened XML parsing as requests and
 * validated against the metadata schema, reduced to what the IdP uses.
 */

/** An AssertionConsumerService (an IndexedEndpointType). */
export interface MetadataAcs {
  binding: string;
  location: string;
  index: number;
  /** The isDefault attribute; undefined when absent. */
  isDefault: boolean | undefined;
}

/** A SingleLogoutService (an EndpointType). */
export interface MetadataEndpoint {
  binding: string;
  location: string;
  responseLocation: string | undefined;
}

export interface SpMetadata {
  entityId: string;
  /** Every AssertionConsumerService, in document order. */
  acs: MetadataAcs[];
  /** Every SingleLogoutService, in document order. */
  slo: MetadataEndpoint[];
  /** PEM certificates of the KeyDescriptors for signing (use="signing" or no use), in document order. */
  signingCertificates: string[];
  /** PEM certificates of the KeyDescriptors for encryption (use="encryption" or no use), in document order. */
  encryptionCertificates: string[];
  /** The Algorithm URIs of the EncryptionMethods of the encryption KeyDescriptors, in document order. */
  encryptionMethods: string[];
  /** The NameIDFormat values, in document order. */
  nameIdFormats: string[];
  /** The SPSSODescriptor's AuthnRequestsSigned; undefined when absent. */
  authnRequestsSigned: boolean | undefined;
  /** The SPSSODescriptor's WantAssertionsSigned; undefined when absent. */
  wantAssertionsSigned: boolean | undefined;
}

/** Why a metadata document was refused: the message names what is wrong (and where, when it can). */
export class SpMetadataError extends Error {
  override name = 'SpMetadataError';
}

/**
 * Parses and validates an SP's metadata. `source` names where it came from in
 * messages ("metadataFile sp.xml"). Throws SpMetadataError.
 */
export async function parseSpMetadata(xml: string, source: string): Promise<SpMetadata> {
  void xml;
  throw new SpMetadataError(`${source}: SP metadata is not supported yet`);
}
