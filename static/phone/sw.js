// The phone app's service worker (served by /m/sw.js with its version and file list filled in).
// * The page's static files: cache-first from a cache named after their content hash; a new release is
//   a new service worker (its bytes change with the hash), which fills a new cache and deletes the old.
// * The e-card page (a navigation to PAGE): network first; its last good copy is used only offline.
//   The page holds no token: codes live in the page's memory and IndexedDB with their expiry.
// * Everything else (the token endpoint, other pages, POSTs) goes to the network untouched: never cached.
"use strict";
var VERSION = "__VERSION__";
var ASSETS = ["__ASSETS__"];
var PAGE = "__PAGE__";
var SHELL = "phone-shell-" + VERSION;
var PAGES = "phone-pages-" + VERSION;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return cache.addAll(ASSETS.map(function (url) { return new Request(url, {cache: "no-cache"}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k.indexOf("phone-") === 0 && k !== SHELL && k !== PAGES; })
      .map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("message", function (event) {
  if (event.data && event.data.type === "forget") event.waitUntil(caches.delete(PAGES));
});

self.addEventListener("fetch", function (event) {
  var req = event.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (ASSETS.indexOf(url.pathname) !== -1) {
    event.respondWith(caches.open(SHELL).then(function (cache) {
      return cache.match(url.pathname, {ignoreVary: true}).then(function (hit) {
        return hit || fetch(req).then(function (resp) {
          if (resp.ok) cache.put(url.pathname, resp.clone());
          return resp;
        });
      });
    }));
    return;
  }
  if (req.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(fetch(req).then(function (resp) {
      return caches.open(PAGES).then(function (cache) {
        // Only the signed-in page itself: a redirect to the sign-in page means signed out.
        if (resp.ok && !resp.redirected && resp.type === "basic") return cache.put(PAGE, resp.clone()).then(function () { return resp; });
        return cache.delete(PAGE).then(function () { return resp; });
      });
    }).catch(function () {
      return caches.open(PAGES).then(function (cache) { return cache.match(PAGE, {ignoreVary: true}); }).then(function (hit) {
        return hit || Response.error();
      });
    }));
  }
});
