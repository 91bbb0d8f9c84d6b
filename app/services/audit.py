"""Writing and checking the audit trail (Art. 16): who read or changed whose data, why, from where.

``record`` is called inside the caller's transaction, so an entry exists exactly when the work
it describes committed. Values in ``changes`` must already be masked. Hashes are keyed with the audit
key (``AUDIT_KEY``: ``SSC_AUDIT_KEY`` or ``instance/audit_key``), which never enters the database.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from app.models import AuditEntry, AuditHead
from app.privacy.audit_chain import (
    GENESIS,
    ChainReport,
    canonical,
    entry_hash,
    legacy_entry_hash,
    seal,
    verify_chain,
)
from app.services import clock
from app.services.actor import Actor

HEAD_ID = 1


def _key() -> bytes:
    """The audit key of the running application (app.config ``AUDIT_KEY``), kept apart from the database."""
    return current_app.config["AUDIT_KEY"].encode("utf-8")


def _head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=HEAD_ID, seq=0, hash=GENESIS, keyed_from=1, seal=seal(_key(), 1, GENESIS))
        session.add(head)
        session.flush()
    return head


def record(
    session: Session, actor: Actor, action: str, *, person_id: int | None = None, subject: str | None = None,
    purpose: str | None = None, changes: dict | None = None, fields: list[str] | None = None,
) -> AuditEntry:
    """Append one entry: actor, role, organisation, purpose, request id, client address, subject,
    and for changes the (masked) old and new values."""
    return record_many(session, actor, action, [person_id], subject=subject, purpose=purpose, changes=changes,
                       fields=fields)[0]


def record_many(
    session: Session, actor: Actor, action: str, person_ids: list[int | None], *, subject: str | None = None,
    purpose: str | None = None, changes: dict | None = None, fields: list[str] | None = None,
) -> list[AuditEntry]:
    """Append one entry per cardholder of ``person_ids`` (in that order), chained one after the other under
    ONE lock of the head and written in one statement: a list of 50 holders costs one append, not 50
    (issue 18). The entries and their hashes are exactly those :func:`record` would write one by one."""
    head = _head(session)
    now = clock.now()
    key = _key()
    entries = []
    seq, prev = head.seq, head.hash
    for person_id in person_ids:
        rec = {
            "at": now, "action": action, "actor_id": actor.user_id, "actor_role": str(actor.role),
            "resident_id": actor.person_id, "bank_id": actor.bank_id, "outlet_id": actor.outlet_id,
            "agency_id": actor.agency_id, "credential_id": actor.credential_id, "channel": str(actor.channel),
            "purpose": purpose, "request_id": actor.request_id, "client_ip": actor.client_ip, "person_id": person_id,
            "subject": subject, "fields": fields, "changes": changes,
        }
        rec = json.loads(canonical({k: v for k, v in rec.items() if v is not None}))
        seq += 1
        digest = entry_hash(key, prev, seq, rec)
        entries.append(AuditEntry(seq=seq, prev_hash=prev, hash=digest, at=now, action=action,
                                  actor_role=str(actor.role), actor_id=actor.user_id, person_id=person_id,
                                  record=rec))
        prev = digest
    session.add_all(entries)
    head.seq, head.hash = seq, prev
    session.flush()
    return entries


# Every column of an entry besides the chain's own (seq, prev_hash, hash) is a copy of the record's value of
# the same name, laid over the record when it is verified: a column edited apart from its record (a time
# moved, an entry hidden from a person's access log) breaks the hash like an edited record does.
_CHAIN = ("seq", "prev_hash", "hash", "record")
_COLUMNS = tuple(c.name for c in AuditEntry.__table__.columns if c.name not in _CHAIN)
_RAW = [type_coerce(AuditEntry.__table__.c[name], NullType()) for name in (*_CHAIN, *_COLUMNS)]


def _from_storage(name: str, value: object) -> object:
    """A value as read without the column type (which would raise on a value not of its kind), in the form
    the record holds it. What cannot be read stays as it is, and so fails the hash."""
    if name == "record" and isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return None  # not JSON: verify_chain names the entry
    if name == "at" and isinstance(value, str):  # SQLite keeps datetimes as text
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return json.loads(canonical({"v": value}))["v"]
    return value


def _entry(row) -> tuple[int, str, str, object]:
    """(seq, prev_hash, hash, record with the columns laid over it) from a row of :data:`_RAW`."""
    values = dict(zip((*_CHAIN, *_COLUMNS), row))
    rec = _from_storage("record", values["record"])
    if isinstance(rec, dict):
        overlay = {k: _from_storage(k, values[k]) for k in _COLUMNS if values[k] is not None}
        rec = {**{k: v for k, v in rec.items() if k not in _COLUMNS}, **overlay}
    return values["seq"], values["prev_hash"], values["hash"], rec


def _entries(session: Session, batch: int = 1000) -> Iterator[tuple[int, str, str, object]]:
    """The chain in order, each record with the queryable columns laid over it."""
    last = 0
    while True:
        rows = session.execute(select(*_RAW).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)).all()
        if not rows:
            return
        yield from map(_entry, rows)
        last = rows[-1][0]


def _written_as(session: Session, seq: int, keyed_from: int) -> int | None:
    """The seq under which the entry now stored at ``seq`` was written, if its content is intact under
    another seq: it was moved (seq values swapped), not edited. Tries the seqs its chain neighbours
    imply, then every seq in the table (only ever run on a broken chain)."""
    row = session.execute(select(*_RAW).where(AuditEntry.seq == seq)).one_or_none()
    if row is None:
        return None
    _, prev, digest, rec = _entry(row)
    if not isinstance(rec, dict):
        return None
    before = session.scalar(select(AuditEntry.seq).where(AuditEntry.hash == prev))
    after = session.scalar(select(AuditEntry.seq).where(AuditEntry.prev_hash == digest).limit(1))
    guesses = [s for s in (1 if prev == GENESIS else None, before and before + 1, after and after - 1) if s]
    every = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq))
    key = _key()
    try:
        for candidate in dict.fromkeys([*guesses, *every]):
            hashed = (entry_hash(key, prev, candidate, rec) if candidate >= keyed_from
                      else legacy_entry_hash(prev, candidate, rec))
            if candidate != seq and hashed == digest:
                return candidate
    except (TypeError, ValueError):
        return None
    return None


def verify(session: Session, expect: tuple[int, str] | None = None) -> ChainReport:
    """Check the head's seal and the whole chain, then that it ends where the head says (a cut-off tail is
    detected too). An entry whose content is intact but stored under another seq is reported as
    ``reordered``. ``expect``: a head (seq, hash) recorded outside the database earlier, which the chain
    must still hold (catches a chain cut back or wiped by someone who could also move the head)."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash, AuditHead.keyed_from, AuditHead.seal)
                           .where(AuditHead.id == HEAD_ID)).one_or_none()
    keyed_from, sealed = (head.keyed_from, head.seal) if head is not None else (1, None)
    report = verify_chain(_entries(session), _key(), keyed_from=keyed_from, sealed=sealed)
    if not report.ok and report.reason == "edited" and report.seq is not None:
        original = _written_as(session, report.seq, keyed_from)
        if original is not None:
            return replace(report, reason="reordered",
                           detail=f"entry {report.seq} holds the entry written as {original}: entries were moved")
    if not report.ok:
        return report
    if head is None and report.checked:
        return replace(report, ok=False, seq=report.last_seq + 1, reason="deleted",
                       detail=f"the audit head is missing: nothing shows where the chain ended ({report.last_seq}?)")
    if head is not None and (head.seq, head.hash) != (report.last_seq, report.last_hash):
        return replace(report, ok=False, seq=report.last_seq + 1, reason="deleted",
                       detail=f"the chain ends at {report.last_seq} but the head records {head.seq}")
    if expect is not None:
        seq, digest = expect
        stored = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
        if stored is None:
            return replace(report, ok=False, seq=seq, reason="deleted",
                           detail=f"entry {seq}, an earlier head recorded outside the database, is missing")
        if stored != digest:
            return replace(report, ok=False, seq=seq, reason="edited",
                           detail=f"entry {seq} is not the earlier head recorded outside the database")
    return report


# ---------------------------------------------------------------- searching the trail (the API and the Bureau's page)

from app.models.enums import Role  # noqa: E402

READERS = (Role.BUREAU, Role.AUDITOR)  # who reads the trail and verifies the chain (Art. 5, 16)
SEARCH_FILTERS = ("person_id", "actor_id", "action", "action_prefix", "since", "until")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, actor: Actor, filters: dict, *, page: int = 1, page_size: int = 50,
           newest_first: bool = False) -> tuple[list[AuditEntry], int]:
    """Entries matching ``filters`` (cardholder, actor, action or action prefix, time range), one page, and
    the total count. The search itself is recorded (``read.audit``): who looked into whose access history."""
    from sqlalchemy import func

    q = select(AuditEntry)
    f = {k: filters[k] for k in SEARCH_FILTERS if filters.get(k) not in (None, "")}
    if "person_id" in f:
        q = q.where(AuditEntry.person_id == f["person_id"])
    if "actor_id" in f:
        q = q.where(AuditEntry.actor_id == f["actor_id"])
    if "action" in f:
        q = q.where(AuditEntry.action == f["action"])
    if "action_prefix" in f:
        q = q.where(AuditEntry.action.like(_escape_like(f["action_prefix"]) + "%", escape="\\"))
    if "since" in f:
        q = q.where(AuditEntry.at >= f["since"])
    if "until" in f:
        q = q.where(AuditEntry.at < f["until"])
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    order = AuditEntry.seq.desc() if newest_first else AuditEntry.seq
    entries = list(session.scalars(q.order_by(order).offset((page - 1) * page_size).limit(page_size)))
    shown = ",".join(f"{k}={f[k]}" for k in sorted(f))
    record(session, actor, "read.audit", person_id=f.get("person_id"), subject=f"audit:{shown}" if shown else "audit")
    return entries, total
