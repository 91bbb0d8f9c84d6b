"""Art. 16: the keys protecting cardholders' personal information stay out of reach and out of sight."""
from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import stat
from pathlib import Path

import pytest

from app.privacy import KeyRing, KeyRingError


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_key_file_is_owner_only_0600_art16(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    previous = os.umask(0o002)  # a permissive umask must not widen the file
    try:
        ring = KeyRing.generate_file(path)
    finally:
        os.umask(previous)
    assert mode_of(path) == 0o600
    loaded = KeyRing.from_file(path)
    assert loaded.key_ids == ("k1",) and loaded.active_id == "k1"
    assert loaded.data_key("k1") == ring.data_key("k1")
    assert loaded.blind_index_key == ring.blind_index_key


def test_generate_never_overwrites_an_existing_key_file_art16(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    KeyRing.generate_file(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        KeyRing.generate_file(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_key_file_readable_by_group_or_others_is_refused_art16(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    KeyRing.generate_file(path)
    path.chmod(mode)
    with pytest.raises(KeyRingError, match=r"chmod 600") as excinfo:
        KeyRing.from_file(path)
    assert f"{mode:04o}" in str(excinfo.value)


def test_rotation_adds_an_active_key_and_keeps_the_blind_index_key_art16(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    first = KeyRing.generate_file(path)
    rotated = KeyRing.with_new_key(path)
    assert rotated.key_ids == ("k1", "k2") and rotated.active_id == "k2"
    assert rotated.data_key("k1") == first.data_key("k1")
    assert rotated.data_key("k2") != first.data_key("k1")
    assert rotated.blind_index_key == first.blind_index_key  # changing it would need a re-index
    assert mode_of(path) == 0o600
    assert KeyRing.from_file(path).active_id == "k2"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temporary file left behind
    assert KeyRing.with_new_key(path).active_id == "k3"


def test_keys_from_environment_art16() -> None:
    k1, k2, blind = (secrets.token_bytes(32) for _ in range(3))
    env = {
        "SSC_DATA_KEYS": f"k1:{b64(k1)}, k2:{b64(k2)}",
        "SSC_DATA_KEY_ACTIVE": "k2",
        "SSC_BLIND_INDEX_KEY": b64(blind),
    }
    ring = KeyRing.from_env(env)
    assert ring.key_ids == ("k1", "k2") and ring.active_id == "k2"
    assert ring.data_key("k1") == k1 and ring.blind_index_key == blind
    single = KeyRing.from_env({"SSC_DATA_KEYS": f"k9:{b64(k1)}", "SSC_BLIND_INDEX_KEY": b64(blind)})
    assert single.active_id == "k9"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SSC_BLIND_INDEX_KEY": "x"}, "SSC_DATA_KEYS is not set"),
        ({"SSC_DATA_KEYS": "k1:AAAA"}, "SSC_BLIND_INDEX_KEY is not set"),
        ({"SSC_DATA_KEYS": "k1", "SSC_BLIND_INDEX_KEY": "x"}, "id:base64"),
        ({"SSC_DATA_KEYS": "k1:AAAA", "SSC_BLIND_INDEX_KEY": "A" * 43 + "="}, "32 bytes"),
        ({"SSC_DATA_KEYS": "k1:not base64!", "SSC_BLIND_INDEX_KEY": "x"}, "not valid base64"),
    ],
)
def test_bad_key_environment_gives_a_clear_error_art16(env: dict[str, str], message: str) -> None:
    with pytest.raises(KeyRingError, match=message):
        KeyRing.from_env(env)


def test_several_keys_require_the_active_one_to_be_named_art16() -> None:
    keys = ",".join(f"k{i}:{b64(secrets.token_bytes(32))}" for i in (1, 2))
    with pytest.raises(KeyRingError, match="SSC_DATA_KEY_ACTIVE"):
        KeyRing.from_env({"SSC_DATA_KEYS": keys, "SSC_BLIND_INDEX_KEY": b64(secrets.token_bytes(32))})


def test_no_key_material_in_repr_str_or_errors_art16(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = KeyRing.generate_file(path)
    secrets_ = [ring.data_key("k1"), ring.blind_index_key]
    shown = repr(ring) + str(ring)
    for key in secrets_:
        for form in (b64(key), key.hex(), repr(key)):
            assert form not in shown
    assert "k1" in shown
    # a corrupted file: the error must not quote the document (which holds the keys)
    document = path.read_text()
    path.write_text(document.replace("{", "[", 1))
    with pytest.raises(KeyRingError) as excinfo:
        KeyRing.from_file(path)
    assert b64(secrets_[0]) not in str(excinfo.value)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_load_prefers_environment_then_file_then_generates_and_logs_path_only_art16(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "instance" / "privacy-keys.json"
    with caplog.at_level(logging.WARNING, logger="app.privacy.keys"):
        generated = KeyRing.load(path, environ={})
    assert mode_of(path) == 0o600 and mode_of(path.parent) == 0o700
    assert str(path) in caplog.text
    assert b64(generated.data_key("k1")) not in caplog.text
    assert KeyRing.load(path, environ={}).data_key("k1") == generated.data_key("k1")
    env_key, blind = secrets.token_bytes(32), secrets.token_bytes(32)
    from_env = KeyRing.load(path, environ={"SSC_DATA_KEYS": f"e1:{b64(env_key)}", "SSC_BLIND_INDEX_KEY": b64(blind)})
    assert from_env.key_ids == ("e1",)


def test_key_file_format_is_documented_json_art16(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    KeyRing.generate_file(path)
    doc = json.loads(path.read_text())
    assert doc["version"] == 1 and doc["active"] == "k1"
    assert len(base64.b64decode(doc["data_keys"]["k1"])) == 32
    assert len(base64.b64decode(doc["blind_index_key"])) == 32
