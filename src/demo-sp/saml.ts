/**
 * The demo SP's SAML side, built on saml2-js as an SP developer would: "Sign in
 * with SAML" (SP-initiated, HTTP-Redirect), an ACS for the IdP's HTTP-POST, the
 * decoded assertion on the agent page, and single logout.
 *
 * saml2-js checks the signature, decrypts, and checks the Conditions' time window
 * and the audience (case-insensitively). It leaves the rest to the caller, so this
 * file does it, on the signed assertion it extracts itself with xml-crypto:
 * InResponseTo against the requests it sent (kept in server memory: the IdP's
 * cross-site POST carries no SameSite cookie), Destination, Recipient, the exact
 * audience, the time window with this SP's clock, the Issuer, and a replay cache
 * of assertion IDs. It talks to the IdP only through its public HTTP surface: the
 * metadata (fetched once), /saml/sso and /saml/slo.
 */
import crypto from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import session from 'express-session';
import type { IdentityProvider, ServiceProvider } from 'saml2-js';
import { systemClock, type Clock } from '../clock.js';
import type { ResolvedConfig } from '../config/load.js';
import { NS } from '../saml/constants.js';
import { attribute, childElements, parseInstant, parseUntrustedXml, serialize, xmlCrypto, type Element } from '../saml/xml.js';
import { agentLookup, DemoError, destroySession, localPath, regenerateSession, type DemoAgent } from './shared.js';

export interface SamlDemoOptions {
  /** The IdP's public base URL (its metadata is at /saml/metadata). */
  idpUrl: string;
  /** This SP's public origin and base path, e.g. http://localhost:8081. */
  spBaseUrl: string;
  /** Where the router is mounted on the SP's origin, e.g. "/saml". */
  mount: string;
  /** The SP's entity ID, as registered at the IdP (and the Audience). */
  entityId: string;
  /** Display name. */
  name: string;
  agents: readonly DemoAgent[];
  /** Session storage, shared with the rest of the demo SP. */
  sessionStore: session.Store;
  sessionSecret: string;
  /** Accept IdP-initiated (unsolicited) Responses. Default true: the IdP home page offers them. */
  allowUnsolicited?: boolean;
  /** Clock skew tolerated in the time checks. Default 60 s. */
  clockSkewSeconds?: number;
  /** Private key to decrypt EncryptedAssertions (PEM), when the IdP encrypts for this SP. */
  decryptionKeyPem?: string | undefined;
  clock?: Clock;
  /** The other demo SP pages, for the header's navigation. */
  tenants?: { name: string; mount: string }[];
}

declare module 'express-session' {
  interface SessionData {
    samlAgent?: { email: string; name: string | undefined };
    samlAssertion?: DecodedAssertion;
  }
}

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

/** The IdP as read from its metadata. */
interface IdpInfo {
  entityId: string;
  ssoUrl: string;
  sloUrl: string | undefined;
  certificatesPem: string[];
}

const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const OUTSTANDING_TTL_MS = 10 * 60 * 1000;

function toPem(base64: string): string {
  return `-----BEGIN CERTIFICATE-----\n${base64.replace(/\s+/g, '').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Reads the IdP's EntityDescriptor: entity ID, Redirect endpoints and signing certificates. */
export function readIdpMetadata(xml: string): IdpInfo {
  const root = parseUntrustedXml(xml, 'IdP metadata', 1024 * 1024).documentElement!;
  const idp = childElements(root, NS.md, 'IDPSSODescriptor')[0];
  if (root.localName !== 'EntityDescriptor' || !idp) throw new Error('the IdP metadata has no EntityDescriptor/IDPSSODescriptor');
  const endpoint = (name: string): string | undefined =>
    childElements(idp, NS.md, name)
      .filter((e) => attribute(e, 'Binding') === REDIRECT)
      .map((e) => attribute(e, 'Location'))[0];
  const certificatesPem = childElements(idp, NS.md, 'KeyDescriptor')
    .filter((k) => (attribute(k, 'use') ?? 'signing') === 'signing')
    .flatMap((k) => Array.from(k.getElementsByTagNameNS(NS.ds, 'X509Certificate')))
    .map((c) => toPem(c.textContent ?? ''));
  const ssoUrl = endpoint('SingleSignOnService');
  if (!ssoUrl || certificatesPem.length === 0) throw new Error('the IdP metadata has no HTTP-Redirect SingleSignOnService or no signing certificate');
  return { entityId: attribute(root, 'entityID') ?? '', ssoUrl, sloUrl: endpoint('SingleLogoutService'), certificatesPem };
}

/** The signature and digest algorithms this SP accepts: never SHA-1 (saml2-js would). */
const ACCEPTED_SIGNATURE_METHODS = new Set(['http://www.w3.org/2001/04/xmldsig-more#rsa-sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512']);
const ACCEPTED_DIGEST_METHODS = new Set(['http://www.w3.org/2001/04/xmlenc#sha256', 'http://www.w3.org/2001/04/xmlenc#sha512']);

/** Verifies an enveloped signature on `element` (a child ds:Signature) with one of the certificates; the signed XML. */
function signedXmlOf(xml: string, element: Element, certificatesPem: string[]): string | undefined {
  const signature = childElements(element, NS.ds, 'Signature')[0];
  const id = attribute(element, 'ID');
  if (!signature || !id) return undefined;
  const methods = (name: string) => Array.from(signature.getElementsByTagNameNS(NS.ds, name)).map((m) => m.getAttribute('Algorithm') ?? '');
  const signatureMethods = methods('SignatureMethod');
  const digestMethods = methods('DigestMethod');
  if (signatureMethods.length !== 1 || !ACCEPTED_SIGNATURE_METHODS.has(signatureMethods[0]!) || digestMethods.length === 0 || !digestMethods.every((d) => ACCEPTED_DIGEST_METHODS.has(d))) {
    throw new DemoError(401, `The ${element.localName} is signed with ${[...signatureMethods, ...digestMethods].join(' / ') || 'no named algorithm'}; this SP accepts only RSA-SHA256 or RSA-SHA512 with SHA-256 or SHA-512 digests (never SHA-1).`);
  }
  const { SignedXml } = xmlCrypto();
  for (const cert of certificatesPem) {
    const verifier = new SignedXml({ publicCert: cert, getCertFromKeyInfo: () => null });
    try {
      verifier.loadSignature(serialize(signature));
      if (!verifier.checkSignature(xml)) continue;
    } catch {
      continue;
    }
    const refs = verifier.getSignedReferences();
    // The signature must cover this very element, by its ID.
    const uri = signature.getElementsByTagNameNS(NS.ds, 'Reference')[0]?.getAttribute('URI');
    if (refs.length === 1 && uri === `#${id}`) return refs[0];
  }
  return undefined;
}

async function decrypt(encryptedAssertion: Element, keyPem: string | undefined): Promise<string> {
  if (!keyPem) throw new DemoError(400, 'The assertion is encrypted, but this SP has no decryption key.');
  const { default: xmlenc } = await import('xml-encryption');
  return new Promise((resolve, reject) =>
    xmlenc.decrypt(serialize(encryptedAssertion), { key: keyPem, disallowDecryptionWithInsecureAlgorithm: true, warnInsecureAlgorithm: false }, (err, result) =>
      err || result === undefined ? reject(new DemoError(400, 'The encrypted assertion could not be decrypted.')) : resolve(result),
    ),
  );
}

/**
 * A comment inside a NameID, as received (the signed XML that the checks read has none:
 * exclusive c14n drops comments). Signatures do not cover comments, and a parser that
 * reads only the first text node stops at one (CVE-2017-11427), so this SP refuses it.
 */
function refuseCommentedNameId(root: Element): void {
  const nameIds = root.localName === 'NameID' ? [root] : Array.from(root.getElementsByTagNameNS(NS.saml, 'NameID'));
  for (const nameId of nameIds) {
    for (let n = nameId.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 8) {
        throw new DemoError(
          401,
          `The NameID ${JSON.stringify(text(nameId))} is split by an XML comment. Signatures do not cover comments, so a careless SP would read only ${JSON.stringify((nameId.firstChild?.nodeValue ?? '').trim())}; this SP refuses such a NameID.`,
        );
      }
    }
  }
}

/**
 * The signed Response (when the IdP signs it) and the signed or enclosed Assertion,
 * re-read from the XML the signatures cover, never from the rest of the document.
 */
async function extractSigned(responseXml: string, idp: IdpInfo, keyPem: string | undefined) {
  // The IdP's parser refuses DTDs, oversize and malformed XML with an IdpError; here that is a 400 page.
  const parse = (text: string, what: string) => {
    try {
      return parseUntrustedXml(text, what);
    } catch (err) {
      throw new DemoError(400, err instanceof Error ? err.message : `The ${what} could not be read.`);
    }
  };
  let response = parse(responseXml, 'SAMLResponse').documentElement!;
  refuseCommentedNameId(response);
  let signedBy: 'Response' | 'Assertion' | undefined;
  const signedResponse = signedXmlOf(responseXml, response, idp.certificatesPem);
  if (signedResponse) {
    response = parse(signedResponse, 'signed Response').documentElement!;
    signedBy = 'Response';
  }
  const encrypted = childElements(response, NS.saml, 'EncryptedAssertion');
  const plain = childElements(response, NS.saml, 'Assertion');
  if (encrypted.length + plain.length !== 1) throw new DemoError(400, 'The Response must hold exactly one assertion.');
  const assertionXml = encrypted[0] ? await decrypt(encrypted[0], keyPem) : serialize(plain[0]!);
  let assertion = parse(assertionXml, 'Assertion').documentElement!;
  refuseCommentedNameId(assertion);
  const signedAssertion = signedXmlOf(assertionXml, assertion, idp.certificatesPem);
  if (signedAssertion) {
    assertion = parse(signedAssertion, 'signed Assertion').documentElement!;
    signedBy = 'Assertion';
  }
  if (!signedBy) throw new DemoError(401, 'Neither the Response nor the assertion carries a valid IdP signature.');
  return { response, assertion, signedBy, encrypted: encrypted.length === 1, assertionXml: serialize(assertion) };
}

function one(parent: Element, ns: string, name: string, what: string): Element {
  const found = childElements(parent, ns, name);
  if (found.length !== 1) throw new DemoError(400, `The assertion must have exactly one ${what}.`);
  return found[0]!;
}

function text(el: Element | undefined): string {
  return (el?.textContent ?? '').trim();
}

/** Verifies the query-string signature of an HTTP-Redirect message from the IdP, on the raw query. */
function verifyRedirect(rawQuery: string, param: 'SAMLRequest' | 'SAMLResponse', idp: IdpInfo): boolean {
  const raw = new Map<string, string>();
  for (const pair of rawQuery.split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0) raw.set(decodeURIComponent(pair.slice(0, eq)), pair.slice(eq + 1));
  }
  const sigAlg = raw.get('SigAlg');
  const signature = raw.get('Signature');
  if (!raw.has(param) || sigAlg === undefined || signature === undefined) return false;
  const alg = { 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'sha256', 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512' }[
    decodeURIComponent(sigAlg.replace(/\+/g, ' '))
  ];
  if (!alg) return false;
  const octets = `${param}=${raw.get(param)}${raw.has('RelayState') ? `&RelayState=${raw.get('RelayState')}` : ''}&SigAlg=${sigAlg}`;
  const sig = Buffer.from(decodeURIComponent(signature.replace(/\+/g, ' ')), 'base64');
  return idp.certificatesPem.some((cert) => {
    try {
      return crypto.verify(alg, Buffer.from(octets), cert, sig);
    } catch {
      return false;
    }
  });
}

export function samlDemoRouter(options: SamlDemoOptions): Router {
  const router = Router();
  const clock = options.clock ?? systemClock;
  const skewMs = (options.clockSkewSeconds ?? 60) * 1000;
  const base = `${options.spBaseUrl}${options.mount}`;
  const acsUrl = `${base}/acs`;
  const m = options.mount;
  const agentFor = agentLookup(options.agents);
  /** AuthnRequest IDs this SP sent and has not seen answered: ID -> expiry. */
  const outstanding = new Map<string, number>();
  /** Assertion IDs already used: ID -> until when they are remembered. */
  const usedAssertions = new Map<string, number>();

  /** The IdP (from its metadata, fetched once) and this SP, as saml2-js objects. */
  let idpInfo: Promise<{ info: IdpInfo; idp: IdentityProvider; sp: ServiceProvider }> | undefined;
  const identityProvider = () => {
    idpInfo ??= fetch(`${options.idpUrl}/saml/metadata`)
      .then(async (res) => {
        if (!res.ok) throw new Error(`GET /saml/metadata answered ${res.status}`);
        const info = readIdpMetadata(await res.text());
        // saml2-js, the demo SP's largest dependency, is loaded by the first SAML request rather than at start-up.
        const { default: saml2 } = await import('saml2-js');
        const idp = new saml2.IdentityProvider({ sso_login_url: info.ssoUrl, sso_logout_url: info.sloUrl ?? info.ssoUrl, certificates: info.certificatesPem });
        const sp = new saml2.ServiceProvider({
          entity_id: options.entityId,
          assert_endpoint: acsUrl,
          allow_unencrypted_assertion: true,
          nameid_format: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
          ...(options.decryptionKeyPem ? { private_key: options.decryptionKeyPem } : {}),
        });
        return { info, idp, sp };
      })
      .catch((err: unknown) => {
        idpInfo = undefined;
        throw new DemoError(502, `The IdP's SAML metadata could not be read (${err instanceof Error ? err.message : String(err)}).`);
      });
    return idpInfo;
  };

  const locals = { spName: options.name, mount: m, idpUrl: options.idpUrl, tenants: options.tenants ?? [] };
  const view = (res: Response, name: string, extra: Record<string, unknown>, status = 200): void => {
    res.set('Cache-Control', 'no-store');
    res.status(status).render(`saml-demo-${name}`, { ...locals, ...extra });
  };

  router.use(
    session({
      name: 'demosp-saml.sid',
      store: options.sessionStore,
      secret: options.sessionSecret,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: options.spBaseUrl.startsWith('https:'), path: m || '/' },
    }),
  );

  router.get('/', (req, res) => {
    if (req.session.samlAgent) {
      res.redirect(302, `${m}/agent`);
      return;
    }
    view(res, 'login', { title: `${options.name}: sign in with SAML`, signedOut: req.query.signedout === '1' });
  });

  // "Sign in with SAML": an AuthnRequest by HTTP-Redirect, its ID remembered server-side.
  router.get('/login', async (req, res) => {
    const { idp, sp } = await identityProvider();
    const relayState = localPath(req.query.returnUrl, `${m}/agent`);
    const { url, id } = await new Promise<{ url: string; id: string }>((resolve, reject) =>
      sp.create_login_request_url(idp, { relay_state: relayState }, (err, loginUrl, requestId) => (err ? reject(err) : resolve({ url: loginUrl, id: requestId }))),
    );
    const now = clock.now();
    for (const [k, exp] of outstanding) if (exp <= now) outstanding.delete(k);
    outstanding.set(id, now + OUTSTANDING_TTL_MS);
    res.redirect(302, url);
  });

  router.post('/acs', async (req, res) => {
    const { info, idp, sp } = await identityProvider();
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.SAMLResponse !== 'string') throw new DemoError(400, 'No SAMLResponse was posted.');
    // 1. saml2-js: signature, decryption, status, Conditions time window, audience.
    const checked = await new Promise<saml2AssertResult>((resolve, reject) =>
      sp.post_assert(idp, { request_body: body, allow_unencrypted_assertion: true }, (err, result) =>
        err ? reject(new DemoError(401, `saml2-js refused the Response: ${err.message}`)) : resolve(result),
      ),
    );
    // 2. What saml2-js leaves to the caller, on the signed content.
    const responseXml = Buffer.from(body.SAMLResponse, 'base64').toString('utf8');
    const { response, assertion, signedBy, encrypted, assertionXml } = await extractSigned(responseXml, info, options.decryptionKeyPem);
    const now = clock.now();
    const checks: string[] = [`saml2-js: signature, status Success, time window, audience (${checked.type})`];

    if (attribute(response, 'Destination') !== acsUrl) throw new DemoError(401, `The Response is addressed to ${attribute(response, 'Destination') ?? '(nothing)'}, not to this ACS.`);
    checks.push(`Destination is this ACS (${acsUrl})`);

    const inResponseTo = attribute(response, 'InResponseTo');
    if (inResponseTo !== undefined) {
      const expires = outstanding.get(inResponseTo);
      outstanding.delete(inResponseTo);
      if (expires === undefined || expires <= now) throw new DemoError(401, 'The Response answers no AuthnRequest this SP sent (or one that expired or was already answered).');
      checks.push(`InResponseTo ${inResponseTo} is a request this SP sent, now answered`);
    } else {
      if (options.allowUnsolicited === false) throw new DemoError(401, 'This SP accepts only Responses to its own AuthnRequests.');
      checks.push('Unsolicited (IdP-initiated) Response: accepted by configuration');
    }

    const issuer = text(one(assertion, NS.saml, 'Issuer', 'Issuer'));
    const responseIssuer = childElements(response, NS.saml, 'Issuer')[0];
    if (issuer !== info.entityId || (responseIssuer && text(responseIssuer) !== info.entityId)) {
      throw new DemoError(401, `The assertion was issued by ${issuer}, not by the IdP of the metadata (${info.entityId}).`);
    }
    checks.push(`Issuer is the IdP (${info.entityId})`);

    const subject = one(assertion, NS.saml, 'Subject', 'Subject');
    const nameIdEl = one(subject, NS.saml, 'NameID', 'NameID');
    const confirmations = childElements(subject, NS.saml, 'SubjectConfirmation').filter((c) => attribute(c, 'Method') === 'urn:oasis:names:tc:SAML:2.0:cm:bearer');
    const bearer = confirmations
      .map((c) => childElements(c, NS.saml, 'SubjectConfirmationData')[0])
      .find((d) => {
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
    if (nbMs > now + skewMs || nooaMs <= now - skewMs) throw new DemoError(401, `The assertion is valid from ${notBefore} until ${notOnOrAfter}, not now.`);
    checks.push(`Time window ${notBefore ?? '-'} .. ${notOnOrAfter ?? '-'} holds (skew ${skewMs / 1000} s)`);

    const audiences = Array.from(conditions.getElementsByTagNameNS(NS.saml, 'Audience')).map((a) => text(a));
    if (!audiences.includes(options.entityId)) throw new DemoError(401, `The assertion is for ${audiences.join(', ') || 'no audience'}, not for ${options.entityId}.`);
    checks.push(`Audience is exactly this SP (${options.entityId})`);

    const assertionId = attribute(assertion, 'ID') ?? '';
    for (const [k, until] of usedAssertions) if (until <= now) usedAssertions.delete(k);
    if (!assertionId || usedAssertions.has(assertionId)) throw new DemoError(401, 'This assertion was already used (replayed assertion ID).');
    usedAssertions.set(assertionId, Math.max(nooaMs, now) + skewMs);
    checks.push(`Assertion ID ${assertionId} not seen before`);

    const nameId = text(nameIdEl);
    const agent = agentFor(nameId);
    const authn = childElements(assertion, NS.saml, 'AuthnStatement')[0];
    const attributes: Record<string, string[]> = {};
    for (const statement of childElements(assertion, NS.saml, 'AttributeStatement')) {
      for (const a of childElements(statement, NS.saml, 'Attribute')) {
        attributes[attribute(a, 'Name') ?? ''] = childElements(a, NS.saml, 'AttributeValue').map((v) => text(v));
      }
    }
    await regenerateSession(req);
    req.session.samlAgent = { email: agent.email, name: agent.name };
    req.session.samlAssertion = {
      id: assertionId,
      issuer,
      nameId,
      nameIdFormat: attribute(nameIdEl, 'Format'),
      sessionIndex: authn && attribute(authn, 'SessionIndex'),
      authnInstant: authn && attribute(authn, 'AuthnInstant'),
      notBefore,
      notOnOrAfter,
      audience: options.entityId,
      inResponseTo,
      attributes,
      signedBy,
      encrypted,
      checks,
      xml: assertionXml,
      receivedAt: new Date(now).toISOString(),
    };
    res.redirect(303, localPath(body.RelayState, `${m}/agent`));
  });

  router.get('/agent', (req, res) => {
    if (!req.session.samlAgent) {
      res.redirect(302, `${m}/login?returnUrl=${encodeURIComponent(`${m}/agent`)}`);
      return;
    }
    view(res, 'agent', { title: `${options.name}: agent console (SAML)`, agent: req.session.samlAgent, assertion: req.session.samlAssertion });
  });

  // SP-initiated single logout: end this session, then ask the IdP (LogoutRequest by HTTP-Redirect).
  router.post('/logout', async (req, res) => {
    const assertion = req.session.samlAssertion;
    await destroySession(req);
    const { info, idp, sp } = await identityProvider();
    if (!assertion || !info.sloUrl) {
      res.redirect(303, `${m}/?signedout=1`);
      return;
    }
    const url = await new Promise<string>((resolve, reject) =>
      sp.create_logout_request_url(idp, { name_id: assertion.nameId, ...(assertion.sessionIndex ? { session_index: assertion.sessionIndex } : {}), relay_state: `${m}/?signedout=1` }, (err, u) =>
        err ? reject(err) : resolve(u),
      ),
    );
    res.redirect(303, url);
  });

  // The IdP's LogoutResponse (to our logout) or LogoutRequest (IdP-initiated), by HTTP-Redirect, signed.
  router.get('/slo', async (req, res) => {
    const { info, idp, sp } = await identityProvider();
    const rawQuery = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
    const param = typeof req.query.SAMLRequest === 'string' ? 'SAMLRequest' : 'SAMLResponse';
    if (!verifyRedirect(rawQuery, param, info)) throw new DemoError(401, `The ${param} is not signed by the IdP.`);
    const result = await new Promise<saml2AssertResult>((resolve, reject) =>
      sp.redirect_assert(idp, { request_body: req.query as Record<string, unknown> }, (err, r) => (err ? reject(new DemoError(400, `saml2-js refused the ${param}: ${err.message}`)) : resolve(r))),
    );
    if (result.type === 'logout_request') {
      const assertion = req.session.samlAssertion;
      if (assertion && assertion.nameId === result.name_id) await destroySession(req);
      const url = await new Promise<string>((resolve, reject) =>
        sp.create_logout_response_url(
          idp,
          { in_response_to: result.response_header.id ?? '', ...(typeof req.query.RelayState === 'string' ? { relay_state: req.query.RelayState } : {}) },
          (err, u) => (err ? reject(err) : resolve(u)),
        ),
      );
      res.redirect(303, url);
      return;
    }
    res.redirect(303, localPath(req.query.RelayState, `${m}/?signedout=1`));
  });

  router.use((err: unknown, _req: Request, res: Response, next: (err?: unknown) => void) => {
    if (!(err instanceof DemoError)) {
      next(err);
      return;
    }
    view(res, 'error', { title: 'SAML sign-in failed', message: err.message, status: err.status }, err.status);
  });

  return router;
}

type saml2AssertResult = Parameters<Parameters<ServiceProvider['post_assert']>[2]>[1];

/** What the demo SP's app adds to a setup: its session storage. */
export type SamlDemoSetup = Omit<SamlDemoOptions, 'sessionStore' | 'sessionSecret'>;

/**
 * The demo SP's SAML setup from the IdP config: the SAML SP whose ACS is
 * `<origin of demo.spBaseUrl><mount>/acs`, if any (e.g. http://localhost:8081/saml/acs).
 */
export function samlDemoFromConfig(config: ResolvedConfig): SamlDemoSetup | undefined {
  const origin = new URL(config.demo.spBaseUrl).origin;
  for (const sp of config.serviceProviders) {
    const acs = sp.saml?.acsUrls.map((u) => new URL(u)).find((u) => u.origin === origin && u.pathname.endsWith('/acs'));
    if (!sp.saml || !acs) continue;
    return {
      idpUrl: config.baseUrl,
      spBaseUrl: origin,
      mount: acs.pathname.slice(0, -'/acs'.length),
      entityId: sp.saml.entityId,
      name: `${sp.name} (SAML)`,
      agents: config.demo.agents,
    };
  }
  return undefined;
}
