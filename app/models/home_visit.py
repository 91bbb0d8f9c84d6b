"""Door-to-door requests (Art. 8 ¶2): a person of limited mobility (elderly, disabled, ill…) asks the bank
to take the card application at home. The bank's outlet records the request, arranges the visit, and
closes it with the application taken there (``service_mode = door_to_door``) or with a reason."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import enum_column
from app.privacy.types import EncryptedText


class VisitReason(StrEnum):
    """Why the person cannot come to an outlet (Art. 8 ¶2: 老年人、残疾人等行动不便的群体)."""

    ELDERLY = "elderly"
    DISABLED = "disabled"
    ILLNESS = "illness"
    OTHER = "other"


class VisitStatus(StrEnum):
    OPEN = "open"  # recorded, no visit arranged yet
    SCHEDULED = "scheduled"  # a visit date is arranged
    DONE = "done"  # the application was taken at home
    CANCELLED = "cancelled"  # withdrawn or not possible, with a reason


class HomeVisitRequest(Base):
    __tablename__ = "home_visit_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))  # the outlet that serves it
    name: Mapped[str] = mapped_column(EncryptedText("visit.name"))
    phone: Mapped[str] = mapped_column(EncryptedText("visit.phone"))
    address: Mapped[str] = mapped_column(EncryptedText("visit.address"))
    reason: Mapped[VisitReason] = mapped_column(enum_column(VisitReason))
    status: Mapped[VisitStatus] = mapped_column(enum_column(VisitStatus), default=VisitStatus.OPEN, index=True)
    visit_on: Mapped[date | None]
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))  # the application taken at home
    outcome: Mapped[str | None] = mapped_column(String(200))  # a cancellation's reason
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    closed_at: Mapped[datetime | None]
