/**
 * The one issuer: every JWT and every SAML Response the IdP hands out is made
 * here (browser sign-ins, the review page, the widget token endpoint, the control
 * API, the CLI, the library). An ordinary token is minted by the JWT signer and
 * an ordinary Response built by src/saml/response.ts; faults, when asked for, are
 * a transform of what is issued (src/faults/): claim faults before signing,
 * signature faults after, the SAML fault pipeline in place of the plain builder.
 *
 * It also keeps, in the state store, the last fault-free jti and assertion ID sent
 * to each SP (the replayed-jti and replayed-assertion faults reuse them); the
 * applier notes them once a token or Response is sent (`noteSent`).
 */
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { epochSeconds, type Clock } from '../clock.js';
import { IdpError } from '../errors.js';
import { CONTACT_JWT_FAULT_NAMES, faultCatalog, type FaultInfo, type FaultProtocol, type JwtFault, type JwtFaultName, type SamlFault } from '../faults/catalog.js';
import { applyJwtClaimFaults, applyJwtSignatureFault, jwtSignatureFaultOf } from '../faults/jwt.js';
import { processFaultKeys, type FaultKeys } from '../faults/keys.js';
import { buildFaultedResponse, type SamlEdit } from '../faults/saml.js';
import type { AsymmetricAlg, Keystore } from '../keys/keystore.js';
import type { JwtSigner } from '../jwt/signer.js';
import { buildResponse, type ResponseInput, type SamlIdpContext, type SamlNameId } from '../saml/response.js';
import { isJwtSp, type JwtSp, type SamlSp } from '../sps.js';
import type { ResolvedServiceProvider } from '../config/load.js';
import type { StateStore } from '../state/types.js';
import type { User } from '../users/store.js';

export interface IssuedJwt {
  token: string;
  /** The header as sent (the fault's, for alg-none and hs-rs-confusion). */
  header: JWTHeaderParameters;
  /** The claims as sent. */
  claims: JWTPayload;
  faults: JwtFault[];
}

export interface IssuedSamlResponse {
  xml: string;
  responseId: string;
  assertionId: string;
  /** The NameID value. */
  nameId: string;
  /** The NameID as sent (value, Format, qualifiers): what the session remembers for single logout. */
  subject: SamlNameId;
  /** The signed Assertion before encryption; undefined when built by the plain path of an encrypting SP. */
  assertionXml: string | undefined;
  encrypted: boolean;
  signed: { response: boolean; assertion: boolean };
  faults: SamlFault[];
}

export interface JwtIssueOptions {
  faults?: readonly JwtFault[] | undefined;
  /** Claims to replace (null removes one), as JwtSigner.claimsFor takes them. */
  overrides?: Record<string, unknown> | undefined;
  /** The whole claim set, as edited on the review page: signed as it is (claim faults are not applied again). */
  claims?: JWTPayload | undefined;
}

export interface SamlIssueOptions {
  faults?: readonly SamlFault[] | undefined;
  edit?: SamlEdit | undefined;
  /** Build through the fault pipeline even without faults, to get the Assertion before encryption. */
  wantAssertionXml?: boolean | undefined;
}

/** The NameID is required here: every Response the IdP issues carries the one src/saml/nameid.ts chose. */
export type SamlIssueInput = Omit<ResponseInput, 'sp' | 'nameId'> & { sp: SamlSp; nameId: SamlNameId };

export interface IssuerDeps {
  /** The current JWT signer (it is replaced when the service providers change). */
  jwtSigner: () => JwtSigner;
  /** The IdP's SAML signing context. */
  samlIdp: () => SamlIdpContext;
  keystore: Keystore;
  clock: Clock;
  state: StateStore;
  faultKeys?: FaultKeys;
  /** The HS256 secret an SP had before its last run-time change (old-shared-token); none when not given. */
  previousSecret?: (spId: string) => string | undefined;
}

/** What the fault rules know beyond the SP's config: its previous shared token (the Services satisfy it). */
export interface FaultFitContext {
  previousHsSecret?(spId: string): string | undefined;
}

/** How long the last sent jti and assertion ID of an SP are kept for the replay faults. */
const SENT_TTL_MS = 7 * 24 * 3600 * 1000;
const LAST_JTI = 'sent:jti:';
const LAST_ASSERTION = 'sent:assertion:';
/** The state namespace of the issuer (the control API's reset clears it). */
export const ISSUER_STATE_PREFIX = 'sent:';

/**
 * Why a fault cannot be made for this SP, or undefined when it can: the one rule
 * that the sign-in (sso/choice.ts), the issuer, the review page and the
 * conformance runner share. Without `known.previousHsSecret` (the sign-in's early
 * check) old-shared-token is judged on the SP's config alone; the issuer asks again.
 */
export function jwtFaultUnfitFor(sp: JwtSp, faults: readonly JwtFault[], known: FaultFitContext = {}): IdpError | undefined {
  const signatureFault = jwtSignatureFaultOf(faults);
  if (signatureFault === 'hs-rs-confusion' && sp.jwt.algorithm === 'HS256') {
    return new IdpError(
      'invalid_fault',
      `hs-rs-confusion attacks SPs that verify RS256 or ES256 tokens with a public key; ${sp.id} uses HS256 with a shared secret, so there is no public key to confuse.`,
    );
  }
  const contact = faults.find((f) => (CONTACT_JWT_FAULT_NAMES as readonly string[]).includes(f.name));
  if (contact && sp.jwt.identityClaim === undefined) {
    return new IdpError(
      'invalid_fault',
      `${contact.name} is a Contact JWT fault, for SPs whose tokens identify a visitor (jwt.identityClaim); ${sp.id} has no jwt.identityClaim.`,
    );
  }
  if (signatureFault === 'old-shared-token') {
    if (sp.jwt.algorithm !== 'HS256') {
      return new IdpError('invalid_fault', `old-shared-token signs with the previous HS256 shared token; ${sp.id} uses ${sp.jwt.algorithm}, which has no shared token.`);
    }
    if (known.previousHsSecret && known.previousHsSecret(sp.id) === undefined) {
      return new IdpError(
        'invalid_fault',
        `old-shared-token signs with the shared token ${sp.id} had before its jwt.secret last changed, and this process has seen no such change since it started: change the secret once first (the control API, or the demo SP's "Reset shared token").`,
      );
    }
  }
  return undefined;
}

/**
 * The faults of a protocol's catalog that the issuer applies to this SP: what the
 * review page offers and the conformance runner runs (one rule, `jwtFaultUnfitFor`).
 */
export function faultsFor(protocol: FaultProtocol, sp: ResolvedServiceProvider | undefined, known: FaultFitContext = {}): readonly FaultInfo[] {
  const catalog = faultCatalog(protocol);
  if (protocol !== 'jwt' || !sp || !isJwtSp(sp)) return catalog;
  return catalog.filter((f) => {
    const name = f.name as JwtFaultName;
    const fault: JwtFault = name === 'clock-skew' ? { name, seconds: 0 } : { name };
    return !jwtFaultUnfitFor(sp, [fault], known);
  });
}

export class Issuer {
  readonly #deps: IssuerDeps;
  readonly #keys: FaultKeys;

  constructor(deps: IssuerDeps) {
    this.#deps = deps;
    this.#keys = deps.faultKeys ?? processFaultKeys();
  }

  get samlIdp(): SamlIdpContext {
    return this.#deps.samlIdp();
  }

  /** Mints a JWT for the SP and user, with the faults applied when any are given. */
  async jwt(sp: JwtSp, user: User, options: JwtIssueOptions = {}): Promise<IssuedJwt> {
    const faults = [...(options.faults ?? [])];
    const signer = this.#deps.jwtSigner();
    if (faults.length === 0) {
      const minted = await signer.signClaims(sp, options.claims ? { ...options.claims } : signer.claimsFor(sp, user, options.overrides ?? {}));
      return { token: minted.token, header: minted.header, claims: minted.claims, faults };
    }
    const previousSecret = this.#deps.previousSecret ?? (() => undefined);
    const unfit = jwtFaultUnfitFor(sp, faults, { previousHsSecret: previousSecret });
    if (unfit) throw unfit;
    const base = options.claims ? { ...options.claims } : signer.claimsFor(sp, user, options.overrides ?? {});
    const claims = options.claims
      ? base
      : applyJwtClaimFaults(base, faults, {
          now: epochSeconds(this.#deps.clock),
          ttlSeconds: sp.jwt.ttlSeconds,
          lastJti: faults.some((f) => f.name === 'replayed-jti') ? await this.lastJti(sp.id) : undefined,
          spId: sp.id,
          identityClaim: sp.jwt.identityClaim,
        });
    const minted = await signer.signClaims(sp, claims);
    const signatureFault = jwtSignatureFaultOf(faults);
    if (!signatureFault) return { token: minted.token, header: minted.header, claims: minted.claims, faults };
    const alg = sp.jwt.algorithm;
    const token = applyJwtSignatureFault(minted.token, signatureFault, {
      wrongKey: signatureFault === 'wrong-key' ? await this.#keys.jwt(alg) : undefined,
      publicKeyPem:
        signatureFault === 'hs-rs-confusion'
          ? this.#deps.keystore.jwtKeyFor(sp.id, alg as AsymmetricAlg).publicKey.export({ type: 'spki', format: 'pem' }).toString()
          : undefined,
      previousSecret: signatureFault === 'old-shared-token' ? previousSecret(sp.id) : undefined,
    });
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as JWTHeaderParameters;
    return { token, header, claims, faults };
  }

  /** Builds the SAML Response, with the faults (and the review page's edit) applied when given. */
  async samlResponse(input: SamlIssueInput, options: SamlIssueOptions = {}): Promise<IssuedSamlResponse> {
    const faults = [...(options.faults ?? [])];
    const { sp } = input;
    const idp = this.samlIdp;
    if (faults.length === 0 && !options.edit && !(options.wantAssertionXml && sp.saml.encryptAssertion)) {
      const built = await buildResponse(idp, input);
      return {
        ...built,
        assertionXml: undefined,
        encrypted: sp.saml.encryptAssertion,
        signed: { response: sp.saml.signResponse, assertion: sp.saml.signAssertion },
        faults,
      };
    }
    const built = await buildFaultedResponse(idp, input, {
      faults,
      edit: options.edit,
      lastAssertionId: faults.some((f) => f.name === 'replayed-assertion') ? await this.lastAssertionId(sp.id) : undefined,
      wrongCredentials: faults.some((f) => f.name === 'wrong-certificate') ? await this.#keys.saml() : undefined,
    });
    return { ...built, faults };
  }

  /**
   * Notes what was sent to an SP, for the replay faults. Only fault-free tokens and
   * assertions count: a faulty one may have been refused before the SP noted its ID.
   */
  async noteSent(spId: string, sent: { jti?: unknown; assertionId?: string | undefined }): Promise<void> {
    if (typeof sent.jti === 'string') await this.#deps.state.set(LAST_JTI + spId, sent.jti, SENT_TTL_MS);
    if (sent.assertionId !== undefined) await this.#deps.state.set(LAST_ASSERTION + spId, sent.assertionId, SENT_TTL_MS);
  }

  lastJti(spId: string): Promise<string | undefined> {
    return this.#deps.state.get<string>(LAST_JTI + spId);
  }

  lastAssertionId(spId: string): Promise<string | undefined> {
    return this.#deps.state.get<string>(LAST_ASSERTION + spId);
  }
}
