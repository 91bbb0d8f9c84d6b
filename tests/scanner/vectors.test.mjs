// The JavaScript verifier (static/scanner/verify.js) on every vector of tests/vectors/: the same answer as
// ecard/verify.py (tests/ecard/test_vectors.py). Run by tests/scanner/test_vectors_js.py (`node --test`).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import * as noble from "../../node_modules/@noble/ed25519/index.js";
import { ReplayCache, Verifier } from "../../static/scanner/verify.js";

const dir = fileURLToPath(new URL("../vectors/", import.meta.url));
const load = (name) => JSON.parse(readFileSync(dir + name, "utf8"));
const vectors = [...load("valid.json").vectors, ...load("refused.json").vectors];

for (const engine of ["webcrypto", "noble"]) {
  for (const v of vectors) {
    test(`${engine}: ${v.id}`, async () => {
      const verifier = await Verifier.create(load(v.jwks), { skewSeconds: v.skew_seconds, clock: () => v.now,
        noble: engine === "noble" ? noble : null });
      assert.equal(verifier.engine, engine);
      const r = await verifier.verify(v.token);
      assert.deepEqual({ ok: r.ok, reason: r.reason }, { ok: v.expected.ok, reason: v.expected.reason });
      if (v.expected.ok) {
        assert.equal(r.kid, v.expected.kid);
        assert.deepEqual(r.claims, v.expected.claims);
      }
    });
  }
}

test("the same token twice: replayed (README §6 step 9)", async () => {
  const v = load("valid.json").vectors[0];
  const verifier = await Verifier.create(load(v.jwks), { clock: () => v.now, replayCache: new ReplayCache() });
  assert.equal((await verifier.verify(v.token)).reason, "ok");
  const again = await verifier.verify(v.token);
  assert.equal(again.reason, "replayed");
  assert.equal(again.claims.name, v.expected.claims.name);
});

test("never throws: not a string, garbage", async () => {
  const verifier = await Verifier.create(load("jwks.json"));
  for (const text of [null, 42, "", "SC2:", "SC2:💥", "SC2:" + "A".repeat(5000)]) {
    assert.equal((await verifier.verify(text)).reason, "malformed");
  }
});
