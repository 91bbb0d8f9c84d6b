"""Masked display of personal information, the default in every answer, page and log (Art. 16).

Every function is total: ``None`` gives ``None``, an empty or blank string gives ``""``, anything else a
masked string (surrounding whitespace is dropped first). None of them raises on odd input, and a value of
three or more characters never comes back unchanged. Masks keep the length of the value (one ``*`` per
hidden character) except :func:`mask_address`, whose hidden tail is always ``****``.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Protocol, cast, overload


class _Mask(Protocol):
    @overload
    def __call__(self, value: str) -> str: ...
    @overload
    def __call__(self, value: None) -> None: ...


def _total(mask: Callable[[str], str]) -> _Mask:
    """Wrap ``mask`` (given a stripped, non-empty string) so that None and blank values pass through."""

    @functools.wraps(mask)
    def wrapper(value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        return mask(value) if value else ""

    return cast(_Mask, wrapper)


def _keep(value: str, head: int, tail: int) -> str:
    """Keep ``head`` leading and ``tail`` trailing characters and star the rest. A value too short for that
    keeps only its first and last characters (three or more characters) or nothing."""
    n = len(value)
    if head + tail >= n:
        head, tail = (min(head, 1), min(tail, 1)) if n >= 3 else (0, 0)
    return value[:head] + "*" * (n - head - tail) + value[n - tail :]


@_total
def mask_id_number(value: str) -> str:
    """18-character citizen ID: first 6 (region) and last 4 kept, the 8 birth-date digits hidden
    (``440104********1234``). Other document numbers: first 2 and last 2 kept."""
    return _keep(value, 6, 4) if len(value) == 18 else _keep(value, 2, 2)


_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_E164 = re.compile(r"\+[0-9]{8,15}")
# E.164 country codes are prefix-free: 1 and 7 are the one-digit codes, these the two-digit ones, and every
# other code has three digits (ITU-T E.164 assignment list)
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)


def _country_code(digits: str) -> str:
    if digits[:1] in ("1", "7"):
        return digits[:1]
    return digits[:2] if digits[:2] in _TWO_DIGIT_CODES else digits[:3]


@_total
def mask_phone(value: str) -> str:
    """Mainland numbers: first 3 and last 4 kept (``138****5678``), also after ``+86``. International
    numbers (E.164, ``+`` or ``00`` then 8-15 digits): country code and last 4 kept (``+852****5678``).
    Separators (spaces, hyphens, dots, parentheses) are dropped."""
    compact = _PHONE_SEPARATORS.sub("", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        return _keep(compact, 3, 4)
    code = _country_code(compact[1:])
    national = compact[1 + len(code) :]
    return f"+{code}" + (_keep(national, 3, 4) if code == "86" else _keep(national, 0, 4))


def _is_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in text)


@_total
def mask_name(value: str) -> str:
    """Chinese (and other wide-script) names: ``张三明 → 张*明``, ``张三 → 张*``, ``欧阳娜娜 → 欧**娜``,
    a single character ``*``. Latin names, word by word: ``John Smith → J*** S****``, a one-letter word
    ``*``."""
    if _is_wide(value):
        return value[0] + "*" if len(value) == 2 else _keep(value, 1, 1)
    return re.sub(r"\S+", lambda word: _keep(word[0], 1, 0), value)


# a Guangzhou district (区), county (县) or county-level city (市) right after 广州市: names have 2-4 characters
_GUANGZHOU_DISTRICT = re.compile(r"广州市[^区县市]{1,4}[区县市]")


@_total
def mask_address(value: str) -> str:
    """Keep the district: up to and including the first 区/县/市 after 广州市
    (``广东省广州市天河区****``); otherwise the first 6 characters, but never more than half of the
    address (rounded up). The rest becomes ``****`` whatever its length."""
    district = _GUANGZHOU_DISTRICT.search(value)
    kept = value[: district.end()] if district else value[: min(6, (len(value) + 1) // 2)]
    return kept + "****"


@_total
def mask_card_number(value: str) -> str:
    """Social security card number: first 1 and last 3 kept (``A*****678``)."""
    return _keep(value, 1, 3)
