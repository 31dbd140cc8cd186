/**
 * What saml2-js leaves to the caller, checked on the signed Response and Assertion
 * in this order (the first failure is the message the agent sees): Destination,
 * InResponseTo against the requests this SP sent, the Issuer, a bearer
 * SubjectConfirmation for this ACS, the time window with this SP's clock, the exact
 * audience, and the assertion ID used once. No req/res here: the router gives the
 * values and the two one-time steps.
 */
import { NS } from '../saml/constants.js';
import { attribute, childElements, parseInstant, type Element } from '../saml/xml.js';
import { shownTime } from '../time-format.js';
import type { IdpInfo } from './saml-idp.js';
import { text, type SignedResponse } from './saml-signed.js';
import { DemoError } from './shared.js';

/** What the agent page shows of the assertion that signed the agent in. */
export interface DecodedAssertion {
  id: string;
  issuer: string;
  nameId: string;
  nameIdFormat: string | undefined;
  sessionIndex: string | undefined;
  authnInstant: string | undefined;
  notBefore: string | undefined;
  notOnOrAfter: string | undefined;
  audience: string;
  inResponseTo: string | undefined;
  attributes: Record<string, string[]>;
  signedBy: 'Response' | 'Assertion';
  encrypted: boolean;
  checks: string[];
  xml: string;
  receivedAt: string;
}

export interface ResponseContext {
  idp: IdpInfo;
  acsUrl: string;
  /** This SP's entity ID: the one audience it accepts. */
  entityId: string;
  allowUnsolicited: boolean;
  skewMs: number;
  now: number;
  /** What was checked before these checks (by saml2-js), first in the list the agent page shows. */
  checkedBefore: string[];
  /** True when `id` is an AuthnRequest this SP sent, unexpired and unanswered; from now on it counts as answered. */
  answer(id: string): Promise<boolean>;
  /** True when the assertion ID was not used before; it is remembered as used until `untilMs`. */
  useOnce(id: string, untilMs: number): Promise<boolean>;
}

function one(parent: Element, ns: string, name: string, what: string): Element {
  const found = childElements(parent, ns, name);
  if (found.length !== 1) throw new DemoError(400, `The assertion must have exactly one ${what}.`);
  return found[0]!;
}

/** The checks, in order; the decoded assertion when all pass, else a DemoError naming the first that failed. */
export async function checkResponse(signed: SignedResponse, ctx: ResponseContext): Promise<DecodedAssertion> {
  const { response, assertion } = signed;
  const { idp, acsUrl, entityId, skewMs, now } = ctx;
  const checks = [...ctx.checkedBefore];

  if (attribute(response, 'Destination') !== acsUrl) throw new DemoError(401, `The Response is addressed to ${attribute(response, 'Destination') ?? '(nothing)'}, not to this ACS.`);
  checks.push(`Destination is this ACS (${acsUrl})`);

  const inResponseTo = attribute(response, 'InResponseTo');
  if (inResponseTo !== undefined) {
    if (!(await ctx.answer(inResponseTo))) throw new DemoError(401, 'The Response answers no AuthnRequest this SP sent (or one that expired or was already answered).');
    checks.push(`InResponseTo ${inResponseTo} is a request this SP sent, now answered`);
  } else {
    if (!ctx.allowUnsolicited) throw new DemoError(401, 'This SP accepts only Responses to its own AuthnRequests.');
    checks.push('Unsolicited (IdP-initiated) Response: accepted by configuration');
  }

  const issuer = text(one(assertion, NS.saml, 'Issuer', 'Issuer'));
  const responseIssuer = childElements(response, NS.saml, 'Issuer')[0];
  if (issuer !== idp.entityId || (responseIssuer && text(responseIssuer) !== idp.entityId)) {
    throw new DemoError(401, `The assertion was issued by ${issuer}, not by the IdP of the metadata (${idp.entityId}).`);
  }
  checks.push(`Issuer is the IdP (${idp.entityId})`);

  const subject = one(assertion, NS.saml, 'Subject', 'Subject');
  const nameIdEl = one(subject, NS.saml, 'NameID', 'NameID');
  const confirmations = childElements(subject, NS.saml, 'SubjectConfirmation').filter((c) => attribute(c, 'Method') === 'urn:oasis:names:tc:SAML:2.0:cm:bearer');
  const bearerData = confirmations.map((c) => childElements(c, NS.saml, 'SubjectConfirmationData')[0]);
  const bearer = bearerData.find((d) => {
    if (!d || attribute(d, 'Recipient') !== acsUrl) return false;
    const nooa = parseInstant(attribute(d, 'NotOnOrAfter') ?? '');
    const nb = attribute(d, 'NotBefore');
    return nooa !== undefined && nooa > now - skewMs && (nb === undefined || (parseInstant(nb) ?? Infinity) <= now + skewMs) && attribute(d, 'InResponseTo') === inResponseTo;
  });
  if (!bearer) throw new DemoError(401, 'No bearer SubjectConfirmation names this ACS as Recipient, answers the same request, and is still valid.');
  checks.push('Bearer SubjectConfirmation: Recipient is this ACS, InResponseTo matches, NotOnOrAfter not passed');

  const conditions = one(assertion, NS.saml, 'Conditions', 'Conditions');
  const notBefore = attribute(conditions, 'NotBefore');
  const notOnOrAfter = attribute(conditions, 'NotOnOrAfter');
  const nbMs = notBefore === undefined ? -Infinity : (parseInstant(notBefore) ?? Infinity);
  const nooaMs = notOnOrAfter === undefined ? Infinity : (parseInstant(notOnOrAfter) ?? -Infinity);
  const from = notBefore === undefined ? 'any time' : shownTime(notBefore);
  const until = notOnOrAfter === undefined ? 'any time' : shownTime(notOnOrAfter);
  if (nbMs > now + skewMs || nooaMs <= now - skewMs) throw new DemoError(401, `The assertion is valid from ${from} until ${until}, not now (${shownTime(now)}).`);
  checks.push(`Time window ${from} to ${until} holds (skew ${skewMs / 1000} s)`);

  const audiences = Array.from(conditions.getElementsByTagNameNS(NS.saml, 'Audience')).map((a) => text(a));
  if (!audiences.includes(entityId)) throw new DemoError(401, `The assertion is for ${audiences.join(', ') || 'no audience'}, not for ${entityId}.`);
  checks.push(`Audience is exactly this SP (${entityId})`);

  // Once its Conditions or all its bearer confirmations have expired, the checks above refuse the
  // assertion anyway: that is how long its ID is remembered (a finite time even with no
  // Conditions NotOnOrAfter, since the bearer check requires one).
  const latestBearerMs = Math.max(...bearerData.map((d) => (d && parseInstant(attribute(d, 'NotOnOrAfter') ?? '')) ?? -Infinity));
  const assertionId = attribute(assertion, 'ID') ?? '';
  if (!assertionId || !(await ctx.useOnce(assertionId, Math.max(Math.min(nooaMs, latestBearerMs), now) + skewMs))) throw new DemoError(401, 'This assertion was already used (replayed assertion ID).');
  checks.push(`Assertion ID ${assertionId} not seen before`);

  const authn = childElements(assertion, NS.saml, 'AuthnStatement')[0];
  const attributes: Record<string, string[]> = {};
  for (const statement of childElements(assertion, NS.saml, 'AttributeStatement')) {
    for (const a of childElements(statement, NS.saml, 'Attribute')) {
      attributes[attribute(a, 'Name') ?? ''] = childElements(a, NS.saml, 'AttributeValue').map((v) => text(v));
    }
  }
  return {
    id: assertionId,
    issuer,
    nameId: text(nameIdEl),
    nameIdFormat: attribute(nameIdEl, 'Format'),
    sessionIndex: authn && attribute(authn, 'SessionIndex'),
    authnInstant: authn && attribute(authn, 'AuthnInstant'),
    notBefore,
    notOnOrAfter,
    audience: entityId,
    inResponseTo,
    attributes,
    signedBy: signed.signedBy,
    encrypted: signed.encrypted,
    checks,
    xml: signed.assertionXml,
    receivedAt: new Date(now).toISOString(),
  };
}
