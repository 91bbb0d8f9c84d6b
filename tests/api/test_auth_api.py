"""Staff login, refresh, logout (server-side revocation) and the tokens the API refuses (Art. 16, 19)."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt as pyjwt
from flask_jwt_extended import create_access_token, decode_token

from app.models import RevokedToken
from tests.api.conftest import assert_problem, bearer, count

PROBE = "/api/cards/"  # any guarded GET a bank teller may call


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_login_gives_working_tokens(client, world, login):
    world.session.commit()
    answer = login("teller", "teller-pw")
    assert answer["token_type"] == "Bearer"
    assert answer["access_token"] and answer["refresh_token"]
    assert "password" not in answer
    claims = decode_token(answer["access_token"])
    teller = world.staff["teller"]
    assert claims["type"] == "access"
    assert claims["role"] == "bank_teller" and claims["uid"] == teller.id
    assert claims["bank"] == teller.bank_id and claims["outlet"] == teller.outlet_id
    assert decode_token(answer["refresh_token"])["type"] == "refresh"
    assert client.get(PROBE, headers=bearer(answer["access_token"])).status_code == 200


def test_login_with_wrong_password_is_401(client, world):
    world.session.commit()
    body = assert_problem(client.post("/api/auth/login", json={"username": "teller", "password": "nope"}), 401)
    assert "access_token" not in body
    # An unknown user gets the very same answer (no user enumeration).
    other = assert_problem(client.post("/api/auth/login", json={"username": "ghost", "password": "nope"}), 401)
    assert (other["type"], other["title"], other.get("detail")) == (body["type"], body["title"], body.get("detail"))


def test_login_of_a_disabled_user_is_401(client, world):
    world.staff["auditor"].active = False
    world.session.commit()
    assert_problem(client.post("/api/auth/login", json={"username": "auditor", "password": "auditor-pw"}), 401)


def test_logout_revokes_the_token(client, world, login, db):
    world.session.commit()
    token = login("clerk", "clerk-pw")["access_token"]
    h = bearer(token)
    assert client.get("/api/calendar/years", headers=h).status_code == 200
    resp = client.post("/api/auth/logout", headers=h)
    assert resp.status_code == 204, resp.get_data(as_text=True)
    assert count(db, RevokedToken) == 1  # committed
    body = assert_problem(client.get("/api/calendar/years", headers=h), 401)
    assert body["type"].endswith("/token-revoked")
    assert_problem(client.post("/api/auth/logout", headers=h), 401)
    # A fresh login still works.
    assert client.get("/api/calendar/years", headers=bearer(login("clerk", "clerk-pw")["access_token"])).status_code == 200


def test_resident_can_log_out(client, world, resident_auth):
    person = world.person()
    world.session.commit()
    h = resident_auth(person.id)
    assert client.get(f"/api/persons/{person.id}", headers=h).status_code == 200
    assert client.post("/api/auth/logout", headers=h).status_code == 204
    assert_problem(client.get(f"/api/persons/{person.id}", headers=h), 401)


def test_refresh_gives_a_new_access_token(client, world, login):
    world.session.commit()
    tokens = login("teller", "teller-pw")
    resp = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    fresh = resp.get_json()
    assert fresh["access_token"] != tokens["access_token"]
    new_claims = decode_token(fresh["access_token"])
    old_claims = decode_token(tokens["access_token"])
    assert new_claims["type"] == "access"
    for k in ("sub", "role", "uid", "bank", "outlet"):
        assert new_claims[k] == old_claims[k], k
    assert client.get(PROBE, headers=bearer(fresh["access_token"])).status_code == 200
    # The used refresh token is revoked and replaced; the new one works once.
    assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)
    assert client.post("/api/auth/refresh", headers=bearer(fresh["refresh_token"])).status_code == 200


def test_access_token_is_not_a_refresh_token(client, world, login):
    world.session.commit()
    tokens = login("teller", "teller-pw")
    body = assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["access_token"])), 401)
    assert body["type"].endswith("/invalid-token")


def test_refresh_token_is_not_an_access_token(client, world, login):
    world.session.commit()
    tokens = login("teller", "teller-pw")
    assert_problem(client.get(PROBE, headers=bearer(tokens["refresh_token"])), 401)


def test_missing_token_is_401(client, world):
    world.session.commit()
    body = assert_problem(client.get(PROBE), 401)
    assert body["type"].endswith("/unauthenticated")
    assert_problem(client.get(PROBE, headers={"Authorization": "Bearer"}), 401)
    assert_problem(client.get(PROBE, headers={"Authorization": "Basic dGVsbGVyOnRlbGxlci1wdw=="}), 401)
    assert_problem(client.get(PROBE, headers={"Authorization": "Bearer not.a.jwt"}), 401)


def test_expired_token_is_401(app, client, world):
    world.session.commit()
    teller = world.staff["teller"]
    from app.auth.tokens import staff_claims

    token = create_access_token(identity=f"staff:{teller.id}", additional_claims=staff_claims(teller),
                                expires_delta=timedelta(seconds=-1))
    body = assert_problem(client.get(PROBE, headers=bearer(token)), 401)
    assert body["type"].endswith("/token-expired")


def test_alg_none_token_is_401(client, world, login):
    world.session.commit()
    real = login("teller", "teller-pw")["access_token"]
    payload = _payload(real)
    for alg in ("none", "None", "NONE"):
        forged = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(payload)}."
        assert_problem(client.get(PROBE, headers=bearer(forged)), 401)
    # The same claims with the real signature are accepted: the refusal is about the algorithm.
    assert client.get(PROBE, headers=bearer(real)).status_code == 200


def test_token_signed_with_another_secret_is_401(client, world, login):
    world.session.commit()
    payload = _payload(login("teller", "teller-pw")["access_token"])
    payload["role"] = "bureau"
    forged = pyjwt.encode(payload, "another-secret-of-at-least-32-bytes!!", algorithm="HS256")
    assert_problem(client.get("/api/calendar/years", headers=bearer(forged)), 401)


def test_tampered_payload_is_401(client, world, login):
    world.session.commit()
    real = login("teller", "teller-pw")["access_token"]
    header, _, signature = real.split(".")
    payload = _payload(real)
    payload["role"] = "bureau"
    tampered = f"{header}.{_b64(payload)}.{signature}"
    assert_problem(client.get("/api/calendar/years", headers=bearer(tampered)), 401)
    # A teller with a genuine token is refused there by role (403), not let in.
    assert_problem(client.get("/api/calendar/years", headers=bearer(real)), 403)
