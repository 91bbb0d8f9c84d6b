"""Art. 16: personal information is encrypted at rest (AES-256-GCM, key id stored with each value)."""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from app.privacy import DecryptionError, FieldCipher, KeyRing

NAME = b"person.name"


@pytest.mark.parametrize("value", ["张三明", "", "John Smith", b"\x00\xffphoto", b""])
def test_field_encryption_round_trip_art16(cipher: FieldCipher, value: str | bytes) -> None:
    blob = cipher.encrypt(value, context=NAME)
    assert cipher.decrypt(blob, context=NAME) == value
    assert type(cipher.decrypt(blob, context=NAME)) is type(value)


def test_ciphertext_hides_plaintext_and_is_randomised_art16(cipher: FieldCipher) -> None:
    one, two = (cipher.encrypt("440104199001011234", context=b"person.ssn") for _ in range(2))
    assert one != two
    assert b"440104199001011234" not in one
    assert one[0] == 1 and one[1] == 2 and one[2:4] == b"k1"  # version, key id length, key id
    assert len(one) == 1 + 1 + 2 + 12 + 1 + 18 + 16  # header, nonce, type byte + value, tag


def test_value_copied_into_another_column_fails_to_decrypt_art16(cipher: FieldCipher) -> None:
    blob = cipher.encrypt("张三明", context=NAME)
    with pytest.raises(DecryptionError):
        cipher.decrypt(blob, context=b"person.address")


def test_every_tampered_byte_is_detected_never_wrong_plaintext_art16(cipher: FieldCipher) -> None:
    blob = cipher.encrypt("张三明", context=NAME)
    for i in range(len(blob)):
        for flip in (0x01, 0x80, 0xFF):
            tampered = bytearray(blob)
            tampered[i] ^= flip
            with pytest.raises(DecryptionError):
                cipher.decrypt(bytes(tampered), context=NAME)
    for broken in (blob[:-1], blob + b"\x00", b"", b"\x01", blob[:20]):
        with pytest.raises(DecryptionError):
            cipher.decrypt(broken, context=NAME)


def test_other_keyring_cannot_read_art16(cipher: FieldCipher) -> None:
    stranger = FieldCipher(KeyRing({"k1": secrets.token_bytes(32)}, "k1", secrets.token_bytes(32)))
    with pytest.raises(DecryptionError):
        stranger.decrypt(cipher.encrypt("张三明", context=NAME), context=NAME)


def test_old_values_stay_readable_after_key_rotation_art16(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    before = FieldCipher(KeyRing.generate_file(path))
    old = before.encrypt("张三明", context=NAME)
    after = FieldCipher(KeyRing.with_new_key(path))
    new = after.encrypt("李四", context=NAME)
    assert after.decrypt(old, context=NAME) == "张三明"
    assert after.key_id_of(old) == "k1" and after.key_id_of(new) == "k2"
    assert after.needs_rotation(old) and not after.needs_rotation(new)
    assert not before.needs_rotation(old)
    rotated = after.rotate(old, context=NAME)
    assert after.key_id_of(rotated) == "k2" and after.decrypt(rotated, context=NAME) == "张三明"
    assert after.rotate(new, context=NAME) == new
    with pytest.raises(DecryptionError, match="unknown key id 'k2'"):
        before.decrypt(new, context=NAME)


def test_context_is_required_art16(cipher: FieldCipher) -> None:
    with pytest.raises(TypeError):
        cipher.encrypt("张三明", context=b"")
    with pytest.raises(TypeError):
        cipher.encrypt("张三明", context="person.name")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cipher.encrypt(12345, context=NAME)  # type: ignore[arg-type]


def test_cipher_repr_shows_no_key_material_art16(keyring: KeyRing) -> None:
    shown = repr(FieldCipher(keyring))
    assert keyring.data_key("k1").hex() not in shown and "k1" in shown
