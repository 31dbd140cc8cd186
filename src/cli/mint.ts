/** `mock-idp mint jwt|saml`: a token or a SAMLResponse, made without a server by the server's own code. */
import { parseFaults } from '../faults/index.js';
import { mintJwtFor, samlResponseFor } from '../mint.js';
import type { Services } from '../services.js';
import { COMMON_OPTIONS, OFFLINE_OPTIONS, UsageError, offlineServices, pairs, parse, requireKnownSp } from './args.js';
import { json } from './output.js';

const MINT_HELP = `Usage: mock-idp mint jwt --sp ID --user EMAIL [options]
       mock-idp mint saml --sp ID --user EMAIL [--acs-url URL] [--in-response-to ID] [--xml|--json]

Print a token (or a base64 SAMLResponse) for a user and a service provider, made
by the same code as the server (signed with the same keys and secrets).

Options:
${COMMON_OPTIONS}  --sp ID            the service provider
  --user EMAIL       the user (from the config or the store)
  --claim K=V        set a claim (repeatable; a JSON value is parsed: --claim exp=0);
                     K= with no value removes the claim
  --fault F          inject a fault (repeatable), e.g. --fault expired, --fault clock-skew=120
  --json             print { token, header, claims } (jwt) or { samlResponse, xml, … } (saml)
  --xml              saml: print the XML instead of base64
  --acs-url URL      saml: one of the SP's acsUrls (default: its first)
  --in-response-to ID  saml: the AuthnRequest ID it answers (default: unsolicited)
`;

export async function mint(args: string[]): Promise<number> {
  const { values, positionals } = parse({
    args,
    options: {
      ...OFFLINE_OPTIONS,
      sp: { type: 'string' },
      user: { type: 'string' },
      claim: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      xml: { type: 'boolean' },
      fault: { type: 'string', multiple: true },
      'acs-url': { type: 'string' },
      'in-response-to': { type: 'string' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(MINT_HELP);
    return 0;
  }
  const kind = positionals[0];
  if (positionals.length !== 1 || (kind !== 'jwt' && kind !== 'saml')) throw new UsageError('mint takes "jwt" or "saml" (see mock-idp mint --help)');
  const { sp, user } = values;
  if (!sp || !user) throw new UsageError(`mint ${kind} needs --sp ID and --user EMAIL`);
  if (kind === 'saml') {
    return withSp(values, sp, async (services) => {
      const built = await samlResponseFor(services, sp, user, { acsUrl: values['acs-url'], inResponseTo: values['in-response-to'], faults: parseFaults('saml', values.fault) });
      const { issued: _issued, ...printable } = built;
      return values.json ? json(printable) : `${values.xml ? built.xml : built.samlResponse}\n`;
    });
  }
  const overrides = claimOverrides(values.claim);
  return withSp(values, sp, async (services) => {
    const minted = await mintJwtFor(services, sp, user, overrides, parseFaults('jwt', values.fault));
    return values.json ? json(minted) : `${minted.token}\n`;
  });
}

/** --claim K=V: V parsed as JSON when it is JSON, else a string; K= (no value) removes the claim (null). */
function claimOverrides(list: string[] | undefined): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  for (const [k, v] of pairs(list, '--claim')) {
    if (v === '') overrides[k] = null;
    else {
      try {
        overrides[k] = JSON.parse(v) as unknown;
      } catch {
        overrides[k] = v;
      }
    }
  }
  return overrides;
}

/** Opens the services, checks the SP exists, prints what `make` returns, and closes the services. */
async function withSp(values: Parameters<typeof offlineServices>[0], spId: string, make: (services: Services) => Promise<string>): Promise<number> {
  const services = await offlineServices(values);
  try {
    requireKnownSp(services, spId);
    process.stdout.write(await make(services));
    return 0;
  } finally {
    await services.close();
  }
}
