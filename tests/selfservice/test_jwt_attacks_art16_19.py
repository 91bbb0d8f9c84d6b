"""Forged, confused, expired, tampered and revoked resident tokens are all refused with 401 (Art. 16,
19): the API decodes HS256 only (JWT_DECODE_ALGORITHMS) with its own secret, checks expiry and the
server-side blocklist."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from flask_jwt_extended import create_access_token, decode_token

from app.auth.tokens import resident_claims
from tests.selfservice.conftest import bearer, problem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict, dict, str]:
    h, p, s = token.split(".")
    pad = lambda x: x + "=" * (-len(x) % 4)
    return json.loads(base64.urlsafe_b64decode(pad(h))), json.loads(base64.urlsafe_b64decode(pad(p))), s


def _raw(header: dict, payload: dict, key: bytes | None) -> str:
    """A token built by hand; signed HMAC-SHA256 with ``key``, or unsigned."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    sig = _b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key else ""
    return f"{signing_input}.{sig}"


@pytest.fixture
def holder(session, world, sign_in):
    """A signed-in cardholder: (person, a real access token, its claims)."""
    person = world.person()
    tokens = sign_in(person)
    return person, tokens["access_token"], decode_token(tokens["access_token"])


def _refused(client, token: str) -> dict:
    return problem(client.get("/api/me", headers=bearer(token)), 401)


def test_a_genuine_token_works(client, holder):
    _, token, _ = holder
    assert client.get("/api/me", headers=bearer(token)).status_code == 200


def test_alg_none_is_refused(client, holder):
    _, _, claims = holder
    _refused(client, _raw({"alg": "none", "typ": "JWT"}, claims, None))
    _refused(client, _raw({"alg": "None", "typ": "JWT"}, claims, None))


def test_hs256_signed_with_another_key_is_refused(client, holder):
    _, _, claims = holder
    _refused(client, jwt.encode(claims, "not-the-server-secret-" * 2, algorithm="HS256"))


def test_rs256_token_is_refused(client, holder):
    _, _, claims = holder
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _refused(client, jwt.encode(claims, key, algorithm="RS256"))


def test_eddsa_token_is_refused(client, holder):
    _, _, claims = holder
    _refused(client, jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA"))


@pytest.mark.parametrize("alg", ["RS256", "EdDSA", "ES256", "HS512"])
def test_alg_confusion_with_the_real_secret_is_refused(app, client, holder, alg):
    """A header naming another algorithm, HMAC-signed with the real secret: only HS256 is decoded."""
    _, _, claims = holder
    _refused(client, _raw({"alg": alg, "typ": "JWT"}, claims, app.config["JWT_SECRET_KEY"].encode()))


def test_expired_token_is_refused(app, client, holder):
    person, _, _ = holder
    with app.app_context():
        token = create_access_token(identity=f"resident:{person.id}", additional_claims=resident_claims(person.id),
                                    expires_delta=timedelta(seconds=-1))
    body = _refused(client, token)
    assert body["type"].endswith("token-expired")


def test_tampered_payload_is_refused(app, client, session, world, holder):
    _, token, claims = holder
    other = world.person()
    session.commit()
    sig = _parts(token)[2]
    forged_payload = _b64(json.dumps({**claims, "pid": other.id, "sub": f"resident:{other.id}"}).encode())
    h = token.split(".")[0]
    _refused(client, f"{h}.{forged_payload}.{sig}")
    # a staff role smuggled into the claims
    staff_payload = _b64(json.dumps({**claims, "role": "bureau"}).encode())
    _refused(client, f"{h}.{staff_payload}.{sig}")


def test_token_revoked_at_logout_is_refused(client, holder):
    _, token, _ = holder
    assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204
    body = _refused(client, token)
    assert body["type"].endswith("token-revoked")


def test_refresh_token_is_not_an_access_token(client, session, world, sign_in):
    person = world.person()
    tokens = sign_in(person)
    problem(client.get("/api/me", headers=bearer(tokens["refresh_token"])), 401)
    resp = client.post("/api/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    new = resp.get_json()["access_token"]
    assert decode_token(new)["pid"] == person.id
    assert client.get("/api/me", headers=bearer(new)).status_code == 200


def test_not_yet_valid_and_garbage_tokens_are_refused(app, client, holder):
    _, _, claims = holder
    secret = app.config["JWT_SECRET_KEY"].encode()
    _refused(client, _raw({"alg": "HS256", "typ": "JWT"}, {**claims, "nbf": int(time.time()) + 3600}, secret))
    _refused(client, "not.a.token")
    _refused(client, "")
