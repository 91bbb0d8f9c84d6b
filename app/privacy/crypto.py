"""Field-level encryption of cardholders' personal information (Art. 16): AES-256-GCM with a key id.

Stored format (one ``bytes`` value per field)::

    version (1 byte, 0x01) | key-id length n (1 byte) | key id (n ASCII bytes) | nonce (12 random bytes)
    | AES-GCM ciphertext + 16-byte tag

The associated data authenticated with each value is ``header || context`` where ``header`` is everything
before the nonce and ``context`` names the column (``b"person.name"``): a value copied into another column,
or given another key id, fails to decrypt instead of being read as something it is not.

The plaintext under the AEAD is one type byte (``t`` text, ``b`` bytes) followed by the value (UTF-8 for
text), so :meth:`FieldCipher.decrypt` returns what was encrypted, ``str`` or ``bytes``.

Random 96-bit nonces are safe for up to 2**32 encryptions per key (NIST SP 800-38D); rotate the data key
(``KeyRing.with_new_key``) long before that.
"""
from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.privacy.keys import KeyRing

VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
_TEXT, _BYTES = b"t", b"b"


class DecryptionError(Exception):
    """A stored value is malformed, names an unknown key, or fails authentication (tampered, or read with
    the wrong context). Never a partial or wrong plaintext."""


class FieldCipher:
    """Encrypts and decrypts single field values with the keys of a :class:`KeyRing`."""

    def __init__(self, keyring: KeyRing) -> None:
        self._active_id = keyring.active_id
        self._aeads = {key_id: AESGCM(keyring.data_key(key_id)) for key_id in keyring.key_ids}

    def __repr__(self) -> str:
        return f"FieldCipher(key_ids={list(self._aeads)!r}, active_id={self._active_id!r})"

    def encrypt(self, plaintext: str | bytes, *, context: bytes) -> bytes:
        """Encrypt ``plaintext`` with the active key, bound to ``context`` (non-empty, names the column)."""
        if isinstance(plaintext, str):
            payload = _TEXT + plaintext.encode("utf-8")
        elif isinstance(plaintext, (bytes, bytearray, memoryview)):
            payload = _BYTES + bytes(plaintext)
        else:
            raise TypeError(f"can only encrypt str or bytes, not {type(plaintext).__name__}")
        key_id = self._active_id.encode("ascii")
        header = bytes((VERSION, len(key_id))) + key_id
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._aeads[self._active_id].encrypt(nonce, payload, header + _aad(context))

    def decrypt(self, blob: bytes, *, context: bytes) -> str | bytes:
        """Decrypt a value written by :meth:`encrypt` with the same ``context``; :class:`DecryptionError`
        on any mismatch, unknown key or tampering."""
        blob = bytes(blob)
        header_end, key_id = _parse_header(blob)
        aead = self._aeads.get(key_id)
        if aead is None:
            raise DecryptionError(f"value encrypted with unknown key id {key_id!r}")
        nonce = blob[header_end : header_end + NONCE_BYTES]
        try:
            payload = aead.decrypt(nonce, blob[header_end + NONCE_BYTES :], blob[:header_end] + _aad(context))
        except InvalidTag:
            raise DecryptionError("authentication failed: wrong context, wrong key or tampered value") from None
        kind, value = payload[:1], payload[1:]
        if kind == _TEXT:
            return value.decode("utf-8")
        if kind == _BYTES:
            return value
        raise DecryptionError("unknown payload type")  # only reachable with a forged key

    def key_id_of(self, blob: bytes) -> str:
        """The id of the key that encrypted ``blob`` (read from its header, nothing decrypted)."""
        return _parse_header(bytes(blob))[1]

    def needs_rotation(self, blob: bytes) -> bool:
        """Whether ``blob`` was encrypted with a key other than the active one."""
        return self.key_id_of(blob) != self._active_id

    def rotate(self, blob: bytes, *, context: bytes) -> bytes:
        """Re-encrypt ``blob`` under the active key (same context); returns it unchanged if already there."""
        if not self.needs_rotation(blob):
            return bytes(blob)
        return self.encrypt(self.decrypt(blob, context=context), context=context)


def _aad(context: bytes) -> bytes:
    if not isinstance(context, bytes) or not context:
        raise TypeError("context must be non-empty bytes naming the column, e.g. b'person.name'")
    return context


def _parse_header(blob: bytes) -> tuple[int, str]:
    """Return (offset of the nonce, key id), or raise :class:`DecryptionError` for a malformed value."""
    if len(blob) < 2 or blob[0] != VERSION:
        raise DecryptionError("not an encrypted value of a supported version")
    header_end = 2 + blob[1]
    if blob[1] == 0 or len(blob) < header_end + NONCE_BYTES + TAG_BYTES + 1:
        raise DecryptionError("truncated or malformed encrypted value")
    try:
        return header_end, blob[2:header_end].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("malformed key id") from None
