"""E-card API helpers: resident and staff tokens, the published key set, token checks (Art. 35).

The ``db`` fixture keeps an app context pushed, so the test client's requests share the test's
session; whatever a test builds with ``world`` is committed before the API is called (a refused
issuance rolls the session back).
"""
from __future__ import annotations

import pytest

from ecard.verify import Verifier

PROBLEM_JSON = "application/problem+json"
TOKENS = "/api/ecard/tokens"
JWKS = "/.well-known/jwks.json"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(resp, status: int, *, article: str | None = None) -> dict:
    """An RFC 9457 answer with this status (and article); returns the body."""
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {text[:500]}"
    assert resp.mimetype == PROBLEM_JSON, f"{resp.mimetype}: {text[:300]}"
    body = resp.get_json()
    assert body["status"] == status and body["type"] and body["title"], body
    assert "Traceback" not in text
    if article is not None:
        assert body.get("article") == article, body
    return body


def published_jwks(client) -> dict:
    """The key set exactly as a verifier downloads it: the JSON of GET /.well-known/jwks.json."""
    resp = client.get(JWKS)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def verifier(client, **kwargs) -> Verifier:
    """A Verifier built ONLY from the published key set (as an agency's scanner would)."""
    return Verifier(published_jwks(client), **kwargs)


@pytest.fixture
def resident(app):
    """``resident(person_id)`` → Authorization headers of that resident (as the app makes them)."""
    from app.auth.tokens import resident_claims
    from tests.tokens import mint

    def _resident(person_id: int) -> dict:
        return bearer(mint(f"resident:{person_id}", resident_claims(person_id)))

    return _resident


@pytest.fixture
def staff(client):
    """``staff(world, name)`` → Authorization headers of a World staff user, through the real login."""

    def _staff(world, name: str) -> dict:
        world.session.commit()
        resp = client.post("/api/auth/login", json={"username": name, "password": f"{name}-pw"})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return bearer(resp.get_json()["access_token"])

    return _staff


@pytest.fixture
def issue(client, world, resident):
    """``issue(person_id, count=1)`` → the response of POST /api/ecard/tokens for that resident
    (the world committed first)."""

    def _issue(person_id: int, count: int | None = None, headers: dict | None = None):
        world.session.commit()
        body = {} if count is None else {"count": count}
        return client.post(TOKENS, json=body, headers=headers or resident(person_id))

    return _issue


@pytest.fixture
def issuer(app):
    return app.extensions["ecard_issuer"]
