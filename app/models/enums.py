"""The vocabulary of the Measures, shared by models, services and the API.

Only names live here; what may happen with them (the state machine, the channel
table) lives in ``app.services.lifecycle_rules``.
"""
from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum as SAEnum


def enum_column(enum: type[StrEnum]) -> SAEnum:
    """Store a StrEnum by value as a VARCHAR with a CHECK constraint on every backend."""
    return SAEnum(
        enum,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        name=enum.__name__.lower(),
    )


class CardStatus(StrEnum):
    APPLIED = "applied"  # application received, not yet accepted (Art. 7, 9)
    REJECTED = "rejected"  # not accepted: applicant not eligible (Art. 4)
    ACCEPTED = "accepted"  # accepted; the 12-working-day clock runs (Art. 10, 25)
    IN_PRODUCTION = "in_production"
    PRODUCED = "produced"  # waiting for pickup or dispatch (Art. 12)
    IN_TRANSIT = "in_transit"  # express delivery (Art. 12)
    ISSUED = "issued"  # in the holder's hands, not yet activated
    ACTIVE = "active"  # activated (Art. 6)
    LOSS_REGISTERED = "loss_registered"  # Art. 21: both settlement accounts suspended
    REPLACEMENT_PENDING = "replacement_pending"  # Art. 24: still usable until the new card is issued
    INVALIDATED = "invalidated"  # Art. 23: reissued, void for ever
    REPLACED = "replaced"  # Art. 24: superseded by its replacement
    CANCELLED = "cancelled"  # Art. 26 / Art. 6


class CardKind(StrEnum):
    FIRST = "first"  # first card of this person (Art. 10, fee waived Art. 27(1))
    REISSUE = "reissue"  # 补领 after loss (Art. 23)
    REPLACEMENT = "replacement"  # 换领 (Art. 24)
    RENEWED = "renewed"  # a new application after an earlier card was cancelled


class Channel(StrEnum):
    ONLINE = "online"  # network service platform (Art. 7, 21, 23)
    OUTLET = "outlet"  # a cooperating bank's outlet (Art. 7, 21, 22, 23, 24)
    GOV_HOTLINE = "gov_hotline"  # 12345 government service hotline (Art. 21, 29)
    BANK_HOTLINE = "bank_hotline"  # the bank's customer-service line (Art. 21)
    AGENCY = "agency"  # the issuing agency's own back office (Art. 5, 10, 26)
    GOV_FEED = "gov_feed"  # automated government data feed (Art. 15, 26)


class ServiceMode(StrEnum):
    """How an outlet serves: at its counter, at home (Art. 8 ¶2), or instantly (Art. 10 ¶2)."""

    COUNTER = "counter"
    DOOR_TO_DOOR = "door_to_door"
    INSTANT = "instant"


class Referral(StrEnum):
    """Who prompted the application: Art. 8 ¶1 makes an employer a referral source, not a channel."""

    SELF = "self"
    EMPLOYER = "employer"
    COMMUNITY = "community"


class Role(StrEnum):
    BUREAU = "bureau"  # Municipal HRSS Bureau (Art. 5)
    AGENCY_CLERK = "agency_clerk"  # card issuing agency (Art. 5)
    BANK_TELLER = "bank_teller"  # cooperating bank (Art. 6)
    HOTLINE_OPERATOR = "hotline_operator"  # 12345 government service hotline (Art. 21)
    APP_AGENCY = "app_agency"  # application agency (Art. 33)
    AUDITOR = "auditor"
    RESIDENT = "resident"  # the cardholder (Art. 19, 20)
    SYSTEM = "system"  # automated feeds (Art. 26)


STAFF_ROLES = frozenset(Role) - {Role.RESIDENT, Role.SYSTEM}


class EligibilityBasis(StrEnum):
    """Art. 4: household registration, or lawful enjoyment of Guangzhou's social security / public services."""

    HOUSEHOLD_REGISTRATION = "household_registration"
    SOCIAL_SECURITY = "social_security"
    PUBLIC_SERVICES = "public_services"


class DeliveryMethod(StrEnum):
    PICKUP = "pickup"  # at an outlet (Art. 12)
    EXPRESS = "express"  # by courier (Art. 12)


class ReplacementReason(StrEnum):
    """Art. 24(1)–(3)."""

    DAMAGED = "damaged"  # face unrecognisable or chip unreadable/unwritable (Art. 24(1))
    BASIC_DATA_CHANGED = "basic_data_changed"  # name, ID number, ethnicity… (Art. 24(2))
    BANK_CHANGE = "bank_change"  # Art. 24(3)


class CancellationReason(StrEnum):
    DEATH = "death"  # Art. 26
    INELIGIBLE = "ineligible"  # Art. 26
    HOLDER_REQUEST = "holder_request"  # Art. 6 (cancellation at the bank)


class AccountKind(StrEnum):
    MEDICAL = "medical"  # medical-insurance personal account (Art. 13 ¶2)
    FINANCIAL = "financial"  # RMB debit account at the chosen bank (Art. 13 ¶3)


class AccountStatus(StrEnum):
    PENDING = "pending"  # opened with the application, usable once a card is activated
    ACTIVE = "active"
    SUSPENDED = "suspended"  # Art. 21
    UNBINDING = "unbinding"  # bank change: waits for the former bank's confirmation (Art. 24 ¶2)
    CLOSED = "closed"


class FeeWaiver(StrEnum):
    FIRST_CARD = "first_card"  # Art. 27(1)
    QUALITY_DEFECT_WITHIN_YEAR = "quality_defect_within_year"  # Art. 27(2)


class Field(StrEnum):
    """Application fields of the card (Art. 14, 33). The e-card maps them by NAME onto its own bit order
    (ecard.token.AppField: the most often locked first, to keep the QR small)."""

    HRSS = "hrss"
    MEDICAL = "medical"
    FINANCE = "finance"
    CIVIL_AFFAIRS = "civil_affairs"
    HEALTH = "health"
    EDUCATION = "education"
    PUBLIC_SECURITY = "public_security"
    JUSTICE = "justice"
    HOUSING = "housing"
    AGRICULTURE = "agriculture"
    TRANSPORT = "transport"
    CULTURE_TOURISM = "culture_tourism"
    SPORTS = "sports"
    FORESTRY = "forestry"
    DISABILITY = "disability"
    VETERANS = "veterans"
    PROVIDENT_FUND = "provident_fund"


class AgencyKind(StrEnum):
    BUREAU = "bureau"
    ISSUING = "issuing"
    APPLICATION = "application"
    HOTLINE = "hotline"


class TransactionType(StrEnum):
    """What money may do on the card's two settlement accounts (Art. 13): each type on ONE account kind
    (``app.services.settlement.RULES``)."""

    FUND_TRANSFER_IN = "fund_transfer_in"  # 社会医疗保险基金划入 → personal account (Art. 13 ¶2)
    MEDICAL_SETTLEMENT = "medical_settlement"  # 医疗费用结算 ← personal account (Art. 13 ¶2)
    PREMIUM_PAYMENT = "premium_payment"  # 社会保险费缴纳 ← financial account (Art. 13 ¶3)
    BENEFIT_PAYMENT = "benefit_payment"  # 社会保障待遇领取 → financial account (Art. 13 ¶3)
    REIMBURSEMENT = "reimbursement"  # 医疗保险费用非即时结算后报销返还 → financial account (Art. 13 ¶3)
    DEPOSIT = "deposit"  # 现金存 → financial account (Art. 13 ¶3)
    WITHDRAWAL = "withdrawal"  # 现金取 ← financial account (Art. 13 ¶3)
    TRANSFER = "transfer"  # 转账 financial → financial (Art. 13 ¶3)
    BANK_CHANGE_MOVE = "bank_change_move"  # the balance follows a change of bank (Art. 24(3))
    REVERSAL = "reversal"  # undoes one earlier transaction, once
