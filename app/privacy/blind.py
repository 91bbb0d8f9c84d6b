"""Blind indexes: exact-match search over encrypted personal information (Art. 16).

An encrypted column cannot be searched (every value has a fresh nonce), so each searchable column has a
companion ``*_bidx`` column holding ``HMAC-SHA256(blind-index key, kind || 0x00 || normalise(kind, value))``
as 64 lowercase hex characters. Equal normalised values give equal indexes, so ``WHERE doc_number_bidx = ?``
finds a person without the database ever holding a readable number; without the key (kept outside the
database, see :mod:`app.privacy.keys`) the index cannot be recomputed from a guess. That matters because ID
numbers have little entropy (region, birth date, sequence): a plain hash would be brute-forced in minutes.
The ``kind`` is part of the MAC, so the same string indexed as a phone and as a card number gives unrelated
indexes and one column's index cannot be matched against another's.

Why names are searched by exact match only. The counter looks a person up by ID number first; the name is a
secondary *exact* filter (e.g. to confirm the holder or to narrow a list), compared after normalisation
(NFKC, no whitespace, no middle dots ``·•・`` as in 阿卜杜·热合曼, case-folded), so spelling variants of the
same name still match. Prefix or fuzzy name search is deliberately not offered: it would need indexes over
surnames, prefixes or n-grams, whose frequencies mirror the public distribution of Chinese surnames and
characters, so anyone with the table could read them back by frequency analysis; and it would let a clerk
browse everyone whose name starts with 王, which is exactly the "illegal inquiry" Art. 16 forbids. An exact
index still reveals which rows share a name; that is the accepted cost of being able to search at all.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable

BLIND_INDEX_LENGTH = 64  # hex characters of a full HMAC-SHA256

_NOT_DIGIT = re.compile(r"[^0-9]")
# whitespace, and the middle dots used between the parts of transliterated names (NFKC has already folded
# the halfwidth ･ into ・ and the Greek ano teleia into ·)
_NAME_SEPARATORS = re.compile(r"[\s\u00b7\u2022\u30fb\u2027\u2219\u22c5]")


def _upper(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().upper()


def _phone(value: str) -> str:
    return _NOT_DIGIT.sub("", unicodedata.normalize("NFKC", value))


def _name(value: str) -> str:
    return _NAME_SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).casefold()


_NORMALISERS: dict[str, Callable[[str], str]] = {
    # strip and upper-case (a final check character x → X); NFKC turns full-width digits typed with a
    # Chinese input method into ASCII ones
    "id_number": _upper,
    # digits only; the caller canonicalises first (e.g. E.164 without "+"): "+86 138…" and "138…" differ
    "phone": _phone,
    "card_number": _upper,
    "name": _name,
}
KINDS = frozenset(_NORMALISERS)


def normalise(kind: str, value: str) -> str:
    """The form of ``value`` that is indexed for ``kind`` (one of :data:`KINDS`)."""
    try:
        return _NORMALISERS[kind](value)
    except KeyError:
        raise ValueError(f"unknown blind-index kind {kind!r}; one of {sorted(KINDS)}") from None


class BlindIndexer:
    """Computes blind indexes with the blind-index key (``KeyRing.blind_index_key``)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("blind-index key must be at least 32 bytes")
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "BlindIndexer(<key hidden>)"

    def index(self, kind: str, value: str) -> str:
        """64 hex characters: HMAC-SHA256 over ``kind``, a zero byte and the normalised value.

        Raises ``ValueError`` for an unknown kind or a value that normalises to nothing (store NULL then).
        """
        normalised = normalise(kind, value)
        if not normalised:
            raise ValueError(f"nothing to index: the {kind} is empty once normalised")
        message = kind.encode("ascii") + b"\x00" + normalised.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
