// E-card token verifier (format version 2) in the browser or Node: the JavaScript twin of ecard/verify.py.
// The specification is ecard/README.md; tests/vectors/ holds the vectors both verifiers must answer alike
// (tests/scanner/test_vectors_js.py runs this file on every one of them under `node --test`).
//
//   import { Verifier } from "/scanner/verify.js";
//   const v = await Verifier.create(jwks, { skewSeconds: 30 });
//   const r = await v.verify(text);   // never throws: {ok, reason, claims, kid}
//
// Ed25519 through WebCrypto; where the browser lacks it, @noble/ed25519 (static/vendor/, from npm):
// pass `{ noble: await import("/static/vendor/noble-ed25519/ed25519.js") }` or let create() load it.

export const PREFIX = "SC2:";
export const FORMAT_VERSION = 2;
export const DEFAULT_LIFETIME = 60;
export const REASONS = ["ok", "bad_signature", "unknown_key", "withdrawn_key", "expired", "not_yet_valid",
  "replayed", "malformed", "unsupported_version"];
export const STATUS_NAMES = ["active", "issued", "in_production", "loss_registered", "reissue_pending",
  "replacement_pending"];
export const APP_FIELD_NAMES = ["medical", "finance", "transport", "civil_affairs", "health", "education",
  "housing", "provident_fund", "hrss", "public_security", "justice", "agriculture", "culture_tourism", "sports",
  "forestry", "disability", "veterans"];
const ALL_FIELDS = (1 << APP_FIELD_NAMES.length) - 1;
const PROTECTED_HEAD = [0xa2, 0x01, 0x27, 0x04, 0x41];
const OTHER_PREFIX = /^SC[0-9A-Z]:/;
const KID = /^[0-9a-f]{2}$/;

class FormatError extends Error {
  constructor(message, reason = "malformed") { super(message); this.reason = reason; }
}

// --- Base45 (RFC 9285) ---------------------------------------------------------------------------
const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const B45_DIGIT = new Int16Array(128).fill(-1);
for (let i = 0; i < B45.length; i++) B45_DIGIT[B45.charCodeAt(i)] = i;

export function b45decode(text) {
  const n = text.length;
  if (n % 3 === 1) throw new FormatError("Base45 length 3n+1");
  const out = new Uint8Array(Math.floor(n / 3) * 2 + (n % 3 ? 1 : 0));
  let o = 0;
  const digit = (i) => {
    const c = text.charCodeAt(i);
    const d = c < 128 ? B45_DIGIT[c] : -1;
    if (d < 0) throw new FormatError("character outside the Base45 alphabet");
    return d;
  };
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = digit(i) + 45 * digit(i + 1) + 2025 * digit(i + 2);
    if (v > 0xffff) throw new FormatError("Base45 triple above 65535");
    out[o++] = v >> 8; out[o++] = v & 0xff;
  }
  if (i < n) {
    const v = digit(i) + 45 * digit(i + 1);
    if (v > 0xff) throw new FormatError("Base45 pair above 255");
    out[o++] = v;
  }
  return out;
}

// --- CBOR: the one deterministic encoding (README §3) ---------------------------------------------
// Accepts only what the format allows under the SC2: prefix: unsigned and negative integers, byte and
// text strings, arrays, false/true/null, every head in its shortest form, definite lengths. Maps, tags,
// floats, undefined and other simple values are malformed (README §3, "the payload's CBOR subset").
const utf8 = new TextDecoder("utf-8", { fatal: true });

function readHead(b, pos) {
  if (pos >= b.length) throw new FormatError("truncated CBOR");
  const ib = b[pos], major = ib >> 5, ai = ib & 31;
  let value, next;
  if (ai < 24) { value = ai; next = pos + 1; }
  else if (ai <= 27) {
    const size = 1 << (ai - 24);
    if (pos + 1 + size > b.length) throw new FormatError("truncated CBOR head");
    let v = 0n;
    for (let k = 0; k < size; k++) v = (v << 8n) | BigInt(b[pos + 1 + k]);
    const min = ai === 24 ? 24n : 1n << BigInt(4 * size);   // 8 bits from 24, then above the shorter head
    if (v < min) throw new FormatError("CBOR head not in its shortest form");
    value = v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    next = pos + 1 + size;
  } else throw new FormatError(ai === 31 ? "indefinite length" : "reserved CBOR head");
  return { major, ai, value, next };
}

function readItem(b, pos, depth = 0) {
  const h = readHead(b, pos);
  switch (h.major) {
    case 0: return { v: h.value, type: "uint", end: h.next };
    case 1: return { v: typeof h.value === "bigint" ? -1n - h.value : -1 - h.value, type: "nint", end: h.next };
    case 2: case 3: {
      if (typeof h.value === "bigint" || h.next + h.value > b.length) throw new FormatError("truncated string");
      const bytes = b.subarray(h.next, h.next + h.value);
      if (h.major === 2) return { v: bytes, type: "bstr", end: h.next + h.value };
      let text;
      try { text = utf8.decode(bytes); } catch { throw new FormatError("text string is not UTF-8"); }
      return { v: text, type: "tstr", end: h.next + h.value };
    }
    case 4: {
      if (typeof h.value === "bigint" || h.value > b.length) throw new FormatError("array too long");
      if (depth >= 16) throw new FormatError("arrays nested more than 16 deep");
      const items = [];
      let p = h.next;
      for (let k = 0; k < h.value; k++) { const it = readItem(b, p, depth + 1); items.push(it); p = it.end; }
      return { v: items, type: "array", end: p };
    }
    case 7:
      if (h.ai === 20 || h.ai === 21) return { v: h.ai === 21, type: "bool", end: h.next };
      if (h.ai === 22) return { v: null, type: "null", end: h.next };
      throw new FormatError("float, undefined or simple value");
    default: throw new FormatError(h.major === 5 ? "map in the payload" : "tag in the payload");
  }
}

// --- masked number (README §3) -------------------------------------------------------------------
const USUAL_PACKING = /^[0-9a]{6}b[0-9a]{4}f$/;
const PACKING = /^(?:[0-9a]+|d[0-9a-f]|e[0-689]|(?:cf)*(?:b|c[0-68-e])(?![bc])|(?:cf)+(?![bc]))+f?$/;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
function hex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}

export function unpackMasked(bytes) {
  let h = hex(bytes);
  if (USUAL_PACKING.test(h)) return (h.slice(0, 6) + "********" + h.slice(7, 11)).replaceAll("a", "X");
  if (!bytes.length || !PACKING.test(h)) throw new FormatError("masked id is not packed in its one canonical form");
  h = h.replace(/[cde]./g, (t) => {
    const n = parseInt(t[1], 16);
    return t[0] === "c" ? "*".repeat(n + 1) : String.fromCharCode((t[0] === "d" ? 0x41 : 0x51) + n);
  });
  if (h.endsWith("f")) h = h.slice(0, -1);
  const masked = h.replaceAll("a", "X").replaceAll("b", "********");
  if (!masked.includes("*")) throw new FormatError("masked id hides nothing");
  return masked;
}

// --- name: GB 18030 ------------------------------------------------------------------------------
// The WHATWG gb18030 decoder (GB 18030-2022) reads a lone byte 0x80 as "€" and 21 codes otherwise than
// Python's codec (GB 18030-2000), the other verifier: a name holding one of them is malformed (README §3).
const gb18030 = new TextDecoder("gb18030", { fatal: true });
const EDITION_DEPENDENT = new Set([0xa3a0, 0xa6d9, 0xa6da, 0xa6db, 0xa6dc, 0xa6dd, 0xa6de, 0xa6df, 0xa6ec, 0xa6ed,
  0xa6f3, 0xa8bc, 0xfe59, 0xfe61, 0xfe66, 0xfe67, 0xfe6d, 0xfe7e, 0xfe90, 0xfea0]);

function decodeName(bytes) {
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x80) throw new FormatError("name is not GB 18030");
    if (c < 0x81 || c > 0xfe) continue;
    if (bytes[i + 1] >= 0x30 && bytes[i + 1] <= 0x39) {
      if (c === 0x81 && bytes[i + 1] === 0x35 && bytes[i + 2] === 0xf4 && bytes[i + 3] === 0x37) {
        throw new FormatError("GB 18030 code whose meaning depends on the edition");
      }
      i += 3;
    } else {
      if (EDITION_DEPENDENT.has((c << 8) | bytes[i + 1])) throw new FormatError("GB 18030 code whose meaning depends on the edition");
      i += 1;
    }
  }
  try { return gb18030.decode(bytes); } catch { throw new FormatError("name is not GB 18030"); }
}

// --- payload (README §3) -------------------------------------------------------------------------
export function parseClaims(p) {
  const top = readItem(p, 0);
  if (top.end !== p.length) throw new FormatError("bytes after the payload item");
  if (top.type !== "array" || !top.v.length || top.v[0].type !== "uint") {
    throw new FormatError("payload is not an array starting with the format version");
  }
  const items = top.v;
  if (items[0].v !== FORMAT_VERSION) throw new FormatError("unsupported payload version", "unsupported_version");
  let lifetime = DEFAULT_LIFETIME;
  if (items.length === 9) {
    const l = items[8];
    if (l.type !== "uint" || l.v <= 0 || l.v === DEFAULT_LIFETIME) {
      throw new FormatError("bad lifetime");
    }
    lifetime = Number(l.v);  // beyond 2^53 only a far-off expiry: the same answers as exact integers
  } else if (items.length !== 8) throw new FormatError("payload array has the wrong length");
  const [, tokenId, issuedAt, cardRef, name, masked, state, locked] = items;
  if (tokenId.type !== "bstr" || tokenId.v.length < 6 || tokenId.v.length > 8) throw new FormatError("bad token id");
  if (issuedAt.type !== "uint") throw new FormatError("bad issued-at");
  if (cardRef.type !== "bstr" || cardRef.v.length < 1 || cardRef.v.length > 8) throw new FormatError("bad card reference");
  if (name.type !== "bstr" || !name.v.length) throw new FormatError("bad name");
  if (state.type !== "uint" || typeof state.v !== "number" || (state.v >> 1) >= STATUS_NAMES.length) {
    throw new FormatError("bad card state");
  }
  if (locked.type !== "uint" || typeof locked.v !== "number" || locked.v & ~ALL_FIELDS) {
    throw new FormatError("bad locked-field mask");
  }
  const issued = Number(issuedAt.v);
  const text = decodeName(name.v);
  if (masked.type !== "bstr") throw new FormatError("masked id is not a packed byte string");
  const maskedId = unpackMasked(masked.v);
  return {
    version: FORMAT_VERSION, token_id: hex(tokenId.v), issued_at: issued, lifetime,
    expires_at: issued + lifetime, card_ref: hex(cardRef.v), name: text, masked_id: maskedId,
    status: STATUS_NAMES[state.v >> 1], settlement_suspended: Boolean(state.v & 1),
    locked_fields: APP_FIELD_NAMES.filter((_, i) => (locked.v >> i) & 1),
  };
}

// --- COSE_Sign1 (README §2) ----------------------------------------------------------------------
export function splitCose(d) {
  if (d[0] !== 0x84 || d[1] !== 0x46) throw new FormatError("not an untagged COSE_Sign1 with a 6-byte protected header");
  for (let i = 0; i < 5; i++) if (d[2 + i] !== PROTECTED_HEAD[i]) throw new FormatError("protected header");
  if (d.length < 9 || d[8] !== 0xa0) throw new FormatError("unprotected header must be empty");
  const h = d[9];
  let len, pos;
  if (h >= 0x40 && h <= 0x57) { len = h - 0x40; pos = 10; }
  else if (h === 0x58 && d[10] >= 24) { len = d[10]; pos = 11; }
  else if (h === 0x59 && d[10]) { len = (d[10] << 8) | d[11]; pos = 12; }
  else throw new FormatError("expected the payload byte string");
  const end = pos + len;
  if (d.length !== end + 66 || d[end] !== 0x58 || d[end + 1] !== 0x40) {
    throw new FormatError("signature is not the last item, a 64-byte string");
  }
  return { kid: d[7], payload: d.subarray(pos, end), signed: d.subarray(9, end), signature: d.subarray(end + 2) };
}

const SIG1_HEAD = new Uint8Array([0x84, 0x6a, ...new TextEncoder().encode("Signature1"), 0x46]);

function toBeSigned(kid, payloadWithHead) {
  // ["Signature1", protected, h'', payload]: a constant head + the payload as the token carries it
  const out = new Uint8Array(SIG1_HEAD.length + 7 + payloadWithHead.length);
  out.set(SIG1_HEAD, 0);
  out.set([...PROTECTED_HEAD, kid, 0x40], SIG1_HEAD.length);
  out.set(payloadWithHead, SIG1_HEAD.length + 7);
  return out;
}

function b64url(s) {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

// --- Ed25519 ------------------------------------------------------------------------------------
let webCryptoEd25519;
async function hasWebCryptoEd25519() {
  if (webCryptoEd25519 === undefined) {
    try {
      await crypto.subtle.importKey("raw", new Uint8Array(32).fill(1), { name: "Ed25519" }, false, ["verify"]);
      webCryptoEd25519 = true;
    } catch { webCryptoEd25519 = false; }
  }
  return webCryptoEd25519;
}

async function makeKey(raw, noble) {
  if (raw.length !== 32) throw new Error("Ed25519 key is 32 bytes");
  if (!noble) {
    const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    return (sig, msg) => crypto.subtle.verify({ name: "Ed25519" }, key, sig, msg);
  }
  return async (sig, msg) => { try { return await noble.verifyAsync(sig, msg, raw, { zip215: false }); } catch { return false; } };
}

// --- replay cache ---------------------------------------------------------------------------------
export class ReplayCache {
  // token id (hex) -> keep-until (Unix seconds); expired ids are dropped as the clock passes them.
  constructor(maxEntries = 100000, store = new Map()) { this.max = maxEntries; this.ids = store; }
  seen(id, keepUntil, now) {
    if (this.ids.size >= this.max || this.ids.size % 256 === 0) {
      for (const [k, until] of this.ids) if (until < now) this.ids.delete(k);
      while (this.ids.size >= this.max) this.ids.delete(this.ids.keys().next().value);
    }
    const until = this.ids.get(id);
    if (until !== undefined && until >= now) return true;
    this.ids.set(id, keepUntil);
    return false;
  }
}

// --- the verifier (README §6) ---------------------------------------------------------------------
export class Verifier {
  // Use `await Verifier.create(jwks, options)`: keys are imported into WebCrypto once.
  static async create(jwks, { skewSeconds = 30, clock = () => Date.now() / 1000, replayCache = new ReplayCache(),
    noble = null, nobleUrl = "/static/vendor/noble-ed25519/ed25519.js" } = {}) {
    let impl = noble;
    if (!impl && !(await hasWebCryptoEd25519())) impl = await import(nobleUrl);
    const v = new Verifier();
    v.skew = skewSeconds; v.clock = clock; v.replayCache = replayCache; v.engine = impl ? "noble" : "webcrypto";
    v.keys = new Map(); v.withdrawn = new Map();
    for (const jwk of (jwks && jwks.keys) || []) {
      if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || (jwk.use ?? "sig") !== "sig") continue;
      if (typeof jwk.kid !== "string" || !KID.test(jwk.kid)) continue;   // "0A", "0a0b", 10: ignored (README §5)
      const kid = parseInt(jwk.kid, 16);
      if (!v.keys.has(kid)) v.keys.set(kid, []);
      v.keys.get(kid).push({ verify: await makeKey(b64url(jwk.x), impl), nbf: jwk.nbf ?? -Infinity, exp: jwk.exp ?? Infinity });
    }
    for (const entry of (jwks && jwks.withdrawn) || []) {
      if (typeof entry.kid !== "string" || !KID.test(entry.kid)) continue;
      const kid = parseInt(entry.kid, 16);
      if (!v.withdrawn.has(kid)) v.withdrawn.set(kid, []);
      if (entry.x) v.withdrawn.get(kid).push(await makeKey(b64url(entry.x), impl));
    }
    return v;
  }

  async verify(text) {
    try { return await this._verify(text); } catch { return { ok: false, reason: "malformed", claims: null, kid: null }; }
  }

  async _verify(text) {
    const refuse = (reason, claims = null, kid = null) => ({ ok: false, reason, claims, kid });
    let cose, parts;
    try {
      if (typeof text !== "string") throw new FormatError("not text");
      if (!text.startsWith(PREFIX)) {
        throw new FormatError("missing SC2: prefix", OTHER_PREFIX.test(text) ? "unsupported_version" : "malformed");
      }
      cose = b45decode(text.slice(4));
      parts = splitCose(cose);
    } catch (e) { return refuse(e instanceof FormatError ? e.reason : "malformed"); }
    const kidHex = parts.kid.toString(16).padStart(2, "0");
    const keys = this.keys.get(parts.kid);
    if (!keys) return refuse(this.withdrawn.has(parts.kid) ? "withdrawn_key" : "unknown_key", null, kidHex);
    const tbs = toBeSigned(parts.kid, parts.signed);
    let key = null;
    for (const k of keys) if (await k.verify(parts.signature, tbs)) { key = k; break; }
    if (!key) {
      for (const w of this.withdrawn.get(parts.kid) || []) if (await w(parts.signature, tbs)) return refuse("withdrawn_key", null, kidHex);
      return refuse("bad_signature", null, kidHex);
    }
    let claims;
    try { claims = parseClaims(parts.payload); } catch (e) { return refuse(e instanceof FormatError ? e.reason : "malformed", null, kidHex); }
    const skew = this.skew, issued = claims.issued_at, expires = claims.expires_at;
    if (issued < key.nbf - skew || expires > key.exp + skew) return refuse("unknown_key", claims, kidHex);
    const now = this.clock();
    if (now < issued - skew) return refuse("not_yet_valid", claims, kidHex);
    if (now > expires + skew) return refuse("expired", claims, kidHex);
    if (this.replayCache && this.replayCache.seen(claims.token_id, expires + skew, now)) return refuse("replayed", claims, kidHex);
    return { ok: true, reason: "ok", claims, kid: kidHex };
  }
}
