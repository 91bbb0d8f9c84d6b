"""Writing and checking the audit trail (Art. 16): who read or changed whose data, why, from where.

``record`` is called inside the caller's transaction, so an entry exists exactly when the work
it describes committed. Values in ``changes`` must already be masked.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEntry, AuditHead
from app.privacy.audit_chain import GENESIS, ChainReport, canonical, entry_hash, verify_chain
from app.services import clock
from app.services.actor import Actor

HEAD_ID = 1


def _head(session: Session) -> AuditHead:
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=HEAD_ID, seq=0, hash=GENESIS)
        session.add(head)
        session.flush()
    return head


def record(
    session: Session, actor: Actor, action: str, *, person_id: int | None = None, subject: str | None = None,
    purpose: str | None = None, changes: dict | None = None, fields: list[str] | None = None,
) -> AuditEntry:
    """Append one entry: actor, role, organisation, purpose, request id, client address, subject,
    and for changes the (masked) old and new values."""
    head = _head(session)
    now = clock.now()
    rec = {
        "at": now, "action": action, "actor_id": actor.user_id, "actor_role": str(actor.role),
        "resident_id": actor.person_id, "bank_id": actor.bank_id, "outlet_id": actor.outlet_id,
        "agency_id": actor.agency_id, "channel": str(actor.channel), "purpose": purpose,
        "request_id": actor.request_id, "client_ip": actor.client_ip, "person_id": person_id,
        "subject": subject, "fields": fields, "changes": changes,
    }
    rec = json.loads(canonical({k: v for k, v in rec.items() if v is not None}))
    seq = head.seq + 1
    digest = entry_hash(head.hash, seq, rec)
    entry = AuditEntry(seq=seq, prev_hash=head.hash, hash=digest, at=now, action=action,
                       actor_role=str(actor.role), actor_id=actor.user_id, person_id=person_id, record=rec)
    session.add(entry)
    head.seq, head.hash = seq, digest
    session.flush()
    return entry


_COLUMNS = ("action", "actor_role", "actor_id", "person_id")


def _entries(session: Session, batch: int = 1000) -> Iterator[tuple[int, str, str, dict]]:
    """The chain in order. The queryable columns are laid over the record, so a column edited
    apart from its record (say, to hide an entry from a person's access log) breaks the hash."""
    last = 0
    cols = [getattr(AuditEntry, c) for c in _COLUMNS]
    while True:
        rows = session.execute(
            select(AuditEntry.seq, AuditEntry.prev_hash, AuditEntry.hash, AuditEntry.record, *cols)
            .where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        for seq, prev, digest, rec, *values in rows:
            overlay = {k: v for k, v in zip(_COLUMNS, values) if v is not None}
            yield seq, prev, digest, {**{k: v for k, v in rec.items() if k not in _COLUMNS}, **overlay}
        last = rows[-1][0]


def _written_as(session: Session, seq: int) -> int | None:
    """The seq under which the entry now stored at ``seq`` was written, if its content is intact under
    another seq: it was moved (seq values swapped), not edited. Tries the seqs its chain neighbours
    imply, then every seq in the table (only ever run on a broken chain)."""
    cols = [getattr(AuditEntry, c) for c in _COLUMNS]
    row = session.execute(select(AuditEntry.prev_hash, AuditEntry.hash, AuditEntry.record, *cols)
                          .where(AuditEntry.seq == seq)).one_or_none()
    if row is None:
        return None
    prev, digest, rec, *values = row
    overlay = {k: v for k, v in zip(_COLUMNS, values) if v is not None}
    rec = {**{k: v for k, v in rec.items() if k not in _COLUMNS}, **overlay}
    before = session.scalar(select(AuditEntry.seq).where(AuditEntry.hash == prev))
    after = session.scalar(select(AuditEntry.seq).where(AuditEntry.prev_hash == digest).limit(1))
    guesses = [s for s in (1 if prev == GENESIS else None, before and before + 1, after and after - 1) if s]
    every = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq))
    try:
        for candidate in dict.fromkeys([*guesses, *every]):
            if candidate != seq and entry_hash(prev, candidate, rec) == digest:
                return candidate
    except TypeError:
        return None
    return None


def verify(session: Session) -> ChainReport:
    """Check the whole chain, then that it ends where the head says (a cut-off tail is detected too).
    An entry whose content is intact but stored under another seq is reported as ``reordered``."""
    report = verify_chain(_entries(session))
    if not report.ok and report.reason == "edited" and report.seq is not None:
        original = _written_as(session, report.seq)
        if original is not None:
            return replace(report, reason="reordered",
                           detail=f"entry {report.seq} holds the entry written as {original}: entries were moved")
    if not report.ok:
        return report
    head = session.get(AuditHead, HEAD_ID)
    if head is not None and (head.seq, head.hash) != (report.last_seq, report.last_hash):
        return ChainReport(ok=False, checked=report.checked, last_seq=report.last_seq, last_hash=report.last_hash,
                           seq=report.last_seq + 1, reason="deleted",
                           detail=f"the chain ends at {report.last_seq} but the head records {head.seq}")
    return report
