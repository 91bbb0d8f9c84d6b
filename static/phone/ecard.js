// The e-card page: the QR code drawn on the device from the token string (npm qrcode-generator:
// alphanumeric mode, level M, the smallest version that holds it — what ecard/qr.py makes), refreshed
// before expiry with a countdown, the batch of upcoming tokens kept for a lost signal.
//
// Rules: a code is shown only while it is valid (issued_at <= now < expires_at - MARGIN, on the
// server's clock as measured at the last fetch); with the network cut the page goes on through the
// batch and says it is offline; when the batch is used up no code is shown. Tokens live in page
// memory and in IndexedDB (keyed by this sign-in) with their expiry, never in an HTTP cache.
(function () {
  "use strict";
  var MARGIN = 1;          // seconds: a code leaves the screen this long before it expires
  var EARLY = 2;           // seconds: a new code may show this long before its issued_at (verifiers allow 30)
  var RETRY = 5000;        // ms between tries while the network fails
  var STORE = "codes";

  var root, canvas, wait, countdown, bar, validFor, offlineEl;
  var tokens = [], offset = 0, shown = null, online = navigator.onLine !== false;
  var inflight = false, retryAt = 0, stopped = false, wakeLock = null, firstDrawn = false, dbPromise = null;

  function t(name, params) {
    var s = root.getAttribute("data-t-" + name) || "";
    Object.keys(params || {}).forEach(function (k) { s = s.replace("{" + k + "}", params[k]); });
    return s;
  }
  function now() { return Date.now() / 1000 + offset; }
  function refreshAt(tok) { return tok.expires_at - Math.min(15, Math.floor((tok.expires_at - tok.issued_at) / 4)); }
  function valid(tok, at) { return tok.issued_at - EARLY <= at && at < tok.expires_at - MARGIN; }

  // The code to show: the valid one that lasts longest; only if none has begun yet (a clock measured a
  // little off, or the second between two codes of a batch), the next one, at most EARLY s ahead.
  function current(at) {
    var best = null, early = null;
    tokens.forEach(function (tok) {
      if (!valid(tok, at)) return;
      if (tok.issued_at <= at) { if (!best || tok.expires_at > best.expires_at) best = tok; }
      else if (!early || tok.issued_at < early.issued_at) early = tok;
    });
    return best || early;
  }

  // ------------------------------------------------------------ drawing

  function draw(tok) {
    var qr = qrcode(0, "M");
    qr.addData(tok.token, "Alphanumeric");
    qr.make();
    var n = qr.getModuleCount(), quiet = 4, total = n + 2 * quiet;
    var dpr = window.devicePixelRatio || 1;
    var css = Math.min(window.innerWidth * 0.82, 340);
    var cell = Math.max(2, Math.floor(css * dpr / total));
    var size = cell * total;
    canvas.width = size;
    canvas.height = size;
    canvas.style.width = (size / dpr) + "px";
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    ctx.fillStyle = "#000";
    for (var r = 0; r < n; r++) {
      for (var c = 0; c < n; c++) {
        if (qr.isDark(r, c)) ctx.fillRect((c + quiet) * cell, (r + quiet) * cell, cell, cell);
      }
    }
    canvas.setAttribute("data-version", String((n - 17) / 4));
    canvas.setAttribute("data-expires", String(tok.expires_at));
    var until = new Date((tok.expires_at - offset) * 1000).toLocaleTimeString(document.documentElement.lang);
    canvas.setAttribute("aria-label", t("qr", {t: until}));
    canvas.hidden = false;
    wait.hidden = true;
    shown = tok.token;
    if (!firstDrawn) {
      firstDrawn = true;
      if (window.performance && performance.mark) performance.mark("ssc-qr-drawn");
    }
    keepAwake();
  }

  function blank(message) {
    if (shown !== null || canvas.width) {
      canvas.hidden = true;
      canvas.width = 0;
      canvas.height = 0;
      canvas.removeAttribute("data-expires");
      shown = null;
    }
    countdown.hidden = true;
    wait.textContent = message;
    wait.hidden = false;
    release();
  }

  function tick() {
    var at = now();
    tokens = tokens.filter(function (tok) { return tok.expires_at - MARGIN > at; });
    var tok = stopped ? null : current(at);
    if (tok) {
      if (tok.token !== shown) draw(tok);
      var left = Math.max(0, Math.ceil(tok.expires_at - MARGIN - at));
      validFor.textContent = t("valid", {s: left});
      bar.style.transform = "scaleX(" + Math.min(1, left / (tok.expires_at - tok.issued_at)) + ")";
      countdown.hidden = false;
    } else if (!stopped) {
      blank(online ? t("loading") : t("none-offline"));
    }
    if (!online && !stopped) {
      offlineEl.textContent = tok ? t("offline") : t("none-offline");
      offlineEl.hidden = false;
    } else {
      offlineEl.hidden = true;
    }
    if (!stopped && !inflight && Date.now() >= retryAt && (!tok || at >= refreshAt(tok))) fetchBatch();
  }

  // ------------------------------------------------------------ the network

  function setOnline(value) {
    // an answer that arrives after the phone went offline does not make it online again
    online = value && navigator.onLine !== false;
  }

  function fetchBatch() {
    if (navigator.onLine === false) { setOnline(false); return; }
    inflight = true;
    var sent = Date.now();
    SSCPhone.postJSON(root.getAttribute("data-tokens"), {count: Number(root.getAttribute("data-batch"))})
      .then(function (resp) {
        if (resp.status === 401) return stop(t("ended"), true);
        if (resp.status === 400 && !sessionStorage.getItem("ssc-reloaded")) {
          sessionStorage.setItem("ssc-reloaded", "1");  // a page kept offline with an older form token
          location.reload();
          return;
        }
        return resp.json().then(function (body) {
          if (resp.status === 409) return stop(body.detail || "", false);
          if (!resp.ok) { retryAt = Date.now() + RETRY; return; }
          sessionStorage.removeItem("ssc-reloaded");
          var got = Date.now();
          offset = body.server_time - (sent + got) / 2000;
          tokens = body.batch || [{token: body.token, issued_at: body.issued_at, expires_at: body.expires_at}];
          setOnline(true);
          save();
        });
      })
      .catch(function () { setOnline(false); retryAt = Date.now() + RETRY; })
      .then(function () { inflight = false; tick(); });
  }

  function stop(message, signIn) {
    stopped = true;
    tokens = [];
    forgetAll();
    blank(message);
    if (signIn) {
      var a = document.createElement("a");
      a.href = root.getAttribute("data-login");
      a.className = "m-btn m-btn-primary";
      a.textContent = root.getAttribute("data-t-signin");
      wait.appendChild(document.createElement("br"));
      wait.appendChild(a);
    }
  }

  // ------------------------------------------------------------ the device's copy (IndexedDB)

  function db() {
    if (!window.indexedDB) return Promise.reject(new Error("no IndexedDB"));
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(SSCPhone.DB, 1);
        req.onupgradeneeded = function () { req.result.createObjectStore(STORE, {keyPath: "holder"}); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function withStore(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction(STORE, mode);
        var out = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(out && out.result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  function save() {
    var holder = root.getAttribute("data-holder");
    withStore("readwrite", function (s) {
      s.clear();  // one sign-in's codes at a time on this device
      return s.put({holder: holder, tokens: tokens, offset: offset, saved: Date.now()});
    }).catch(function () {});
  }

  function restore() {
    var holder = root.getAttribute("data-holder");
    return withStore("readonly", function (s) { return s.get(holder); }).then(function (rec) {
      if (rec && !tokens.length && Array.isArray(rec.tokens)) {
        offset = Number(rec.offset) || 0;
        tokens = rec.tokens.filter(function (tok) { return tok && typeof tok.token === "string"; });
      }
    }).catch(function () {});
  }

  function forgetAll() {
    return withStore("readwrite", function (s) { return s.clear(); }).catch(function () {});
  }

  // ------------------------------------------------------------ screen awake

  function keepAwake() {
    if (wakeLock || !("wakeLock" in navigator) || document.visibilityState !== "visible") return;
    wakeLock = "pending";
    navigator.wakeLock.request("screen").then(function (lock) {
      wakeLock = lock;
      lock.addEventListener("release", function () { wakeLock = null; });
      if (shown === null) release();
    }).catch(function () { wakeLock = null; });
  }

  function release() {
    if (wakeLock && wakeLock !== "pending") wakeLock.release().catch(function () {});
    if (wakeLock !== "pending") wakeLock = null;
  }

  // ------------------------------------------------------------ start

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("ecard");
    if (!root) return;
    if (root.getAttribute("data-shows-code") !== "1") {  // no token for this holder (Art. 26, 35)
      forgetAll();
      return;
    }
    canvas = document.getElementById("qr");
    wait = document.getElementById("qr-wait");
    countdown = document.getElementById("countdown");
    bar = document.getElementById("bar");
    validFor = document.getElementById("valid-for");
    offlineEl = document.getElementById("offline");
    window.addEventListener("online", function () { setOnline(true); retryAt = 0; tick(); });
    window.addEventListener("offline", function () { setOnline(false); tick(); });
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { if (shown) keepAwake(); retryAt = 0; tick(); }
    });
    restore().then(function () {  // what this phone kept, if still valid: drawn without waiting…
      if (window.performance && performance.mark) performance.mark("ssc-codes-restored");
      tick();
    });
    fetchBatch();                 // …for the freshest code (and status)
    setInterval(tick, 500);
  });
})();
