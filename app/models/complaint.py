"""Complaints and reports (Art. 29) and every step of their handling.

Art. 29: a natural person, a legal person or an unincorporated organisation who believes that the Bureau, an
issuing agency, an application agency or a cooperating bank, **or their staff**, broke laws or rules in the
card's issuance or application may complain (投诉) or report (举报) to the higher authority or through the
government service hotline (12345); the authority that receives it investigates and handles it according to law.

The complainant's name, contact and the text they wrote are personal data (Art. 16): encrypted at rest, shown
masked. The complainant follows the case with its ``reference`` and a ``follow-up code`` given once at intake;
only an argon2 hash of the code is kept, so the reference alone (it may be read out on the phone, written on
paper) shows nothing.
"""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import enum_column
from app.privacy.types import EncryptedText


class ComplaintKind(StrEnum):
    COMPLAINT = "complaint"  # 投诉: about a wrong done to the complainant; needs a name and a contact for the reply
    REPORT = "report"  # 举报: a wrongdoing reported; may be anonymous


class ComplainantType(StrEnum):
    """Art. 29: 自然人、法人或者非法人组织."""

    NATURAL_PERSON = "natural_person"
    LEGAL_PERSON = "legal_person"
    ORGANISATION = "organisation"  # unincorporated organisation (非法人组织)


class PartyKind(StrEnum):
    """Whom the complaint is about (Art. 29), and whether it is about the party's staff."""

    BUREAU = "bureau"  # 市人力资源和社会保障部门
    ISSUING = "issuing"  # 社会保障卡经办服务机构
    APPLICATION = "application"  # 社会保障卡应用单位 (Art. 33)
    BANK = "bank"  # 社会保障卡合作银行


class IntakeChannel(StrEnum):
    HOTLINE = "hotline"  # taken by a 12345 operator (Art. 29)
    WEB = "web"  # the public page
    API = "api"  # the public API


class ComplaintStatus(StrEnum):
    RECEIVED = "received"
    ASSIGNED = "assigned"
    INVESTIGATING = "investigating"
    CLOSED = "closed"
    REFERRED = "referred"  # sent to an authority outside this system (a complaint about the Bureau itself)


class ComplaintOutcome(StrEnum):
    UPHELD = "upheld"
    PARTLY_UPHELD = "partly_upheld"
    NOT_UPHELD = "not_upheld"
    WITHDRAWN = "withdrawn"


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # TS-2026-000001
    code_hash: Mapped[str] = mapped_column(String(200))  # argon2id of the follow-up code
    kind: Mapped[ComplaintKind] = mapped_column(enum_column(ComplaintKind))
    channel: Mapped[IntakeChannel] = mapped_column(enum_column(IntakeChannel))
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))  # the hotline operator
    # The signed-in cardholder who filed it in the phone app and follows it there (never for an anonymous report).
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    complainant_type: Mapped[ComplainantType] = mapped_column(enum_column(ComplainantType))
    anonymous: Mapped[bool] = mapped_column(default=False)
    complainant_name: Mapped[str | None] = mapped_column(EncryptedText("complaint.name"))
    complainant_phone: Mapped[str | None] = mapped_column(EncryptedText("complaint.phone"))
    party_kind: Mapped[PartyKind] = mapped_column(enum_column(PartyKind))
    party_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    party_bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"))
    about_staff: Mapped[bool] = mapped_column(default=False)
    staff_description: Mapped[str | None] = mapped_column(EncryptedText("complaint.staff"))  # may name people
    summary: Mapped[str] = mapped_column(EncryptedText("complaint.summary"))  # the complainant's words
    authority: Mapped[str] = mapped_column(String(32))  # routing: see app.services.complaints.AUTHORITY_OVER
    authority_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    status: Mapped[ComplaintStatus] = mapped_column(enum_column(ComplaintStatus), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    outcome: Mapped[ComplaintOutcome | None] = mapped_column(enum_column(ComplaintOutcome))
    reply: Mapped[str | None] = mapped_column(EncryptedText("complaint.reply"))  # what the complainant reads
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)  # bumped by every step: two handlers cannot both step


class ComplaintStep(Base):
    """One step of the handling, in order: what the complainant's timeline shows (without staff names)."""

    __tablename__ = "complaint_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    step: Mapped[str] = mapped_column(String(24))  # file | assign | investigate | close | refer
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    note: Mapped[str | None] = mapped_column(EncryptedText("complaint.note"))  # internal: may name people
    at: Mapped[datetime] = mapped_column(default=utcnow)
