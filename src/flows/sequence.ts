/**
 * The sequence picture of a flow: the browser, the SP and the IdP as lifelines,
 * and the messages between them, laid out for an SVG the view draws (no script, no
 * inline style: classes only). The IdP sees only its own part; what the SP does with
 * the token afterwards is outside the picture.
 */
import type { Flow } from './history.js';

export type Actor = 'browser' | 'sp' | 'idp';

export interface SequenceStep {
  from: Actor;
  to: Actor;
  label: string;
  /** request: a browser request; redirect: a message carried by a browser redirect or form; answer: a response page. */
  kind: 'request' | 'redirect' | 'answer';
  /** The step that carried the faults (drawn in the fault colour). */
  faulty?: boolean;
}

export interface SequenceLayout {
  width: number;
  height: number;
  lanes: { actor: Actor; label: string; x: number }[];
  arrows: { x1: number; x2: number; y: number; label: string; labelX: number; kind: SequenceStep['kind']; faulty: boolean; self: boolean }[];
}

const LANE_LABELS: Record<Actor, string> = { browser: 'Browser', sp: 'Service provider', idp: 'mock-idp' };

function delivery(flow: Flow): string {
  const faults = flow.faults.length > 0 ? ` [${flow.faults.join(', ')}]` : '';
  if (flow.protocol === 'jwt') {
    if (flow.binding === 'json') return `JSON token${faults}`;
    return `${flow.binding === 'post' ? 'auto-POST jwt=' : '302 with jwt='}${faults}`;
  }
  return `auto-POST SAMLResponse${flow.saml?.status && flow.saml.status !== 'Success' ? ` (${flow.saml.status})` : ''}${faults}`;
}

/** The messages of a flow, in order. */
export function sequenceOf(flow: Flow): SequenceStep[] {
  const steps: SequenceStep[] = [];
  const sent = flow.outcome === 'delivered' || flow.outcome === 'status';
  if (flow.initiator === 'api') {
    steps.push({ from: 'browser', to: 'idp', label: `control API: ${flow.protocol === 'jwt' ? 'POST /api/tokens' : 'POST /api/saml/responses'}`, kind: 'request' });
  } else if (flow.initiator === 'widget') {
    steps.push({ from: 'browser', to: 'idp', label: `GET /sso/token/${flow.sp.id}`, kind: 'request' });
  } else if (flow.initiator === 'idp') {
    steps.push({ from: 'browser', to: 'idp', label: `GET /saml/idp-init/${flow.sp.id}`, kind: 'request' });
  } else if (flow.outcome === 'refused') {
    // Refused before anything was sent: all the IdP knows is that the browser asked it (a link, a redirect, a typed URL).
    steps.push({ from: 'browser', to: 'idp', label: flow.protocol === 'saml' ? 'GET /saml/sso (AuthnRequest)' : `GET /sso/jwt/${flow.sp.id}`, kind: 'request' });
  } else {
    steps.push({ from: 'browser', to: 'sp', label: 'opens the SP, signs in', kind: 'request' });
    steps.push({
      from: 'sp',
      to: 'idp',
      label: flow.protocol === 'saml' ? `AuthnRequest${flow.saml?.inResponseTo ? ` ${flow.saml.inResponseTo.slice(0, 14)}…` : ''}` : `redirect to /sso/jwt/${flow.sp.id}`,
      kind: 'redirect',
    });
  }
  if (flow.user) steps.push({ from: 'idp', to: 'idp', label: flow.initiator === 'api' ? `for ${flow.user}` : `session of ${flow.user}`, kind: 'answer' });
  if (flow.reviewed) {
    steps.push({ from: 'idp', to: 'browser', label: 'review page', kind: 'answer' });
    if (sent) steps.push({ from: 'browser', to: 'idp', label: flow.edited ? 'Edit and send' : 'Send', kind: 'request' });
  }
  if (flow.outcome === 'refused') {
    steps.push({ from: 'idp', to: 'browser', label: 'error page', kind: 'answer', faulty: true });
  } else if (flow.initiator === 'widget' || flow.initiator === 'api') {
    steps.push({ from: 'idp', to: 'browser', label: flow.initiator === 'api' ? `JSON${flow.faults.length > 0 ? ` [${flow.faults.join(', ')}]` : ''}` : delivery(flow), kind: 'answer', faulty: flow.faults.length > 0 });
  } else if (sent) {
    steps.push({ from: 'idp', to: 'sp', label: delivery(flow), kind: 'redirect', faulty: flow.faults.length > 0 });
  }
  return steps;
}

/** Coordinates for the SVG of a flow's sequence. */
export function sequenceLayout(flow: Flow): SequenceLayout {
  const lanes: SequenceLayout['lanes'] = [
    { actor: 'browser', label: flow.initiator === 'api' ? 'API client' : LANE_LABELS.browser, x: 70 },
    { actor: 'sp', label: LANE_LABELS.sp, x: 290 },
    { actor: 'idp', label: LANE_LABELS.idp, x: 510 },
  ];
  const xOf = (a: Actor): number => lanes.find((l) => l.actor === a)!.x;
  const arrows = sequenceOf(flow).map((s, i) => {
    const y = 56 + i * 34;
    const x1 = xOf(s.from);
    const x2 = xOf(s.to);
    const self = s.from === s.to;
    return { x1, x2: self ? x1 + 36 : x2, y, label: s.label, labelX: self ? x1 - 8 : (x1 + x2) / 2, kind: s.kind, faulty: s.faulty ?? false, self };
  });
  return { width: 580, height: 56 + arrows.length * 34 + 10, lanes, arrows };
}
