// The offline e-card scanner: keeps the published key set (with its fetch time and ETag) in localStorage,
// reads a QR code from the camera, an image or typed text, and verifies it with verify.js (ecard/README.md).
import { ReplayCache, Verifier } from "/scanner/verify.js";

const $ = (id) => document.getElementById(id);
const KEYS = "ecard-scanner.jwks";   // {jwks, etag, fetched_at}
const SEEN = "ecard-scanner.seen";   // [[token id, keep until], ...]
const PREFS = "ecard-scanner.prefs"; // {lang, field}

let texts, lang, verifier, stored, config;
const prefs = JSON.parse(localStorage.getItem(PREFS) || "{}");
const seen = new Map(JSON.parse(localStorage.getItem(SEEN) || "[]"));
const replay = new ReplayCache(100000, seen);
const state = { lastResult: null, timer: null, decoding: false };
window.scanner = state;  // for tests and the benchmark

const t = (key) => texts[lang].ui[key] ?? key;

function pickLang() {
  if (prefs.lang) return prefs.lang;
  return (navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en";
}

function applyTexts() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("lang").textContent = lang === "zh" ? "English" : "中文";
  $("lang").lang = lang === "zh" ? "en" : "zh-CN";
  const select = $("agency-field");
  select.replaceChildren(new Option(t("all_fields"), ""),
    ...texts.fields.map((f) => new Option(texts[lang].fields[f], f)));
  select.value = prefs.field || "";
  showNet();
  showKeyset();
  if (state.lastResult) show(state.lastResult);
}

// --- key set --------------------------------------------------------------------------------------
async function useKeyset(entry) {
  stored = entry;
  verifier = await Verifier.create(entry.jwks, { skewSeconds: config.skew_seconds, replayCache: replay });
  state.engine = verifier.engine;
  showKeyset();
}

async function refreshKeys() {
  if (!navigator.onLine) { showKeyset(); return false; }
  try {
    const headers = stored && stored.etag ? { "If-None-Match": stored.etag } : {};
    const resp = await fetch("/.well-known/jwks.json", { headers, cache: "no-store" });
    if (resp.status === 304) {
      stored.fetched_at = Date.now();
      localStorage.setItem(KEYS, JSON.stringify(stored));
      showKeyset();
    } else if (resp.ok) {
      const entry = { jwks: await resp.json(), etag: resp.headers.get("ETag"), fetched_at: Date.now() };
      localStorage.setItem(KEYS, JSON.stringify(entry));
      await useKeyset(entry);
    } else return false;
    state.keysetChecked = (state.keysetChecked || 0) + 1;
    return true;
  } catch { showKeyset(); return false; }
}

function ageText(seconds) {
  const f = texts[lang].ui;
  if (seconds < 90) return f.age_seconds.replace("{n}", Math.round(seconds));
  if (seconds < 5400) return f.age_minutes.replace("{n}", Math.round(seconds / 60));
  if (seconds < 129600) return f.age_hours.replace("{n}", Math.round(seconds / 3600));
  return f.age_days.replace("{n}", Math.round(seconds / 86400));
}

function showKeyset() {
  if (!texts) return;
  const warn = $("keyset-warning");
  if (!stored) {
    $("keyset-age").textContent = t("keyset_none");
    warn.hidden = false; warn.textContent = t("keyset_none_warning");
    return;
  }
  const age = (Date.now() - stored.fetched_at) / 1000;
  $("keyset-age").textContent = t("keyset_age").replace("{age}", ageText(age)) + " · " +
    t("keyset_count").replace("{n}", stored.jwks.keys.length);
  $("keyset").dataset.age = Math.round(age);
  const old = age > config.keyset_max_age;
  warn.hidden = !old;
  if (old) warn.textContent = t("keyset_old").replace("{age}", ageText(config.keyset_max_age));
}

function showNet() {
  const on = navigator.onLine;
  $("net").textContent = t(on ? "online" : "offline");
  $("net").classList.toggle("offline", !on);
  $("refresh").disabled = !on;
}

// --- verdict ----------------------------------------------------------------------------------------
async function verifyText(text) {
  const started = performance.now();
  if (!verifier) { show({ ok: false, reason: "unknown_key", claims: null, kid: null }); return; }
  const r = await verifier.verify(text.trim());
  localStorage.setItem(SEEN, JSON.stringify([...seen]));
  state.lastVerifyMs = performance.now() - started;
  state.count = (state.count || 0) + 1;
  show(r);
  return r;
}

function show(r) {
  state.lastResult = r;
  const box = $("result");
  box.hidden = false;
  box.className = "result " + (r.ok ? "ok" : r.reason === "replayed" ? "replayed" : "no");
  box.dataset.reason = r.reason;
  box.dataset.count = state.count || 0;
  $("verdict").textContent = r.ok ? t("valid") : r.reason === "replayed" ? t("replay_warning") : t("refused");
  $("message").textContent = texts[lang].reasons[r.reason];
  $("reason-code").textContent = t("reason_code") + ": " + r.reason + (r.kid ? " · kid " + r.kid : "");
  const c = r.claims;
  $("claims").hidden = !c;
  clearInterval(state.timer);
  if (!c) return;
  $("c-name").textContent = c.name;
  $("c-masked").textContent = c.masked_id;
  $("c-status").textContent = texts[lang].statuses[c.status];
  $("c-settlement").textContent = c.settlement_suspended ? t("settlement_suspended") : t("settlement_normal");
  $("c-settlement").classList.toggle("hit", c.settlement_suspended);
  const field = $("agency-field").value;
  const locked = c.locked_fields.filter((f) => !field || f === field);
  $("c-locked").textContent = locked.length ? locked.map((f) => texts[lang].fields[f]).join("、") : t("none");
  $("c-locked").classList.toggle("hit", locked.length > 0);
  const tick = () => {
    const left = Math.max(0, Math.round(c.expires_at - Date.now() / 1000));
    $("c-left").textContent = t("seconds").replace("{n}", left);
    if (!left) clearInterval(state.timer);
  };
  tick();
  state.timer = setInterval(tick, 1000);
}

// --- QR reading: BarcodeDetector where the browser has it, else zxing-wasm from our own origin ---------
let zxing;
async function detect(source) {
  if ("BarcodeDetector" in window) {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (formats.includes("qr_code")) {
      const codes = await new window.BarcodeDetector({ formats: ["qr_code"] }).detect(source);
      return codes.length ? codes[0].rawValue : null;
    }
  }
  if (!zxing) {
    await new Promise((resolve, reject) => {  // a classic script (IIFE) that defines window.ZXingWASM
      const script = Object.assign(document.createElement("script"), { src: "/static/vendor/zxing-wasm/zxing-reader.js" });
      script.onload = resolve; script.onerror = reject;
      document.head.append(script);
    });
    zxing = window.ZXingWASM;
    await zxing.prepareZXingModule({ overrides: { locateFile: (p) => "/static/vendor/zxing-wasm/" + p }, fireImmediately: true });
  }
  let data = source;
  if (!(source instanceof Blob)) {
    const canvas = new OffscreenCanvas(source.videoWidth || source.width, source.videoHeight || source.height);
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(source, 0, 0);
    data = ctx.getImageData(0, 0, canvas.width, canvas.height);
  }
  const codes = await zxing.readBarcodes(data, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 });
  return codes.length && codes[0].isValid ? codes[0].text : null;
}
state.detect = detect;

async function fromImage(file) {
  const started = performance.now();
  let text = null;
  try {
    text = await detect("BarcodeDetector" in window ? await createImageBitmap(file) : file);
  } catch (e) { console.warn("QR decoding failed", e); }
  if (text === null) { state.count = (state.count || 0) + 1; show({ ok: false, reason: "malformed", claims: null, kid: null }); }
  else await verifyText(text);
  state.lastImageMs = performance.now() - started;
}
state.fromImage = fromImage;

let stream = null;
async function camera() {
  const video = $("video");
  if (stream) { stream.getTracks().forEach((tr) => tr.stop()); stream = null; video.hidden = true; $("camera").textContent = t("camera_start"); return; }
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch { $("message").textContent = t("camera_denied"); $("result").hidden = false; return; }
  video.srcObject = stream; video.hidden = false; await video.play();
  $("camera").textContent = t("camera_stop");
  let last = null;
  const loop = async () => {
    if (!stream) return;
    if (!state.decoding && video.readyState >= 2) {
      state.decoding = true;
      try {
        const text = await detect(video);
        if (text && text !== last) { last = text; await verifyText(text); }
      } catch (e) { console.warn(e); }
      state.decoding = false;
    }
    setTimeout(loop, 200);
  };
  loop();
}

// --- start ----------------------------------------------------------------------------------------
async function main() {
  texts = await (await fetch("/scanner/messages.json")).json();
  config = texts.config;
  lang = pickLang();
  applyTexts();
  $("lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; prefs.lang = lang; localStorage.setItem(PREFS, JSON.stringify(prefs)); applyTexts(); });
  $("agency-field").addEventListener("change", (e) => { prefs.field = e.target.value; localStorage.setItem(PREFS, JSON.stringify(prefs)); if (state.lastResult) show(state.lastResult); });
  $("paste-form").addEventListener("submit", (e) => { e.preventDefault(); const v = $("paste").value; $("paste").value = ""; verifyText(v); });
  $("image").addEventListener("change", (e) => { const f = e.target.files[0]; e.target.value = ""; if (f) fromImage(f); });
  $("camera").addEventListener("click", camera);
  $("refresh").addEventListener("click", refreshKeys);
  window.addEventListener("online", () => { showNet(); refreshKeys(); });
  window.addEventListener("offline", showNet);
  setInterval(() => { showKeyset(); if (navigator.onLine) refreshKeys(); }, config.refresh_seconds * 1000);
  const saved = localStorage.getItem(KEYS);
  if (saved) await useKeyset(JSON.parse(saved));
  await refreshKeys();
  if ("serviceWorker" in navigator) {
    await navigator.serviceWorker.register("/scanner/sw.js", { scope: "/scanner/", type: "classic" });
    await navigator.serviceWorker.ready;
  }
  document.body.dataset.ready = "1";
  $("paste").focus();
}
state.refreshKeys = refreshKeys;
state.verifyText = verifyText;
main();
