/** The review page: a held delivery decoded, with its destination, a curl command and the faults that can be chosen. */
import type { Request, Response } from 'express';
import { faultInfo, faultLabel, type FaultProtocol, type JwtFault } from '../faults/catalog.js';
import type { SamlEdit } from '../faults/saml.js';
import { prettyForHistory } from '../flows/record.js';
import { faultsFor, type IssuedSamlResponse } from '../issue/issuer.js';
import { inspectJwt, jwtTrustOf } from '../inspect/jwt.js';
import { inspectSaml, samlTrustOf } from '../inspect/saml.js';
import { jwtFields, jwtLocation, samlFields, type JwtSend, type SamlSend } from './answer.js';
import type { AppContext } from './context.js';
import type { Held } from './review-store.js';
import { csrfToken, noStore } from './security.js';
import { shownTime } from '../time-format.js';

/** A shell word in single quotes. */
function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The delivery as a curl command, to replay it from a terminal (what the browser would send). */
export function curlCommand(send: JwtSend | SamlSend): string {
  if ('token' in send) {
    if (send.method === 'redirect') return `curl -i ${sh(jwtLocation(send))}`;
    return ['curl -i', ...Object.entries(jwtFields(send)).map(([k, v]) => `--data-urlencode ${sh(`${k}=${v}`)}`), sh(send.url)].join(' \\\n  ');
  }
  return ['curl -i', ...Object.entries(samlFields(send)).map(([k, v]) => `--data-urlencode ${sh(`${k}=${v}`)}`), sh(send.acsUrl)].join(' \\\n  ');
}

/** The SAML edit JSON the form starts with: the NameID and attributes as sent. */
function samlEditOf(issued: IssuedSamlResponse, inspection: ReturnType<typeof inspectSaml>): SamlEdit {
  const assertion = inspection.assertions[0];
  return { nameId: issued.nameId, attributes: Object.fromEntries(Object.entries(assertion?.attributes ?? {}).map(([k, v]) => [k, v.length === 1 ? v[0]! : v])) };
}

export interface ViewOptions {
  status?: number;
  error?: string | undefined;
  /** The user's own text, kept when it was refused. */
  editText?: string | undefined;
}

export function renderReview(ctx: AppContext, req: Request, res: Response, key: string, item: Held, options: ViewOptions = {}): void {
  const sp = ctx.sp(item.spId);
  const protocol: FaultProtocol = item.protocol;
  const now = ctx.clock.now();
  const base = {
    title: `Review before sending to ${sp?.name ?? item.spId}`,
    csrf: csrfToken(req),
    key,
    spName: sp?.name ?? item.spId,
    spId: item.spId,
    user: item.user,
    protocol,
    faults: item.faults.map((f) => ({ label: faultLabel(f), info: faultInfo(protocol, f.name) })),
    catalog: faultsFor(protocol, sp, ctx),
    selectedFault: item.faults.length === 1 ? item.faults[0]!.name : '',
    skewSeconds: item.faults.find((f): f is Extract<JwtFault, { name: 'clock-skew' }> => f.name === 'clock-skew')?.seconds ?? 120,
    edited: item.edited,
    error: options.error,
    expiresAt: shownTime(item.expires),
    shownTime,
    curl: curlCommand(item.send),
  };
  noStore(res);
  res.status(options.status ?? 200);
  if (item.protocol === 'jwt') {
    const inspection = inspectJwt(item.issued.token, jwtTrustOf({ keystore: ctx.keystore, secrets: ctx.jwtSigner.secrets, serviceProviders: ctx.config.serviceProviders }), now);
    res.render('review', {
      ...base,
      destination: item.send.url,
      method: item.send.method === 'post' ? 'form POST (field jwt)' : 'redirect (302 with jwt= in the query)',
      location: item.send.method === 'redirect' ? jwtLocation(item.send) : undefined,
      relayState: item.send.addRelay ? item.send.relayState : undefined,
      jwt: { token: item.issued.token, header: JSON.stringify(inspection.header, null, 2), claims: JSON.stringify(inspection.claims, null, 2), inspection },
      saml: undefined,
      editText: options.editText ?? JSON.stringify(item.issued.claims, null, 2),
      editLabel: 'Claims (JSON)',
    });
    return;
  }
  const inspection = inspectSaml(item.issued.xml, samlTrustOf({ keystore: ctx.keystore, serviceProviders: ctx.config.serviceProviders }), now);
  res.render('review', {
    ...base,
    destination: item.send.acsUrl,
    method: 'form POST (field SAMLResponse)',
    location: undefined,
    relayState: item.send.relayState,
    jwt: undefined,
    saml: {
      inspection,
      inResponseTo: item.request.inResponseTo,
      clearAssertion: item.issued.encrypted && item.issued.assertionXml ? prettyForHistory(item.issued.assertionXml) : undefined,
    },
    editText: options.editText ?? JSON.stringify(item.edit ?? samlEditOf(item.issued, inspection), null, 2),
    editLabel: 'NameID and attributes (JSON)',
  });
}
