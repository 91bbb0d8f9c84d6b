"""Writing and checking the audit trail (Art. 16): who read or changed whose data, why, from where.

``record`` is called inside the caller's transaction, so an entry exists exactly when the work
it describes committed. Values in ``changes`` must already be masked. Hashes are keyed with the audit
key (``AUDIT_KEY``: ``SSC_AUDIT_KEY`` or ``instance/audit_key``), which never enters the database.
"""
from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone

from flask import current_app
from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.types import NullType

from app.models import AuditEntry, AuditHead
from app.models.enums import Channel, Role
from app.privacy.audit_chain import (
    GENESIS,
    ChainReport,
    canonical,
    chain_key,
    entry_hash,
    legacy_entry_hash,
    seal,
    verify_chain,
)
from app.services import clock
from app.services.actor import Actor

log = logging.getLogger("app.audit")

HEAD_ID = 1  # chain 1: the first chain, which also takes the anchors
ANCHOR = "audit.anchor"
_ANCHORING = Actor(role=Role.SYSTEM, channel=Channel.AGENCY)  # who writes the anchors: the system itself


def _key() -> bytes:
    """The audit key of the running application (app.config ``AUDIT_KEY``), kept apart from the database."""
    return current_app.config["AUDIT_KEY"].encode("utf-8")


def _chains() -> int:
    return max(1, int(current_app.config.get("AUDIT_CHAINS", 16)))


def _new_head(session: Session, chain: int) -> None:
    """Create chain ``chain``'s head (empty, keyed from its first entry). On PostgreSQL in a transaction of
    its own, committed at once: a head created inside an audited transaction would be invisible to the
    others until it ends, and the next transaction needing a chain would wait on it. Created twice at once:
    the second insert does nothing."""
    values = {"id": chain, "seq": 0, "hash": GENESIS, "keyed_from": 1,
              "seal": seal(chain_key(_key(), chain), 1, GENESIS)}
    table = AuditHead.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import exists, literal
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        # NOT EXISTS first: ON CONFLICT alone would wait for a transaction that holds the existing head
        # (and has moved it); ON CONFLICT for two inserting at once (they commit at once, a short wait)
        row = select(*(literal(v, table.c[k].type).label(k) for k, v in values.items())).where(
            ~exists().where(table.c.id == chain))
        with session.get_bind().engine.begin() as conn:
            conn.execute(pg_insert(table).from_select(list(values), row).on_conflict_do_nothing(index_elements=["id"]))
    elif session.get(AuditHead, chain) is None:  # SQLite: one writer at a time, in this transaction
        session.execute(table.insert().values(values))


def _locked(session: Session, chain: int) -> AuditHead:
    return session.execute(select(AuditHead).where(AuditHead.id == chain).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()


def _transaction(session: Session | scoped_session):
    """The session's outermost transaction (None before it began): what a chain is held for."""
    return (session.registry() if isinstance(session, scoped_session) else session).get_transaction()


def _head(session: Session) -> AuditHead:
    """The head of the chain this transaction appends to, locked until it ends. The transaction keeps the
    chain it first took; that is the first chain (in order) no other transaction holds (SKIP LOCKED), a new
    one while there are fewer than ``AUDIT_CHAINS``, and when all are held it waits for a random one. On
    SQLite (one writer at a time, no row locks) that is always chain 1."""
    transaction = _transaction(session)
    held = session.info.get("audit_chain")
    if held is not None and held[0] is transaction:
        return _locked(session, held[1])
    free = (select(AuditHead).where(AuditHead.id <= _chains()).order_by(AuditHead.id).limit(1)
            .with_for_update(skip_locked=True).execution_options(populate_existing=True))
    while (head := session.execute(free).scalar_one_or_none()) is None:
        known = session.scalar(select(func.count()).select_from(AuditHead).where(AuditHead.id <= _chains()))
        if known >= _chains():
            head = _locked(session, random.randint(1, _chains()))
            break
        _new_head(session, known + 1)  # committed: the next look finds it, or another took it first
    session.info["audit_chain"] = (_transaction(session), head.id)
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
    head: AuditHead | None = None,
) -> list[AuditEntry]:
    """Append one entry per cardholder of ``person_ids`` (in that order), chained one after the other under
    ONE lock of the head and written in one statement: a list of 50 holders costs one append, not 50
    (issue 18). The entries and their hashes are exactly those :func:`record` would write one by one."""
    head = head or _head(session)
    now = clock.now()
    key = chain_key(_key(), head.id)
    entries = []
    pos, prev = head.seq, head.hash
    for person_id in person_ids:
        rec = {
            "at": now, "action": action, "actor_id": actor.user_id, "actor_role": str(actor.role),
            "resident_id": actor.person_id, "bank_id": actor.bank_id, "outlet_id": actor.outlet_id,
            "agency_id": actor.agency_id, "credential_id": actor.credential_id, "channel": str(actor.channel),
            "purpose": purpose, "request_id": actor.request_id, "client_ip": actor.client_ip, "person_id": person_id,
            "subject": subject, "fields": fields, "changes": changes,
        }
        rec = json.loads(canonical({k: v for k, v in rec.items() if v is not None}))
        pos += 1
        digest = entry_hash(key, prev, pos, rec)
        entries.append(AuditEntry(chain=head.id, pos=pos, prev_hash=prev, hash=digest, at=now, action=action,
                                  actor_role=str(actor.role), actor_id=actor.user_id, person_id=person_id,
                                  record=rec))
        prev = digest
    session.add_all(entries)
    head.seq, head.hash = pos, prev
    session.flush()
    return entries


def anchor(session: Session) -> AuditEntry | None:
    """Append an anchor to chain 1: the head (position and hash) of every other chain, committed, so that
    cutting any chain back below it is found from chain 1, and a head of chain 1 kept outside the database
    vouches for all chains. Run by the periodic job and by ``flask audit verify``; nothing is appended when
    no other chain moved since the last anchor. Appends in its own chain-1 lock: call it in a transaction
    that has not appended yet."""
    if session.get(AuditHead, HEAD_ID) is None:
        _new_head(session, HEAD_ID)
    head = _locked(session, HEAD_ID)
    heads = {str(c): [pos, digest] for c, pos, digest in session.execute(
        select(AuditHead.id, AuditHead.seq, AuditHead.hash).where(AuditHead.id != HEAD_ID, AuditHead.seq > 0)
        .order_by(AuditHead.id))}
    last = _last_anchor(session)
    if not heads or _anchored(last) == _anchored({"changes": {"heads": heads}}):
        return None
    if _anchored_heads_missing(session, last):  # a cut below the last anchor: never paper it over
        log.warning("audit anchor refused: a chain no longer holds the head its last anchor recorded; "
                    "run `flask audit verify`")
        return None
    session.info["audit_chain"] = (_transaction(session), HEAD_ID)
    return record_many(session, _ANCHORING, ANCHOR, [None], subject="audit", changes={"heads": heads}, head=head)[0]


def _anchored(last: dict | None) -> list[tuple[int, int, str]]:
    """(chain, position, hash) of every head an anchor record holds."""
    heads = (last or {}).get("changes", {}).get("heads", {})
    return sorted((int(c), pos, digest) for c, (pos, digest) in heads.items())


def _hash_at(session: Session, chain: int, pos: int) -> str | None:
    """The stored hash of entry ``pos`` of ``chain`` (None: there is none)."""
    return session.scalar(select(AuditEntry.hash).where(AuditEntry.chain == chain, AuditEntry.pos == pos))


def _anchored_heads_missing(session: Session, last: dict | None) -> list[tuple[int, int, str | None]]:
    """(chain, position, what is stored there) of each head ``last`` (an anchor record) holds that its
    chain no longer holds."""
    found = ((c, pos, digest, _hash_at(session, c, pos)) for c, pos, digest in _anchored(last))
    return [(c, pos, stored) for c, pos, digest, stored in found if stored != digest]


def _last_anchor(session: Session) -> dict | None:
    """The record of chain 1's newest anchor (searched back along chain 1's index, anchors being frequent)."""
    rec = session.scalar(select(AuditEntry.record).where(AuditEntry.chain == HEAD_ID, AuditEntry.action == ANCHOR)
                         .order_by(AuditEntry.pos.desc()).limit(1))
    return rec if isinstance(rec, dict) else None


# Every column of an entry besides the chain's own (chain, pos, prev_hash, hash) and the written order (seq) is
# a copy of the record's value of the same name, laid over the record when it is verified: a column edited
# apart from its record (a time moved, an entry hidden from a person's access log) breaks the hash like an
# edited record does.
_CHAIN = ("pos", "prev_hash", "hash", "record")
_COLUMNS = tuple(c.name for c in AuditEntry.__table__.columns if c.name not in (*_CHAIN, "seq", "chain"))
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
    """(pos, prev_hash, hash, record with the columns laid over it) from a row of :data:`_RAW`."""
    values = dict(zip((*_CHAIN, *_COLUMNS), row))
    rec = _from_storage("record", values["record"])
    if isinstance(rec, dict):
        overlay = {k: _from_storage(k, values[k]) for k in _COLUMNS if values[k] is not None}
        rec = {**{k: v for k, v in rec.items() if k not in _COLUMNS}, **overlay}
    return values["pos"], values["prev_hash"], values["hash"], rec


def _entries(session: Session, chain: int, disorder: list[int], batch: int = 1000
             ) -> Iterator[tuple[int, str, str, object]]:
    """One chain in order, each record with the queryable columns laid over it. The written order ``seq``
    must rise along the chain as its positions do: the last position before the first place where it does
    not goes into ``disorder`` (the entry listed too late: entries given each other's place in the lists)."""
    last, last_seq, last_pos = 0, 0, 0
    while True:
        rows = session.execute(select(AuditEntry.seq, *_RAW).where(AuditEntry.chain == chain, AuditEntry.pos > last)
                               .order_by(AuditEntry.pos).limit(batch)).all()
        if not rows:
            return
        for seq, *row in rows:
            if seq <= last_seq and not disorder:
                disorder.append(last_pos)
            last_seq, last_pos = seq, row[0]
            yield _entry(row)
        last = rows[-1][1]


def _written_as(session: Session, chain: int, pos: int, keyed_from: int) -> int | None:
    """The position under which the entry now stored at ``pos`` of ``chain`` was written, if its content is
    intact under another position: it was moved (positions swapped), not edited. Tries the positions its
    chain neighbours imply, then every position in the chain (only ever run on a broken chain)."""
    in_chain = AuditEntry.chain == chain
    row = session.execute(select(*_RAW).where(in_chain, AuditEntry.pos == pos)).one_or_none()
    if row is None:
        return None
    _, prev, digest, rec = _entry(row)
    if not isinstance(rec, dict):
        return None
    before = session.scalar(select(AuditEntry.pos).where(in_chain, AuditEntry.hash == prev))
    after = session.scalar(select(AuditEntry.pos).where(in_chain, AuditEntry.prev_hash == digest).limit(1))
    guesses = [p for p in (1 if prev == GENESIS else None, before and before + 1, after and after - 1) if p]
    every = session.scalars(select(AuditEntry.pos).where(in_chain).order_by(AuditEntry.pos))
    key = chain_key(_key(), chain)
    try:
        for candidate in dict.fromkeys([*guesses, *every]):
            hashed = (entry_hash(key, prev, candidate, rec) if candidate >= keyed_from
                      else legacy_entry_hash(prev, candidate, rec))
            if candidate != pos and hashed == digest:
                return candidate
    except (TypeError, ValueError):
        return None
    return None


def _in_chain(report: ChainReport, chain: int) -> ChainReport:
    """``report`` about chain ``chain``; for chains other than 1 its detail names the chain."""
    if chain == HEAD_ID:
        return report
    detail = f"chain {chain}: {report.detail}" if report.detail else report.detail
    return replace(report, chain=chain, detail=detail)


def _verify_one(session: Session, chain: int, head) -> ChainReport:
    """Chain ``chain`` against its head row (``head``: seq, hash, keyed_from, seal; None if missing)."""
    keyed_from, sealed = (head.keyed_from, head.seal) if head is not None else (1, None)
    key = chain_key(_key(), chain)
    disorder: list[int] = []
    report = verify_chain(_entries(session, chain, disorder), key, keyed_from=keyed_from, sealed=sealed)
    if not report.ok and report.reason == "edited" and report.seq is not None:
        original = _written_as(session, chain, report.seq, keyed_from)
        if original is not None:
            return replace(report, reason="reordered",
                           detail=f"entry {report.seq} holds the entry written as {original}: entries were moved")
    if not report.ok:
        return report
    if disorder:
        return replace(report, ok=False, seq=disorder[0], reason="reordered",
                       detail=f"entry {disorder[0]} is listed before the entry it follows in the chain: "
                              "the written order was changed")
    if head is None and report.checked:
        return replace(report, ok=False, seq=report.last_seq + 1, reason="deleted",
                       detail=f"the audit head is missing: nothing shows where the chain ended ({report.last_seq}?)")
    if head is not None and (head.seq, head.hash) != (report.last_seq, report.last_hash):
        return replace(report, ok=False, seq=report.last_seq + 1, reason="deleted",
                       detail=f"the chain ends at {report.last_seq} but the head records {head.seq}")
    return report


def _missing(chain: int, pos: int, stored: str | None, report: ChainReport, why: str) -> ChainReport:
    """The report of entry ``pos`` of ``chain`` (``why`` it must be there) missing (``stored`` None) or not
    the one recorded."""
    gone = stored is None
    return _in_chain(replace(report, ok=False, seq=pos, reason="deleted" if gone else "edited",
                             detail=f"entry {pos}, {why}, is {'missing' if gone else 'not the one recorded'}"), chain)


def verify(session: Session, expect: tuple[int, str] | None = None) -> ChainReport:
    """Check every chain: its head's seal, every entry, and that it ends where its head says (a cut-off tail
    is detected too); then that every chain still holds the heads chain 1's newest anchor recorded (a chain
    cut back, or wiped with its head, below its last anchor). An entry whose content is intact but stored
    under another position is reported as ``reordered``. ``expect``: a head of chain 1 (position, hash)
    recorded outside the database earlier, which the chain must still hold (catches a chain cut back or
    wiped by someone who could also move the heads). The report of an intact trail counts the entries of
    all chains and ends with chain 1's head: the one to keep outside the database."""
    heads = {h.id: h for h in session.execute(
        select(AuditHead.id, AuditHead.seq, AuditHead.hash, AuditHead.keyed_from, AuditHead.seal))}
    chains = sorted({HEAD_ID, *heads, *session.scalars(select(AuditEntry.chain).distinct())})
    checked, first = 0, None
    for chain in chains:
        report = _in_chain(_verify_one(session, chain, heads.get(chain)), chain)
        if not report.ok:
            return replace(report, checked=checked + report.checked)
        checked += report.checked
        first = first or report
    report = replace(first, checked=checked)
    for chain, pos, stored in _anchored_heads_missing(session, _last_anchor(session))[:1]:
        return _missing(chain, pos, stored, report, "recorded by chain 1's last anchor")
    if expect is not None:
        pos, digest = expect
        if (stored := _hash_at(session, HEAD_ID, pos)) != digest:
            return _missing(HEAD_ID, pos, stored, report, "an earlier head recorded outside the database")
    return report


# ---------------------------------------------------------------- searching the trail (the API and the Bureau's page)

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
