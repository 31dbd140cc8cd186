/**
 * The length limits of everything a request hands the IdP, in one table: the
 * JWT and SAML sign-ins, the bindings and the parameter readers all take them
 * from here.
 */
export const LIMITS = {
  /** RelayState / relayState, echoed back exactly; SAML bindings ask for 80 bytes, real SPs send more. */
  relayStateChars: 4096,
  /** A redirect_url (the JWT consumer, a logout URL). */
  redirectUrlChars: 4000,
  /** The XML of a SAML message after base64 decoding (and inflating, for HTTP-Redirect). */
  samlXmlBytes: 128 * 1024,
  /** The base64 text of a SAMLRequest/SAMLResponse parameter. */
  samlEncodedChars: 4 * Math.ceil((128 * 1024) / 3) + 1024,
  /** An SP's metadata document (metadata, metadataFile, metadataUrl), refused before parsing when larger. */
  spMetadataBytes: 512 * 1024,
} as const;
