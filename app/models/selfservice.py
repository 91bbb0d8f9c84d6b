"""Resident self-service: one-time login codes and the SMS outbox (Art. 19), and correction
requests (Art. 20).

* :class:`OtpChallenge`: a 6-digit code sent to the cardholder's registered mobile. Only an HMAC of
  the code is stored (``code_hash``), never the code; it expires after a few minutes and after a
  few wrong tries. A challenge is created for every well-formed request, also for a document no
  cardholder has (``person_id`` NULL, nothing is sent), so neither the answer nor the work done
  tells an attacker whether a document is registered.
* :class:`SmsMessage`: the outbox of the development SMS gateway (``sms_outbox``). The recipient
  is stored masked; the body is encrypted at rest. A production gateway sends instead of storing.
* :class:`CorrectionRequest`: a cardholder's request to correct their data (Art. 20 ¶2), routed to
  the issuing agency (card and personal data) or to the application agency of a field, with a due
  date of 20 working days (Regulations on the Disclosure of Government Information, Art. 33).
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import enum_column
from app.privacy.types import EncryptedText


class OtpOutcome(StrEnum):
    USED = "used"  # logged in with it (single use)
    LOCKED = "locked"  # too many wrong codes
    SUPERSEDED = "superseded"  # a newer code was requested for the same document


class OtpPurpose(StrEnum):
    SIGN_IN = "sign_in"  # sent to the registered mobile
    PHONE_CHANGE = "phone_change"  # sent to the NEW mobile, to confirm it is the holder's (Art. 19)


class OtpChallenge(Base):
    __tablename__ = "otp_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    doc_number_bidx: Mapped[str] = mapped_column(String(64), index=True)  # blind index, never the number
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)  # None: unknown document
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256(secret, salt:code), hex
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[OtpOutcome | None] = mapped_column(enum_column(OtpOutcome))
    purpose: Mapped[OtpPurpose] = mapped_column(enum_column(OtpPurpose), default=OtpPurpose.SIGN_IN,
                                                server_default=OtpPurpose.SIGN_IN.value)
    new_phone: Mapped[str | None] = mapped_column(EncryptedText("otp.new_phone"))  # PHONE_CHANGE: the number


class SmsMessage(Base):
    """One message of the development gateway (``flask demo sms`` prints them)."""

    __tablename__ = "sms_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(24))  # masked (138****5678): the outbox never holds a full number
    body: Mapped[str] = mapped_column(EncryptedText("sms.body"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CorrectionStatus(StrEnum):
    OPEN = "open"
    CORRECTED = "corrected"
    REJECTED = "rejected"
    REFERRED = "referred"  # card-face data: corrected only in person at an outlet, with a new card (Art. 24(2))


class CorrectionRequest(Base):
    """A request to correct one item of the holder's data (Art. 20)."""

    __tablename__ = "correction_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    field: Mapped[str] = mapped_column(String(32))  # a personal item, a card item or an application field
    scope: Mapped[str] = mapped_column(String(16))  # personal | card | field (see app.services.selfservice)
    proposed_value: Mapped[str] = mapped_column(EncryptedText("correction.proposed_value"))
    reason: Mapped[str] = mapped_column(EncryptedText("correction.reason"))  # free text: may hold personal data
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)  # routed to (Art. 20 ¶2)
    status: Mapped[CorrectionStatus] = mapped_column(enum_column(CorrectionStatus), default=CorrectionStatus.OPEN,
                                                     index=True)
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date] = mapped_column(index=True)  # 20 working days after filing
    due_provisional: Mapped[bool] = mapped_column(default=False)  # counted on weekdays: year not loaded
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reply: Mapped[str | None] = mapped_column(EncryptedText("correction.reply"))  # may quote personal data
    applied: Mapped[bool] = mapped_column(default=False)  # the correction was written to the record here
