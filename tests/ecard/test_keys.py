"""Key store: rotation keeps old tokens verifiable until they expire, withdrawal is
immediate, private keys are protected on disk, the published set is a JWKS."""

import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from ecard.keys import KeyStore, canonical_json, jwks_etag
from ecard.token import sign_token
from ecard.verify import Verifier
from tests.ecard.helpers import NOW, Clock, typical_claims


@pytest.fixture
def store(tmp_path):
    ks = KeyStore(tmp_path / "keys")
    ks.ensure_key(NOW)
    return ks


def test_ensure_key_creates_one_key_once(store):
    assert len(store.list()) == 1
    store.ensure_key(NOW + 5)
    assert len(store.list()) == 1
    assert store.current_signer(NOW).kid == store.list()[0].kid


def test_no_signer_before_any_key(tmp_path):
    with pytest.raises(LookupError):
        KeyStore(tmp_path).current_signer(NOW)


def test_published_key_set_is_a_jwks_rfc7517_rfc8037(store):
    keyset = store.jwks(NOW)
    (key,) = keyset["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "use", "alg", "nbf"}  # no exp while it signs
    assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert key["kid"] == format(store.current_signer(NOW).kid, "02x") and len(key["kid"]) == 2
    assert key["nbf"] == NOW and keyset["withdrawn"] == []
    json.dumps(keyset)


def test_rotation_keeps_old_tokens_valid_until_they_expire(store):
    old_signer = store.current_signer(NOW + 100)
    old_token = sign_token(typical_claims(), old_signer, now=NOW + 100)  # expires NOW + 160
    new = store.rotate(NOW + 110, max_token_reach=60)
    assert store.current_signer(NOW + 110).kid == new.kid != old_signer.kid

    keyset = store.jwks(NOW + 110)  # fetched after the rotation
    by_kid = {k["kid"]: k for k in keyset["keys"]}
    assert by_kid[old_signer.kid_hex]["exp"] == NOW + 110 + 60 + 60
    clock = Clock(NOW + 150)
    v = Verifier(keyset, clock=clock)
    assert v.verify(old_token).ok
    clock.now = NOW + 160 + 30
    assert Verifier(keyset, clock=clock).verify(old_token).ok
    clock.now = NOW + 160 + 31
    assert Verifier(keyset, clock=clock).verify(old_token).reason == "expired"

    new_token = sign_token(typical_claims(), store.current_signer(NOW + 120), now=NOW + 120)
    assert Verifier(keyset, clock=Clock(NOW + 121)).verify(new_token).ok

    assert old_signer.kid_hex in {k["kid"] for k in store.jwks(NOW + 230)["keys"]}
    later = store.jwks(NOW + 231)
    assert [k["kid"] for k in later["keys"]] == [new.kid_hex]  # old key has left the set


def test_rotation_with_lead_time_publishes_before_signing(store):
    old = store.current_signer(NOW)
    new = store.rotate(NOW + 10, lead_seconds=600)
    assert new.kid_hex in {k["kid"] for k in store.jwks(NOW + 10)["keys"]}
    assert store.current_signer(NOW + 609).kid == old.kid
    assert store.current_signer(NOW + 610).kid == new.kid
    early = Verifier(store.jwks(NOW + 10), clock=Clock(NOW + 611))  # key set fetched early
    assert early.verify(sign_token(typical_claims(), store.current_signer(NOW + 610), now=NOW + 610)).ok


def test_withdrawal_refuses_the_keys_tokens_at_once(store):
    signer = store.current_signer(NOW)
    token = sign_token(typical_claims(), signer, now=NOW)
    withdrawn = store.withdraw(signer.kid_hex, NOW + 5)
    assert [w.kid for w in withdrawn] == [signer.kid] and withdrawn[0].withdrawn_at == NOW + 5
    keyset = store.jwks(NOW + 5)
    assert signer.kid_hex not in {k["kid"] for k in keyset["keys"]}
    assert keyset["withdrawn"] == [{"kid": signer.kid_hex, "x": store.list()[0].x, "withdrawn_at": NOW + 5}]
    assert Verifier(keyset, clock=Clock(NOW + 6)).verify(token).reason == "withdrawn_key"
    # issuance goes on with a fresh key
    replacement = store.current_signer(NOW + 5)
    assert replacement.kid != signer.kid
    assert Verifier(keyset, clock=Clock(NOW + 6)).verify(
        sign_token(typical_claims(), replacement, now=NOW + 5)).ok


def test_withdrawing_a_retired_key_leaves_the_signer_alone(store):
    old = store.current_signer(NOW)
    new = store.rotate(NOW + 10)
    store.withdraw(old.kid, NOW + 20)
    assert store.current_signer(NOW + 20).kid == new.kid and len(store.list()) == 2


def test_new_kid_is_not_a_published_or_withdrawn_one(store):
    kids = [store.list()[0].kid]
    t = NOW
    for _ in range(5):
        t += 1
        kids.append(store.rotate(t).kid)
    assert len(set(kids)) == 6
    published = {k["kid"] for k in store.jwks(t)["keys"]}
    assert len(published) == 6


def test_kids_wrap_around_once_old_keys_are_gone(tmp_path):
    ks = KeyStore(tmp_path, max_token_reach=60, skew_seconds=0)
    t = NOW
    ks.ensure_key(t)
    for _ in range(300):  # 1000 s apart: each old key has left the set before the next rotation
        t += 1000
        ks.rotate(t)
    kids = [k.kid for k in ks.list()]
    assert len(kids) == 301 and len(set(kids)) == 256
    assert len(ks.jwks(t)["keys"]) == 2  # the newest and the one it just retired
    assert len(ks.jwks(t + 61)["keys"]) == 1


def test_private_key_files_are_mode_0600(store):
    pems = list(store.directory.glob("key-*.pem"))
    assert pems and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in pems)
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert not list(store.directory.glob(".*.tmp"))  # atomic writes leave no temporaries
    assert b"BEGIN PRIVATE KEY" in pems[0].read_bytes()


def test_passphrase_encrypts_private_keys(tmp_path):
    ks = KeyStore(tmp_path, passphrase="correct horse")
    ks.ensure_key(NOW)
    pem = next(tmp_path.glob("key-*.pem")).read_bytes()
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, password=b"wrong")
    with pytest.raises(TypeError):
        KeyStore(tmp_path).current_signer(NOW)
    with pytest.raises(ValueError):
        KeyStore(tmp_path, passphrase="wrong").current_signer(NOW)
    signer = KeyStore(tmp_path, passphrase="correct horse").current_signer(NOW)
    token = sign_token(typical_claims(), signer, now=NOW)
    assert Verifier(ks.jwks(NOW), clock=Clock(NOW)).verify(token).ok


def test_metadata_is_json_beside_the_keys(store):
    meta = json.loads((store.directory / "keys.json").read_text())
    (key,) = meta["keys"]
    assert {"kid", "created_at", "signs_from", "signs_until", "published_until", "withdrawn_at"} <= set(key)


def test_a_second_process_sees_rotations(store, tmp_path):
    other = KeyStore(store.directory)
    new = store.rotate(NOW + 10)
    other._checked = float("-inf")  # as if a second had passed
    assert other.current_signer(NOW + 10).kid == new.kid
    assert other.jwks(NOW + 10) == store.jwks(NOW + 10)


def test_etag_is_stable_and_changes_with_the_set(store):
    a, b = store.jwks(NOW), store.jwks(NOW + 1)
    assert jwks_etag(a) == jwks_etag(b) == jwks_etag(json.loads(canonical_json(a)))
    assert jwks_etag(a).startswith('"') and jwks_etag(a).endswith('"')
    store.rotate(NOW + 2)
    assert jwks_etag(store.jwks(NOW + 2)) != jwks_etag(a)


def test_store_directory_is_private_when_created(tmp_path):
    ks = KeyStore(tmp_path / "new")
    assert stat.S_IMODE(os.stat(ks.directory).st_mode) == 0o700
