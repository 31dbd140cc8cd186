/** What a flow of the history is: the record kept, and the flow as it is read. */
export type FlowProtocol = 'jwt' | 'saml';
/** How the token or Response went: a 302 with jwt=, an auto-POST form, or JSON (the widget token endpoint, the control API). */
export type FlowBinding = 'redirect' | 'post' | 'json';
/**
 * - delivered: sent to the SP (what the SP then did is not known to the IdP);
 * - awaiting-review: held on the review page;
 * - status: a SAML Response with an error status and no assertion (NoPassive, InvalidNameIDPolicy, …);
 * - refused: the IdP answered with an error page instead.
 */
export type FlowOutcome = 'delivered' | 'awaiting-review' | 'status' | 'refused';

export interface FlowJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** The signature's first 8 characters and "…" (empty for alg none). Never the whole of it. */
  signature: string;
}

export interface FlowSaml {
  responseId: string | undefined;
  assertionId: string | undefined;
  inResponseTo: string | undefined;
  nameId: string | undefined;
  status: string | undefined;
  signed: { response: boolean; assertion: boolean };
  encrypted: boolean;
  /** The Response as sent, indented, SignatureValues cut. */
  xml: string;
  /** An encrypted assertion as the IdP signed it before encrypting it (same layout), when known. */
  clearAssertion: string | undefined;
}

export interface Flow {
  id: string;
  /** ISO time, from the IdP clock. */
  time: string;
  protocol: FlowProtocol;
  binding: FlowBinding;
  /** sp: started by the SP (redirect_url, AuthnRequest); idp: IdP-initiated SAML; widget: the token endpoint; api: the control API. */
  initiator: 'sp' | 'idp' | 'widget' | 'api';
  sp: { id: string; name: string };
  /** The signed-in user's email, when there was one. */
  user: string | undefined;
  /** Where the token or Response went (the redirect_url or ACS URL). */
  destination: string | undefined;
  /** Fault labels as written in fault= (clock-skew=120), empty when none. */
  faults: string[];
  reviewed: boolean;
  edited: boolean;
  outcome: FlowOutcome;
  /** A sentence about the outcome: the error message, the SAML status message. */
  detail: string | undefined;
  jwt: FlowJwt | undefined;
  saml: FlowSaml | undefined;
}

/** What the IdP knows of a Response it built. */
export interface ResponseFacts {
  xml: string;
  responseId?: string | undefined;
  assertionId?: string | undefined;
  nameId?: string | undefined;
  assertionXml?: string | undefined;
  encrypted?: boolean | undefined;
  signed?: { response: boolean; assertion: boolean } | undefined;
}

/** The Response as the IdP built it, kept raw: laid out when the flow is read. */
export type FlowResponse = ResponseFacts & { inResponseTo?: string | undefined };

/** What is recorded of a flow: plain data (it may sit in a shared store), the token or Response kept as sent. */
export type FlowInput = Omit<Flow, 'id' | 'time' | 'reviewed' | 'edited' | 'faults' | 'detail' | 'jwt' | 'saml'> &
  Partial<Pick<Flow, 'reviewed' | 'edited' | 'faults' | 'detail'>> & {
    /** The JWT as sent (decoded, signature cut, when read). */
    token?: string | undefined;
    response?: FlowResponse | undefined;
  };

/** A change to a recorded flow. */
export type FlowPatch = Partial<Omit<FlowInput, 'protocol' | 'sp'>>;

