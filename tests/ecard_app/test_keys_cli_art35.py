"""Signing keys through the CLI (`flask ecard keys list|rotate|withdraw`) and the published key set
(GET /.well-known/jwks.json) as verifiers see them (Art. 32, 35).

Each test works on a key store of its own (tmp_path) put in place of the app's, so rotations and
withdrawals here never touch the keys other tests sign with.
"""
from __future__ import annotations

import pytest

from app.models.enums import CardStatus
from ecard.keys import KeyStore, jwks_etag
from ecard.token import decode_token
from ecard.verify import Verifier
from tests.ecard_app.conftest import JWKS, published_jwks


@pytest.fixture
def store(issuer, monkeypatch, tmp_path) -> KeyStore:
    """A fresh key store (one key) used by the app's issuer, the CLI and the JWKS endpoint."""
    fresh = KeyStore(tmp_path / "ecard-keys", max_token_reach=issuer.store.max_token_reach,
                     skew_seconds=issuer.store.skew_seconds)
    fresh.ensure_key()
    monkeypatch.setattr(issuer, "store", fresh)
    return fresh


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def _cli(*args: str, ok: bool = True):
        result = runner.invoke(args=["ecard", "keys", *args])
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    return _cli


def _kid(token: str) -> str:
    return decode_token(token).kid.hex()


def test_token_signed_before_rotate_verifies_until_it_expires_then_expired_art35(
        client, world, issue, store, cli):
    card = world.card(CardStatus.ACTIVE)
    before = issue(card.person_id).get_json()
    old_kid = _kid(before["token"])
    assert old_kid == store.list()[0].kid_hex

    out = cli("rotate").output
    keys = store.list()
    assert len(keys) == 2
    new_kid = keys[-1].kid_hex
    assert new_kid != old_kid and f"New key {new_kid}" in out

    jwks = published_jwks(client)  # what a scanner fetches AFTER the rotation
    published = {k["kid"]: k for k in jwks["keys"]}
    assert set(published) == {old_kid, new_kid}
    assert "exp" in published[old_kid] and "exp" not in published[new_kid]

    iat, exp = before["issued_at"], before["expires_at"]
    for at in (iat, iat + 30, exp):  # throughout its lifetime: ok
        result = Verifier(jwks, clock=lambda at=at: at).verify(before["token"])
        assert result.ok, (at, result)
        assert result.kid == old_kid
    skew = Verifier(jwks).skew
    late = exp + skew + 1
    assert Verifier(jwks, clock=lambda: late).verify(before["token"]).reason == "expired"
    # the key set published then still holds the old key: the answer is "expired", not "unknown_key"
    later_jwks = store.jwks(now=late)
    assert old_kid in {k["kid"] for k in later_jwks["keys"]}
    assert Verifier(later_jwks, clock=lambda: late).verify(before["token"]).reason == "expired"
    # once the old key is no longer published (every token it signed has expired) it is gone
    gone = keys[0].published_until + 1
    assert old_kid not in {k["kid"] for k in store.jwks(now=gone)["keys"]}

    # new tokens carry the new kid and verify with the same published set
    after = issue(card.person_id).get_json()
    assert _kid(after["token"]) == new_kid
    assert Verifier(jwks).verify(after["token"]).ok
    batch = issue(card.person_id, count=3).get_json()["batch"]
    assert {_kid(t["token"]) for t in batch} == {new_kid}


def test_rotate_with_lead_publishes_the_key_before_it_signs(client, world, issue, store, cli):
    card = world.card(CardStatus.ACTIVE)
    old_kid = store.list()[0].kid_hex
    cli("rotate", "--lead", "3600")
    new = store.list()[-1]
    jwks = published_jwks(client)
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new.kid_hex}
    assert next(k for k in jwks["keys"] if k["kid"] == new.kid_hex)["nbf"] == new.signs_from
    token = issue(card.person_id).get_json()["token"]
    assert _kid(token) == old_kid  # the old key signs until the new one starts
    assert Verifier(jwks).verify(token).ok


def test_withdraw_lists_the_key_as_withdrawn_and_its_tokens_are_refused_art32(
        client, world, issue, store, cli):
    card = world.card(CardStatus.ACTIVE)
    old = issue(card.person_id).get_json()
    old_kid = _kid(old["token"])
    cli("rotate")
    new_kid = store.list()[-1].kid_hex
    out = cli("withdraw", old_kid).output
    assert old_kid in out

    jwks = published_jwks(client)
    assert [w["kid"] for w in jwks["withdrawn"]] == [old_kid]
    assert {k["kid"] for k in jwks["keys"]} == {new_kid}
    result = Verifier(jwks).verify(old["token"])
    assert (result.ok, result.reason) == (False, "withdrawn_key")
    fresh = issue(card.person_id).get_json()["token"]
    assert _kid(fresh) == new_kid and Verifier(jwks).verify(fresh).ok


def test_withdrawing_the_signing_key_starts_a_new_one(client, world, issue, store, cli):
    card = world.card(CardStatus.ACTIVE)
    old = issue(card.person_id).get_json()["token"]
    kid = _kid(old)
    cli("withdraw", kid)
    jwks = published_jwks(client)
    assert kid in [w["kid"] for w in jwks["withdrawn"]]
    assert len(jwks["keys"]) == 1 and jwks["keys"][0]["kid"] != kid
    fresh = issue(card.person_id).get_json()["token"]
    assert _kid(fresh) == jwks["keys"][0]["kid"]
    v = Verifier(jwks)
    assert v.verify(fresh).ok and v.verify(old).reason == "withdrawn_key"


def test_withdraw_refuses_unknown_or_malformed_kids(store, cli):
    used = {k.kid_hex for k in store.list()}
    unknown = next(f"{i:02x}" for i in range(256) if f"{i:02x}" not in used)
    r = cli("withdraw", unknown, ok=False)
    assert r.exit_code != 0 and "No active key" in r.output
    r = cli("withdraw", "zz", ok=False)
    assert r.exit_code != 0 and "not a hex key id" in r.output
    assert all(k.withdrawn_at is None for k in store.list())


def test_list_prints_every_key_with_its_state(store, cli):
    first = store.list()[0].kid_hex
    out = cli("list").output
    assert f"kid {first}" in out and "signing" in out
    cli("rotate")
    second = store.list()[-1].kid_hex
    lines = cli("list").output.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"kid {first}") and "published" in lines[0]
    assert lines[1].startswith(f"kid {second}") and "signing" in lines[1]
    cli("withdraw", first)
    lines = cli("list").output.strip().splitlines()
    assert "withdrawn" in lines[0] and "signing" in lines[1]


# ---------------------------------------------------------------- the published key set


def test_jwks_is_cacheable_with_etag_and_open_to_any_origin(client, store):
    resp = client.get(JWKS)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    tag = resp.headers["ETag"]
    assert tag == jwks_etag(resp.get_json()) and tag.startswith('"')
    assert "max-age" in resp.headers["Cache-Control"] and "public" in resp.headers["Cache-Control"]
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    body = resp.get_json()
    assert [k["kid"] for k in body["keys"]] == [store.list()[0].kid_hex]
    assert all(set(k) >= {"kty", "crv", "x", "kid", "use", "alg", "nbf"} for k in body["keys"])

    again = client.get(JWKS, headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == tag and again.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(JWKS, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(JWKS, headers={"If-None-Match": f'"x", {tag}'}).status_code == 304
    # a compressing proxy weakens the tag (nginx gzip): If-None-Match compares weakly (RFC 9110 §13.1.2)
    assert client.get(JWKS, headers={"If-None-Match": f"W/{tag}"}).status_code == 304
    assert client.get(JWKS, headers={"If-None-Match": "*"}).status_code == 304


def test_jwks_etag_changes_with_a_rotation(client, store, cli):
    tag = client.get(JWKS).headers["ETag"]
    assert client.get(JWKS).headers["ETag"] == tag  # the same set, the same tag
    cli("rotate")
    resp = client.get(JWKS, headers={"If-None-Match": tag})
    assert resp.status_code == 200 and resp.headers["ETag"] != tag
    assert len(resp.get_json()["keys"]) == 2


def test_jwks_needs_no_authentication_and_has_no_private_key(client, store):
    resp = client.get(JWKS, headers={"Authorization": "Bearer garbage"})
    assert resp.status_code == 200
    for key in resp.get_json()["keys"]:
        assert "d" not in key and key["kty"] == "OKP" and key["crv"] == "Ed25519"


def test_jwks_exp_after_rotation_is_signs_until_plus_prefetch_horizon_plus_skew_art35(
        app, client, world, issue, store, issuer, cli):
    """Issue 13 #19 (README §5): a retired key's ``exp`` is ``signs_until + ECARD_BATCH_HORIZON +
    skew``: the last token of a full batch signed just before the rotation expires at most the
    horizon after it was signed, and verifies with the key set published after the rotation."""
    card = world.card(CardStatus.ACTIVE)
    horizon, lifetime = app.config["ECARD_BATCH_HORIZON"], app.config["ECARD_TOKEN_LIFETIME"]
    batch = issue(card.person_id, count=horizon // lifetime).get_json()["batch"]
    cli("rotate")
    old = store.list()[0]
    jwks = published_jwks(client)
    (old_jwk,) = [k for k in jwks["keys"] if k["kid"] == old.kid_hex]
    assert old_jwk["exp"] == old.signs_until + horizon + store.skew_seconds
    last = batch[-1]
    assert last["expires_at"] <= old.signs_until + horizon
    assert Verifier(jwks, clock=lambda: last["expires_at"]).verify(last["token"]).ok
