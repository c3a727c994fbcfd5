import { Router } from 'express';
import swaggerUi from 'swagger-ui-express';
import { openApiDocument } from './openapi';

const DOCS = '/api/payments/doc';

/** The OpenAPI document and a Swagger UI for it, whose assets come from swagger-ui-dist (no CDN). */
export function docsRouter(): Router {
  const router = Router();
  // The page names its assets relatively, and null keeps the UI from sending the document to a remote validator.
  const assets = swaggerUi.serveFiles(undefined, {
    swaggerUrl: 'openapi.json',
    swaggerOptions: { validatorUrl: null },
  });
  const page = swaggerUi.generateHTML(undefined, { customSiteTitle: 'Payments API' });

  router.get(`${DOCS}/openapi.json`, (_req, res) => {
    res.json(openApiDocument);
  });
  router.get(`${DOCS}/`, (req, res) => {
    // Without the slash the browser would fetch ./swagger-ui-bundle.js from /api/payments/.
    if (!req.path.endsWith('/')) {
      const q = req.originalUrl.indexOf('?');
      res.redirect(301, `${DOCS}/${q === -1 ? '' : req.originalUrl.slice(q)}`);
      return;
    }
    res.type('html').send(page);
  });
  router.use(DOCS, ...assets);
  return router;
}
