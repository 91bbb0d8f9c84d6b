"""The embedded double-entry ledger (Art. 2, 13): the default account holder behind
``app.services.settlement_port`` for both settlement accounts.

In the real world the financial account's money lives in the cooperating bank's core system and the
personal account's in the medical insurance fund's; these tables are what the demo, the tests and
``make run`` use in their place, for real:

* ``ledger_accounts``: one per settlement account (a holder's, balance kept here, never negative) and one
  per counterparty outside the card (the medical insurance fund, a bank's cash, …; its position is the
  sum of its postings, recomputed, never a hot row that every posting would have to lock);
* ``ledger_transactions``: one per posted transaction, with who posted it and its idempotency key
  (unique per caller: a retried request posts once);
* ``ledger_postings``: the legs, in integer fen; the legs of a transaction sum to zero. Append-only.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import Channel, Role, TransactionType, enum_column

# 64-bit ids on PostgreSQL, SQLite's own rowid there.
BIGID = BigInteger().with_variant(Integer(), "sqlite")


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("(settlement_account_id IS NULL) <> (code IS NULL)", name="holder_or_counterparty"),
        CheckConstraint("settlement_account_id IS NULL OR balance_fen >= 0", name="no_overdraft"),
    )
    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    settlement_account_id: Mapped[int | None] = mapped_column(ForeignKey("settlement_accounts.id"), unique=True)
    code: Mapped[str | None] = mapped_column(String(40), unique=True)  # a counterparty: "medical_fund", "cash:ICBC-GZ"
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    balance_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # holder accounts; counterparties: 0, unused
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"
    __table_args__ = (
        UniqueConstraint("key_scope", "idempotency_key", name="uq_ledger_transactions_idempotency"),
        CheckConstraint("amount_fen > 0", name="positive_amount"),
    )
    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    type: Mapped[TransactionType] = mapped_column(enum_column(TransactionType))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    key_scope: Mapped[str] = mapped_column(String(48))  # whose key: "staff:12", "resident:7", "system"
    idempotency_key: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))  # the same key with another request is refused
    reversal_of_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    ecard_token_id: Mapped[str | None] = mapped_column(String(16), unique=True)  # a token pays once
    reference: Mapped[str | None] = mapped_column(String(64))  # the poster's own reference (bill number…)
    # Who posted it (shown on the holder's statement as role and organisation).
    actor_role: Mapped[Role] = mapped_column(enum_column(Role))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"))
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    consent: Mapped[str | None] = mapped_column(String(16))  # how the holder consented: "ecard", "card_pin"
    request_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerPosting(Base):
    __tablename__ = "ledger_postings"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="nonzero_amount"),
        Index("ix_ledger_postings_account_id_id", "account_id", "id"),
    )
    id: Mapped[int] = mapped_column(BIGID, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # + into the account, − out of it
    balance_after: Mapped[int | None] = mapped_column(BigInteger)  # holder accounts: the balance it left
