/**
 * The faults mock-idp can inject into one sign-in, named in one place: each one
 * makes exactly one defect in the token or the SAML Response, and says which spec
 * section a service provider that accepts it ignores. The HTTP layer, the control
 * API, the CLI and the conformance runner all read their names and descriptions
 * from here.
 */

export const JWT_FAULT_NAMES = [
  'expired',
  'not-yet-valid',
  'wrong-audience',
  'wrong-issuer',
  'bad-signature',
  'wrong-key',
  'alg-none',
  'hs-rs-confusion',
  'missing-email',
  'missing-jti',
  'replayed-jti',
  'missing-identity',
  'missing-exp',
  'old-shared-token',
  'clock-skew',
] as const;

/**
 * The faults of a Contact JWT (a token that identifies a website visitor to a
 * messenger widget, src/config/sp-schema.ts `jwt.identityClaim`): offered and
 * applied only for SPs with an identityClaim (src/issue/issuer.ts jwtFaultUnfitFor).
 */
export const CONTACT_JWT_FAULT_NAMES = ['missing-identity', 'missing-exp', 'old-shared-token'] as const;

export const SAML_FAULT_NAMES = [
  'unsigned',
  'bad-signature',
  'wrong-certificate',
  'expired',
  'not-yet-valid',
  'wrong-audience',
  'wrong-recipient',
  'wrong-destination',
  'wrong-in-response-to',
  'replayed-assertion',
  'sha1-signature',
  'signature-wrapping',
  'comment-in-nameid',
] as const;

export type JwtFaultName = (typeof JWT_FAULT_NAMES)[number];
export type SamlFaultName = (typeof SAML_FAULT_NAMES)[number];
export type FaultName = JwtFaultName | SamlFaultName;
export type FaultProtocol = 'jwt' | 'saml';

/** A JWT fault as parsed: clock-skew carries its seconds (IdP clock ahead when positive). */
export type JwtFault = { name: Exclude<JwtFaultName, 'clock-skew'> } | { name: 'clock-skew'; seconds: number };
export interface SamlFault {
  name: SamlFaultName;
}
export type Fault = JwtFault | SamlFault;

/**
 * What a correct service provider does with the fault:
 * - must-reject: refuse the sign-in;
 * - must-reject-beyond-leeway: refuse it when the shift exceeds its clock-skew allowance;
 * - should-reject: refuse it by policy (the message is cryptographically sound);
 * - must-not-be-misled: read the message correctly (or refuse it), never a truncated value.
 */
export type FaultExpectation = 'must-reject' | 'must-reject-beyond-leeway' | 'should-reject' | 'must-not-be-misled';

export interface FaultInfo {
  name: FaultName;
  protocol: FaultProtocol;
  /** One line: the defect, as it appears in what is sent. */
  description: string;
  /** The spec section (or advisory) that a service provider accepting it ignores. */
  violates: string;
  expectation: FaultExpectation;
  /** Only an SP that remembers what it has seen (a replay cache) can detect it. */
  stateful: boolean;
  /** The fault takes a value: `clock-skew=<seconds>`. */
  takesValue: boolean;
}

/** How far outside the validity window the time faults put a token: beyond every usual clock-skew allowance (OneLogin's is 5 minutes). */
export const FAULT_TIME_MARGIN_SECONDS = 600;

/** The values the value-changing faults put in place. */
export const FAULT_VALUES = {
  audience: 'urn:mock-idp:fault:wrong-audience',
  issuer: 'urn:mock-idp:fault:wrong-issuer',
  recipient: 'https://wrong-recipient.mock-idp.invalid/acs',
  destination: 'https://wrong-destination.mock-idp.invalid/acs',
  /** A well-formed SAML ID that no SP ever sent. */
  inResponseTo: '_mock-idp-fault-wrong-in-response-to-0000000000',
  nameIdComment: 'mock-idp fault: comment-in-nameid',
} as const;

/** The limits of clock-skew=<seconds>: one year either way. */
export const MAX_CLOCK_SKEW_SECONDS = 31_536_000;

const info = (
  protocol: FaultProtocol,
  name: FaultName,
  description: string,
  violates: string,
  expectation: FaultExpectation = 'must-reject',
  extra: { stateful?: boolean; takesValue?: boolean } = {},
): FaultInfo => ({ name, protocol, description, violates, expectation, stateful: extra.stateful ?? false, takesValue: extra.takesValue ?? false });

const margin = `${FAULT_TIME_MARGIN_SECONDS / 60} minutes`;

export const JWT_FAULTS: Readonly<Record<JwtFaultName, FaultInfo>> = {
  expired: info('jwt', 'expired', `exp is ${margin} in the past: the token was issued ttlSeconds + ${margin} ago (iat, nbf and exp all shifted).`, 'RFC 7519 §4.1.4 (exp)'),
  'not-yet-valid': info('jwt', 'not-yet-valid', `nbf and iat are ${margin} in the future (exp shifted with them).`, 'RFC 7519 §4.1.5 (nbf)'),
  'wrong-audience': info('jwt', 'wrong-audience', `aud is "${FAULT_VALUES.audience}" instead of the SP's audience.`, 'RFC 7519 §4.1.3 (aud)'),
  'wrong-issuer': info('jwt', 'wrong-issuer', `iss is "${FAULT_VALUES.issuer}" instead of the IdP's issuer.`, 'RFC 7519 §4.1.1 (iss); RFC 8725 §3.8'),
  'bad-signature': info('jwt', 'bad-signature', 'One bit of the signature is flipped; header and claims are untouched.', 'RFC 7515 §5.2 (JWS validation, step 8)'),
  'wrong-key': info('jwt', 'wrong-key', 'Signed with a freshly generated key of the same algorithm; the header (kid included) is unchanged.', 'RFC 7515 §5.2 (JWS validation, step 8)'),
  'alg-none': info('jwt', 'alg-none', 'An Unsecured JWT: header alg "none" (no kid) and an empty signature; the claims are untouched.', 'RFC 8725 §3.1 and §2.1; RFC 7519 §6'),
  'hs-rs-confusion': info(
    'jwt',
    'hs-rs-confusion',
    "Header alg HS256, signed with HMAC using the SP's public key (SPKI PEM text) as the secret, as an SP that lets the token pick the algorithm would check it.",
    'RFC 8725 §2.1 and §3.1 (algorithm verification)',
  ),
  'missing-email': info('jwt', 'missing-email', 'The email claim is left out.', 'OpenID Connect Core 1.0 §5.1 (email), a claim the SP requires'),
  'missing-jti': info('jwt', 'missing-jti', 'The jti claim is left out, so the SP cannot detect a replay.', 'RFC 7519 §4.1.7 (jti), required by SPs that refuse replays'),
  'replayed-jti': info('jwt', 'replayed-jti', 'jti is the one of the last fault-free token sent to this SP; everything else is fresh.', 'RFC 7519 §4.1.7 (jti: prevents replay)', 'must-reject', { stateful: true }),
  'missing-identity': info(
    'jwt',
    'missing-identity',
    "Contact JWT: the SP's identity claim (jwt.identityClaim, e.g. identity) is left out, so the token names no visitor.",
    'Comm100 Secure Messenger: the identity key is required; RFC 7519 §7.2 (claims the application requires)',
  ),
  'missing-exp': info(
    'jwt',
    'missing-exp',
    'Contact JWT: the exp claim is left out, so the token never expires.',
    'RFC 7519 §4.1.4 (exp), required by the Authorize API; RFC 8725 §3.10',
  ),
  'old-shared-token': info(
    'jwt',
    'old-shared-token',
    "Contact JWT, HS256: signed with the SP's previous shared token (jwt.secret before its last run-time change, e.g. a Reset shared token); header and claims are untouched.",
    'RFC 7515 §5.2 (JWS validation, step 8): a reset shared token must stop working',
  ),
  'clock-skew': info(
    'jwt',
    'clock-skew',
    'iat, nbf and exp are shifted by <seconds>, as from an IdP whose clock runs that far ahead (negative: behind).',
    'RFC 7519 §4.1.4 and §4.1.5 (a small leeway only)',
    'must-reject-beyond-leeway',
    { takesValue: true },
  ),
};

export const SAML_FAULTS: Readonly<Record<SamlFaultName, FaultInfo>> = {
  unsigned: info('saml', 'unsigned', 'Neither the Response nor the Assertion is signed.', 'SAML 2.0 Profiles §4.1.3.5 (assertions delivered by POST MUST be signed)'),
  'bad-signature': info('saml', 'bad-signature', 'One bit of every SignatureValue is flipped; the signed content is untouched.', 'XML-DSig 1.1 §3.2.2 (signature validation); SAML 2.0 Core §5.4'),
  'wrong-certificate': info(
    'saml',
    'wrong-certificate',
    "Signed with a generated key whose self-signed certificate is in KeyInfo, not with the key of the IdP's metadata.",
    'SAML 2.0 Metadata §2.4.1.1 (KeyDescriptor); XML-DSig 1.1 §4.5 (KeyInfo is a hint, not trust)',
  ),
  expired: info(
    'saml',
    'expired',
    `Issued assertionTtlSeconds + ${margin} ago: Conditions and SubjectConfirmationData NotOnOrAfter are ${margin} past (every instant shifted).`,
    'SAML 2.0 Core §2.5.1.2 (NotOnOrAfter); Profiles §4.1.4.2',
  ),
  'not-yet-valid': info('saml', 'not-yet-valid', `Issued ${margin} in the future: Conditions NotBefore is ${margin} ahead (every instant shifted).`, 'SAML 2.0 Core §2.5.1.2 (NotBefore)'),
  'wrong-audience': info('saml', 'wrong-audience', `The Audience is "${FAULT_VALUES.audience}" instead of the SP's entity ID.`, 'SAML 2.0 Core §2.5.1.4 (AudienceRestriction)'),
  'wrong-recipient': info('saml', 'wrong-recipient', `SubjectConfirmationData Recipient is ${FAULT_VALUES.recipient}, not the ACS URL.`, 'SAML 2.0 Profiles §4.1.4.2 and §4.1.4.3 (Recipient)'),
  'wrong-destination': info('saml', 'wrong-destination', `The Response's Destination is ${FAULT_VALUES.destination}, not the ACS URL.`, 'SAML 2.0 Bindings §3.5.5.2 (Destination); Core §3.2.2'),
  'wrong-in-response-to': info(
    'saml',
    'wrong-in-response-to',
    `InResponseTo (on the Response and on SubjectConfirmationData) is ${FAULT_VALUES.inResponseTo}, a request the SP never sent.`,
    'SAML 2.0 Profiles §4.1.4.2 and §4.1.4.3 (InResponseTo)',
  ),
  'replayed-assertion': info(
    'saml',
    'replayed-assertion',
    'The Assertion has the ID of the last fault-free assertion sent to this SP (signed anew); everything else is fresh.',
    'SAML 2.0 Profiles §4.1.4.5 (bearer assertions are used once)',
    'must-reject',
    { stateful: true },
  ),
  'sha1-signature': info(
    'saml',
    'sha1-signature',
    'Signed with RSA-SHA1 and SHA-1 digests instead of SHA-256.',
    'XML-DSig 1.1 §6.2.1 and §6.4.2 (SHA-1 discouraged); NIST SP 800-131A Rev. 2',
    'should-reject',
  ),
  'signature-wrapping': info(
    'saml',
    'signature-wrapping',
    'The signed Assertion is moved under samlp:Extensions and an unsigned copy of it (new ID, same content) sits where the assertion belongs; the Response is not signed.',
    'SAML 2.0 Profiles §4.1.3.5 and XML Signature Best Practices §2.1 (use only what the signature covers)',
  ),
  'comment-in-nameid': info(
    'saml',
    'comment-in-nameid',
    'An XML comment splits the NameID text; the signatures still verify, since exclusive c14n drops comments.',
    'CVE-2017-11427 class (truncated NameID); Exclusive XML Canonicalization §3 (comments excluded)',
    'must-not-be-misled',
  ),
};

export function faultCatalog(protocol: FaultProtocol): readonly FaultInfo[] {
  return protocol === 'jwt' ? JWT_FAULT_NAMES.map((n) => JWT_FAULTS[n]) : SAML_FAULT_NAMES.map((n) => SAML_FAULTS[n]);
}

/** The fault as written in `fault=`: its name, or `clock-skew=<seconds>`. */
export function faultLabel(fault: Fault): string {
  return fault.name === 'clock-skew' && 'seconds' in fault ? `clock-skew=${fault.seconds}` : fault.name;
}

export function faultInfo(protocol: FaultProtocol, name: FaultName): FaultInfo | undefined {
  return protocol === 'jwt' ? JWT_FAULTS[name as JwtFaultName] : SAML_FAULTS[name as SamlFaultName];
}
