/** The IdP's SAML signing context, built in one place from the services. */
import type { SamlIdpContext } from '../saml/response.js';
import type { Clock } from '../clock.js';
import type { Keystore } from '../keys/keystore.js';

export function samlIdpContext(s: { config: { saml: { entityId: string } }; keystore: Keystore; clock: Clock; ids: { samlId(): string } }): SamlIdpContext {
  return { entityId: s.config.saml.entityId, credentials: s.keystore.saml, clock: s.clock, newId: () => s.ids.samlId() };
}
