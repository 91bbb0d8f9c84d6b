"""The card's two settlement accounts (Art. 13); their status follows loss registration (Art. 21).

The money ledger (balances, journal) is a later capability; this is the status both sides share.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import AccountKind, AccountStatus, enum_column


# Open and bound to the current card: a financial account being unbound after a bank change
# (Art. 24 ¶2) is neither, so the new bank's account may open beside it.
_OPEN = "status NOT IN ('closed', 'unbinding')"


class SettlementAccount(Base):
    __tablename__ = "settlement_accounts"
    __table_args__ = (
        # One open account of each kind per person; closed ones are kept for history.
        Index("uq_accounts_one_open_per_kind", "person_id", "kind", unique=True,
              sqlite_where=text(_OPEN), postgresql_where=text(_OPEN)),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[AccountKind] = mapped_column(enum_column(AccountKind))
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"))  # financial account only
    status: Mapped[AccountStatus] = mapped_column(enum_column(AccountStatus))
    suspended_at: Mapped[datetime | None]
    unbind_confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
