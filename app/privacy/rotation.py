"""Data-key rotation without downtime (Art. 16).

``flask privacy rotate-key`` (see ``app.cli``) does three things:

1. :func:`add_data_key` adds a fresh data key to the key file and makes it active
   (``KeyRing.with_new_key``: old keys stay, so every stored value remains readable), and installs the
   new ring in this process. It refuses when the keys come from the environment: there the operator
   adds the key to ``SSC_DATA_KEYS``, makes it active and restarts, then runs ``--resume``.
2. :func:`reencrypt` walks every encrypted column (:func:`encrypted_columns` finds them by scanning the
   metadata for :class:`EncryptedText` / :class:`EncryptedBytes`) in primary-key order, ``batch`` rows at
   a time with one commit per batch. It reads the RAW stored value (no decryption by the column type),
   asks :meth:`FieldCipher.needs_rotation`, re-encrypts with :meth:`FieldCipher.rotate` under the same
   context and writes it back with a Core UPDATE that only succeeds if the stored value is still the one
   read (compare-and-set), so a value the application changed meanwhile is never overwritten. Values
   already under the active key are left alone: a second run re-encrypts nothing.
3. :func:`key_usage` counts, per column and key id, how many values use each key (``flask privacy status``);
   once an old key counts zero everywhere it may be retired from the key file.

Other processes (the web workers) keep running meanwhile: :class:`ReloadingFieldCipher`, which the
application installs at start-up, reloads the key file the first time it meets a value written under a
key id it does not know yet, and from then on encrypts with the new active key too. A worker may still
write a few values under the old key before it has seen a new one; ``rotate-key --resume`` (or the next
rotation) picks those up, and ``status`` shows them.
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import (
    Column,
    Engine,
    LargeBinary,
    MetaData,
    Table,
    bindparam,
    select,
    tuple_,
    type_coerce,
    update,
)

from app.privacy.crypto import DecryptionError, FieldCipher
from app.privacy.keys import ENV_BLIND_INDEX_KEY, ENV_DATA_KEYS, KeyRing
from app.privacy.runtime import configure
from app.privacy.types import EncryptedBytes, EncryptedText, get_cipher, set_cipher

DEFAULT_BATCH = 500


class RotationRefused(Exception):
    """Rotation cannot be done here (keys from the environment, no key file…); the message says what to do."""


# ---------------------------------------------------------------- finding the encrypted columns


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    column: Column
    context: bytes

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"


def encrypted_columns(metadata: MetaData) -> list[EncryptedColumn]:
    """Every EncryptedText / EncryptedBytes column of every table in ``metadata``, in a stable order."""
    found = []
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (EncryptedText, EncryptedBytes)):
                if not table.primary_key.columns:
                    raise RotationRefused(f"{table.name} has no primary key: its values cannot be rotated in batches")
                found.append(EncryptedColumn(table, column, column.type.context.encode("utf-8")))
    return found


def _raw(column: Column):
    """The column as stored bytes: no TypeDecorator, nothing decrypted."""
    return type_coerce(column, LargeBinary())


def _batches(engine: Engine, col: EncryptedColumn, batch: int) -> Iterator[list[tuple[tuple, bytes]]]:
    """(primary key, raw value) of the non-NULL values of ``col``, in primary-key order, ``batch`` at a
    time (keyset pagination: each batch is a fresh short query, so no long-running read)."""
    pk = list(col.table.primary_key.columns)
    key = pk[0] if len(pk) == 1 else tuple_(*pk)
    last = None
    while True:
        q = select(*pk, _raw(col.column)).where(col.column.is_not(None)).order_by(*pk).limit(batch)
        if last is not None:
            q = q.where(key > (last[0] if len(pk) == 1 else tuple_(*last)))
        with engine.connect() as conn:
            rows = [(tuple(r[:-1]), bytes(r[-1])) for r in conn.execute(q)]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


# ---------------------------------------------------------------- adding a key


def key_file_for(config_value: str | os.PathLike[str] | None, instance_dir: str | os.PathLike[str]) -> Path:
    """The key file the application uses (``PRIVACY_KEY_FILE``, else ``INSTANCE_DIR/privacy-keys.json``)."""
    return Path(config_value) if config_value else Path(instance_dir) / "privacy-keys.json"


def keys_from_environment(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get(ENV_DATA_KEYS) or env.get(ENV_BLIND_INDEX_KEY))


def add_data_key(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> KeyRing:
    """Add a new active data key to the key file at ``path`` and install the new ring in this process."""
    if keys_from_environment(environ):
        raise RotationRefused(
            f"The data keys come from the environment ({ENV_DATA_KEYS}), not from a key file: add the new "
            f"key there as 'id:base64', set SSC_DATA_KEY_ACTIVE to its id, restart the application, then run "
            f"'flask privacy rotate-key --resume' to re-encrypt the stored values.")
    if not Path(path).exists():
        raise RotationRefused(f"No key file at {path}: nothing to rotate (the application creates it on first run).")
    ring = KeyRing.with_new_key(path)
    install(ring, lambda: KeyRing.load(path, environ))
    return ring


# ---------------------------------------------------------------- re-encrypting


@dataclass
class ColumnResult:
    scanned: int = 0
    rotated: int = 0
    changed_meanwhile: int = 0  # rewritten by the application between our read and our write: left alone
    unreadable: int = 0  # malformed or under a key no longer in the ring: reported, never touched


@dataclass
class RotationResult:
    active_key: str
    columns: dict[str, ColumnResult] = field(default_factory=dict)

    @property
    def rotated(self) -> int:
        return sum(c.rotated for c in self.columns.values())

    @property
    def scanned(self) -> int:
        return sum(c.scanned for c in self.columns.values())

    @property
    def unreadable(self) -> int:
        return sum(c.unreadable for c in self.columns.values())


def _fixed_onupdate(table: Table) -> dict:
    """Columns with an ``onupdate`` default (``updated_at``) keep their value: re-encryption is no change."""
    return {c.name: c for c in table.columns if c.onupdate is not None}


def reencrypt(engine: Engine, columns: list[EncryptedColumn], *, batch: int = DEFAULT_BATCH,
              cipher: FieldCipher | None = None, progress: Callable[[str], None] | None = None) -> RotationResult:
    """Re-encrypt under the active key every value of ``columns`` that uses another key; one commit per
    batch. Idempotent: values already under the active key are skipped."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    cipher = cipher or get_cipher()
    result = RotationResult(active_key=cipher._active_id)
    for col in columns:
        res = result.columns.setdefault(col.name, ColumnResult())
        pk = list(col.table.primary_key.columns)
        stmt = (
            update(col.table)
            .where(*(c == bindparam(f"pk_{i}") for i, c in enumerate(pk)))
            .where(_raw(col.column) == bindparam("old_value", type_=LargeBinary()))
            .values({col.column.name: bindparam("new_value", type_=LargeBinary()), **_fixed_onupdate(col.table)})
        )
        for rows in _batches(engine, col, batch):
            params = []
            for key, blob in rows:
                res.scanned += 1
                try:
                    if not cipher.needs_rotation(blob):
                        continue
                    new = cipher.rotate(blob, context=col.context)
                except DecryptionError:
                    res.unreadable += 1
                    continue
                params.append({**{f"pk_{i}": v for i, v in enumerate(key)}, "old_value": blob, "new_value": new})
            if not params:
                continue
            with engine.begin() as conn:  # one transaction per batch
                for p in params:
                    if conn.execute(stmt, p).rowcount == 1:
                        res.rotated += 1
                    else:
                        res.changed_meanwhile += 1
            if progress:
                progress(f"  {col.name}: {res.rotated} re-encrypted so far")
    return result


def key_usage(engine: Engine, columns: list[EncryptedColumn], *, batch: int = 5000,
              cipher: FieldCipher | None = None) -> dict[str, Counter[str]]:
    """Per column, how many stored values use each key id (read from the headers, nothing decrypted).
    Values that are not even well-formed count under ``"<malformed>"``."""
    cipher = cipher or get_cipher()
    usage: dict[str, Counter[str]] = {}
    for col in columns:
        counts: Counter[str] = Counter()
        for rows in _batches(engine, col, batch):
            for _, blob in rows:
                try:
                    counts[cipher.key_id_of(blob)] += 1
                except DecryptionError:
                    counts["<malformed>"] += 1
        usage[col.name] = counts
    return usage


# ---------------------------------------------------------------- picking up a new key in running processes


class ReloadingFieldCipher(FieldCipher):
    """A :class:`FieldCipher` that reloads the keys when it meets a value under a key id it does not know:
    the web workers keep reading values that ``flask privacy rotate-key`` (another process) has already
    re-encrypted under the new key, and switch to that key for their own writes. Reloads are limited to
    one per ``min_interval`` seconds, so forged key ids cannot make it read the key file in a loop."""

    def __init__(self, keyring: KeyRing, load: Callable[[], KeyRing], *, min_interval: float = 1.0) -> None:
        super().__init__(keyring)
        self._load = load
        self._lock = threading.Lock()
        self._min_interval = min_interval
        self._last_reload = float("-inf")

    def decrypt(self, blob: bytes, *, context: bytes) -> str | bytes:
        try:
            return super().decrypt(blob, context=context)
        except DecryptionError:
            if not self._reload_for(blob):
                raise
        return super().decrypt(blob, context=context)

    def _reload_for(self, blob: bytes) -> bool:
        try:
            key_id = self.key_id_of(blob)
        except DecryptionError:
            return False
        if key_id in self._aeads:
            return False  # a known key: the value itself is bad
        with self._lock:
            if key_id not in self._aeads and time.monotonic() - self._last_reload >= self._min_interval:
                self._last_reload = time.monotonic()
                try:
                    fresh = FieldCipher(self._load())
                except Exception:  # noqa: BLE001 - a broken key file must not turn a read into a crash loop
                    return False
                # keys first, then the active id: a concurrent encrypt never sees an id without its key
                self._aeads = {**self._aeads, **fresh._aeads}
                self._active_id = fresh._active_id
        return key_id in self._aeads


def install(keyring: KeyRing, load: Callable[[], KeyRing]) -> None:
    """Install ``keyring`` for this process (cipher and blind indexer), with reloading as above."""
    configure(keyring)
    set_cipher(ReloadingFieldCipher(keyring, load))


def configure_reloading(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> KeyRing:
    """What the application factory calls: ``runtime.configure_from`` plus a reloading cipher."""
    keyring = KeyRing.load(path, environ)
    install(keyring, lambda: KeyRing.load(path, environ))
    return keyring
