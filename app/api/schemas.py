"""Marshmallow schemas: validation of input shape, and output with personal data MASKED by default
(Art. 16). Business rules are not here: the services decide."""
from __future__ import annotations

import base64

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, post_dump, validate

from app.models.enums import (
    CardStatus,
    CancellationReason,
    Channel,
    DeliveryMethod,
    EligibilityBasis,
    Referral,
    ReplacementReason,
    ServiceMode,
)
from app.privacy import mask_address, mask_id_number, mask_name, mask_phone
from app.services import disclosure
from app.services.disclosure import Item as I


def _enum(e, **kw):
    return fields.Enum(e, by_value=True, **kw)


class Base64Bytes(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return base64.b64decode(raw, validate=True)
        except ValueError:
            raise ValidationError("Not valid base64.") from None


class Empty(Schema):
    pass


class ChannelIn(Schema):
    channel = _enum(Channel, metadata={"description": "Only to name another channel than your role's "
                                                       "default, e.g. a teller taking a bank-hotline call."})


class IdCheckIn(ChannelIn):
    id_verified = fields.Boolean(load_default=False,
                                 metadata={"description": "The holder's valid ID document was checked in person."})


class DeliveryFields(Schema):
    delivery_method = _enum(DeliveryMethod, required=True)
    delivery_address = fields.String(validate=validate.Length(max=200))
    pickup_outlet_id = fields.Integer(metadata={"description": "Pickup: the outlet of the card's bank where the "
                                                                "holder will collect it; left out: any of its outlets."})
    service_mode = _enum(ServiceMode, load_default=ServiceMode.COUNTER)


class ApplicantIn(Schema):
    doc_type = fields.String(required=True, validate=validate.Length(min=1, max=32))
    doc_number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    nationality = fields.String(validate=validate.Length(equal=3))
    name = fields.String(validate=validate.Length(min=1, max=60))
    ethnicity = fields.String(validate=validate.Length(max=20))
    phone = fields.String(validate=validate.Length(max=24))
    address = fields.String(validate=validate.Length(max=200))
    photo = Base64Bytes(metadata={"description": "JPEG/PNG photo, base64"})
    occupation = fields.String(validate=validate.Length(max=60))
    eligibility = _enum(EligibilityBasis)


class ApplicationIn(DeliveryFields, IdCheckIn):
    person_id = fields.Integer(metadata={"description": "An already registered cardholder; else `applicant`. "
                                                       "A signed-in resident may leave both out: themselves."})
    applicant = fields.Nested(ApplicantIn)
    bank_id = fields.Integer(required=True)
    referral = _enum(Referral, load_default=Referral.SELF)


class ReasonIn(ChannelIn):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class DispatchIn(ChannelIn):
    tracking_ref = fields.String(required=True, validate=validate.Length(min=3, max=40))


class PinIn(ChannelIn):
    pin = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^\d{6}$"))


class PinChangeIn(ChannelIn):
    old_pin = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^\d{6}$"))
    new_pin = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^\d{6}$"))


class PinResetIn(IdCheckIn):
    new_pin = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^\d{6}$"))


class ReissueIn(DeliveryFields, IdCheckIn):
    pass


class ReplaceIn(DeliveryFields, IdCheckIn):
    reason = _enum(ReplacementReason, required=True)
    quality_defect = fields.Boolean(load_default=False)
    new_bank_id = fields.Integer()


class FieldLockIn(ChannelIn):
    reason = fields.String(validate=validate.Length(max=200))


class CancelIn(ChannelIn):
    reason = _enum(CancellationReason, required=True)
    effective = fields.Date(metadata={"description": "For death: the date of death (required); for lost "
                                                     "eligibility: the date it ended (Art. 26)."})


class InfoChangeIn(IdCheckIn):
    name = fields.String(validate=validate.Length(min=1, max=60))
    doc_number = fields.String(validate=validate.Length(min=1, max=40))
    ethnicity = fields.String(validate=validate.Length(min=1, max=20))
    photo = Base64Bytes()
    phone = fields.String(validate=validate.Length(min=1, max=24))
    address = fields.String(validate=validate.Length(min=1, max=200))
    occupation = fields.String(validate=validate.Length(min=1, max=60))


def _shown_to_caller() -> frozenset | None:
    """The items the authenticated caller's role is shown; None outside a signed-in request (CLI, docs).
    A back office page's caller is the signed-in member of staff (``g.staff``, app.web.session)."""
    from flask import g, has_request_context
    from flask_jwt_extended import get_jwt

    from app.models.enums import Role

    if has_request_context() and g.get("staff") is not None:
        return disclosure.sees(g.staff.role)
    try:
        role = get_jwt().get("role")
    except RuntimeError:
        return None
    try:
        return disclosure.sees(Role(role))
    except ValueError:
        return frozenset()


class Disclosed(Schema):
    """An answer carrying a cardholder's data. ``items`` says which item of ``disclosure.Item`` each key
    carries; a key whose item the caller's role is not shown (``disclosure.DISCLOSURE``) is left out of the
    answer, so one table decides what every endpoint shows to every role (Art. 16)."""

    items: dict[str, I] = {}

    @post_dump
    def _within_remit(self, data, **kwargs):
        shown = _shown_to_caller()
        if shown is None or shown >= disclosure.EVERY_ITEM:
            return data
        return {k: v for k, v in data.items() if self.items.get(k) in shown}


class ApplicationOut(Schema):
    kind = fields.String()
    channel = fields.String()
    service_mode = fields.String(allow_none=True)
    referral = fields.String()
    accepted_on = fields.Date(allow_none=True)
    due_on = fields.Date(allow_none=True)
    due_provisional = fields.Boolean()
    delivery_method = fields.String()
    delivery_address = fields.Function(lambda a: mask_address(a.delivery_address), allow_none=True)
    tracking_ref = fields.String(allow_none=True)
    pickup_outlet_id = fields.Integer(allow_none=True)
    fee_fen = fields.Integer()
    fee_waiver = fields.String(allow_none=True)
    replacement_reason = fields.String(allow_none=True)
    rejection_reason = fields.String(allow_none=True)


class CardOut(Disclosed):
    items = {"id": I.REF, "person_id": I.REF, "version": I.REF, "status": I.CARD_STATUS, "kind": I.CARD_STATUS,
             "number": I.CARD_NUMBER, "bank_id": I.CARD_DETAILS, "predecessor_id": I.CARD_DETAILS,
             "received_on": I.CARD_DETAILS, "activated_at": I.CARD_DETAILS, "pin_locked": I.CARD_DETAILS,
             "application": I.APPLICATION}
    id = fields.Integer()
    number = fields.String()
    person_id = fields.Integer()
    status = fields.String()
    kind = fields.String()
    bank_id = fields.Integer()
    predecessor_id = fields.Integer(allow_none=True)
    received_on = fields.Date(allow_none=True)
    activated_at = fields.DateTime(allow_none=True)
    pin_locked = fields.Method("_pin_locked")
    version = fields.Integer()
    application = fields.Nested(ApplicationOut, allow_none=True)

    def _pin_locked(self, card) -> bool:
        from flask import current_app

        return card.pin_failures >= current_app.config["PIN_MAX_FAILURES"]


class FieldStatusOut(Disclosed):
    items = {"field": I.FIELD_STATUS, "locked": I.FIELD_STATUS}
    field = fields.String()
    locked = fields.Boolean()


class PersonOut(Disclosed):
    """A cardholder as staff see them by default: every identifying value masked (Art. 16)."""

    items = {"id": I.REF, "doc_type": I.DOC_NUMBER, "doc_number": I.DOC_NUMBER, "ssn": I.SSN, "name": I.NAME,
             "phone": I.PHONE, "address": I.ADDRESS, "has_photo": I.PHOTO_PRESENT, "sex": I.SEX,
             "nationality": I.NATIONALITY, "occupation": I.OCCUPATION, "eligibility": I.ELIGIBILITY,
             "eligible": I.ELIGIBILITY, "deceased": I.ELIGIBILITY, "fields": I.FIELD_STATUS}
    id = fields.Integer()
    doc_type = fields.String()
    doc_number = fields.Function(lambda p: mask_id_number(p.doc_number))
    ssn = fields.Function(lambda p: mask_id_number(p.ssn))
    name = fields.Function(lambda p: mask_name(p.name))
    phone = fields.Function(lambda p: mask_phone(p.phone), allow_none=True)
    address = fields.Function(lambda p: mask_address(p.address), allow_none=True)
    has_photo = fields.Function(lambda p: p.photo is not None)
    sex = fields.String(allow_none=True)
    nationality = fields.String()
    occupation = fields.String(allow_none=True)
    eligibility = fields.String()
    eligible = fields.Boolean()
    deceased = fields.Function(lambda p: p.deceased_on is not None)
    fields_ = fields.List(fields.Nested(FieldStatusOut), attribute="fields", data_key="fields")


class ReplacementOfferOut(Schema):
    card_id = fields.Integer()
    reason = fields.String()
    article = fields.String()
    fee_fen = fields.Integer(metadata={"description": "What the replacement would cost if applied for (Art. 27)."})


class InfoChangeOut(Schema):
    """The changed person, and the replacement the holder may apply for (Art. 24(2) 可以申请换领): offered,
    never started on the holder's behalf."""

    person = fields.Nested(PersonOut)
    replacement_offer = fields.Nested(ReplacementOfferOut, allow_none=True)


class EventOut(Disclosed):
    items = {k: I.CARD_EVENTS for k in ("id", "card_id", "operation", "from_status", "to_status", "article",
                                        "channel", "actor_role", "actor_id", "outlet_id", "reason", "details",
                                        "created_at")}
    id = fields.Integer()
    card_id = fields.Integer(allow_none=True)
    operation = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String(allow_none=True)
    article = fields.String()
    channel = fields.String()
    actor_role = fields.String()
    actor_id = fields.Integer(allow_none=True)
    outlet_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime()


class StatusOut(Disclosed):
    """Application status inquiry (Art. 6, 20)."""

    items = {"card": I.REF, "usable": I.CARD_STATUS, "settlement_suspended": I.SETTLEMENT_SUSPENDED,
             "fields": I.OWN_FIELD}  # the values: disclosure.fields_shown

    card = fields.Nested(CardOut)
    usable = fields.Boolean()
    settlement_suspended = fields.Boolean()
    fields_ = fields.Dict(keys=fields.String(), values=fields.Boolean(), attribute="fields", data_key="fields")


class PrefillOut(Schema):
    still_needed = fields.List(fields.String())


class DocumentQuery(Schema):
    """An ID document to look up: sent in the body, never the URL, so it stays out of access logs (Art. 16)."""

    doc_type = fields.String(required=True, validate=validate.Length(min=1, max=32))
    doc_number = fields.String(required=True, validate=validate.Length(min=1, max=40))
    nationality = fields.String(validate=validate.Length(equal=3),
                                metadata={"description": "ISO 3166 alpha-3; required for a passport"})


class CardQuery(Schema):
    number = fields.String(validate=validate.Length(max=12))
    person_id = fields.Integer()
    status = _enum(CardStatus)


class BankOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class OutletOut(Schema):
    id = fields.Integer()
    bank_id = fields.Integer()
    code = fields.String()
    name = fields.String()
    district = fields.String()
    address = fields.String()
    instant = fields.Boolean()


class LoginIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=60))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class TokensOut(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String()


class DeadlineOut(Disclosed):
    items = {"card": I.REF, "working_days_left": I.APPLICATION, "overdue": I.APPLICATION}
    card = fields.Nested(CardOut, attribute="card")
    working_days_left = fields.Integer()
    overdue = fields.Boolean()


class YearSchedulePreviewIn(Schema):
    holidays = fields.List(fields.String(), required=True)
    workdays = fields.List(fields.String(), load_default=list)
    source = fields.String(required=True, validate=validate.Length(min=1, max=200))


class YearScheduleIn(YearSchedulePreviewIn):
    confirm = fields.Boolean(load_default=False, metadata={
        "description": "Load a schedule unlike any published year (without it: 409 with the warnings and "
                       "the due dates it would change)"})


class YearScheduleOut(Schema):
    year = fields.Integer()
    holidays = fields.List(fields.String())
    workdays = fields.List(fields.String())
    source = fields.String()
    loaded_by = fields.String(allow_none=True)
    recomputed = fields.Integer()
    warnings = fields.List(fields.String())


class DueDateChangeOut(Schema):
    application_id = fields.Integer()
    card_id = fields.Integer()
    accepted_on = fields.String()
    due_on = fields.String()
    new_due_on = fields.String()
    provisional = fields.Boolean()
    new_provisional = fields.Boolean()


class YearPlanOut(Schema):
    year = fields.Integer()
    plausible = fields.Boolean()
    warnings = fields.List(fields.String())
    changed = fields.Integer()
    changes = fields.List(fields.Nested(DueDateChangeOut))


class YearInForceOut(Schema):
    year = fields.Integer()
    basis = fields.String(metadata={"description": "loaded (by the Bureau) | package (chinesecalendar) | "
                                                   "weekdays (no data: Monday-Friday, provisional)"})
    provisional = fields.Boolean()
    source = fields.String()
    holidays = fields.List(fields.String())
    workdays = fields.List(fields.String())
    loaded_by = fields.String(allow_none=True)
    loaded_at = fields.DateTime(allow_none=True)


class DueIfAcceptedOut(Schema):
    due_on = fields.String()
    provisional = fields.Boolean()
    working_days = fields.Integer()


class DayOut(Schema):
    date = fields.String()
    working_day = fields.Boolean()
    provisional = fields.Boolean()
    basis = fields.String()
    due_if_accepted = fields.Nested(DueIfAcceptedOut)


class CalendarOut(Schema):
    loaded_years = fields.List(fields.Integer())
    years_without_data = fields.List(fields.Integer())


class AccountOut(Disclosed):
    items = {"id": I.REF, "kind": I.ACCOUNT_STATUS, "bank_id": I.ACCOUNT_BANK, "status": I.ACCOUNT_STATUS}
    id = fields.Integer()
    kind = fields.String()
    bank_id = fields.Integer(allow_none=True)
    status = fields.String()


# ---------------------------------------------------------------- Art. 16: reveal, audit trail, agency scope

from datetime import timezone as _tz  # noqa: E402


class RevealIn(Schema):
    fields_ = fields.List(
        fields.String(validate=validate.OneOf(["doc_number", "ssn", "name", "phone", "address", "photo"])),
        required=True, validate=validate.Length(min=1), data_key="fields", attribute="fields",
        metadata={"description": "Which values to see in full."})
    purpose = fields.String(required=True, validate=validate.OneOf([str(p) for p in disclosure.PURPOSES]),
                            metadata={"description": "Why you need the full values, from the list "
                                                     "(`disclosure.PURPOSES`); recorded (Art. 16)."})
    detail = fields.String(required=True, validate=validate.Length(min=1, max=disclosure.MAX_DETAIL),
                           metadata={"description": "In a few words, what the inquiry is for; recorded."})
    case = fields.String(validate=validate.Length(min=1, max=60),
                         metadata={"description": "The case it serves: the card id (card_production), the "
                                                  "correction request id (correction), the complaint's "
                                                  "reference (complaint)."})


class RevealOut(Schema):
    person_id = fields.Integer()
    purpose = fields.String()
    audit_seq = fields.Integer(metadata={"description": "The audit entry that records this reveal."})
    values = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True),
                         metadata={"description": "Full values; the photo as base64."})


class AgencyFieldOut(Disclosed):
    items = {"field": I.OWN_FIELD, "locked": I.OWN_FIELD, "usable": I.OWN_FIELD}
    field = fields.String()
    locked = fields.Boolean()
    usable = fields.Boolean()


class AgencyHolderOut(Disclosed):
    """What an application agency sees of a holder (Art. 16, 28): masked identity, its own field only."""

    items = {"person_id": I.REF, "name": I.NAME, "ssn": I.SSN, "card_status": I.CARD_STATUS,
             "card_kind": I.CARD_STATUS, "settlement_suspended": I.SETTLEMENT_SUSPENDED, "field": I.OWN_FIELD}

    person_id = fields.Integer()
    name = fields.String()
    ssn = fields.String()
    card_status = fields.String(allow_none=True)
    card_kind = fields.String(allow_none=True)
    settlement_suspended = fields.Boolean()
    field = fields.Nested(AgencyFieldOut)


class AuditQuery(Schema):
    person_id = fields.Integer()
    actor_id = fields.Integer()
    action = fields.String(validate=validate.Length(min=1, max=40))
    action_prefix = fields.String(validate=validate.Length(min=1, max=40),
                                  metadata={"description": "e.g. `read.` or `card.`"})
    since = fields.AwareDateTime(default_timezone=_tz.utc)
    until = fields.AwareDateTime(default_timezone=_tz.utc)
    newest_first = fields.Boolean(load_default=False)


class AuditEntryOut(Schema):
    seq = fields.Integer()
    prev_hash = fields.String()
    hash = fields.String()
    at = fields.DateTime()
    action = fields.String()
    actor_role = fields.String()
    actor_id = fields.Integer(allow_none=True)
    person_id = fields.Integer(allow_none=True)
    record = fields.Dict(metadata={"description": "The hashed record as stored (masked values only)."})


class ChainReportOut(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    last_seq = fields.Integer()
    last_hash = fields.String()
    seq = fields.Integer(allow_none=True, metadata={"description": "The first bad entry (its position in its chain)."})
    reason = fields.String(allow_none=True, metadata={"description": "edited, deleted or reordered"})
    detail = fields.String()
    chain = fields.Integer(metadata={"description": "The chain of the first bad entry (1 when all are intact)."})


class HotlineCallerIn(DocumentQuery):
    """The caller's ID document and the answers to the identity questions (Art. 21)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=60),
                         metadata={"description": "the holder's full name, as the caller gives it"})
    phone = fields.String(required=True, validate=validate.Length(min=1, max=24),
                          metadata={"description": "the registered mobile number, as the caller gives it"})


class HotlineCallerOut(Disclosed):
    """What the 12345 hotline needs to register the caller's loss (Art. 21), and no more (Art. 16)."""

    items = {"person_id": I.REF, "name": I.NAME, "card": I.REF, "etag": I.REF,
             "settlement_suspended": I.SETTLEMENT_SUSPENDED, "loss_registration": I.CARD_STATUS}
    person_id = fields.Integer()
    name = fields.String()
    card = fields.Nested(CardOut)
    etag = fields.String(metadata={"description": "the card's ETag, for If-Match on …/loss-registration"})
    settlement_suspended = fields.Boolean()
    loss_registration = fields.Boolean(metadata={"description": "whether the card's state allows it now"})


# ---------------------------------------------------------------- production batches (Art. 5, 10, 17)


class BatchCreateIn(Schema):
    card_ids = fields.List(fields.Integer(), validate=validate.Length(min=1, max=1000),
                           metadata={"description": "These accepted cards; left out: every accepted card "
                                                    "waiting, the earliest due first (up to `limit`)."})
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=1000))


class BatchQuery(Schema):
    status = fields.String(validate=validate.OneOf(["sent", "complete"]))


class BatchOut(Schema):
    """A batch without personal data: its reference, state and counts."""

    id = fields.Integer(attribute="batch.id")
    reference = fields.String(attribute="batch.reference")
    status = fields.String(attribute="batch.status")
    created_at = fields.DateTime(attribute="batch.created_at")
    completed_at = fields.DateTime(attribute="batch.completed_at", allow_none=True)
    cards = fields.Integer()
    produced = fields.Integer()


class BatchCardOut(Disclosed):
    items = {"card_id": I.REF, "number": I.CARD_NUMBER, "status": I.CARD_STATUS, "produced_at": I.CARD_STATUS}
    card_id = fields.Integer()
    number = fields.String()
    status = fields.String()
    produced_at = fields.DateTime(allow_none=True)


class BatchDetailOut(BatchOut):
    entries = fields.List(fields.Nested(BatchCardOut), metadata={"description": "The cards of the batch."})


class BatchImportIn(Schema):
    file = Upload(required=True, metadata={"description": "The factory's CSV (UTF-8) or XLSX file with a "
                                                         "`card_number` column and optionally `batch`."})


class RowErrorOut(Schema):
    line = fields.Integer()
    card_number = fields.String()
    code = fields.String()
    message = fields.String()


class BatchImportOut(Schema):
    batch = fields.Nested(BatchOut)
    produced = fields.List(fields.String(), metadata={"description": "Card numbers now produced."})
    remaining = fields.Integer(metadata={"description": "Cards of the batch still in production."})


# ---------------------------------------------------------------- door-to-door requests (Art. 8 ¶2)


class HomeVisitIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    phone = fields.String(required=True, validate=validate.Length(min=1, max=24))
    address = fields.String(required=True, validate=validate.Length(min=1, max=200))
    reason = fields.String(required=True, validate=validate.OneOf(["elderly", "disabled", "illness", "other"]))
    visit_on = fields.Date()


class HomeVisitScheduleIn(Schema):
    visit_on = fields.Date(required=True)


class HomeVisitDoneIn(Schema):
    card_id = fields.Integer(required=True, metadata={"description": "The door-to-door application taken."})


class HomeVisitCancelIn(Schema):
    outcome = fields.String(required=True, validate=validate.Length(min=1, max=200))


class HomeVisitOut(Schema):
    id = fields.Integer()
    bank_id = fields.Integer()
    outlet_id = fields.Integer(allow_none=True)
    name = fields.Function(lambda r: mask_name(r.name))
    phone = fields.Function(lambda r: mask_phone(r.phone))
    address = fields.Function(lambda r: mask_address(r.address))
    reason = fields.String()
    status = fields.String()
    visit_on = fields.Date(allow_none=True)
    card_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
