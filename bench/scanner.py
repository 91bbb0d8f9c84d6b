"""The scanner's JavaScript verifier in Chromium against WebCrypto's raw Ed25519, in the same page.

Run: ``.venv/bin/python bench/scanner.py [--rounds 7] [--n 1000] [--images 15]`` (needs Debian's chromium
and ``make vendor``). It serves the app on a free port, opens /scanner/ in headless Chromium and prints:

* ``verify_ratio`` = tokens/s through ``Verifier.verify`` (static/scanner/verify.js: Base45, COSE framing,
  payload, key window, clock, replay cache on, every token distinct) ÷ raw ``crypto.subtle.verify``
  calls/s over the same tokens' Sig_structures with the same key. Each round alternates blocks of 50 of each
  (noise hits both); the median over rounds is the figure. Target >= 0.8 (issue 16).
* ``image_to_verdict_ms``: time from a QR image (PNG, as the page's file input gets it) to the verdict
  shown: QR decoding (zxing-wasm, or BarcodeDetector where the browser has one) + verification + display.
  ``verifier_own_work_us``: the verifier with its signature check answered at once (Base45, framing,
  payload, window, clock, cache, promise hops), and ``ratio_from_own_work`` = raw ÷ (raw + that), the ratio
  the verifier's own code allows; the measured ratio falls below it on a loaded machine, where the
  wait for WebCrypto's worker thread varies between the back-to-back blocks.
  The first one also loads the WebAssembly module (``cold``); the median is over the warm ones.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecard.base45 import b45decode  # noqa: E402
from ecard.token import sig_structure_head  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

JS_ROUND = """async ([tokens, tbs, sigs, x, now]) => {
  const { Verifier, ReplayCache } = await import('/scanner/verify.js');
  const unhex = (h) => Uint8Array.from(h.match(/../g), (b) => parseInt(b, 16));
  const raw = Uint8Array.from(atob(x.replace(/-/g, '+').replace(/_/g, '/') + '='), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
  const msgs = tbs.map(unhex), sg = sigs.map(unhex);
  const jwks = JSON.parse(localStorage.getItem('ecard-scanner.jwks')).jwks;
  const v = await Verifier.create(jwks, { clock: () => now, replayCache: new ReplayCache() });
  // blocks of 50, raw and verifier alternating, so that the machine's noise falls on both alike
  let rawMs = 0, verMs = 0, good = 0, ok = 0;
  for (let start = 0; start < msgs.length; start += 50) {
    const end = Math.min(start + 50, msgs.length);
    let t0 = performance.now();
    for (let i = start; i < end; i++) if (await crypto.subtle.verify({ name: 'Ed25519' }, key, sg[i], msgs[i])) good++;
    rawMs += performance.now() - t0;
    t0 = performance.now();
    for (let i = start; i < end; i++) if ((await v.verify(tokens[i])).ok) ok++;
    verMs += performance.now() - t0;
  }
  // the verifier's own work: the same tokens with the signature check answered at once (fresh cache)
  const stub = await Verifier.create(jwks, { clock: () => now, replayCache: new ReplayCache() });
  for (const ks of stub.keys.values()) for (const k of ks) k.verify = async () => true;
  let t0 = performance.now();
  for (const t of tokens) await stub.verify(t);
  const ownMs = performance.now() - t0;
  return { rawMs, verMs, ownMs, good, ok, engine: v.engine };
}"""

JS_IMAGE = """async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const file = new File([bytes], 'qr.png', { type: 'image/png' });
  await window.scanner.fromImage(file);
  return [window.scanner.lastImageMs, window.scanner.lastResult.reason];
}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--images", type=int, default=15)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from app import create_app
    from tests.scanner.helpers import qr_png, token

    inst = Path(tempfile.mkdtemp(prefix="bench-scanner-"))
    app = create_app({"TESTING": True, "INSTANCE_DIR": inst, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{inst}/db.sqlite",
                      "PRIVACY_KEY_FILE": inst / "privacy-keys.json", "ECARD_KEY_DIR": inst / "ecard-keys",
                      "RATELIMIT_ENABLED": False})
    store = app.extensions["ecard_issuer"].store
    store.rotate(now=int(time.time()) - 3600)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.port}"
    now = int(time.time())
    x = store.jwks()["keys"][-1]["x"]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(url + "/scanner/")
        page.wait_for_selector("body[data-ready='1']")
        ratios, raw_rates, ver_rates, own_us = [], [], [], []
        for _ in range(args.rounds):
            tokens = [token(app, issued_at=now) for _ in range(args.n)]
            tbs, sigs = [], []
            for t in tokens:
                cose = b45decode(t[4:])
                tbs.append((sig_structure_head(cose[2:8]) + cose[9:-66]).hex())
                sigs.append(cose[-64:].hex())
            r = page.evaluate(JS_ROUND, [tokens, tbs, sigs, x, now])
            assert r["good"] == r["ok"] == args.n, r
            raw_rates.append(args.n / r["rawMs"] * 1000)
            ver_rates.append(args.n / r["verMs"] * 1000)
            ratios.append(r["rawMs"] / r["verMs"])
            own_us.append(r["ownMs"] / args.n * 1000)
        engine = r["engine"]
        times, reasons = [], set()
        for _ in range(args.images):
            ms, reason = page.evaluate(JS_IMAGE, base64.b64encode(qr_png(token(app))).decode())
            times.append(ms)
            reasons.add(reason)
        browser.close()
    server.shutdown()
    out = {
        "engine": engine, "rounds": args.rounds, "tokens_per_round": args.n,
        "raw_webcrypto_verify_per_s_median": round(statistics.median(raw_rates)),
        "js_verifier_per_s_median": round(statistics.median(ver_rates)),
        "verify_ratio_median": round(statistics.median(ratios), 3),
        "verify_ratio_min_max": [round(min(ratios), 3), round(max(ratios), 3)],
        "raw_verify_us_median": round(1e6 / statistics.median(raw_rates), 1),
        "verifier_own_work_us_median": round(statistics.median(own_us), 1),
        "ratio_from_own_work": round((1e6 / statistics.median(raw_rates)) / (1e6 / statistics.median(raw_rates) + statistics.median(own_us)), 3),
        "image_to_verdict_ms_cold": round(times[0], 1),
        "image_to_verdict_ms_median_warm": round(statistics.median(times[1:]), 1),
        "image_to_verdict_ms_min_max_warm": [round(min(times[1:]), 1), round(max(times[1:]), 1)],
        "image_verdicts": sorted(reasons),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
