/**
 * The IdP's fault injector: mints JWTs and builds SAML Responses with faults, using
 * the IdP's own signer and keys, and remembers the last jti and assertion ID sent
 * to each SP (for replayed-jti and replayed-assertion). One per IdP (Services.faults);
 * the HTTP routes, the review page and the control API all go through it.
 */
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import { epochSeconds, type Clock } from '../clock.js';
import type { ResolvedJwtSp, ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import type { AsymmetricAlg, Keystore } from '../keys/keystore.js';
import type { JwtSigner } from '../jwt/signer.js';
import type { SamlServiceProvider } from '../saml/inbound.js';
import { buildResponse, type ResponseInput, type SamlIdpContext } from '../saml/response.js';
import type { User } from '../users/store.js';
import type { JwtFault, SamlFault } from './catalog.js';
import { applyJwtClaimFaults, applyJwtSignatureFault, jwtSignatureFaultOf } from './jwt.js';
import { processFaultKeys, type FaultKeys } from './keys.js';
import { buildFaultedResponse, type SamlEdit } from './saml.js';

export type JwtServiceProvider = ResolvedServiceProvider & { jwt: ResolvedJwtSp };

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
  nameId: string;
  /** The signed Assertion before encryption; undefined when built by the plain path of an encrypting SP. */
  assertionXml: string | undefined;
  encrypted: boolean;
  signed: { response: boolean; assertion: boolean };
  faults: SamlFault[];
}

export interface MintJwtOptions {
  faults?: readonly JwtFault[] | undefined;
  /** Claims to replace (null removes one), as JwtSigner.mint takes them. */
  overrides?: Record<string, unknown> | undefined;
  /** The whole claim set, as edited on the review page: signed as it is (claim faults are not applied again). */
  claims?: JWTPayload | undefined;
}

export interface SamlResponseOptions {
  faults?: readonly SamlFault[] | undefined;
  edit?: SamlEdit | undefined;
  /** Build through the fault pipeline even without faults, to get the Assertion before encryption. */
  wantAssertionXml?: boolean | undefined;
}

export interface FaultInjectorDeps {
  /** The signer, or a function giving the current one (it is replaced when the service providers change). */
  jwtSigner: JwtSigner | (() => JwtSigner);
  keystore: Keystore;
  clock: Clock;
  keys?: FaultKeys;
}

export class FaultInjector {
  readonly #signerOf: () => JwtSigner;
  readonly #keystore: Keystore;
  readonly #clock: Clock;
  readonly #keys: FaultKeys;
  readonly #lastJti = new Map<string, string>();
  readonly #lastAssertionId = new Map<string, string>();

  constructor(deps: FaultInjectorDeps) {
    const signer = deps.jwtSigner;
    this.#signerOf = typeof signer === 'function' ? signer : () => signer;
    this.#keystore = deps.keystore;
    this.#clock = deps.clock;
    this.#keys = deps.keys ?? processFaultKeys();
  }

  /** Mints a JWT for the SP and user with the faults applied. Does not remember its jti: call `remember` once it is sent. */
  async mintJwt(sp: JwtServiceProvider, user: User, options: MintJwtOptions = {}): Promise<IssuedJwt> {
    const faults = [...(options.faults ?? [])];
    const signatureFault = jwtSignatureFaultOf(faults);
    if (signatureFault === 'hs-rs-confusion' && sp.jwt.algorithm === 'HS256') {
      throw new IdpError(
        'invalid_fault',
        `hs-rs-confusion attacks SPs that verify RS256 or ES256 tokens with a public key; ${sp.id} uses HS256 with a shared secret, so there is no public key to confuse.`,
      );
    }
    const base = options.claims ? { ...options.claims } : this.#signerOf().claimsFor(sp, user, options.overrides ?? {});
    const claims =
      options.claims || faults.length === 0
        ? base
        : applyJwtClaimFaults(base, faults, { now: epochSeconds(this.#clock), ttlSeconds: sp.jwt.ttlSeconds, lastJti: this.#lastJti.get(sp.id), spId: sp.id });
    const minted = await this.#signerOf().signClaims(sp, claims);
    if (!signatureFault) return { token: minted.token, header: minted.header, claims: minted.claims, faults };
    const alg = sp.jwt.algorithm;
    const token = applyJwtSignatureFault(minted.token, signatureFault, {
      wrongKey: signatureFault === 'wrong-key' ? await this.#keys.jwt(alg) : undefined,
      publicKeyPem:
        signatureFault === 'hs-rs-confusion'
          ? this.#keystore.jwtKeyFor(sp.id, alg as AsymmetricAlg).publicKey.export({ type: 'spki', format: 'pem' }).toString()
          : undefined,
    });
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as JWTHeaderParameters;
    return { token, header, claims, faults };
  }

  /** Builds the SAML Response with the faults (and edit) applied. Does not remember its assertion ID: call `remember` once it is sent. */
  async samlResponse(idp: SamlIdpContext, input: ResponseInput & { sp: SamlServiceProvider }, options: SamlResponseOptions = {}): Promise<IssuedSamlResponse> {
    const faults = [...(options.faults ?? [])];
    const { sp } = input;
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
      lastAssertionId: this.#lastAssertionId.get(sp.id),
      wrongCredentials: faults.some((f) => f.name === 'wrong-certificate') ? await this.#keys.saml() : undefined,
    });
    return { ...built, faults };
  }

  /**
   * Notes what was sent to an SP, for the replay faults. Only fault-free tokens and
   * assertions count: a faulty one may have been refused before the SP noted its ID.
   */
  remember(spId: string, sent: { jti?: unknown; assertionId?: string | undefined }): void {
    if (typeof sent.jti === 'string') this.#lastJti.set(spId, sent.jti);
    if (sent.assertionId !== undefined) this.#lastAssertionId.set(spId, sent.assertionId);
  }

  lastJti(spId: string): string | undefined {
    return this.#lastJti.get(spId);
  }

  lastAssertionId(spId: string): string | undefined {
    return this.#lastAssertionId.get(spId);
  }

  /** Forgets what was sent (the control API's reset). */
  reset(): void {
    this.#lastJti.clear();
    this.#lastAssertionId.clear();
  }
}
