/**
 * The NameID of a sign-in (SAML core 2.2.2, 3.4.1.1, 8.3): which format, which
 * value, which qualifiers. One choice for every Response the IdP issues (a
 * browser sign-in, IdP-initiated SSO, the review page, the control API, the CLI)
 * and for the NameID single logout names.
 *
 * - emailAddress, unspecified: the user field or attribute the SP names
 *   (`saml.nameId`, default the email), without qualifiers.
 * - persistent: a pairwise pseudonym, HMAC-SHA256 over the SP's entity ID and the
 *   user's email with a stored IdP secret (src/issue/nameids.ts): the same for a
 *   user and SP across restarts and replicas, different for every SP, and not
 *   guessable from the email without the secret.
 * - transient: a random value made at the first delivery to the SP in an IdP
 *   session, remembered in that session and sent again to that SP for as long as
 *   the session lasts; a new session gets a new one.
 * persistent and transient NameIDs carry NameQualifier (the IdP) and
 * SPNameQualifier (the SP): they only mean something between these two.
 *
 * Everything here is pure: the secret and the randomness come from a
 * `NameIdSource`.
 */
import crypto from 'node:crypto';
import { SUPPORTED_NAMEID_FORMATS, type NameIdFormatUri } from '../config/sp-schema.js';
import type { NameIdPolicy } from './authn-request.js';
import { NAMEID_FORMAT, type SamlStatus } from './constants.js';
import type { SamlServiceProvider } from './inbound.js';
import { nameIdFieldValue, type SamlNameId, type SamlUser } from './response.js';

export type { SamlNameId } from './response.js';

/** Where the values that are not the user's own come from (src/issue/nameids.ts). */
export interface NameIdSource {
  /** The IdP's entity ID: the NameQualifier of persistent and transient NameIDs. */
  idpEntityId(): string;
  /** The persistent pseudonym of `email` at the SP `spEntityId`. */
  persistent(spEntityId: string, email: string): string;
  /** A fresh transient value. */
  transient(): string;
  /** Whether a persistent NameID was ever sent for this user to this SP (AllowCreate="false"). */
  established(spId: string, email: string): Promise<boolean>;
  /** Notes that a persistent NameID was sent for this user to this SP. */
  establish(spId: string, email: string): Promise<void>;
}

/** What a session remembers of the NameID sent to an SP (sessions from before formats were remembered have `nameId` only). */
export interface RememberedNameId {
  nameId: string;
  format?: NameIdFormatUri | undefined;
  nameQualifier?: string | undefined;
  spNameQualifier?: string | undefined;
}

const isSupported = (format: string): format is NameIdFormatUri => (SUPPORTED_NAMEID_FORMATS as readonly string[]).includes(format);

const invalidPolicy = (message: string): SamlStatus => ({ code: 'Requester', subCode: 'InvalidNameIDPolicy', message });

/**
 * The NameID format of an answer to an AuthnRequest: the one its NameIDPolicy
 * asks for when this IdP issues it, the SP's default when it asks for none or for
 * unspecified; else the InvalidNameIDPolicy status to answer instead.
 */
export function chooseNameIdFormat(policy: NameIdPolicy | undefined, sp: SamlServiceProvider): { format: NameIdFormatUri } | { status: SamlStatus } {
  const spNameQualifier = policy?.spNameQualifier;
  if (spNameQualifier !== undefined && spNameQualifier !== sp.saml.entityId) {
    return {
      status: invalidPolicy(
        `The NameIDPolicy asks for a NameID qualified by ${JSON.stringify(spNameQualifier)}; this IdP has no affiliations, so the SPNameQualifier can only be the requesting SP's own entity ID (${sp.saml.entityId}), or absent.`,
      ),
    };
  }
  const asked = policy?.format;
  if (asked === undefined || asked === NAMEID_FORMAT.unspecified) return { format: sp.saml.nameIdFormat };
  if (isSupported(asked)) return { format: asked };
  return { status: invalidPolicy(`This IdP does not issue NameIDs in the format ${asked}; it issues ${SUPPORTED_NAMEID_FORMATS.join(', ')}.`) };
}

/**
 * The status to answer when AllowCreate="false" forbids the persistent NameID this
 * sign-in would send (none was established yet for the user and SP), else undefined.
 * Only an explicit AllowCreate="false" counts: an absent AllowCreate allows creating
 * one (SAML core 3.4.1.1 as corrected by errata E13), and AllowCreate means nothing
 * for transient NameIDs, which are made for every session anyway. `established` is
 * asked only when it matters.
 */
export async function allowCreateStatus(policy: NameIdPolicy | undefined, format: NameIdFormatUri, established: () => Promise<boolean>): Promise<SamlStatus | undefined> {
  if (format !== NAMEID_FORMAT.persistent || policy?.allowCreate !== false || (await established())) return undefined;
  return invalidPolicy(
    'The NameIDPolicy has AllowCreate="false", and this IdP has not yet issued a persistent NameID for this user to this service provider; AllowCreate="false" forbids creating one.',
  );
}

/** The pairwise pseudonym: HMAC-SHA256(secret, SP entity ID + "\n" + the email in lower case), base64url (43 characters). */
export function pairwisePseudonym(secret: Uint8Array, spEntityId: string, email: string): string {
  return crypto.createHmac('sha256', secret).update(`${spEntityId}\n${email.toLowerCase()}`).digest('base64url');
}

/** A remembered NameID as it was sent: a session from before formats were remembered sent the SP's default format. */
export function rememberedNameId(memory: RememberedNameId | undefined, sp: SamlServiceProvider): SamlNameId | undefined {
  if (!memory) return undefined;
  return { value: memory.nameId, format: memory.format ?? sp.saml.nameIdFormat, nameQualifier: memory.nameQualifier, spNameQualifier: memory.spNameQualifier };
}

/** What a session keeps of a NameID sent. */
export function toRemembered(nameId: SamlNameId): RememberedNameId {
  const out: RememberedNameId = { nameId: nameId.value, format: nameId.format };
  if (nameId.nameQualifier !== undefined) out.nameQualifier = nameId.nameQualifier;
  if (nameId.spNameQualifier !== undefined) out.spNameQualifier = nameId.spNameQualifier;
  return out;
}

export function sameNameId(a: SamlNameId | undefined, b: SamlNameId | undefined): boolean {
  return a !== undefined && b !== undefined && a.value === b.value && a.format === b.format && a.nameQualifier === b.nameQualifier && a.spNameQualifier === b.spNameQualifier;
}

export interface NameIdInput {
  sp: SamlServiceProvider;
  user: SamlUser;
  format: NameIdFormatUri;
  source: Pick<NameIdSource, 'idpEntityId' | 'persistent' | 'transient'>;
  /** The NameID this IdP session already sent to the SP (a transient one is sent again). */
  sent?: SamlNameId | undefined;
}

/** The NameID to send. Throws IdpError('bad_request') when the user has no value for the SP's nameId field (emailAddress, unspecified). */
export function nameIdOf(input: NameIdInput): SamlNameId {
  const { sp, user, format, source } = input;
  if (format === NAMEID_FORMAT.emailAddress || format === NAMEID_FORMAT.unspecified) return { value: nameIdFieldValue(sp, user), format };
  const qualifiers = { nameQualifier: source.idpEntityId(), spNameQualifier: sp.saml.entityId };
  if (format === NAMEID_FORMAT.persistent) return { value: source.persistent(sp.saml.entityId, user.email), format, ...qualifiers };
  const sent = input.sent;
  if (sent && sent.format === format && sent.nameQualifier === qualifiers.nameQualifier && sent.spNameQualifier === qualifiers.spNameQualifier) return sent;
  return { value: source.transient(), format, ...qualifiers };
}

/**
 * Whether the NameID of an SP's LogoutRequest names the one that was sent: the
 * same value, and the same Format and qualifiers where the request gives them
 * (omitted, they mean the sender's defaults: SAML core 2.2.2, 8.3).
 */
export function namesSent(sent: SamlNameId, named: { value: string; format?: string | undefined; nameQualifier?: string | undefined; spNameQualifier?: string | undefined }): boolean {
  if (named.value !== sent.value) return false;
  if (named.format !== undefined && named.format !== sent.format) return false;
  if (named.nameQualifier !== undefined && named.nameQualifier !== sent.nameQualifier) return false;
  return named.spNameQualifier === undefined || named.spNameQualifier === sent.spNameQualifier;
}
