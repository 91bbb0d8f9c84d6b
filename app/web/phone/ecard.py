"""The e-card page (Art. 35) and what makes the phone app installable and usable offline.

* ``/m/`` — the card face (name, masked social security number, the status in plain words, settlement
  suspended (Art. 21), locked application fields (Art. 6)) and the QR code, drawn **on the device** from
  the token string (``static/phone/ecard.js`` with npm ``qrcode-generator``: alphanumeric mode, level M,
  the smallest version, as ``ecard.qr`` makes it). No token for a cancelled card (Art. 26): the page
  says why and what to do.
* ``POST /m/ecard/tokens`` — the page session's twin of ``POST /api/ecard/tokens``: the same issuer and
  the same one query (``app.services.ecard.Issuer.issue``, with the session's id, so a signed-out
  device gets no token), the same answer plus ``server_time`` (the page corrects a phone clock that is
  off). The page asks for the whole batch (``ECARD_BATCH_HORIZON`` ahead) and keeps it in page memory
  and IndexedDB with each token's expiry — never in an HTTP or service-worker cache — so with the
  network cut it keeps showing a code that is still valid, and none once the batch has expired.
* ``/m/manifest.webmanifest`` and ``/m/sw.js`` (scope ``/m/``): the service worker caches the page's
  static files under a cache named after their content's hash (a new release gets a new cache, the old
  is deleted) and the e-card page itself network-first (used only when offline).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, g, render_template, request, url_for

from app.extensions import db
from app.i18n import N_, translate
from app.models.enums import CardStatus as S
from app.services import ecard
from app.web import labels
from app.web.phone import me, resident_page
from ecard.token import CardStatus as T

bp = Blueprint("ecard", __name__)

STATIC = Path(__file__).resolve().parents[3] / "static"

# The status in plain words (the back office's labels are the register's terms).
TOKEN_WORDS = {
    T.ACTIVE: N_("In use"), T.ISSUED: N_("Not yet activated"), T.LOSS_REGISTERED: N_("Reported lost"),
    T.REISSUE_PENDING: N_("Being reissued"), T.REPLACEMENT_PENDING: N_("Being replaced"),
    T.IN_PRODUCTION: N_("Being made"),
}
CARD_WORDS = {S.CANCELLED: N_("Cancelled"), S.INVALIDATED: N_("No longer valid"), S.REPLACED: N_("Replaced"),
              S.REJECTED: N_("Application rejected")}
# What each status means for the holder, one sentence.
TOKEN_HINTS = {
    T.ISSUED: N_("Activate the card with its PIN at a bank outlet or self-service machine of its bank."),
    T.LOSS_REGISTERED: N_("Your card is reported lost: the e-card still proves who you are, but payments from "
                          "your card's accounts are suspended."),
    T.REISSUE_PENDING: N_("A new card is being made; until you receive it, this e-card proves who you are."),
    T.REPLACEMENT_PENDING: N_("A new card is being made; until you receive it, this e-card proves who you are."),
    T.IN_PRODUCTION: N_("Your card is being made; until you receive it, this e-card proves who you are."),
}


def _issuer() -> ecard.Issuer:
    return current_app.extensions["ecard_issuer"]


def holder_key(sid: str) -> str:
    """An opaque name for this sign-in's codes in the device's IndexedDB (a new sign-in starts afresh)."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"phone-holder:" + sid.encode(), hashlib.sha256).hexdigest()[:24]


@bp.route("/")
@resident_page
def card():
    person = me()
    face = ecard.face(db.session, person.id)
    issuer = _issuer()
    return render_template(
        "phone/card.html", face=face, person=person, holder=holder_key(g.resident.sid),
        batch=max(1, issuer.horizon // issuer.lifetime), lifetime=issuer.lifetime,
        status_words=_status_words(face), status_hint=TOKEN_HINTS.get(face.token_status) if face else None,
        field_label=lambda f: labels.label(f))


def _status_words(face) -> str:
    if face is None or face.card_status is None:
        return N_("No card yet")
    if face.token_status is not None:
        return TOKEN_WORDS[face.token_status]
    if face.card_status.value in ("applied", "accepted", "in_production", "produced", "in_transit"):
        return N_("Being made")
    return CARD_WORDS.get(face.card_status, N_("No longer valid"))


@bp.route("/ecard/tokens", methods=["POST"])
@resident_page(json=True)
def tokens():
    """The holder's tokens for this sign-in: the first valid now, the next ones each from the previous
    one's expiry (``count``, at most the batch horizon). 409 with the article when no token is issued."""
    issuer = _issuer()
    body = request.get_json(silent=True) or {}
    most = max(1, issuer.horizon // issuer.lifetime)
    try:
        count = min(max(int(body.get("count", most)), 1), most)
    except (TypeError, ValueError):
        count = most
    issued = issuer.issue(db.session, g.resident.person_id, count=count, sid=g.resident.sid)
    db.session.commit()  # the session check may have moved the idle clock; nothing else is written
    first = issued[0]
    out = {"token": first.token, "issued_at": first.issued_at, "expires_at": first.expires_at,
           "refresh_after": first.refresh_after, "server_time": round(time.time(), 3),
           "batch": [{"token": t.token, "issued_at": t.issued_at, "expires_at": t.expires_at} for t in issued]}
    return current_app.json.response(out)


# ---------------------------------------------------------------- installable, offline


@bp.route("/manifest.webmanifest")
@resident_page(public=True)
def manifest():
    start = url_for("phone.ecard.card")
    body = {
        "name": translate(N_("Guangzhou Social Security Card")), "short_name": translate(N_("Guangzhou SSC")),
        "description": translate(N_("Your electronic social security card and services, on your phone.")),
        "lang": "zh-CN" if str(request.accept_languages.best_match(("zh-CN", "en")) or "zh-CN").startswith("zh")
        else "en",
        "start_url": start, "scope": start, "id": start, "display": "standalone", "orientation": "portrait",
        "background_color": "#f3f6fa", "theme_color": "#0b4f9c",
        "icons": [{"src": url_for("static", filename=f"phone/icon-{n}.png"), "sizes": f"{n}x{n}",
                   "type": "image/png", "purpose": "any maskable"} for n in (192, 512)],
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json",
                    headers={"Cache-Control": "no-cache"})


# The page's static files, cached by the service worker (paths under static/).
SHELL = ("phone/phone.css", "phone/phone.js", "phone/ecard.js", "vendor/qrcode-generator/qrcode.js",
         "phone/icon-192.png")


@cache
def _shell_version(static: Path) -> str:
    """A hash of the service worker and every file it caches: any change makes a new cache."""
    h = hashlib.sha256()
    for rel in ("phone/sw.js", *SHELL):
        path = static / rel
        h.update(rel.encode() + b"\0" + (path.read_bytes() if path.exists() else b"missing") + b"\0")
    return h.hexdigest()[:16]


@bp.route("/sw.js")
@resident_page(public=True)
def service_worker():
    static = Path(current_app.static_folder)
    version = _shell_version(static) if not current_app.debug else _shell_version.__wrapped__(static)
    assets = [url_for("static", filename=rel) for rel in SHELL]
    text = (static / "phone" / "sw.js").read_text(encoding="utf-8")
    text = text.replace('"__VERSION__"', json.dumps(version)).replace('["__ASSETS__"]', json.dumps(assets))
    text = text.replace('"__PAGE__"', json.dumps(url_for("phone.ecard.card")))
    return Response(text, mimetype="text/javascript", headers={"Cache-Control": "no-cache"})

