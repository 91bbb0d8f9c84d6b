// The back office's one script (no inline scripts: CSP script-src 'self').
// htmx requests carry the CSRF token (Flask-WTF reads the X-CSRFToken header), forms carry it as a field.
(function () {
  "use strict";
  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  // htmx 4: every request is configured through this event (detail.ctx.request.headers).
  document.addEventListener("htmx:config:request", function (evt) {
    var ctx = evt.detail && evt.detail.ctx;
    if (ctx && ctx.request && ctx.request.headers) {
      ctx.request.headers["X-CSRFToken"] = token();
    }
  });
  // A confirmation step asks once more before a button marked data-confirm submits.
  document.addEventListener("submit", function (evt) {
    var button = evt.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      evt.preventDefault();
    }
  });
  // After a refused or invalid post, the first message gets the focus (keyboard and screen readers).
  document.addEventListener("DOMContentLoaded", function () {
    var first = document.querySelector(".refusal[role=alert], .field.has-error input, .field.has-error select, .field.has-error textarea");
    if (first) {
      if (!first.hasAttribute("tabindex") && first.classList.contains("refusal")) first.setAttribute("tabindex", "-1");
      first.focus();
    }
  });
})();
