"""Production batches: the issuing agency sends accepted cards to the card factory in batches and
records which of them came back produced (Art. 5, 10, 17).

A card's state stays the lifecycle's (``Card.status``: in_production → produced); a batch only says
which cards went to the factory together and when each came back.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.enums import enum_column


class BatchStatus(StrEnum):
    SENT = "sent"  # exported to the factory, cards in production
    COMPLETE = "complete"  # every card of the batch came back produced


class ProductionBatch(Base):
    __tablename__ = "production_batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)  # PB-20261123-0001: on the factory's files
    status: Mapped[BatchStatus] = mapped_column(enum_column(BatchStatus), default=BatchStatus.SENT, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    completed_at: Mapped[datetime | None]
    items: Mapped[list[ProductionBatchItem]] = relationship(
        back_populates="batch", order_by="ProductionBatchItem.id", viewonly=True)


class ProductionBatchItem(Base):
    """One card of a batch; a card is sent to the factory once (``card_id`` unique)."""

    __tablename__ = "production_batch_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("production_batches.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), unique=True)
    produced_at: Mapped[datetime | None]  # the factory's file listed it as produced
    batch: Mapped[ProductionBatch] = relationship(back_populates="items")
    card: Mapped["Card"] = relationship(viewonly=True)  # noqa: F821
