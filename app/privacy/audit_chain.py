"""Hash chain of the append-only audit log: who looked at or changed whose data must stay on record (Art. 16).

Entry ``seq`` (1, 2, 3, …) stores ``prev_hash`` (the previous entry's hash, :data:`GENESIS` for the first),
its ``record`` and ``hash = entry_hash(prev_hash, seq, record)``::

    hash = SHA-256( prev_hash || "|" || decimal(seq) || "|" || canonical(record) )   (lowercase hex)

Editing a record, deleting an entry or changing the order breaks the chain at that entry. A chain alone
cannot reveal that its newest entries were cut off, nor that someone able to write the table rebuilt every
hash after an edit: compare :attr:`ChainReport.last_seq` / :attr:`ChainReport.last_hash` with a head recorded
elsewhere (printed, mailed, stored by another system) to catch those.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Literal

GENESIS = "0" * 64

Entry = tuple[int, str, str, dict[str, Any]]  # (seq, prev_hash, hash, record)
Reason = Literal["edited", "deleted", "reordered"]


def _plain(value: object) -> object:
    """``value`` with datetimes as ISO 8601 UTC strings; TypeError for what has no single JSON form."""
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("audit record keys must be strings")
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in an audit record: its instant is ambiguous")
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return value
    # floats are refused: their text form differs between writers (amounts are integer fen)
    raise TypeError(f"audit records cannot hold {type(value).__name__} values")


def canonical(record: dict[str, Any]) -> bytes:
    """The UTF-8 JSON form that is hashed: sorted keys, no whitespace, non-ASCII kept, datetimes as
    ``2026-11-23T08:00:00.000000Z``, dates as ``2026-11-23``; floats and other types refused (TypeError).

    Store the record as ``json.loads(canonical(record))`` so that verifying it later hashes the same bytes.
    """
    return json.dumps(_plain(record), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(prev_hash: str, seq: int, record: dict[str, Any]) -> str:
    """SHA-256 (hex) over ``prev_hash|seq|canonical(record)``."""
    return hashlib.sha256(f"{prev_hash}|{seq}|".encode("ascii") + canonical(record)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """Outcome of :func:`verify_chain`: ``ok``, or the first bad ``seq`` with its ``reason``.

    ``checked`` counts the entries verified before the first bad one; ``last_seq`` / ``last_hash`` are
    those of the last good entry (the head to compare with an external record when ``ok``).
    """

    ok: bool
    checked: int
    last_seq: int
    last_hash: str
    seq: int | None = None
    reason: Reason | None = None
    detail: str = ""


def verify_chain(entries: Iterable[Entry], *, after: tuple[int, str] = (0, GENESIS)) -> ChainReport:
    """Check ``entries`` (seq, prev_hash, hash, record) in the order given, streaming (constant memory).

    ``after`` is the (seq, hash) of the entry before the first one: the genesis by default, or a verified
    checkpoint to check only newer entries. The first bad entry is reported as

    * ``edited``: its hash does not match its own content;
    * ``deleted``: seq jumps forward (the report's ``seq`` is the first missing one) and the next entry
      does not go back into the gap;
    * ``reordered``: seq goes backwards or repeats, a forward jump is followed by an entry from the gap,
      or ``prev_hash`` does not link to the previous entry's hash.
    """
    last_seq, last_hash = after
    checked = 0

    def bad(seq: int, reason: Reason, detail: str) -> ChainReport:
        return ChainReport(False, checked, last_seq, last_hash, seq, reason, detail)

    stream = iter(entries)
    current = next(stream, None)
    while current is not None:
        following = next(stream, None)  # one entry of lookahead tells a deletion from a move
        seq, prev_hash, stored_hash, record = current
        expected = last_seq + 1
        try:
            intact = entry_hash(prev_hash, seq, record) == stored_hash
        except TypeError:  # e.g. a float written into the table: never hashed by us
            intact = False
        if not intact:
            return bad(seq, "edited", f"entry {seq}: hash does not match its content")
        if seq > expected:
            if following is not None and following[0] < seq:
                return bad(expected, "reordered", f"entry {seq} comes before entry {following[0]}")
            missing = str(expected) if seq == expected + 1 else f"{expected}..{seq - 1}"
            return bad(expected, "deleted", f"entry {missing} missing before entry {seq}")
        if seq < expected:
            return bad(expected, "reordered", f"entry {seq} comes after entry {last_seq}")
        if prev_hash != last_hash:
            return bad(seq, "reordered", f"entry {seq}: prev_hash does not link to entry {last_seq}")
        last_seq, last_hash = seq, stored_hash
        checked += 1
        current = following
    return ChainReport(True, checked, last_seq, last_hash)
