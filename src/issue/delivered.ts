/**
 * The bookkeeping of everything the IdP hands out, wherever it goes (a browser
 * sign-in, the review page's Send, the widget token endpoint, the control API,
 * the CLI): the replay memory of fault-free tokens and assertions, and the flow
 * history entry (new, or the held one updated).
 */
import type { FlowHistory } from '../flows/history.js';
import type { FlowInput } from '../flows/types.js';
import { NAMEID_FORMAT } from '../saml/constants.js';
import type { NameIdSource, SamlNameId } from '../saml/nameid.js';
import type { Issuer } from './issuer.js';

export interface Delivered {
  flow: FlowInput;
  /** What the replay faults may reuse: only for a token or assertion sent without a fault. */
  sent?: { spId: string; jti?: unknown; assertionId?: string | undefined } | undefined;
  /** SAML: the NameID sent to the SP for the user (a persistent one is established from then on: AllowCreate="false"). */
  nameId?: { spId: string; email: string; sent: SamlNameId } | undefined;
  /** The flow held for review, to update rather than record anew. */
  flowId?: string | undefined;
}

export async function recordDelivery(services: { issuer: Issuer; flows: FlowHistory; nameIds: NameIdSource }, delivered: Delivered): Promise<void> {
  if (delivered.sent) await services.issuer.noteSent(delivered.sent.spId, delivered.sent);
  const nameId = delivered.nameId;
  if (nameId?.sent.format === NAMEID_FORMAT.persistent) await services.nameIds.establish(nameId.spId, nameId.email);
  if (delivered.flowId === undefined || !(await services.flows.update(delivered.flowId, delivered.flow))) await services.flows.record(delivered.flow);
}
