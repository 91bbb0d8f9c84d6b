"""API test helpers: real logins, resident tokens, ETags, problem+json and "nothing written" checks.

Staff tokens come from the REAL ``POST /api/auth/login``. There is no resident login endpoint yet,
so a resident token is made the way the app would make one (``tokens.resident_claims``).

Note: ``tests/conftest.py``'s ``db`` fixture keeps an app context pushed, so the test client's
requests share the test's ``db.session``. Whatever must be proven *committed* is therefore read
through a separate connection (:func:`committed_scalar`).
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

PROBLEM_JSON = "application/problem+json"

# Tables an API call could write to; compared before and after a refused call.
WATCHED_TABLES = ("persons", "cards", "card_events", "card_applications", "settlement_accounts",
                  "workday_schedules", "field_statuses")


def assert_problem(resp, status: int, *, article: str | None = None) -> dict:
    """An RFC 9457 answer with the given status; returns the body."""
    text_ = resp.get_data(as_text=True)
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {text_[:600]}"
    assert resp.mimetype == PROBLEM_JSON, f"{resp.mimetype}: {text_[:300]}"
    body = resp.get_json()
    for key in ("type", "title", "status"):
        assert key in body, f"problem without {key!r}: {body}"
    assert body["status"] == status, body
    assert "Traceback" not in text_
    if article is not None:
        assert body.get("article") == article, body
    return body


# The append-only audit trail records reads of personal data (Art. 16), so a GET between two
# snapshots legitimately adds to it; it is left out of the "nothing written" comparison.
AUDIT_TABLES = frozenset({"audit_log", "audit_head"})
# Signing in between two snapshots (a fixture logging a role in) opens a session: also left out.
SIGN_IN_TABLES = frozenset({"auth_sessions"})


def row_counts(db) -> dict[str, int]:
    """Row count of every watched table (and every other mapped table but the audit trail), read
    through a fresh connection: only committed rows count."""
    names = (set(WATCHED_TABLES) | {t.name for t in db.metadata.sorted_tables}) - AUDIT_TABLES - SIGN_IN_TABLES
    with db.engine.connect() as c:
        return {n: c.execute(text(f'SELECT COUNT(*) FROM "{n}"')).scalar_one() for n in sorted(names)}


def card_rows(db) -> list[tuple]:
    """Every card's mutable state, committed."""
    from app.models import Card

    with db.engine.connect() as c:
        return [tuple(r) for r in c.execute(
            select(Card.id, Card.status, Card.version, Card.pin_failures, Card.ended_at).order_by(Card.id))]


def committed_scalar(db, stmt):
    with db.engine.connect() as c:
        return c.execute(stmt).scalar_one()


def count(db, model) -> int:
    return committed_scalar(db, select(func.count()).select_from(model))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def login(client):
    """``login(username, password)`` → the JSON answer of the real login endpoint (asserted 200)."""

    def _login(username: str, password: str) -> dict:
        resp = client.post("/api/auth/login", json={"username": username, "password": password})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    return _login


@pytest.fixture
def auth(client, login):
    """``auth(world, name)`` → Authorization headers for a World staff user, through the real login.
    The world is committed first (the API works in its own transaction)."""
    cache: dict[str, dict] = {}

    def _auth(world, name: str) -> dict:
        world.session.commit()
        if name not in cache:
            cache[name] = bearer(login(name, f"{name}-pw")["access_token"])
        return cache[name]

    return _auth


@pytest.fixture
def resident_auth(db):
    """``resident_auth(person_id)`` → Authorization headers of a resident acting for themselves
    (a real sign-in session, as ``POST /api/auth/resident/login`` opens)."""
    from app.auth.tokens import resident_claims
    from tests.tokens import mint

    def _resident(person_id: int) -> dict:
        return bearer(mint(f"resident:{person_id}", resident_claims(person_id)))

    return _resident


@pytest.fixture
def role_token(db):
    """``role_token(role, refresh=False)`` → headers with a token carrying just ``role`` (for roles
    nobody can log in as, e.g. SYSTEM, and for policy walks), in a session of its own."""
    from tests.tokens import mint

    def _token(role: str, *, refresh: bool = False) -> dict:
        return bearer(mint(f"test:{role}", {"role": str(role)}, refresh=refresh))

    return _token


@pytest.fixture
def etag():
    """``etag(client, headers, card_id)`` → the card's current ETag, from GET /api/cards/{id}."""

    def _etag(client, headers: dict, card_id: int) -> str:
        resp = client.get(f"/api/cards/{card_id}", headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert resp.headers.get("ETag"), "GET /api/cards/{id} must send an ETag"
        return resp.headers["ETag"]

    return _etag
