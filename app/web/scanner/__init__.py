"""The offline e-card scanner for agencies (Art. 32, 35; issue 16): a public page, no sign-in.

The page itself is static (static/scanner/: HTML, the verifier verify.js, the app scanner.js, a service
worker, a manifest), served here under /scanner/ so that the service worker's scope covers it. Its words
come from ``/scanner/messages.json``, built from the Python sources: the reason codes and their zh/en
messages are ``ecard.verify.MESSAGES``, the card statuses and fields ``ecard.token``'s labels, the rest of
the page's words the gettext strings below (app/web/scanner/translations/), so nothing is written twice.
"""
from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, send_from_directory
from flask_babel import force_locale, gettext

from app.i18n import N_
from app.web.policy import page
from ecard.token import APP_FIELD_LABELS, APP_FIELD_NAMES, STATUS_LABELS
from ecard.verify import MESSAGES

bp = Blueprint("scanner", __name__, url_prefix="/scanner")

STATIC = Path(__file__).resolve().parents[3] / "static"
FILES = {"scanner.js", "verify.js", "scanner.css", "manifest.webmanifest", "icon.svg"}
CACHED_VENDOR = ("zxing-wasm/zxing-reader.js", "zxing-wasm/zxing_reader.wasm", "noble-ed25519/ed25519.js")
# The page runs the QR decoder as WebAssembly ('wasm-unsafe-eval'), nothing inline, nothing from elsewhere.
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; "
       "media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")

UI = {
    "title": N_("E-card scanner"),
    "online": N_("Online"),
    "offline": N_("Offline"),
    "inputs": N_("Read a code"),
    "refresh_keys": N_("Update the key set"),
    "paste_label": N_("Scanned or pasted code (a handheld scanner types it here)"),
    "verify": N_("Verify"),
    "image_label": N_("Read an image…"),
    "camera_start": N_("Start the camera"),
    "camera_stop": N_("Stop the camera"),
    "camera_denied": N_("The camera cannot be used: allow it in the browser, or read an image instead."),
    "agency_field": N_("Locks that matter here"),
    "all_fields": N_("All fields"),
    "valid": N_("Valid"),
    "refused": N_("Refused"),
    "replay_warning": N_("Already used: refused"),
    "name": N_("Name"),
    "masked_id": N_("Social security number"),
    "status": N_("Card status"),
    "settlement": N_("Settlement"),
    "settlement_suspended": N_("Suspended (loss registered)"),
    "settlement_normal": N_("Not suspended"),
    "locked": N_("Locked fields"),
    "none": N_("None"),
    "seconds_left": N_("Time left"),
    "seconds": N_("{n} s"),
    "reason_code": N_("Reason code"),
    "keyset_none": N_("No key set yet."),
    "keyset_none_warning": N_("Open this page once with the network on, so that it can download the key set."),
    "keyset_age": N_("Key set fetched {age} ago"),
    "keyset_count": N_("{n} keys"),
    "keyset_old": N_("The key set is older than {age}: connect to the network and update it."),
    "age_seconds": N_("{n} seconds"),
    "age_minutes": N_("{n} minutes"),
    "age_hours": N_("{n} hours"),
    "age_days": N_("{n} days"),
}


@cache
def _version() -> str:
    """Hash of every file the service worker caches: a changed file installs a new cache."""
    digest = hashlib.sha256()
    for name in sorted(FILES | {"index.html"}):
        digest.update((STATIC / "scanner" / name).read_bytes())
    for name in CACHED_VENDOR:
        path = STATIC / "vendor" / name
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()[:16]


def _static(name: str, mimetype: str | None = None) -> Response:
    resp = send_from_directory(STATIC / "scanner", name, mimetype=mimetype, max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/")
@page(public=True)
def index():
    resp = _static("index.html", "text/html")
    resp.headers["Content-Security-Policy"] = CSP
    return resp


@bp.get("/sw.js")
@page(public=True)
def service_worker():
    text = (STATIC / "scanner" / "sw.js").read_text(encoding="utf-8").replace("__VERSION__", _version())
    return Response(text, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})


@bp.get("/messages.json")
@page(public=True)
def messages():
    """The page's words in both languages, and its settings (ECARD_SCANNER_* in app/config.py)."""
    out = {"fields": list(APP_FIELD_NAMES), "config": {
        "skew_seconds": current_app.config["ECARD_SCANNER_SKEW"],
        "keyset_max_age": current_app.config["ECARD_SCANNER_KEYSET_MAX_AGE"],
        "refresh_seconds": current_app.config["ECARD_SCANNER_REFRESH"]}}
    for index, (lang, locale) in enumerate((("zh", "zh_CN"), ("en", "en"))):
        with force_locale(locale):
            ui = {key: gettext(text) for key, text in UI.items()}
        out[lang] = {"reasons": {reason: words[index] for reason, words in MESSAGES.items()},
                     "statuses": {status.name.lower(): words[index] for status, words in STATUS_LABELS.items()},
                     "fields": {field.name.lower(): words[index] for field, words in APP_FIELD_LABELS.items()},
                     "ui": ui}
    resp = jsonify(out)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/<name>")
@page(public=True)
def asset(name: str):
    if name not in FILES:
        abort(404)
    mimetypes = {"manifest.webmanifest": "application/manifest+json", "verify.js": "text/javascript",
                 "scanner.js": "text/javascript"}
    return _static(name, mimetypes.get(name))
