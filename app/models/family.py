"""Family e-cards (亲情服务, Art. 19, 20, 35): a holder (the guardian) may show the e-card of a family
member who cannot sign in (an elderly person without a smartphone, a child).

* :class:`FamilyLink`: guardian → member, with the kind of relationship (bounded per kind,
  ``app.services.family.LIMITS``) and how the member agreed: their own one-time code, a check at an
  outlet, or none for a minor (document check only). A link is ``pending`` until confirmed and gives
  nothing then; ``active`` lets the guardian obtain the MEMBER's e-card tokens; ``removed`` ends it for
  ever (a new link is a new row). The consent code is kept like a sign-in code (HMAC only, expiry,
  attempts; ``app.services.otp``).
* Every token shown for a member is an audit entry (``family.ecard_token``, subject ``family:<id>``)
  about the member, naming the guardian: the member reads them in their access log (Art. 20).
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import enum_column


class Relation(StrEnum):
    ELDERLY = "elderly"  # a parent or grandparent
    CHILD = "child"
    SPOUSE = "spouse"
    OTHER = "other"


class LinkStatus(StrEnum):
    PENDING = "pending"  # waiting for the member's consent: gives nothing
    ACTIVE = "active"
    REMOVED = "removed"


class Consent(StrEnum):
    CODE = "code"  # the member's one-time code, sent to the member's registered mobile
    OUTLET = "outlet"  # the member in person at a bank outlet, document checked by the teller
    MINOR = "minor"  # agreed for a child under 18 (code to the child's registered mobile, or an outlet)


class FamilyLink(Base):
    __tablename__ = "family_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    relation: Mapped[Relation] = mapped_column(enum_column(Relation))
    status: Mapped[LinkStatus] = mapped_column(enum_column(LinkStatus), default=LinkStatus.PENDING, index=True)
    consent: Mapped[Consent | None] = mapped_column(enum_column(Consent))  # how it became active
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))  # the teller (outlet)
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(16))  # guardian | member | staff
    removed_by_staff: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    # The member's consent code, as sign-in codes are kept (app.services.otp): an HMAC, never the code.
    code_salt: Mapped[str | None] = mapped_column(String(32))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    code_attempts: Mapped[int] = mapped_column(default=0)
    code_expires_at: Mapped[datetime | None]
