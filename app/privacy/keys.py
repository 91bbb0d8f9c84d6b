"""The keys that protect cardholders' personal information at rest (Art. 16).

A :class:`KeyRing` holds

* **data-encryption keys** (AES-256-GCM, 32 bytes each) by a short key id such as ``"k1"``. Every encrypted
  value records the id of its key, so old values stay readable after a new key becomes *active* for writes
  (rotation: :meth:`KeyRing.with_new_key`, then re-encrypt at leisure with ``FieldCipher.rotate``);
* one **blind-index key** (HMAC-SHA256). It is deliberately independent of the data keys and does NOT change
  when they rotate: every stored index was computed with it, so replacing it means recomputing every blind
  index column from the decrypted values (a re-index) in the same maintenance window.

Keys come from the environment::

    SSC_DATA_KEYS="k1:<base64>,k2:<base64>"   SSC_DATA_KEY_ACTIVE=k2   SSC_BLIND_INDEX_KEY=<base64>

or from a JSON key file that only its owner may read (mode 0600)::

    {"version": 1, "active": "k2", "data_keys": {"k1": "<base64>", "k2": "<base64>"},
     "blind_index_key": "<base64>"}

Base64 is the standard alphabet with padding. Key material never appears in ``repr``/``str``, error messages
or logs.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

log = logging.getLogger(__name__)

KEY_BYTES = 32
FILE_FORMAT_VERSION = 1
ENV_DATA_KEYS = "SSC_DATA_KEYS"
ENV_ACTIVE = "SSC_DATA_KEY_ACTIVE"
ENV_BLIND_INDEX_KEY = "SSC_BLIND_INDEX_KEY"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")


class KeyRingError(ValueError):
    """Keys are missing, malformed or stored insecurely. The message never contains key material."""


class KeyRing:
    """Data-encryption keys by id, the active id for new writes, and the blind-index key."""

    __slots__ = ("_data_keys", "_active_id", "_blind_index_key")

    def __init__(self, data_keys: Mapping[str, bytes], active_id: str, blind_index_key: bytes) -> None:
        if not data_keys:
            raise KeyRingError("no data-encryption key")
        for key_id, key in data_keys.items():
            if not _KEY_ID.fullmatch(key_id):
                raise KeyRingError(f"bad key id {key_id!r}: 1-16 characters from A-Z a-z 0-9 _ -")
            if len(key) != KEY_BYTES:
                raise KeyRingError(f"data key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}")
        if active_id not in data_keys:
            raise KeyRingError(f"active key id {active_id!r} is not among {sorted(data_keys)}")
        if len(blind_index_key) < KEY_BYTES:
            raise KeyRingError(f"blind-index key must be at least {KEY_BYTES} bytes")
        self._data_keys = MappingProxyType(dict(data_keys))
        self._active_id = active_id
        self._blind_index_key = bytes(blind_index_key)

    @property
    def active_id(self) -> str:
        """The id of the key that encrypts new values."""
        return self._active_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """All data-key ids, in insertion order."""
        return tuple(self._data_keys)

    @property
    def blind_index_key(self) -> bytes:
        """The HMAC key of the blind indexes (independent of the data keys)."""
        return self._blind_index_key

    def data_key(self, key_id: str) -> bytes:
        """The data-encryption key with this id; :class:`KeyRingError` if unknown."""
        try:
            return self._data_keys[key_id]
        except KeyError:
            raise KeyRingError(f"unknown data key id {key_id!r}") from None

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={list(self._data_keys)!r}, active_id={self._active_id!r})"

    __str__ = __repr__

    # -- loading -------------------------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        """Read ``SSC_DATA_KEYS``, ``SSC_DATA_KEY_ACTIVE`` (optional with a single key) and
        ``SSC_BLIND_INDEX_KEY``."""
        env = os.environ if environ is None else environ
        for name in (ENV_DATA_KEYS, ENV_BLIND_INDEX_KEY):
            if not env.get(name):
                raise KeyRingError(f"{name} is not set")
        data_keys: dict[str, bytes] = {}
        for item in env[ENV_DATA_KEYS].split(","):
            key_id, sep, encoded = item.strip().partition(":")
            if not sep:
                raise KeyRingError(f"{ENV_DATA_KEYS}: expected 'id:base64' items separated by commas")
            if key_id in data_keys:
                raise KeyRingError(f"{ENV_DATA_KEYS}: key id {key_id!r} given twice")
            data_keys[key_id] = _b64decode(encoded, f"{ENV_DATA_KEYS} key {key_id!r}")
        active = env.get(ENV_ACTIVE) or (next(iter(data_keys)) if len(data_keys) == 1 else "")
        if not active:
            raise KeyRingError(f"{ENV_ACTIVE} must name the active key when there are several")
        return cls(data_keys, active, _b64decode(env[ENV_BLIND_INDEX_KEY], ENV_BLIND_INDEX_KEY))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Read a JSON key file; refuse it if group or others have any permission on it."""
        path = Path(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise KeyRingError(f"cannot open key file {path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if mode & 0o077:
                raise KeyRingError(
                    f"key file {path} has mode {mode:04o}: group/others may access it; "
                    f"run 'chmod 600 {path}' (only its owner may read a key file)"
                )
            raw = f.read()
        try:
            doc = json.loads(raw)
            version, active, encoded_keys = doc["version"], doc["active"], doc["data_keys"].items()
            encoded_blind = doc["blind_index_key"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # the decoder's exception would carry the document (the keys) along: drop it
            raise KeyRingError(f"key file {path} is not a valid key file ({type(exc).__name__})") from None
        if version != FILE_FORMAT_VERSION:
            raise KeyRingError(f"key file {path}: unsupported version {version!r}")
        data_keys = {str(k): _b64decode(v, f"key file {path}: key {k!r}") for k, v in encoded_keys}
        return cls(data_keys, str(active), _b64decode(encoded_blind, f"key file {path}: blind_index_key"))

    @classmethod
    def load(cls, path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> KeyRing:
        """The keys the application runs with: the environment if ``SSC_DATA_KEYS`` or
        ``SSC_BLIND_INDEX_KEY`` is set, else the key file at ``path``, generated there (mode 0600, missing
        directories 0700, logged with its path) when it does not exist yet, as the demo does on first run."""
        env = os.environ if environ is None else environ
        if env.get(ENV_DATA_KEYS) or env.get(ENV_BLIND_INDEX_KEY):
            return cls.from_env(env)
        if Path(path).exists():
            return cls.from_file(path)
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        ring = cls.generate_file(path)
        log.warning("generated a new privacy key file at %s (mode 0600); back it up", path)
        return ring

    # -- writing -------------------------------------------------------------------------------------------

    @classmethod
    def generate_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Create a new key file (one data key ``k1`` and a blind-index key) with mode 0600.

        The file is created with ``O_CREAT | O_EXCL`` and mode 0600 from its first byte; an existing file
        is never overwritten (``FileExistsError``).
        """
        ring = cls({"k1": secrets.token_bytes(KEY_BYTES)}, "k1", secrets.token_bytes(KEY_BYTES))
        _write_private(Path(path), ring._document(), replace=False)
        return ring

    @classmethod
    def with_new_key(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Rotate the data keys in the key file at ``path``: add a fresh key and make it active.

        Old keys stay (old values must remain readable); the blind-index key is unchanged. The file is
        replaced atomically (a 0600 temporary file renamed over it). Not meant to run concurrently.
        """
        ring = cls.from_file(path)
        number = len(ring._data_keys) + 1
        while f"k{number}" in ring._data_keys:
            number += 1
        new_id = f"k{number}"
        rotated = cls({**ring._data_keys, new_id: secrets.token_bytes(KEY_BYTES)}, new_id, ring._blind_index_key)
        _write_private(Path(path), rotated._document(), replace=True)
        return rotated

    def _document(self) -> dict[str, object]:
        return {
            "version": FILE_FORMAT_VERSION,
            "active": self._active_id,
            "data_keys": {key_id: _b64encode(key) for key_id, key in self._data_keys.items()},
            "blind_index_key": _b64encode(self._blind_index_key),
        }


def _b64encode(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _b64decode(encoded: object, what: str) -> bytes:
    if not isinstance(encoded, str):
        raise KeyRingError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyRingError(f"{what} is not valid base64") from None


def _write_private(path: Path, document: dict[str, object], *, replace: bool) -> None:
    """Write ``document`` as JSON to a file created with mode 0600 (never widened by a later chmod).

    ``replace=False`` creates ``path`` itself exclusively; ``replace=True`` writes a temporary file in the
    same directory and renames it over ``path``, so readers see the old or the new file, never half of one.
    """
    target = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp") if replace else path
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(target, path)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
