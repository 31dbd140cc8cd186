/**
 * SAML 2.0 over HTTP: metadata and certificate downloads here, single sign-on in
 * saml-sso.ts, single logout in saml-slo.ts. These files only turn requests into
 * the typed values of src/saml/ and src/sso/ and render what comes back.
 */
import { Router } from 'express';
import { buildMetadata } from '../saml/metadata.js';
import { isSamlSp } from '../sps.js';
import type { AppContext } from './context.js';
import { samlSlo } from './saml-slo.js';
import { samlSsoRouter } from './saml-sso.js';

export function samlRouter(ctx: AppContext): Router {
  const router = Router();
  // Metadata depends on the registered SPs (WantAuthnRequestsSigned) and on the keys (a rotation, a retired
  // certificate's grace period ending): built once, again after either changes.
  let metadataCache: { xml: string; keys: number } | undefined;
  ctx.onChange(() => (metadataCache = undefined));
  const metadata = (): string => {
    const keys = ctx.keystore.revision;
    if (metadataCache?.keys === keys) return metadataCache.xml;
    const samlSps = ctx.config.serviceProviders.filter(isSamlSp);
    const xml = buildMetadata({
      entityId: ctx.config.saml.entityId,
      baseUrl: ctx.config.baseUrl,
      certificateBase64: ctx.keystore.saml.certificateBase64,
      retiredCertificatesBase64: ctx.keystore.retired.samlCertificates.map((c) => c.certificateBase64),
      wantAuthnRequestsSigned: samlSps.length > 0 && samlSps.every((sp) => sp.saml.requestSigningCert !== null),
    });
    metadataCache = { xml, keys };
    return xml;
  };

  router.get('/saml/metadata', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300');
    res.type('application/samlmetadata+xml').send(metadata());
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
