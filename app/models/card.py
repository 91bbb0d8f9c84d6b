"""Cards, their applications and their events (Art. 6–12, 21–27).

A card's ``status`` is the state of the lifecycle state machine in
``app.services.lifecycle_rules``; nothing else writes it.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.enums import (
    CardKind,
    CardStatus,
    Channel,
    DeliveryMethod,
    FeeWaiver,
    Referral,
    ReplacementReason,
    Role,
    ServiceMode,
    enum_column,
)
from app.privacy.types import EncryptedText

# States in which a card is in the holder's hands and valid (at most one per person).
VALID_STATES = ("issued", "active", "loss_registered", "replacement_pending")
# States of a card still being made (at most one per person).
PENDING_STATES = ("applied", "accepted", "in_production", "produced", "in_transit")


def _in(states: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in states) + ")"


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (
        # The database itself guarantees: at most one valid and one pending card per person.
        Index("uq_cards_one_valid_per_person", "person_id", unique=True,
              sqlite_where=text(_in(VALID_STATES)), postgresql_where=text(_in(VALID_STATES))),
        Index("uq_cards_one_pending_per_person", "person_id", unique=True,
              sqlite_where=text(_in(PENDING_STATES)), postgresql_where=text(_in(PENDING_STATES))),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)  # printed on the face (Art. 17)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    status: Mapped[CardStatus] = mapped_column(enum_column(CardStatus), index=True)
    kind: Mapped[CardKind] = mapped_column(enum_column(CardKind))
    predecessor_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    received_on: Mapped[date | None]  # Art. 27(2): the one-year window runs from receipt
    activated_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]  # invalidated, replaced or cancelled
    pin_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id (Art. 19)
    pin_failures: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)  # optimistic lock; the API's ETag

    __mapper_args__ = {"version_id_col": version}

    person: Mapped["Person"] = relationship(back_populates="cards")  # noqa: F821
    application: Mapped[CardApplication | None] = relationship(back_populates="card", uselist=False)


class CardApplication(Base):
    """The paperwork behind one card: channel, deadline, delivery and fee (Art. 7–12, 25, 27)."""

    __tablename__ = "card_applications"
    __table_args__ = (
        Index("ix_card_applications_running_due", "due_on", "id", postgresql_where=text("running"),
              sqlite_where=text("running")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[CardKind] = mapped_column(enum_column(CardKind))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    service_mode: Mapped[ServiceMode | None] = mapped_column(enum_column(ServiceMode))
    referral: Mapped[Referral] = mapped_column(enum_column(Referral), default=Referral.SELF)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    replacement_reason: Mapped[ReplacementReason | None] = mapped_column(enum_column(ReplacementReason))
    quality_defect: Mapped[bool] = mapped_column(default=False)  # Art. 27(2) finding
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_on: Mapped[date | None]
    due_on: Mapped[date | None] = mapped_column(index=True)  # Art. 10, 25: 12 working days
    due_provisional: Mapped[bool] = mapped_column(default=False)  # counted on weekdays: year not loaded
    # The deadline runs: the card is accepted or in production (deadlines.RUNNING). Kept by the lifecycle's
    # one state change (lifecycle._move), so the overdue list is a range of one partial index instead of a
    # look at every running card (issue 18).
    running: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    delivery_method: Mapped[DeliveryMethod] = mapped_column(enum_column(DeliveryMethod))
    delivery_address: Mapped[str | None] = mapped_column(EncryptedText("application.delivery_address"))
    tracking_ref: Mapped[str | None] = mapped_column(String(40))
    # Pickup at a chosen outlet of the card's bank (Art. 12); None: at any of its outlets.
    pickup_outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    fee_fen: Mapped[int] = mapped_column(default=0)  # Art. 27
    fee_waiver: Mapped[FeeWaiver | None] = mapped_column(enum_column(FeeWaiver))
    rejection_reason: Mapped[str | None] = mapped_column(String(200))

    card: Mapped[Card] = relationship(back_populates="application")


class CardEvent(Base):
    """One lifecycle operation, written in the same transaction as the change it records."""

    __tablename__ = "card_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), index=True)
    operation: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    article: Mapped[str] = mapped_column(String(40))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    actor_role: Mapped[Role] = mapped_column(enum_column(Role))
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    reason: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)  # masked values only
    request_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
