/** The flow history entries of what the IdP hands out or refuses: one builder per kind. */
import { faultLabel, type JwtFault, type SamlFault } from '../faults/catalog.js';
import type { IssuedJwt, IssuedSamlResponse } from '../issue/issuer.js';
import type { FlowBinding, FlowInput } from './types.js';

interface Sp {
  id: string;
  name: string;
}

export interface EntryOptions {
  outcome?: FlowInput['outcome'];
  reviewed?: boolean;
  edited?: boolean;
  /** Fault labels, when they are not the issued token's own (the review page's choice). */
  faults?: string[] | undefined;
  detail?: string | undefined;
}

/** A JWT sent to an SP (redirect or POST), to a widget (binding json), or minted through the API/CLI (initiator api). */
export function jwtEntry(
  sp: Sp,
  user: string | undefined,
  issued: Pick<IssuedJwt, 'token'> & { faults: readonly JwtFault[] },
  how: { binding: FlowBinding; initiator: FlowInput['initiator']; destination: string | undefined },
  options: EntryOptions = {},
): FlowInput {
  return {
    protocol: 'jwt',
    binding: how.binding,
    initiator: how.initiator,
    sp: { id: sp.id, name: sp.name },
    user,
    destination: how.destination,
    faults: options.faults ?? issued.faults.map(faultLabel),
    reviewed: options.reviewed ?? false,
    edited: options.edited ?? false,
    outcome: options.outcome ?? 'delivered',
    detail: options.detail,
    token: issued.token,
  };
}

/** A SAML Response POSTed to an ACS (initiator sp or idp), or built through the API/CLI (binding json, initiator api). */
export function samlEntry(
  sp: Sp,
  user: string | undefined,
  issued: Pick<IssuedSamlResponse, 'xml'> & Partial<Omit<IssuedSamlResponse, 'faults'>> & { faults?: readonly SamlFault[] },
  how: { binding?: FlowBinding; initiator?: FlowInput['initiator']; acsUrl: string; inResponseTo: string | undefined },
  options: EntryOptions = {},
): FlowInput {
  return {
    protocol: 'saml',
    binding: how.binding ?? 'post',
    initiator: how.initiator ?? (how.inResponseTo === undefined ? 'idp' : 'sp'),
    sp: { id: sp.id, name: sp.name },
    user,
    destination: how.acsUrl,
    faults: options.faults ?? (issued.faults ?? []).map(faultLabel),
    reviewed: options.reviewed ?? false,
    edited: options.edited ?? false,
    outcome: options.outcome ?? 'delivered',
    detail: options.detail,
    response: {
      xml: issued.xml,
      responseId: issued.responseId,
      assertionId: issued.assertionId,
      nameId: issued.nameId,
      assertionXml: issued.assertionXml,
      encrypted: issued.encrypted,
      signed: issued.signed,
      inResponseTo: how.inResponseTo,
    },
  };
}

/** A sign-in the IdP refused with an error page. */
export function refusalEntry(
  what: { sp: Sp; protocol: 'jwt' | 'saml'; binding: FlowBinding; initiator: FlowInput['initiator']; destination?: string | undefined },
  user: string | undefined,
  message: string,
): FlowInput {
  return {
    protocol: what.protocol,
    binding: what.binding,
    initiator: what.initiator,
    sp: { id: what.sp.id, name: what.sp.name },
    user,
    destination: what.destination,
    outcome: 'refused',
    detail: message,
  };
}
