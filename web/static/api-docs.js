// The browsable API docs: the vendored Swagger UI over this service's own OpenAPI document.
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: el.dataset.url, dom_id: "#swagger-ui", validatorUrl: null,
                           deepLinking: true, tryItOutEnabled: false });
});
