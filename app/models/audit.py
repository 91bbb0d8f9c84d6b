"""The audit trail (Art. 16): append-only and hash-chained.

The trail is several hash chains side by side (``app.privacy.audit_chain``). Each entry's ``hash`` is an HMAC,
with a key kept outside the database, over the previous entry's hash in its ``chain``, its position ``pos``
in that chain and its record, which holds every other column too. ``seq`` numbers the entries of all chains
in the order they were written (the database assigns it) and is what lists are ordered by. Each
``audit_head`` row is one chain's tip, row-locked while a transaction appends to that chain, and the seal
of the point from which the chain is keyed; a transaction takes the first chain no other one holds, so
concurrent transactions append side by side instead of queueing on one row (issue 18). The ORM refuses to
update or delete an entry; on PostgreSQL triggers (migrations) refuse UPDATE, DELETE and TRUNCATE in the
database as well, and the application's role ``ssc_app`` may only read and append (README, Configuration).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.models.base import Base


UNREADABLE = {"unreadable": "the stored record is not JSON: `flask audit verify` names the entry"}


class RecordJSON(TypeDecorator):
    """JSON whose stored value, if someone has made it unreadable (text that is not JSON, where the database
    does not type-check it, as SQLite) or other than an object, reads as :data:`UNREADABLE` instead of failing
    every page and answer that lists it. The chain check reads the raw bytes and names the entry."""

    impl = JSON
    cache_ok = True

    def result_processor(self, dialect, coltype):
        inner = self.impl_instance.result_processor(dialect, coltype) or (lambda value: value)

        def process(value):
            try:
                value = inner(value)
            except ValueError:
                value = None
            return value if isinstance(value, dict) else dict(UNREADABLE)
        return process


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        # The trail is searched by holder or by actor and read in chain order, a page at a time: an index on
        # (filter, seq) answers "the newest 50 of this holder's" without sorting all of them (issue 18).
        Index("ix_audit_log_person_seq", "person_id", "seq"),
        Index("ix_audit_log_actor_seq", "actor_id", "seq"),
        # Action prefixes ("change.%") are LIKE ranges: on PostgreSQL they need the pattern operator class.
        Index("ix_audit_log_action_pattern", "action", postgresql_ops={"action": "varchar_pattern_ops"}),
        Index("ux_audit_log_chain_pos", "chain", "pos", unique=True),
    )
    seq: Mapped[int] = mapped_column(primary_key=True)  # written order across the chains, from the database
    chain: Mapped[int] = mapped_column(default=1, server_default="1")  # the audit_head row it extends
    pos: Mapped[int]  # its place in its chain: 1, 2, 3, ... (what the hash covers)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(40))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None]
    person_id: Mapped[int | None]  # the subject whose data was read or changed
    record: Mapped[dict] = mapped_column(RecordJSON)  # everything above and more; what the hash covers


class AuditHead(Base):
    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # the chain's number
    seq: Mapped[int]  # the position of the chain's last entry (0: none yet)
    hash: Mapped[str] = mapped_column(String(64))
    keyed_from: Mapped[int]  # entries from this seq on carry keyed hashes; older ones predate the key
    seal: Mapped[str] = mapped_column(String(64))  # audit_chain.seal(key, keyed_from, hash of keyed_from - 1)


class AppendOnly(Exception):
    pass


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse(mapper, connection, target):
    raise AppendOnly("The audit trail is append-only.")
