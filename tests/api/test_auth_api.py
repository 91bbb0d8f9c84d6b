"""Staff login, refresh, logout (server-side revocation) and the tokens the API refuses (Art. 16, 19)."""
from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt as pyjwt
from flask_jwt_extended import create_access_token, decode_token
from sqlalchemy import func, select

from app.models import AuthSession
from tests.api.conftest import assert_problem, bearer, committed_scalar

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
    assert committed_scalar(db, select(func.count()).select_from(AuthSession)
                            .where(AuthSession.ended_reason == "logout")) == 1  # committed
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
    # The used refresh token is replaced: the new one works (once); the old one is refused (and, a
    # copy in other hands, ends the session: test_a_replaced_refresh_token_presented_again_…).
    assert client.post("/api/auth/refresh", headers=bearer(fresh["refresh_token"])).status_code == 200
    assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)


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


# ---------------------------------------------------------------- sessions end (Art. 16, 19)


def _deactivate(client, world, login, name: str):
    bureau = bearer(login("bureau", "bureau-pw")["access_token"])
    return client.post(f"/api/staff/{world.staff[name].id}/deactivation", headers=bureau,
                       json={"reason": "left the bank"})


def test_deactivated_staff_tokens_stop_at_once_art16(client, world, login, db):
    world.session.commit()
    tokens = login("teller", "teller-pw")
    assert client.get(PROBE, headers=bearer(tokens["access_token"])).status_code == 200
    resp = _deactivate(client, world, login, "teller")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["active"] is False
    # the access token dies at its next request, not when it expires; the refresh token mints nothing
    assert assert_problem(client.get(PROBE, headers=bearer(tokens["access_token"])), 401)["type"].endswith(
        "/token-revoked")
    assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)
    assert_problem(client.post("/api/auth/login", json={"username": "teller", "password": "teller-pw"}), 401)
    assert committed_scalar(db, select(func.count()).select_from(AuthSession).where(
        AuthSession.staff_user_id == world.staff["teller"].id, AuthSession.ended_reason == "deactivated")) == 1
    from app.models import AuditEntry

    assert committed_scalar(db, select(func.count()).select_from(AuditEntry)
                            .where(AuditEntry.action == "staff.deactivate")) == 1


def test_account_deactivated_directly_in_the_database_is_refused_on_refresh_and_requests_art16(
        client, world, login, db):
    """Not only the deactivation call: every request and every refresh re-reads the account."""
    world.session.commit()
    tokens = login("teller", "teller-pw")
    world.staff["teller"].active = False
    world.session.commit()
    assert_problem(client.get(PROBE, headers=bearer(tokens["access_token"])), 401)
    assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)


def test_changed_role_or_organisation_ends_the_token_art16(client, world, login):
    world.session.commit()
    tokens = login("teller", "teller-pw")
    world.staff["teller"].outlet_id = world.outlets[1].id  # moved to another outlet
    world.session.commit()
    assert_problem(client.get(PROBE, headers=bearer(tokens["access_token"])), 401)
    assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)
    # signing in again gives the account's organisation
    fresh = login("teller", "teller-pw")
    assert decode_token(fresh["access_token"])["outlet"] == world.outlets[1].id


def test_refresh_takes_claims_from_the_account_art16(client, world, login, db):
    world.session.commit()
    tokens = login("clerk", "clerk-pw")
    row = db.session.get(AuthSession, decode_token(tokens["refresh_token"])["sid"])
    assert row.staff_user_id == world.staff["clerk"].id
    fresh = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
    claims = decode_token(fresh["access_token"])
    assert claims["sid"] == row.id and claims["agency"] == world.staff["clerk"].agency_id


def test_staff_deactivation_cli_ends_sessions_art16(app, client, world, login):
    world.session.commit()
    tokens = login("clerk", "clerk-pw")
    result = app.test_cli_runner().invoke(args=["staff", "deactivate", "clerk", "--reason", "retired"])
    assert result.exit_code == 0, result.output
    assert_problem(client.get("/api/calendar/years", headers=bearer(tokens["access_token"])), 401)
    assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)
    assert app.test_cli_runner().invoke(args=["staff", "deactivate", "ghost", "--reason", "x"]).exit_code != 0


def test_staff_cannot_deactivate_themselves_nor_non_bureau_anyone(client, world, login):
    world.session.commit()
    bureau = bearer(login("bureau", "bureau-pw")["access_token"])
    assert_problem(client.post(f"/api/staff/{world.staff['bureau'].id}/deactivation", headers=bureau,
                               json={"reason": "oops"}), 409)
    clerk = bearer(login("clerk", "clerk-pw")["access_token"])
    assert_problem(client.post(f"/api/staff/{world.staff['teller'].id}/deactivation", headers=clerk,
                               json={"reason": "nope"}), 403)
    assert_problem(client.post("/api/staff/999999/deactivation", headers=bureau, json={"reason": "gone"}), 404)


def test_session_has_an_absolute_end_that_rotation_does_not_extend_art16(app, client, world, login, clock,
                                                                          monkeypatch):
    world.session.commit()
    monkeypatch.setitem(app.config, "JWT_SESSION_MAX", timedelta(minutes=10))
    tokens = login("teller", "teller-pw")
    for name in ("access_token", "refresh_token"):
        c = decode_token(tokens[name])
        assert c["exp"] - c["iat"] <= 600, name  # no token outlives its session
    fresh = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
    for name in ("access_token", "refresh_token"):  # rotation gives no fresh 8 hours either
        c = decode_token(fresh[name])
        assert c["exp"] - c["iat"] <= 600, name
    clock.advance(minutes=11)
    assert_problem(client.post("/api/auth/refresh", headers=bearer(fresh["refresh_token"])), 401)
    assert_problem(client.get(PROBE, headers=bearer(fresh["access_token"])), 401)


def test_token_without_exp_is_invalid(app, client, world, login):
    world.session.commit()
    claims = decode_token(login("teller", "teller-pw")["access_token"])
    extra = {k: claims[k] for k in ("role", "uid", "bank", "outlet", "agency", "sid")}
    forever = create_access_token(identity=claims["sub"], additional_claims=extra, expires_delta=False)
    assert "exp" not in _payload(forever)
    body = assert_problem(client.get(PROBE, headers=bearer(forever)), 401)
    assert body["type"].endswith("/invalid-token")


def test_decode_errors_give_one_generic_invalid_token_answer(client, world, login):
    world.session.commit()
    real = login("teller", "teller-pw")["access_token"]
    header, payload, signature = real.split(".")
    answers = set()
    for bad in ("not.a.jwt", "a.b", f"{header}.{payload}.{signature[:-4]}AAAA", f"{header}.{payload[:-2]}.{signature}",
                "eyJhbGciOiJIUzI1NiJ9.e30.", real + "x"):
        body = assert_problem(client.get(PROBE, headers=bearer(bad)), 401)
        answers.add((body["type"], body["title"], body.get("detail")))
    assert len(answers) == 1, answers
    assert answers.pop()[0].endswith("/invalid-token")


def test_logout_with_the_access_token_ends_the_refresh_token_too_art16(client, world, login):
    world.session.commit()
    tokens = login("clerk", "clerk-pw")
    assert client.post("/api/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)


def test_logout_with_the_refresh_token_ends_the_access_token_art16(client, world, login):
    world.session.commit()
    tokens = login("clerk", "clerk-pw")
    fresh = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
    assert client.post("/api/auth/logout", headers=bearer(fresh["refresh_token"])).status_code == 204
    # every token of the family, the rotated-away access token included
    for t in (tokens["access_token"], fresh["access_token"]):
        assert_problem(client.get("/api/calendar/years", headers=bearer(t)), 401)
    assert_problem(client.post("/api/auth/refresh", headers=bearer(fresh["refresh_token"])), 401)
    # another session of the same account is not touched
    other = login("clerk", "clerk-pw")
    assert client.get("/api/calendar/years", headers=bearer(other["access_token"])).status_code == 200


def test_a_replaced_refresh_token_presented_again_ends_the_session_art16(client, world, login):
    world.session.commit()
    tokens = login("clerk", "clerk-pw")
    fresh = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])).get_json()
    assert_problem(client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"])), 401)  # a copy
    assert_problem(client.get("/api/calendar/years", headers=bearer(fresh["access_token"])), 401)
    assert_problem(client.post("/api/auth/refresh", headers=bearer(fresh["refresh_token"])), 401)
