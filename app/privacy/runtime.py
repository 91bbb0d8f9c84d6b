"""The process-wide privacy set-up (Art. 16): the application factory calls :func:`configure_from` once;
models then encrypt through :mod:`app.privacy.types` and services compute indexes with :func:`blind_index`."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import overload

from app.privacy.blind import BlindIndexer
from app.privacy.crypto import FieldCipher
from app.privacy.keys import KeyRing
from app.privacy.types import set_cipher

_indexer: BlindIndexer | None = None


def configure(keyring: KeyRing) -> None:
    """Install the field cipher and the blind indexer built from ``keyring`` for this process."""
    global _indexer
    set_cipher(FieldCipher(keyring))
    _indexer = BlindIndexer(keyring.blind_index_key)


def configure_from(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> KeyRing:
    """Load the keys (environment, else the 0600 key file at ``path``, generated on first run; see
    :meth:`KeyRing.load`), install them with :func:`configure` and return them."""
    keyring = KeyRing.load(path, environ)
    configure(keyring)
    return keyring


@overload
def blind_index(kind: str, value: str) -> str: ...
@overload
def blind_index(kind: str, value: None) -> None: ...
def blind_index(kind: str, value: str | None) -> str | None:
    """``BlindIndexer.index`` with the installed key; ``None`` for a ``None`` value (an absent optional
    field stores a NULL index). Never look rows up with ``None``: ``col == None`` matches every NULL."""
    if _indexer is None:
        raise RuntimeError("privacy keys not configured: call app.privacy.runtime.configure_from() at startup")
    return None if value is None else _indexer.index(kind, value)
