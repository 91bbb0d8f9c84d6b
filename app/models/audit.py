"""The audit trail (Art. 16): append-only and hash-chained.

Each entry's ``hash`` is an HMAC, with a key kept outside the database, over the previous entry's hash,
its sequence number and its record, which holds every other column too (see ``app.privacy.audit_chain``);
``audit_head`` holds the chain's tip and is row-locked while an entry is appended, so concurrent
transactions extend one chain, and the seal of the point from which the chain is keyed. The ORM refuses to
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
    )
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
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
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    keyed_from: Mapped[int]  # entries from this seq on carry keyed hashes; older ones predate the key
    seal: Mapped[str] = mapped_column(String(64))  # audit_chain.seal(key, keyed_from, hash of keyed_from - 1)


class AppendOnly(Exception):
    pass


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse(mapper, connection, target):
    raise AppendOnly("The audit trail is append-only.")
