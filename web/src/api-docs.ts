// api-docs.ts — starts Swagger UI on /api/docs (footage/web/templates/api_docs.html).
//
// Swagger UI's files are served by Footage itself (web/build.mjs copies them from the
// swagger-ui-dist package, pinned in package.json), and this script is a file rather than
// inline, so the page runs under the dashboard's Content-Security-Policy (`script-src 'self'`)
// and nothing is fetched from anywhere but this server.

declare global {
  interface Window {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    SwaggerUIBundle?: (options: Record<string, unknown>) => any;
  }
}

function start(): void {
  const root = document.getElementById('swagger-ui');
  if (!root) return;
  if (!window.SwaggerUIBundle) {
    root.textContent = 'The API reference could not load its viewer. The description is at ';
    const link = document.createElement('a');
    link.href = root.dataset.openapiUrl || '/api/openapi.json';
    link.textContent = link.href;
    root.append(link, '.');
    return;
  }
  window.SwaggerUIBundle({
    url: root.dataset.openapiUrl || '/api/openapi.json',
    dom_id: '#swagger-ui',
    // Deep links put a link inside each operation's toggle button: a control in a control,
    // which screen readers cannot reach (axe-core's nested-interactive).
    deepLinking: false,
    // By default Swagger UI sends the description to validator.swagger.io for a badge.
    validatorUrl: null,
    tryItOutEnabled: false,
  });
}

start();

export {};
