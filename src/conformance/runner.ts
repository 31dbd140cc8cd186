/**
 * The SP conformance runner: delivers one valid token or assertion to a service
 * provider exactly as a browser would, then every fault from the fault-injection
 * catalog (and a replay of the valid one), each in a fresh cookie jar, and
 * records whether the SP accepted it. It only ever talks to the SP's registered
 * URLs, with a per-request timeout and a cap on the whole run.
 */
import type { ResolvedServiceProvider } from '../config/load.js';
import { IdpError } from '../errors.js';
import { type FaultInfo, type JwtFault, type SamlFault } from '../faults/index.js';
import { Issuer, faultsFor } from '../issue/issuer.js';
import { samlIdpContext } from '../issue/saml-idp.js';
import { MemoryStateStore } from '../state/memory.js';
import { appendToUrl } from '../jwt/redirect-url.js';
import { decodeMessage, encodePost } from '../saml/binding.js';
import { attribute, expectRoot, parseUntrustedXml } from '../saml/xml.js';
import { NS } from '../saml/constants.js';
import { nameIdOf } from '../saml/nameid.js';
import { isSamlSp, type SamlServiceProvider } from '../saml/inbound.js';
import type { Services } from '../services.js';
import type { JwtSp } from '../sps.js';
import type { User } from '../users/store.js';
import { firstLineOf } from './answer-text.js';
import { Jar } from './jar.js';
import { authorizeBody, jwtCaseFaults, judgeAuthorize } from './messenger.js';
import { SpUnreachable, isNetworkFailure, networkReason } from './reach.js';

/** unreachable: the SP gave no answer at all (nothing listens, DNS, TLS, timeout): not the SP's verdict. */
export type Verdict = 'pass' | 'fail' | 'error' | 'unreachable' | 'not-run';

export interface CaseResult {
  id: string;
  protocol: 'jwt' | 'saml';
  /** One line: what the case tests. */
  title: string;
  /** The spec or RFC section it is about. */
  reference: string;
  expected: 'accept' | 'reject';
  observed: 'accepted' | 'rejected' | 'error' | 'unreachable' | 'not run';
  /** The SP's status and the first line of its answer. */
  status: number | undefined;
  firstLine: string;
  verdict: Verdict;
  /** What the verdict needs said beside the answer (a messenger's refusal that is not the 401 expected). */
  note?: string | undefined;
}

export interface ConformanceReport {
  sp: string;
  spName: string;
  startedAt: string;
  durationMs: number;
  /** True when the valid case was accepted and every bad case rejected. */
  ok: boolean;
  /**
   * pass; fail (the SP answered some case wrongly); stopped (it rejects even the valid case);
   * unreachable (the SP could not be reached, so the run could not be made, or not all of it).
   */
  outcome: 'pass' | 'fail' | 'stopped' | 'unreachable';
  /** Set when the run stopped early (the SP rejects even a valid token, or could not be reached). */
  stopped: string | undefined;
  /** The first "could not reach <url> (<reason>)", when some case got no answer at all. */
  unreachable: string | undefined;
  cases: CaseResult[];
  summary: { total: number; passed: number; failed: number; errors: number; unreachable: number; notRun: number };
}

export interface RunOptions {
  /** Which user the tokens are for: default the first active user. */
  user?: string;
  /** Only these protocols (default: every protocol the SP has). */
  protocols?: ('jwt' | 'saml')[];
}

interface Answer {
  status: number;
  location: string | undefined;
  body: string;
  cookiesSet: string[];
}

/** How far ahead the clock-skew case puts the IdP's clock: an hour, beyond any sane leeway. */
const CLOCK_SKEW_SECONDS = 3600;

/** A fault's row title, with the value this run uses in place of a placeholder such as <seconds>. */
function caseTitle(f: FaultInfo): string {
  return f.description.replaceAll('<seconds>', `${CLOCK_SKEW_SECONDS} seconds`);
}

export class ConformanceRunner {
  readonly #services: Services;
  readonly #sp: ResolvedServiceProvider;
  /** The IdP's issuer with a replay memory of this run's own (the IdP's stays untouched). */
  readonly #issuer: Issuer;
  readonly #timeoutMs: number;
  readonly #deadline: number;
  readonly #allowed: Set<string>;

  constructor(services: Services, sp: ResolvedServiceProvider) {
    this.#services = services;
    this.#sp = sp;
    this.#issuer = new Issuer({
      jwtSigner: () => services.jwtSigner,
      samlIdp: () => samlIdpContext(services),
      keystore: services.keystore,
      clock: services.clock,
      state: new MemoryStateStore({ now: () => services.clock.now() }),
      previousSecret: (spId) => services.previousHsSecret(spId),
    });
    this.#timeoutMs = sp.conformance?.timeoutMs ?? 5_000;
    this.#deadline = Date.now() + (sp.conformance?.totalTimeoutMs ?? 120_000);
    const urls = [...(sp.jwt?.redirectUrls ?? []), ...(sp.saml?.acsUrls ?? []), sp.conformance?.startUrl, sp.conformance?.acceptedWhen.probeUrl, sp.conformance?.messenger?.authorizeUrl];
    this.#allowed = new Set(urls.filter((u): u is string => u !== undefined).map((u) => this.#key(u)));
  }

  #key(url: string): string {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  }

  /** Sends one request to a registered SP URL, never anywhere else. */
  async #send(jar: Jar, url: string, init: { method: 'GET' | 'POST'; form?: Record<string, string>; json?: Record<string, unknown> }): Promise<Answer> {
    if (!this.#allowed.has(this.#key(url))) throw new IdpError('forbidden_origin', `${this.#key(url)} is not a registered URL of ${this.#sp.id}; the runner does not send anything there.`);
    if (Date.now() > this.#deadline) throw new IdpError('bad_request', 'The run reached its time cap (conformance.totalTimeoutMs).');
    const headers: Record<string, string> = { 'user-agent': 'mock-idp conformance runner', accept: 'text/html,application/json;q=0.9,*/*;q=0.8' };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    if (init.json) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    let res: Response;
    try {
      res = await fetch(url, { method: init.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.#timeoutMs) });
    } catch (err) {
      // Named without its query: a delivery URL carries the token.
      if (isNetworkFailure(err)) throw new SpUnreachable(this.#key(url), networkReason(err, this.#timeoutMs));
      throw err;
    }
    const text = (await res.text()).slice(0, 65_536);
    return { status: res.status, location: res.headers.get('location') ?? undefined, body: text, cookiesSet: jar.store(url, res) };
  }

  /** Whether an answer means "accepted", per the SP's acceptedWhen (or the default). */
  async #accepted(jar: Jar, answer: Answer): Promise<boolean> {
    const when = this.#sp.conformance?.acceptedWhen ?? {};
    const given = Object.values(when).some((v) => v !== undefined);
    if (!given) return answer.status < 400 && answer.cookiesSet.length > 0;
    if (when.status !== undefined && !(Array.isArray(when.status) ? when.status : [when.status]).includes(answer.status)) return false;
    if (when.locationMatches !== undefined && !new RegExp(when.locationMatches).test(answer.location ?? '')) return false;
    if (when.bodyContains !== undefined && !answer.body.includes(when.bodyContains)) return false;
    if (when.cookieSet !== undefined && !answer.cookiesSet.includes(when.cookieSet)) return false;
    if (when.probeUrl !== undefined) {
      const probe = await this.#send(jar, when.probeUrl, { method: 'GET' });
      if (probe.status !== 200) return false;
    }
    return true;
  }

  #user(email: string | undefined): User {
    const user = email ? this.#services.users.find(email) : this.#services.users.list().find((u) => !u.disabled);
    if (!user) throw new IdpError('bad_request', email ? `There is no user ${email}.` : 'There is no active user to sign tokens for.');
    return user;
  }

  async #deliverJwt(jar: Jar, token: string): Promise<Answer> {
    const jwt = this.#sp.jwt!;
    const messenger = this.#sp.conformance?.messenger;
    if (messenger) return this.#send(jar, messenger.authorizeUrl, { method: 'POST', json: authorizeBody(messenger, token) });
    const target = jwt.redirectUrls[0]!;
    if (jwt.delivery === 'post') return this.#send(jar, target, { method: 'POST', form: { jwt: token } });
    return this.#send(jar, appendToUrl(new URL(target), { jwt: token }), { method: 'GET' });
  }

  /** A fresh AuthnRequest from the SP's startUrl (SP-initiated), or none (IdP-initiated). */
  async #authnRequest(jar: Jar): Promise<{ id: string | undefined; relayState: string | undefined; acsUrl: string }> {
    const sp = this.#sp as SamlServiceProvider;
    const start = sp.conformance?.startUrl;
    if (!start) return { id: undefined, relayState: undefined, acsUrl: sp.saml.acsUrls[0]! };
    const answer = await this.#send(jar, start, { method: 'GET' });
    const location = answer.location ? new URL(answer.location, start) : undefined;
    if (!location || !location.searchParams.has('SAMLRequest')) {
      throw new IdpError('bad_request', `The startUrl ${start} answered ${answer.status} without a redirect carrying a SAMLRequest.`);
    }
    const decoded = decodeMessage({ binding: 'redirect', rawQuery: location.search.slice(1) }, 'SAMLRequest');
    const root = expectRoot(parseUntrustedXml(decoded.xml, 'AuthnRequest'), NS.samlp, 'AuthnRequest', 'AuthnRequest');
    const acs = attribute(root, 'AssertionConsumerServiceURL');
    return { id: attribute(root, 'ID'), relayState: decoded.relayState, acsUrl: acs && sp.saml.acsUrls.includes(acs) ? acs : sp.saml.acsUrls[0]! };
  }

  async #deliverSaml(jar: Jar, user: User, faults: SamlFault[], reuse?: { samlResponse: string; relayState: string | undefined; acsUrl: string }): Promise<{ answer: Answer; sent: { samlResponse: string; relayState: string | undefined; acsUrl: string; assertionId: string } }> {
    const sp = this.#sp as SamlServiceProvider;
    if (reuse) {
      const form: Record<string, string> = { SAMLResponse: reuse.samlResponse, ...(reuse.relayState !== undefined ? { RelayState: reuse.relayState } : {}) };
      return { answer: await this.#send(jar, reuse.acsUrl, { method: 'POST', form }), sent: { ...reuse, assertionId: '' } };
    }
    const request = await this.#authnRequest(jar);
    const services = this.#services;
    // The SP's default NameID format, as for any Response without a session (src/mint.ts).
    const nameId = nameIdOf({ sp, user, format: sp.saml.nameIdFormat, source: services.nameIds });
    const built = await this.#issuer.samlResponse({ sp, user, acsUrl: request.acsUrl, inResponseTo: request.id, sessionIndex: services.ids.samlId(), authnInstant: services.clock.now(), nameId }, { faults });
    const samlResponse = encodePost(built.xml);
    const form: Record<string, string> = { SAMLResponse: samlResponse, ...(request.relayState !== undefined ? { RelayState: request.relayState } : {}) };
    const answer = await this.#send(jar, request.acsUrl, { method: 'POST', form });
    return { answer, sent: { samlResponse, relayState: request.relayState, acsUrl: request.acsUrl, assertionId: built.assertionId } };
  }

  async run(options: RunOptions = {}): Promise<ConformanceReport> {
    const started = Date.now();
    const sp = this.#sp;
    const user = this.#user(options.user);
    const protocols = (options.protocols ?? ['jwt', 'saml']).filter((p) => (p === 'jwt' ? sp.jwt : sp.saml));
    if (protocols.length === 0) throw new IdpError('sp_protocol_disabled', `Service provider "${sp.id}" has neither the protocol asked for nor a jwt or saml section.`);
    const cases: CaseResult[] = [];
    let stopped: string | undefined;

    const judge = async (base: Omit<CaseResult, 'observed' | 'status' | 'firstLine' | 'verdict'>, jar: Jar, deliver: () => Promise<Answer>): Promise<CaseResult> => {
      try {
        const answer = await deliver();
        const authorize = base.protocol === 'jwt' && sp.conformance?.messenger ? judgeAuthorize(base.expected, answer) : undefined;
        const accepted = authorize ? authorize.accepted : await this.#accepted(jar, answer);
        const observed = accepted ? 'accepted' : 'rejected';
        const verdict: Verdict = (authorize ? authorize.pass : (base.expected === 'accept') === accepted) ? 'pass' : 'fail';
        const firstLine = firstLineOf(answer.body) || (answer.location ? `→ ${answer.location}` : '');
        return { ...base, observed, status: answer.status, firstLine, verdict, ...(authorize?.note ? { note: authorize.note } : {}) };
      } catch (err) {
        if (err instanceof SpUnreachable) return { ...base, observed: 'unreachable', status: undefined, firstLine: err.message, verdict: 'unreachable' };
        const message = err instanceof IdpError ? err.message : err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.#timeoutMs} ms` : `request failed: ${(err as Error).message}`;
        return { ...base, observed: 'error', status: undefined, firstLine: message, verdict: 'error' };
      }
    };
    const notRun = (info: { id: string; protocol: 'jwt' | 'saml'; title: string; reference: string }): CaseResult => ({
      ...info,
      expected: 'reject',
      observed: 'not run',
      status: undefined,
      firstLine: '',
      verdict: 'not-run',
    });

    for (const protocol of protocols) {
      const catalog: readonly FaultInfo[] = protocol === 'jwt' ? jwtCaseFaults(sp, this.#services) : faultsFor(protocol, sp);
      const messenger = protocol === 'jwt' ? sp.conformance?.messenger : undefined;
      const validTitle = messenger
        ? "A valid Contact JWT, POSTed to the messenger's Authorize API (200 with an accessToken expected)"
        : protocol === 'jwt'
          ? `A valid token, delivered by ${sp.jwt!.delivery === 'post' ? 'form POST' : 'redirect'}` : `A valid signed Response, auto-POSTed to the ACS${sp.conformance?.startUrl ? ' in answer to a fresh AuthnRequest' : ' (unsolicited)'}`;
      const validRef = messenger ? 'Comm100 Secure Messenger: Authorize API' : protocol === 'jwt' ? 'RFC 7519 §7.2' : 'SAML 2.0 Profiles §4.1.4';
      if (stopped) {
        cases.push({ ...notRun({ id: `${protocol}:valid`, protocol, title: validTitle, reference: validRef }), expected: 'accept' });
        for (const f of catalog) cases.push(notRun({ id: `${protocol}:${f.name}`, protocol, title: caseTitle(f), reference: f.violates }));
        continue;
      }
      // 1. The valid case.
      const validJar = new Jar();
      let validToken: string | undefined;
      let validSaml: { samlResponse: string; relayState: string | undefined; acsUrl: string } | undefined;
      const valid = await judge({ id: `${protocol}:valid`, protocol, title: validTitle, reference: validRef, expected: 'accept' }, validJar, async () => {
        if (protocol === 'jwt') {
          const issued = await this.#issuer.jwt(sp as JwtSp, user);
          validToken = issued.token;
          await this.#issuer.noteSent(sp.id, { jti: issued.claims.jti });
          return this.#deliverJwt(validJar, issued.token);
        }
        const { answer, sent } = await this.#deliverSaml(validJar, user, []);
        validSaml = sent;
        await this.#issuer.noteSent(sp.id, { assertionId: sent.assertionId });
        return answer;
      });
      cases.push(valid);
      if (valid.verdict !== 'pass') {
        stopped = valid.verdict === 'unreachable' ? valid.firstLine : `Your SP rejects even a valid ${protocol === 'jwt' ? 'token' : 'assertion'}: ${valid.status ?? 'no answer'} ${valid.firstLine}`.trim();
        for (const f of catalog) cases.push(notRun({ id: `${protocol}:${f.name}`, protocol, title: caseTitle(f), reference: f.violates }));
        if (!messenger) cases.push(notRun({ id: `${protocol}:replay`, protocol, title: 'The valid one again', reference: '' }));
        continue;
      }
      // 2. Every fault, each in a fresh cookie jar.
      for (const f of catalog) {
        const jar = new Jar();
        const base = { id: `${protocol}:${f.name}`, protocol, title: caseTitle(f), reference: f.violates, expected: 'reject' as const };
        cases.push(
          await judge(base, jar, async () => {
            if (protocol === 'jwt') {
              const fault: JwtFault = f.name === 'clock-skew' ? { name: 'clock-skew', seconds: CLOCK_SKEW_SECONDS } : ({ name: f.name } as JwtFault);
              const issued = await this.#issuer.jwt(sp as JwtSp, user, { faults: [fault] });
              return this.#deliverJwt(jar, issued.token);
            }
            return (await this.#deliverSaml(jar, user, [{ name: f.name } as SamlFault])).answer;
          }),
        );
      }
      // 3. The valid token or assertion, delivered a second time (an Authorize API may exchange a Contact JWT again).
      if (messenger) continue;
      const replayJar = new Jar();
      cases.push(
        await judge(
          {
            id: `${protocol}:replay`,
            protocol,
            title: protocol === 'jwt' ? 'The valid token delivered a second time (same jti)' : 'The valid Response POSTed a second time (same assertion and InResponseTo)',
            reference: protocol === 'jwt' ? 'RFC 7519 §4.1.7 (jti)' : 'SAML 2.0 Profiles §4.1.4.5',
            expected: 'reject',
          },
          replayJar,
          async () => (protocol === 'jwt' ? this.#deliverJwt(replayJar, validToken!) : (await this.#deliverSaml(replayJar, user, [], validSaml)).answer),
        ),
      );
    }

    const count = (v: Verdict) => cases.filter((c) => c.verdict === v).length;
    const summary = { total: cases.length, passed: count('pass'), failed: count('fail'), errors: count('error'), unreachable: count('unreachable'), notRun: count('not-run') };
    const unreachable = cases.find((c) => c.verdict === 'unreachable')?.firstLine;
    const validUnreachable = cases.some((c) => c.expected === 'accept' && c.verdict === 'unreachable');
    const outcome: ConformanceReport['outcome'] =
      summary.passed === summary.total ? 'pass' : validUnreachable ? 'unreachable' : stopped ? 'stopped' : summary.failed > 0 ? 'fail' : summary.unreachable > 0 ? 'unreachable' : 'fail';
    return {
      sp: sp.id,
      spName: sp.name,
      startedAt: new Date(started).toISOString(),
      durationMs: Date.now() - started,
      ok: outcome === 'pass',
      outcome,
      stopped,
      unreachable,
      cases,
      summary,
    };
  }
}

export function runConformance(services: Services, spId: string, options: RunOptions = {}): Promise<ConformanceReport> {
  const sp = services.sp(spId);
  if (!sp) throw new IdpError('unknown_sp', `There is no service provider "${spId}".`);
  if (!isSamlSp(sp) && !sp.jwt) throw new IdpError('sp_protocol_disabled', `Service provider "${spId}" has neither a jwt nor a saml section.`);
  return new ConformanceRunner(services, sp).run(options);
}
