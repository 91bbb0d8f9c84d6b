"""Rate limits (Art. 19: protect the card and PIN; no brute force of sign-in codes): staff login,
OTP request, OTP login and the PIN endpoints (activation, change, reset), per client address and per
document / per card. Exceeding one gives 429 problem+json; on the phone's PIN change page (the same
limits, one count with the API) a 429 page in the holder's language.

The suite's shared app runs with RATELIMIT_ENABLED False; these tests build their own app with the
limiter on (storage: RATELIMIT_STORAGE_URI, memory by default; CI points it at Redis). Flask-Limiter's
``limiter`` and the privacy cipher are process-wide, so the fixture puts their state back afterwards.
"""
from __future__ import annotations

import os
import re

import pytest
from argon2 import PasswordHasher

from app.models.enums import CardStatus
from tests.factories import PIN, World, citizen_id, snapshot
from tests.selfservice.conftest import bearer, doc_of, problem
from tests.web.conftest import csrf_from, page_html
from tests.web.phone.conftest import phone_login_with


# A wrong PIN. Not 000001: the log guard takes every PIN sent to the API as a secret, and the first
# complaint of a later test in the same worker is TS-2026-000001 in the SQL log.
WRONG_PIN = "907531"


def _storage_uri() -> str:
    """RATELIMIT_STORAGE_URI, with a Redis database of its own per xdist worker: a limiter.reset() or a
    card id counted in one worker must not touch another worker's counts (gw0 -> db N, gw1 -> N-1, ...)."""
    uri = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    match = re.fullmatch(r"(redis://[^/]+)/(\d+)", uri)
    if match and worker.startswith("gw"):
        uri = f"{match[1]}/{int(match[2]) - int(worker[2:])}"
    return uri


@pytest.fixture
def limited_app(tmp_path):
    """``limited_app(**config)`` → (app, session, world) with rate limiting ON."""
    from app import create_app
    from app.extensions import db, limiter
    from app.privacy import runtime, types
    from app.services import hashing

    saved_limiter, saved_cipher, saved_indexer = dict(limiter.__dict__), types._cipher, runtime._indexer
    hashing.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    contexts = []

    def _make(**config):
        app = create_app({
            "TESTING": True, "INSTANCE_DIR": tmp_path, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'rl.sqlite3'}",
            "PRIVACY_KEY_FILE": tmp_path / "privacy-keys.json", "ECARD_KEY_DIR": tmp_path / "ecard-keys",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": _storage_uri(), **config,
        })
        ctx = app.app_context()
        ctx.push()
        contexts.append(ctx)
        db.create_all()
        limiter.reset()
        world = World.build(db.session)
        db.session.commit()
        return app, db.session, world

    yield _make
    for ctx in reversed(contexts):
        limiter.reset()
        db.session.remove()
        db.engine.dispose()
        ctx.pop()
    limiter.__dict__.clear()
    limiter.__dict__.update(saved_limiter)
    types.set_cipher(saved_cipher)
    runtime._indexer = saved_indexer


def _from(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def _too_many(resp) -> dict:
    body = problem(resp, 429)
    assert body["type"].endswith("too-many-requests")
    return body


def _login(client, name: str, password: str, ip: str):
    return client.post("/api/auth/login", json={"username": name, "password": password}, **_from(ip))


def test_staff_login_limited_per_account_from_any_address_art16(limited_app):
    """Guessing one account's password from many addresses: the account's own limit stops it."""
    app, _, _ = limited_app()
    client = app.test_client()
    for i in range(5):
        assert _login(client, "clerk", "wrong-pw-123", f"10.0.1.{i}").status_code == 401
    _too_many(_login(client, "clerk", "clerk-pw", "10.0.1.99"))
    # another account, from an address that tried before, is not affected
    assert _login(client, "teller", "teller-pw", "10.0.1.0").status_code == 200


def test_staff_login_address_limit_lets_a_branch_behind_one_nat_sign_in_art16(limited_app):
    """A branch's tellers all sign in at opening time through one address: twice each for every
    account of the world (16 logins, more than the old limit of 10 per address) all get through;
    the per-address limit still exists (next test)."""
    app, _, world = limited_app()
    client = app.test_client()
    for _ in range(2):
        for name in world.staff:
            assert _login(client, name, f"{name}-pw", "10.0.2.1").status_code == 200, name


def test_staff_login_still_limited_per_address_art16(limited_app):
    app, _, world = limited_app(RATELIMIT_LOGIN="8/minute")  # SSC_RATELIMIT_LOGIN
    client = app.test_client()
    for name in list(world.staff)[:8]:
        assert _login(client, name, "wrong-pw-123", "10.0.2.1").status_code == 401
    _too_many(_login(client, "clerk", "clerk-pw", "10.0.2.1"))
    assert _login(client, "clerk", "clerk-pw", "10.0.2.2").status_code == 200


def test_rate_limits_count_in_redis_when_the_setting_says_so(limited_app):
    """``RATELIMIT_STORAGE_URI=redis://…`` (make run, gunicorn): every worker counts in one store."""
    import redis

    from app.extensions import limiter

    url = os.environ.get("SSC_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
    app, _, _ = limited_app(RATELIMIT_STORAGE_URI=url)
    assert type(limiter._storage).__name__.lower().startswith("redis")
    r = redis.Redis.from_url(url)
    before = len(r.keys("LIMITS*"))
    assert _login(app.test_client(), "clerk", "clerk-pw", "10.0.3.1").status_code == 200
    assert len(r.keys("LIMITS*")) > before


def test_memory_storage_warns_that_limits_are_per_process(limited_app, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="app"):
        limited_app(RATELIMIT_STORAGE_URI="memory://", TESTING=False)
    assert any("per process" in r.getMessage() for r in caplog.records)

def test_otp_request_limited_per_address(limited_app):
    app, _, _ = limited_app()
    client = app.test_client()
    for i in range(5):
        doc = {"doc_type": "resident_id", "doc_number": citizen_id(seq=100 + i)}
        assert client.post("/api/auth/resident/otp", json=doc, **_from("10.0.1.1")).status_code == 202
    _too_many(client.post("/api/auth/resident/otp",
                          json={"doc_type": "resident_id", "doc_number": citizen_id(seq=200)}, **_from("10.0.1.1")))


def test_otp_request_limited_per_document(limited_app):
    app, _, world = limited_app()
    person = world.person()
    world.session.commit()
    client = app.test_client()
    for i in range(5):
        assert client.post("/api/auth/resident/otp", json=doc_of(person), **_from(f"10.0.2.{i}")).status_code == 202
    _too_many(client.post("/api/auth/resident/otp", json=doc_of(person), **_from("10.0.2.99")))
    # spacing and case do not make a "new" document
    spaced = {**doc_of(person), "doc_number": " ".join(person.doc_number).lower()}
    _too_many(client.post("/api/auth/resident/otp", json=spaced, **_from("10.0.2.98")))
    full_width = {**doc_of(person), "doc_number": "".join(chr(ord(c) + 0xFEE0) for c in person.doc_number)}
    _too_many(client.post("/api/auth/resident/otp", json=full_width, **_from("10.0.2.97")))


def test_otp_login_limited_per_document_and_per_address(limited_app):
    app, _, world = limited_app()
    person = world.person()
    world.session.commit()
    client = app.test_client()
    for i in range(5):
        resp = client.post("/api/auth/resident/login", json={**doc_of(person), "code": "000001"},
                           **_from(f"10.0.3.{i}"))
        assert resp.status_code == 401
    _too_many(client.post("/api/auth/resident/login", json={**doc_of(person), "code": "000001"},
                          **_from("10.0.3.99")))
    for i in range(5):
        doc = {"doc_type": "resident_id", "doc_number": citizen_id(seq=300 + i)}
        assert client.post("/api/auth/resident/login", json={**doc, "code": "000001"},
                           **_from("10.0.4.1")).status_code == 401
    _too_many(client.post("/api/auth/resident/login",
                          json={"doc_type": "resident_id", "doc_number": citizen_id(seq=399), "code": "000001"},
                          **_from("10.0.4.1")))


def _teller(client, ip: str) -> dict:
    resp = client.post("/api/auth/login", json={"username": "teller", "password": "teller-pw"}, **_from(ip))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return bearer(resp.get_json()["access_token"])


def _etag(client, headers, card_id, ip):
    return client.get(f"/api/cards/{card_id}", headers=headers, **_from(ip)).headers["ETag"]


@pytest.mark.parametrize("suffix,body,state", [
    ("pin-change", {"old_pin": WRONG_PIN, "new_pin": "246810"}, CardStatus.ACTIVE),
    ("pin-reset", {"new_pin": "246810"}, CardStatus.ACTIVE),  # refused without the ID check, still counted
    ("activation", {"pin": "111111"}, CardStatus.ISSUED),  # refused as too easy, still counted
])
def test_pin_endpoints_limited_per_card(limited_app, suffix, body, state):
    app, _, world = limited_app()
    card = world.card(state)
    world.session.commit()
    client = app.test_client()
    for i in range(5):
        ip = f"10.0.5.{i}"
        headers = _teller(client, ip)
        resp = client.post(f"/api/cards/{card.id}/{suffix}", json=body,
                           headers={**headers, "If-Match": _etag(client, headers, card.id, ip)}, **_from(ip))
        assert resp.status_code in (403, 422, 423), resp.get_data(as_text=True)
    headers = _teller(client, "10.0.5.99")
    _too_many(client.post(f"/api/cards/{card.id}/{suffix}", json=body,
                          headers={**headers, "If-Match": _etag(client, headers, card.id, "10.0.5.99")},
                          **_from("10.0.5.99")))


def test_pin_endpoints_limited_per_address(limited_app):
    app, _, world = limited_app(RATELIMIT_PIN="4/minute")
    cards = [world.card(CardStatus.ACTIVE) for _ in range(3)]
    world.session.commit()
    client = app.test_client()
    headers = _teller(client, "10.0.6.1")
    statuses = []
    for card in cards:
        for _ in range(2):
            statuses.append(client.post(f"/api/cards/{card.id}/pin-change",
                                        json={"old_pin": WRONG_PIN, "new_pin": "246810"},
                                        headers={**headers, "If-Match": _etag(client, headers, card.id, "10.0.6.1")},
                                        **_from("10.0.6.1")).status_code)
    assert statuses[:4] == [403] * 4 and statuses[4:] == [429, 429]


def test_pin_limits_count_only_authenticated_calls(limited_app):
    """An anonymous flood cannot use up a holder's per-card allowance (the limit sits behind the policy)."""
    app, _, world = limited_app()
    card = world.card(CardStatus.ACTIVE)
    world.session.commit()
    client = app.test_client()
    for i in range(8):
        problem(client.post(f"/api/cards/{card.id}/pin-change", json={"old_pin": WRONG_PIN, "new_pin": "246810"},
                            **_from(f"10.0.7.{i}")), 401)
    headers = _teller(client, "10.0.7.50")
    resp = client.post(f"/api/cards/{card.id}/pin-change", json={"old_pin": "135790", "new_pin": "246810"},
                       headers={**headers, "If-Match": _etag(client, headers, card.id, "10.0.7.50")},
                       **_from("10.0.7.50"))
    assert resp.status_code == 200, resp.get_data(as_text=True)


# ---------------------------------------------------------------- the phone's PIN change page (Art. 19)
# The same two limits as the API's PIN change, and one count with it: per address, and per card (the
# signed-in holder's card; the page has no card id in its URL). A refused try is a page in the holder's
# language (429), and it changes nothing: no PIN is checked, so no failure is counted on the card.

PIN_PAGE = "/m/self/pin"


def _phone_client(app, session, person, ip: str):
    """A test client of its own (its own cookies) signed in as ``person`` through the phone's pages."""
    client = app.test_client()
    phone_login_with(client, session, person, **_from(ip))
    return client


def _pin_form(client, session, card, ip: str, old: str, new: str = "246802", again: str | None = None,
              lang: str = "en"):
    """POST the PIN change form as the page sends it (CSRF token and card version read from the page)."""
    from app.models import Card

    headers = {"Accept-Language": lang}
    token = csrf_from(page_html(client.get(PIN_PAGE, headers=headers, **_from(ip))))
    session.expire_all()
    version = session.get(Card, card.id).version
    return client.post(PIN_PAGE, data={"csrf_token": token, "version": version, "old_pin": old, "new_pin": new,
                                       "new_pin_again": new if again is None else again},
                       headers=headers, **_from(ip))


def _failures(session, card) -> int:
    from app.models import Card

    session.expire_all()
    return session.get(Card, card.id).pin_failures


def _too_many_page(resp, *texts: str) -> str:
    """429 as a page of the phone app (not problem+json, no stack trace) saying so in the holder's language."""
    html = page_html(resp, 429)
    assert int(resp.headers["Retry-After"]) > 0
    for text in texts:
        assert text in html, html[:2000]
    return html


def test_pin_change_page_is_rate_limited_per_card_art19(limited_app):
    """Five tries at one card's PIN from five addresses, then the sixth from a new address is refused."""
    app, session, world = limited_app()
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    client = _phone_client(app, session, card.person, "10.0.8.1")
    for i in range(4):  # the two new PINs differ: refused before any PIN is checked, still a try
        assert _pin_form(client, session, card, f"10.0.8.{10 + i}", WRONG_PIN, again="246803").status_code == 422
    assert _pin_form(client, session, card, "10.0.8.20", WRONG_PIN).status_code == 403  # a wrong PIN
    assert _failures(session, card) == 1
    before = snapshot(session, [card.person_id])
    html = _too_many_page(_pin_form(client, session, card, "10.0.8.21", WRONG_PIN),
                          "Too many tries", "Wait a minute and try again.")
    assert '<html lang="en"' in html
    html = _too_many_page(_pin_form(client, session, card, "10.0.8.22", WRONG_PIN, lang="zh-CN"),
                          "尝试次数过多", "请稍等一分钟后重试。")
    assert '<html lang="zh' in html
    assert _failures(session, card) == 1 and snapshot(session, [card.person_id]) == before  # nothing changed
    # the page itself still opens (only the POST is limited), and another holder's card is not affected
    assert client.get(PIN_PAGE, **_from("10.0.8.21")).status_code == 200
    other = world.card(CardStatus.ACTIVE)
    session.commit()
    other_client = _phone_client(app, session, other.person, "10.0.8.2")
    assert _pin_form(other_client, session, other, "10.0.8.21", PIN).status_code == 302


def test_pin_change_page_is_rate_limited_per_address_art19(limited_app):
    """Three holders' cards tried from one address: the address's limit stops the fifth try, whatever card."""
    app, session, world = limited_app(RATELIMIT_PIN="4/minute")  # SSC_RATELIMIT_PIN
    cards = [world.card(CardStatus.ACTIVE) for _ in range(3)]
    session.commit()
    clients = [_phone_client(app, session, card.person, f"10.0.9.{i}") for i, card in enumerate(cards)]
    statuses = [_pin_form(client, session, card, "10.0.9.50", WRONG_PIN).status_code
                for client, card in zip(clients, cards) for _ in range(2)]
    assert statuses[:4] == [403] * 4 and statuses[4:] == [429, 429]
    assert [_failures(session, card) for card in cards] == [2, 2, 0]  # the refused tries checked no PIN
    _too_many_page(_pin_form(clients[2], session, cards[2], "10.0.9.50", WRONG_PIN, lang="zh-CN"), "尝试次数过多")
    # from another address the same holder goes on
    assert _pin_form(clients[2], session, cards[2], "10.0.9.51", PIN).status_code == 302


def test_pin_change_page_and_api_count_the_same_tries_art19(limited_app):
    """The page and ``POST /api/cards/{id}/pin-change`` share one count per card (as the sign-in page and
    the API do): trying a card's PIN on both channels does not double the tries."""
    app, session, world = limited_app()
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    api = app.test_client()
    for i in range(3):  # a new PIN that is not six digits: refused as input, still a try
        ip = f"10.0.10.{i}"
        headers = _teller(api, ip)
        resp = api.post(f"/api/cards/{card.id}/pin-change", json={"old_pin": WRONG_PIN, "new_pin": "1"},
                        headers={**headers, "If-Match": _etag(api, headers, card.id, ip)}, **_from(ip))
        assert resp.status_code == 422, resp.get_data(as_text=True)
    client = _phone_client(app, session, card.person, "10.0.10.20")
    for i in range(2):
        assert _pin_form(client, session, card, f"10.0.10.{30 + i}", WRONG_PIN, again="246803").status_code == 422
    _too_many_page(_pin_form(client, session, card, "10.0.10.40", PIN), "Too many tries")
    headers = _teller(api, "10.0.10.41")
    _too_many(api.post(f"/api/cards/{card.id}/pin-change", json={"old_pin": PIN, "new_pin": "246802"},
                       headers={**headers, "If-Match": _etag(api, headers, card.id, "10.0.10.41")},
                       **_from("10.0.10.41")))
    assert _failures(session, card) == 0


def test_pin_change_page_limits_count_only_signed_in_posts_art19(limited_app):
    """A stranger's POSTs (no sign-in, no CSRF token) are refused before the limit and use none of it."""
    app, session, world = limited_app()
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    stranger = app.test_client()
    for i in range(8):
        assert stranger.post(PIN_PAGE, data={"old_pin": WRONG_PIN, "new_pin": "246802", "new_pin_again": "246802"},
                             **_from(f"10.0.11.{i}")).status_code in (400, 401)
    client = _phone_client(app, session, card.person, "10.0.11.50")
    assert _pin_form(client, session, card, "10.0.11.50", PIN).status_code == 302
