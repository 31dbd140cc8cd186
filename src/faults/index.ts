/** Fault injection: the catalogue, the `fault=` parser, and the pure JWT and SAML fault steps. */
export * from './catalog.js';
export { MAX_FAULTS, parseFaults, parseJwtFaults, parseSamlFaults } from './parse.js';
export { JWT_SIGNATURE_FAULTS, applyJwtClaimFaults, applyJwtSignatureFault, jwtSignatureFaultOf, type JwtSignatureFault } from './jwt.js';
export { buildFaultedResponse, parseSamlEdit, type FaultedResponse, type SamlEdit } from './saml.js';
export { Issuer, type IssuedJwt, type IssuedSamlResponse, type JwtIssueOptions, type SamlIssueOptions } from '../issue/issuer.js';
export { processFaultKeys, type FaultKeys } from './keys.js';
