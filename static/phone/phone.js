// The phone app's one shared script (no inline scripts: CSP script-src 'self').
// SSCPhone.csrf(): the page's CSRF token (Flask-WTF reads the X-CSRFToken header on fetch, the
// csrf_token field on forms); SSCPhone.postJSON(url, body): a same-origin POST with it.
// Registers the service worker (/m/sw.js, scope /m/) and, after a sign-out, forgets what this
// device kept: the e-card codes (IndexedDB) and the cached e-card page.
(function () {
  "use strict";
  var DB = "ssc-phone";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf()},
      body: JSON.stringify(body || {})
    });
  }

  function forget() {
    var done = [];
    if (window.indexedDB) {
      done.push(new Promise(function (resolve) {
        var req = indexedDB.deleteDatabase(DB);
        req.onsuccess = req.onerror = req.onblocked = function () { resolve(); };
      }));
    }
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({type: "forget"});
    }
    if (window.caches) {
      done.push(caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (k) { return k.indexOf("phone-pages-") === 0; })
          .map(function (k) { return caches.delete(k); }));
      }).catch(function () {}));
    }
    return Promise.all(done);
  }

  window.SSCPhone = {csrf: csrf, postJSON: postJSON, forget: forget, DB: DB};

  document.addEventListener("DOMContentLoaded", function () {
    var body = document.body;
    if (document.querySelector("[data-forget-device]")) forget();
    if ("serviceWorker" in navigator && body.dataset.sw && window.isSecureContext) {
      navigator.serviceWorker.register(body.dataset.sw, {scope: body.dataset.scope}).catch(function () {});
    }
    // The nationality is asked only for a passport (the field stays for browsers without script).
    var type = document.getElementById("doc_type");
    var nat = document.querySelector(".m-passport-only");
    if (type && nat) {
      var sync = function () { nat.hidden = type.value !== "passport"; };
      type.addEventListener("change", sync);
      sync();
    }
  });
})();
