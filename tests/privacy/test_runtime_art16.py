"""Art. 16: the application installs one key ring per process; indexes and encrypted columns use it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.privacy import BlindIndexer, get_cipher, runtime, set_cipher


@pytest.fixture(autouse=True)
def unconfigured() -> Iterator[None]:
    set_cipher(None)
    runtime._indexer = None
    yield
    set_cipher(None)
    runtime._indexer = None


def test_configure_from_installs_cipher_and_blind_index_art16(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="configure_from"):
        runtime.blind_index("name", "张三")
    path = tmp_path / "instance" / "privacy-keys.json"
    keyring = runtime.configure_from(path, environ={})
    assert path.exists()
    assert runtime.blind_index("name", "张 三") == BlindIndexer(keyring.blind_index_key).index("name", "张三")
    assert runtime.blind_index("phone", None) is None
    blob = get_cipher().encrypt("张三", context=b"person.name")
    runtime.configure_from(path, environ={})  # a restart reads the same file
    assert get_cipher().decrypt(blob, context=b"person.name") == "张三"
