"""Legacy identity certificates folded into the card (Art. 34, 36).

Art. 34: once the Measures apply (1 February 2022, Art. 36) the city's departments and district governments
issue no other identity certificate for natural persons to enjoy social security or other public services;
those already issued stop being issued anew and are gradually brought into the card system, unless laws,
regulations or rules provide otherwise. A link ties such a certificate's number to the cardholder, so an
agency that still meets the old number finds the holder's card.

The number identifies a person: encrypted at rest, found by a blind index of (kind, number), shown masked.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import enum_column
from app.privacy.types import EncryptedText


class LegacyKind(StrEnum):
    SOCIAL_INSURANCE_CARD = "social_insurance_card"  # 广州市社会保险卡 (the card's predecessor)
    MEDICAL_CERTIFICATE = "medical_certificate"  # 医疗证 / 医保凭证
    HEALTH_CARD = "health_card"  # 居民健康卡
    ELDERLY_CARD = "elderly_card"  # 老年人优待证 / 长者卡
    EMPLOYMENT_CERTIFICATE = "employment_certificate"  # 就业创业证
    OTHER = "other"


class LegacyCertificate(Base):
    __tablename__ = "legacy_certificates"
    __table_args__ = (UniqueConstraint("number_bidx"),)  # one certificate, one holder

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[LegacyKind] = mapped_column(enum_column(LegacyKind))
    issuer: Mapped[str] = mapped_column(String(120))  # the department or district government that issued it
    number: Mapped[str] = mapped_column(EncryptedText("legacy.number"))
    number_bidx: Mapped[str] = mapped_column(String(64))  # blind index of "kind:number"
    issued_on: Mapped[date]
    legal_basis: Mapped[str | None] = mapped_column(String(300))  # Art. 34 last sentence: after 2022-02-01
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    linked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
