// Starts Swagger UI on /api/docs (app/templates/swagger_ui.html). A file rather than an inline script,
// so that the page's Content-Security-Policy can forbid inline scripts.
window.addEventListener("load", function () {
  var el = document.getElementById("swagger-ui-container");
  var config = {url: el.dataset.specUrl, dom_id: "#swagger-ui-container"};
  var overrides = JSON.parse(el.dataset.config || "{}");
  for (var name in overrides) { config[name] = overrides[name]; }
  window.ui = SwaggerUIBundle(config);
});
