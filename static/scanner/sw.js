// Service worker of the offline scanner (scope /scanner/). The route fills in VERSION, a hash of every
// file below, so a changed file installs a new cache; the page works offline from that cache.
const VERSION = "__VERSION__";
const CACHE = "ecard-scanner-" + VERSION;
const SHELL = [
  "/scanner/", "/scanner/scanner.js", "/scanner/verify.js", "/scanner/scanner.css", "/scanner/messages.json",
  "/scanner/manifest.webmanifest", "/scanner/icon.svg",
  "/static/vendor/zxing-wasm/zxing-reader.js", "/static/vendor/zxing-wasm/zxing_reader.wasm",
  "/static/vendor/noble-ed25519/ed25519.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL.map((u) => new Request(u, { cache: "reload" }))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((names) => Promise.all(names.filter((n) => n.startsWith("ecard-scanner-") && n !== CACHE)
    .map((n) => caches.delete(n)))).then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname === "/.well-known/jwks.json") return;  // always the network: the page keeps its own copy
  const path = url.pathname === "/scanner" || url.pathname === "/scanner/index.html" ? "/scanner/" : url.pathname;
  if (!SHELL.includes(path)) return;
  event.respondWith(caches.open(CACHE).then((c) => c.match(path)).then((hit) => hit || fetch(event.request)));
});
