"""The phone's e-card page in Chromium: ``.venv/bin/python bench/phone.py [--loads 20]``.

A live server (werkzeug, threaded) on a small demo database (``app.demo.Seeder``, temporary SQLite) and
Debian's Chromium through Playwright in a phone-sized context (390×844, DPR 2); the demo resident signs
in once through the pages (the SMS code read from the outbox), then:

* ``first``: a fresh context with only the sign-in cookie (no HTTP cache, no service worker, no
  IndexedDB): ``GET /m/`` until the first QR is drawn — the page's ``performance.mark("ssc-qr-drawn")``,
  in ms since navigation start (page, scripts, token request, drawing);
* ``repeat``: the same context loaded again (service worker installed, its cache filled, the last batch
  in IndexedDB): the same measure;
* ``baseline``: ``GET /m/login`` (the same layout and CSS, no QR, no token), its ``loadEventEnd``: on a
  first visit (a fresh context) and on a repeat visit (the e-card's context, signed out), each ratio
  against its own.

Bytes: the bodies and headers of every response the network delivered to the page or to its service
worker (``request.sizes()``); answers the service worker gave from its cache count zero. Medians of
``--loads`` loads each; ratios to the baseline. The machine is shared: read the ratios, not the ms.
The LAST line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
MOBILE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DEMO_DOC = "440106199005170313"


def _app(tmp: Path):
    from argon2 import PasswordHasher

    from app import create_app
    from app.demo import Seeder
    from app.extensions import db
    from app.services import hashing

    hashing.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    app = create_app({"INSTANCE_DIR": tmp, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'demo.sqlite3'}",
                      "PRIVACY_KEY_FILE": tmp / "keys.json", "ECARD_KEY_DIR": tmp / "ecard-keys",
                      "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.create_all()
        Seeder(db.session, residents=40, seed=42, echo=lambda *a, **k: None).seed_all()
        db.session.commit()
    return app


def _code(app) -> str:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import SmsMessage

    with app.app_context():
        body = db.session.scalars(select(SmsMessage.body).order_by(SmsMessage.id.desc()).limit(1)).one()
    return re.search(r"[0-9]{6}", body)[0]


class Bytes:
    """Bytes the network delivered in a context (page and service worker), from cache of the SW: zero."""

    def __init__(self, context):
        self.total = 0
        context.on("requestfinished", self._done)

    def _done(self, request):
        resp = request.response()
        if resp is None or resp.from_service_worker:
            return
        try:
            sizes = request.sizes()
        except Exception:  # noqa: BLE001 - the context closed meanwhile: the load was already counted
            return
        self.total += max(0, sizes.get("responseBodySize", 0)) + max(0, sizes.get("responseHeadersSize", 0))


def _qr_ms(page) -> float:
    page.wait_for_selector("#qr:not([hidden])", timeout=20_000)
    return page.evaluate("() => performance.getEntriesByName('ssc-qr-drawn')[0].startTime")


def _load_ms(page) -> float:
    page.wait_for_load_state("load")
    return page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loads", type=int, default=20)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    app = _app(Path(tempfile.mkdtemp(prefix="bench-phone-")))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.port}"
    first, repeat, baseline, warm, first_bytes, repeat_bytes, base_bytes, warm_bytes = ([] for _ in range(8))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        ctx = browser.new_context(locale="zh-CN", **MOBILE)
        page = ctx.new_page()
        page.goto(f"{url}/m/login")
        page.fill("#doc_number", DEMO_DOC)
        page.click("form[action$='/m/login/code'] button[type=submit]")
        page.wait_for_selector("#code")
        page.fill("#code", _code(app))
        page.click("form[action$='/m/login'] button[type=submit]")
        _qr_ms(page)
        cookies = [c for c in ctx.cookies() if c["name"] == "ssc_session"]
        ctx.close()
        for _ in range(args.loads):
            cold = browser.new_context(locale="zh-CN", **MOBILE)  # the baseline, first visit
            counter = Bytes(cold)
            page = cold.new_page()
            page.goto(f"{url}/m/login")
            baseline.append(_load_ms(page))
            page.wait_for_timeout(300)  # the service worker it registers fetches its files
            base_bytes.append(counter.total)
            cold.close()
            ctx = browser.new_context(locale="zh-CN", **MOBILE)
            ctx.add_cookies(cookies)
            counter = Bytes(ctx)
            page = ctx.new_page()
            page.goto(f"{url}/m/")
            first.append(_qr_ms(page))
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=20_000)
            page.wait_for_timeout(300)  # the service worker's install fetches finish
            first_bytes.append(counter.total)
            counter.total = 0
            page.reload()
            repeat.append(_qr_ms(page))
            page.wait_for_timeout(100)
            repeat_bytes.append(counter.total)
            ctx.clear_cookies()
            counter.total = 0
            page.goto(f"{url}/m/login")  # the baseline, repeat visit
            warm.append(_load_ms(page))
            warm_bytes.append(counter.total)
            ctx.close()
        browser.close()
    server.shutdown()
    med = statistics.median
    out = {"loads": args.loads, "first_qr_ms": round(med(first), 1), "repeat_qr_ms": round(med(repeat), 1),
           "baseline_first_load_ms": round(med(baseline), 1), "baseline_repeat_load_ms": round(med(warm), 1),
           "first_ratio": round(med(first) / med(baseline), 2), "repeat_ratio": round(med(repeat) / med(warm), 2),
           "first_bytes": int(med(first_bytes)), "repeat_bytes": int(med(repeat_bytes)),
           "baseline_first_bytes": int(med(base_bytes)), "baseline_repeat_bytes": int(med(warm_bytes))}
    print(f"e-card, first visit : QR drawn {out['first_qr_ms']} ms after navigation start (median of {args.loads}), "
          f"{out['first_bytes']} bytes; {out['first_ratio']}x the sign-in page's first load")
    print(f"e-card, repeat visit: QR drawn {out['repeat_qr_ms']} ms, {out['repeat_bytes']} bytes; "
          f"{out['repeat_ratio']}x the sign-in page's repeat load")
    print(f"baseline /m/login   : load {out['baseline_first_load_ms']} ms first, {out['baseline_repeat_load_ms']} ms "
          f"repeat; {out['baseline_first_bytes']} / {out['baseline_repeat_bytes']} bytes")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
