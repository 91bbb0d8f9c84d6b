"""The e-card page's server side (Art. 21, 26, 35), on SQLite and PostgreSQL: the page session's token
endpoint issues through the API's issuer (same one query, same rules), for this sign-in only; the card
face; the manifest and the service worker (versioned cache, never the tokens)."""
from __future__ import annotations

import re

from app.models import Person
from app.models.enums import CancellationReason, CardStatus, Field
from app.services import lifecycle
from ecard.token import CardStatus as T
from ecard.verify import Verifier
from tests.web.conftest import csrf_from, page_html

TOKENS = "/m/ecard/tokens"


def _signed_in(world, phone_login, state=CardStatus.ACTIVE):
    card = world.card(state)
    world.session.commit()
    person = world.session.get(Person, card.person_id)
    phone_login(person)
    return person, card


def _fetch(client, csrf, body=None):
    return client.post(TOKENS, json=body or {}, headers={"X-CSRFToken": csrf, "Accept": "application/json"})


def test_the_page_gets_the_batch_of_upcoming_tokens_art35(app, client, world, phone_login):
    person, card = _signed_in(world, phone_login)
    html = page_html(client.get("/m/"))
    resp = _fetch(client, csrf_from(html))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    issuer = app.extensions["ecard_issuer"]
    assert len(body["batch"]) == issuer.horizon // issuer.lifetime == 10
    assert body["token"] == body["batch"][0]["token"] and body["refresh_after"] == body["expires_at"] - 15
    assert abs(body["server_time"] - body["issued_at"]) < 2
    for a, b in zip(body["batch"], body["batch"][1:]):
        assert b["issued_at"] == a["expires_at"]  # consecutive: no gap, no overlap
    jwks = client.get("/.well-known/jwks.json").get_json()
    result = Verifier(jwks).verify(body["token"])
    assert result.ok and result.claims.name == person.name and result.claims.status is T.ACTIVE
    assert _fetch(client, csrf_from(html), {"count": 99}).get_json()["batch"].__len__() == 10


def test_a_signed_out_device_gets_no_token_art19(app, client, world, phone_login):
    _signed_in(world, phone_login)
    html = page_html(client.get("/m/"))
    with client.session_transaction() as s:
        sid = s["m_sid"]
    from app.services import sessions

    sessions.end(world.session, sid, "signed_out_elsewhere")
    world.session.commit()
    resp = _fetch(client, csrf_from(html))
    assert resp.status_code == 401 and resp.mimetype == "application/problem+json"


def test_no_token_for_a_cancelled_card_art26(app, client, world, phone_login):
    person, _ = _signed_in(world, phone_login)
    html = page_html(client.get("/m/"))
    lifecycle.cancel(world.session, world.teller, person.id, reason=CancellationReason.HOLDER_REQUEST)
    world.session.commit()
    resp = _fetch(client, csrf_from(html))
    assert resp.status_code == 409 and resp.get_json()["article"] == "Art. 26"
    page = page_html(client.get("/m/", headers={"Accept-Language": "en"}))
    assert 'data-shows-code="0"' in page and "data-no-token=\"Art. 26\"" in page and 'id="qr"' not in page
    assert "Cancelled" in page


def test_no_token_before_the_card_is_received_art35(client, world, phone_login):
    _signed_in(world, phone_login, CardStatus.IN_PRODUCTION)
    page = page_html(client.get("/m/", headers={"Accept-Language": "en"}))
    assert 'data-no-token="Art. 35"' in page and "Being made" in page


def test_card_face_says_settlement_suspended_and_locked_fields_art21(client, world, phone_login):
    person, card = _signed_in(world, phone_login)
    lifecycle.set_field_lock(world.session, world.teller, card.id, field=Field.TRANSPORT, locked=True, reason="holder")
    lifecycle.register_loss(world.session, world.teller, card.id, id_verified=True)
    world.session.commit()
    page = page_html(client.get("/m/", headers={"Accept-Language": "en"}))
    assert "Reported lost" in page and "Payments suspended" in page
    assert person.doc_number not in page and person.ssn not in page  # masked (Art. 16)
    assert re.search(r"\d{6}\*{8}\d{3}[\dX]", page)
    assert "Locked application fields" in page and "Transport" in page


def test_the_holder_sees_only_their_own_card(client, world, phone_login):
    from app.privacy import mask_id_number

    person, _ = _signed_in(world, phone_login)
    other = world.card(CardStatus.ACTIVE)
    world.session.commit()
    stranger = world.session.get(Person, other.person_id)
    page = page_html(client.get("/m/"))
    assert mask_id_number(person.ssn) in page and mask_id_number(stranger.ssn) not in page


def test_manifest_and_service_worker_are_our_own(client, world):
    m = client.get("/m/manifest.webmanifest")
    assert m.status_code == 200 and m.mimetype == "application/manifest+json"
    body = m.get_json(force=True)
    assert body["start_url"] == body["scope"] == "/m/" and body["display"] == "standalone"
    assert all(i["src"].startswith("/static/phone/") for i in body["icons"])
    assert {i["sizes"] for i in body["icons"]} == {"192x192", "512x512"}
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    sw = client.get("/m/sw.js")
    assert sw.status_code == 200 and sw.mimetype == "text/javascript" and sw.headers["Cache-Control"] == "no-cache"
    text = sw.get_data(as_text=True)
    version = re.search(r'var VERSION = "([0-9a-f]{16})"', text)
    assert version, text[:300]
    assets = re.search(r"var ASSETS = (\[.*?\]);", text).group(1)
    assert "/static/vendor/qrcode-generator/qrcode.js" in assets and "tokens" not in assets
    for url in re.findall(r'"(/static/[^"]+)"', assets):
        assert client.get(url).status_code == 200, url
    assert 'var PAGE = "/m/"' in text
    assert 'req.method !== "GET"' in text  # the token POSTs never reach a cache


def test_the_service_workers_version_follows_its_files(app, tmp_path):
    from app.web.phone.ecard import SHELL, _shell_version

    static = tmp_path / "static"
    for rel in ("phone/sw.js", *SHELL):
        (static / rel).parent.mkdir(parents=True, exist_ok=True)
        (static / rel).write_bytes(b"one")
    before = _shell_version.__wrapped__(static)
    (static / "phone" / "ecard.js").write_bytes(b"two")
    assert _shell_version.__wrapped__(static) != before
