"""Fixtures for the personal-information protection tests (Art. 16)."""
from __future__ import annotations

import secrets

import pytest

from app.privacy import FieldCipher, KeyRing


@pytest.fixture
def keyring() -> KeyRing:
    return KeyRing({"k1": secrets.token_bytes(32)}, "k1", secrets.token_bytes(32))


@pytest.fixture
def cipher(keyring: KeyRing) -> FieldCipher:
    return FieldCipher(keyring)
