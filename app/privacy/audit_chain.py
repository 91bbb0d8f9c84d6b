"""Hash chain of the append-only audit log: who looked at or changed whose data must stay on record (Art. 16).

Entry ``seq`` (1, 2, 3, …) stores ``prev_hash`` (the previous entry's hash, :data:`GENESIS` for the first),
its ``record`` and a hash over both. The chain is **keyed**: with the audit key (kept apart from the
database, see ``AUDIT_KEY`` in ``app.config``)::

    hash = HMAC-SHA256( key, "ssc-audit/2|" || prev_hash || "|" || decimal(seq) || "|" || canonical(record) )

so that someone able to write the table but without the key cannot rebuild the hashes after an edit: a
rewritten chain, however consistent, fails at its first entry. Entries written before the chain was keyed
(format 1, :func:`legacy_entry_hash`: the same without key and prefix, plain SHA-256) keep their hashes;
the head records from which entry on the chain is keyed and a :func:`seal` (an HMAC) over that number and
the last unkeyed hash, so neither the older entries nor the switch-over point can be rewritten either.

**Several chains** (issue 18): one chain serialises every audited transaction on its head row. The trail is
therefore K chains side by side (``audit_head`` rows 1..K), each with the same format and its own positions
1, 2, 3, …; a transaction appends to one chain, the first whose head no other transaction holds. Chain 1
is keyed with the audit key itself (so a trail written before there were several chains is chain 1,
unchanged); chain ``c`` > 1 with :func:`chain_key` (an HMAC of the audit key and ``c``), so an entry moved
into another chain fails its hash. Chain 1 also takes the **anchors**: periodic entries that record every
other chain's head, so that cutting back any chain below its last anchor is found from chain 1 alone, and
one head recorded outside the database (chain 1's) covers them all.

Editing a record, deleting an entry or changing the order breaks the chain at that entry. A chain alone
cannot reveal that its newest entries were cut off: compare :attr:`ChainReport.last_seq` /
:attr:`ChainReport.last_hash` with a head recorded elsewhere (the audit head row, and a head printed or
stored by another system) to catch that.
"""
from __future__ import annotations

import hashlib
import hmac
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


def legacy_entry_hash(prev_hash: str, seq: int, record: dict[str, Any]) -> str:
    """Format 1, before the chain was keyed: SHA-256 (hex) over ``prev_hash|seq|canonical(record)``.
    Only ever checked, for the entries before the head's ``keyed_from``; never written any more."""
    return hashlib.sha256(f"{prev_hash}|{seq}|".encode("ascii") + canonical(record)).hexdigest()


def entry_hash(key: bytes, prev_hash: str, seq: int, record: dict[str, Any]) -> str:
    """Format 2: HMAC-SHA256 (hex) with the audit key over ``ssc-audit/2|prev_hash|seq|canonical(record)``."""
    return hmac.new(key, f"ssc-audit/2|{prev_hash}|{seq}|".encode("ascii") + canonical(record),
                    hashlib.sha256).hexdigest()


def chain_key(key: bytes, chain: int) -> bytes:
    """The key of chain ``chain``: the audit key for chain 1, a key derived from it for the others."""
    if chain == 1:
        return key
    return hmac.new(key, f"ssc-audit-chain/3|{chain}".encode("ascii"), hashlib.sha256).digest()


def seal(key: bytes, keyed_from: int, tip: str) -> str:
    """The head's attestation that entries from ``keyed_from`` on are keyed and that entry
    ``keyed_from - 1`` (the last one written before) has hash ``tip`` (:data:`GENESIS` for a chain keyed
    from its first entry)."""
    return hmac.new(key, f"ssc-audit-seal/2|{keyed_from}|{tip}".encode("ascii"), hashlib.sha256).hexdigest()


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
    chain: int = 1  # the chain the report is about (its first bad one, or chain 1 when all are intact)


def verify_chain(entries: Iterable[Entry], key: bytes, *, keyed_from: int = 1, sealed: str | None = None,
                 after: tuple[int, str] = (0, GENESIS)) -> ChainReport:
    """Check ``entries`` (seq, prev_hash, hash, record) in the order given, streaming (constant memory).

    Entries from ``keyed_from`` on must carry the keyed hash (:func:`entry_hash` with ``key``), the ones
    before it the unkeyed format 1; ``sealed``, the head's :func:`seal`, must cover ``keyed_from`` and the
    hash of entry ``keyed_from - 1`` (not checked when None). ``after`` is the (seq, hash) of the entry
    before the first one: the genesis by default, or a verified checkpoint to check only newer entries. The first bad entry is reported as

    * ``edited``: its hash does not match its own content (or its record is not a JSON object), or it is
      the last unkeyed entry and not the one sealed (the entries up to it were rewritten); entry 1 when a
      chain keyed from the start has a seal that this key did not make;
    * ``deleted``: seq jumps forward (the report's ``seq`` is the first missing one) and the next entry
      does not go back into the gap, or the chain ends before the sealed unkeyed tip;
    * ``reordered``: seq goes backwards or repeats, a forward jump is followed by an entry from the gap,
      or ``prev_hash`` does not link to the previous entry's hash.
    """
    last_seq, last_hash = after
    checked = 0

    def bad(seq: int, reason: Reason, detail: str) -> ChainReport:
        return ChainReport(False, checked, last_seq, last_hash, seq, reason, detail)

    def unsealed(seq: int, digest: str) -> ChainReport | None:
        """At entry ``keyed_from - 1`` (0: the genesis): the head's seal must cover its hash."""
        if sealed is None or seq != keyed_from - 1 or seal(key, keyed_from, digest) == sealed:
            return None
        if seq == 0:
            return bad(1, "edited", "the audit head's seal does not verify with this audit key: the head was "
                                    "altered, or the key is not the one the chain was written with")
        return bad(seq, "edited", f"entry {seq} is not the last unkeyed entry the head sealed: the entries "
                                  f"up to {seq} were rewritten, or the seal was altered")

    if failed := unsealed(last_seq, last_hash):
        return failed
    stream = iter(entries)
    current = next(stream, None)
    while current is not None:
        following = next(stream, None)  # one entry of lookahead tells a deletion from a move
        seq, prev_hash, stored_hash, record = current
        expected = last_seq + 1
        if not isinstance(record, dict):
            return bad(seq, "edited", f"entry {seq}: its record is not a JSON object")
        try:
            digest = (entry_hash(key, prev_hash, seq, record) if seq >= keyed_from
                      else legacy_entry_hash(prev_hash, seq, record))
        except (TypeError, ValueError):  # e.g. a float written into the table: never hashed by us
            digest = None
        if digest is None or digest != stored_hash:
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
        if failed := unsealed(seq, stored_hash):
            return failed
        last_seq, last_hash = seq, stored_hash
        checked += 1
        current = following
    if last_seq < keyed_from - 1:
        return bad(last_seq + 1, "deleted", f"the chain ends at {last_seq}, before entry {keyed_from - 1} "
                                            "that the head sealed")
    return ChainReport(True, checked, last_seq, last_hash)
