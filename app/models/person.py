"""Cardholders and the government data-sharing platform's records (Art. 4, 9, 16, 17).

Personal data is encrypted at rest (Art. 16) and searched through HMAC blind indexes:
``*_bidx`` columns never hold a readable value.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.enums import EligibilityBasis, Field, enum_column
from app.privacy.types import EncryptedBytes, EncryptedText

BIDX = String(64)


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (UniqueConstraint("doc_type", "doc_number_bidx"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    doc_number: Mapped[str] = mapped_column(EncryptedText("person.doc_number"))
    doc_number_bidx: Mapped[str] = mapped_column(BIDX, index=True)
    # Social security number: the citizen ID number for citizens, assigned otherwise (Art. 11).
    ssn: Mapped[str] = mapped_column(EncryptedText("person.ssn"))
    ssn_bidx: Mapped[str] = mapped_column(BIDX, unique=True)
    name: Mapped[str] = mapped_column(EncryptedText("person.name"))
    name_bidx: Mapped[str] = mapped_column(BIDX, index=True)
    ethnicity: Mapped[str | None] = mapped_column(EncryptedText("person.ethnicity"))
    nationality: Mapped[str] = mapped_column(String(3), default="CHN")
    sex: Mapped[str | None] = mapped_column(String(1))
    phone: Mapped[str | None] = mapped_column(EncryptedText("person.phone"))
    phone_bidx: Mapped[str | None] = mapped_column(BIDX, index=True)
    address: Mapped[str | None] = mapped_column(EncryptedText("person.address"))
    photo: Mapped[bytes | None] = mapped_column(EncryptedBytes("person.photo"))
    occupation: Mapped[str | None] = mapped_column(String(60))
    eligibility: Mapped[EligibilityBasis] = mapped_column(enum_column(EligibilityBasis))
    eligible: Mapped[bool] = mapped_column(default=True)  # Art. 26: False once eligibility is lost
    deceased_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    cards: Mapped[list["Card"]] = relationship(  # noqa: F821
        back_populates="person", order_by="Card.id", viewonly=True
    )
    fields: Mapped[list[FieldStatus]] = relationship(order_by="FieldStatus.field", viewonly=True)


class FieldStatus(Base):
    """Status of one application field for a cardholder (Art. 6 lock/unlock, Art. 14, 17).

    Kept per person, not per card, so a lock survives a reissue or replacement.
    """

    __tablename__ = "field_statuses"
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    field: Mapped[Field] = mapped_column(enum_column(Field), primary_key=True)
    locked: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SharedRecord(Base):
    """A record of the government information sharing platform (Art. 9 ¶2), seeded locally.

    What it holds valid need not be asked of the applicant again; ``valid_until`` marks data out of date.
    """

    __tablename__ = "shared_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    doc_number_bidx: Mapped[str] = mapped_column(BIDX, index=True)
    name: Mapped[str | None] = mapped_column(EncryptedText("shared.name"))
    ethnicity: Mapped[str | None] = mapped_column(EncryptedText("shared.ethnicity"))
    address: Mapped[str | None] = mapped_column(EncryptedText("shared.address"))
    photo: Mapped[bytes | None] = mapped_column(EncryptedBytes("shared.photo"))
    household_registration: Mapped[bool] = mapped_column(default=False)  # 广州户籍 (Art. 4)
    insured: Mapped[bool] = mapped_column(default=False)  # enrolled in Guangzhou social insurance (Art. 4)
    valid_until: Mapped[date | None]
