/**
 * SAML 2.0 over HTTP: metadata (the IdP's, and the IdP's as one SP is configured)
 * and certificate downloads here, single sign-on in saml-sso.ts, single logout in
 * saml-slo.ts. These files only turn requests into the typed values of src/saml/
 * and src/sso/ and render what comes back.
 */
import { Router, type Response } from 'express';
import { buildMetadata, nameIdFormatsPreferring, type MetadataInput } from '../saml/metadata.js';
import { isSamlSp, requireSp } from '../sps.js';
import type { AppContext } from './context.js';
import { samlSlo } from './saml-slo.js';
import { samlSsoRouter } from './saml-sso.js';

export function samlRouter(ctx: AppContext): Router {
  const router = Router();
  // Metadata depends on the registered SPs (WantAuthnRequestsSigned, an SP's NameID format) and on the keys
  // (a rotation, a retired certificate's grace period ending): each document (the global one under '', an SP's
  // under its id) is built once, again after either changes.
  const metadataCache = new Map<string, { xml: string; keys: number }>();
  ctx.onChange(() => metadataCache.clear());
  const cached = (key: string, build: (base: MetadataInput) => string): string => {
    const keys = ctx.keystore.revision;
    const hit = metadataCache.get(key);
    if (hit?.keys === keys) return hit.xml;
    const xml = build({
      entityId: ctx.config.saml.entityId,
      baseUrl: ctx.config.baseUrl,
      certificateBase64: ctx.keystore.saml.certificateBase64,
      retiredCertificatesBase64: ctx.keystore.retired.samlCertificates.map((c) => c.certificateBase64),
    });
    metadataCache.set(key, { xml, keys });
    return xml;
  };
  const sendMetadata = (res: Response, xml: string): void => {
    res.set('Cache-Control', 'public, max-age=300');
    res.type('application/samlmetadata+xml').send(xml);
  };

  router.get('/saml/metadata', (_req, res) => {
    const xml = cached('', (base) => {
      const samlSps = ctx.config.serviceProviders.filter(isSamlSp);
      return buildMetadata({ ...base, wantAuthnRequestsSigned: samlSps.length > 0 && samlSps.every((sp) => sp.saml.requestSigningCert !== null) });
    });
    sendMetadata(res, xml);
  });

  // The same IdP as this SP is configured: its requests must be signed or not, its default NameID format first.
  router.get('/saml/metadata/:spId', (req, res) => {
    const sp = requireSp(ctx, req.params.spId, 'saml');
    const xml = cached(`sp:${sp.id}`, (base) =>
      buildMetadata({ ...base, wantAuthnRequestsSigned: sp.saml.requestSigningCert !== null, nameIdFormats: nameIdFormatsPreferring(sp.saml.nameIdFormat) }),
    );
    sendMetadata(res, xml);
  });

  router.get('/saml/cert.pem', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.set('Content-Disposition', 'inline; filename="mock-idp-saml-signing.pem"');
    res.type('application/x-pem-file').send(ctx.keystore.saml.certificatePem);
  });

  router.get('/saml/cert.cer', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.set('Content-Disposition', 'attachment; filename="mock-idp-saml-signing.cer"');
    res.type('application/pkix-cert').send(ctx.keystore.saml.certificateDer);
  });

  const slo = samlSlo(ctx);
  router.use(samlSsoRouter(ctx, slo));
  router.use(slo.router);
  return router;
}
