"""Self-service test helpers: real staff logins, real resident sign-in through the OTP endpoints
(the code is read from the development SMS outbox, as the demo operator does), problem checks."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.log_guard import add_secret

PROBLEM_JSON = "application/problem+json"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def problem(resp, status: int) -> dict:
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {text[:500]}"
    assert resp.mimetype == PROBLEM_JSON, text[:300]
    body = resp.get_json()
    assert body["status"] == status and body["type"] and body["title"], body
    assert "Traceback" not in text
    return body


def doc_of(person) -> dict:
    return {"doc_type": person.doc_type, "doc_number": person.doc_number}


def last_code(session) -> str | None:
    """The code in the newest message of the development gateway's outbox (registered with the log guard)."""
    from app.models import SmsMessage

    session.expire_all()
    msg = session.scalars(select(SmsMessage).order_by(SmsMessage.id.desc()).limit(1)).first()
    if msg is None:
        return None
    code = re.search(r"[0-9]{6}", msg.body)[0]
    add_secret(code)
    return code


@pytest.fixture
def staff(client):
    """``staff(world, name)`` → Authorization headers from the real staff login (world committed first)."""
    cache: dict[str, dict] = {}

    def _staff(world, name: str) -> dict:
        world.session.commit()
        if name not in cache:
            resp = client.post("/api/auth/login", json={"username": name, "password": f"{name}-pw"})
            assert resp.status_code == 200, resp.get_data(as_text=True)
            cache[name] = bearer(resp.get_json()["access_token"])
        return cache[name]

    return _staff


@pytest.fixture
def sign_in(client, session):
    """``sign_in(person)`` → the token answer of a real OTP sign-in (request code, read it, log in)."""

    def _sign_in(person) -> dict:
        session.commit()
        resp = client.post("/api/auth/resident/otp", json=doc_of(person))
        assert resp.status_code == 202, resp.get_data(as_text=True)
        code = last_code(session)
        resp = client.post("/api/auth/resident/login", json={**doc_of(person), "code": code})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    return _sign_in


@pytest.fixture
def resident(sign_in):
    """``resident(person)`` → Authorization headers of the signed-in cardholder."""
    return lambda person: bearer(sign_in(person)["access_token"])
