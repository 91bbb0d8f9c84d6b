"""Resident self-service (Art. 19, 20): the cardholder, signed in with a one-time code
(``/api/auth/resident/…``), queries their own data and asks for corrections.

Every view here is for the role ``resident`` only and acts on ``current_actor().person_id``: there
is no person id in any URL, so a resident cannot even name someone else's record.
"""
from __future__ import annotations

import base64

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.api import ledger as _ledger_api
from app.api.common import Blueprint, commit
from app.api.schemas import ApplicationOut, BankOut, CardOut, EventOut, FieldStatusOut, OutletOut
from app.auth import allow, current_actor
from app.extensions import db, limiter
from app.models import Card, CardEvent, Person
from app.models.enums import CardStatus, Field, Role
from app.services import lifecycle, otp, selfservice, settlement
from app.services.disclosure import Item as I
from app.services.errors import NotFound

blp = Blueprint("me", __name__, url_prefix="/api/me",
                description="Resident self-service: own data, cards, events, access log, corrections (Art. 19, 20)")


# ---------------------------------------------------------------- schemas (the holder's own view)


class MeOut(Schema):
    """The holder's own record, unmasked: Art. 20 gives the cardholder the right to query the
    information in their card; masking (Art. 16) protects it from others, not from its owner."""

    id = fields.Integer()
    doc_type = fields.String()
    doc_number = fields.String()
    ssn = fields.String()
    name = fields.String()
    ethnicity = fields.String(allow_none=True)
    sex = fields.String(allow_none=True)
    nationality = fields.String()
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    occupation = fields.String(allow_none=True)
    photo = fields.Function(lambda p: base64.b64encode(p.photo).decode() if p.photo else None, allow_none=True,
                            metadata={"description": "base64"})
    eligibility = fields.String()
    eligible = fields.Boolean()
    fields_ = fields.List(fields.Nested(FieldStatusOut), attribute="fields", data_key="fields")


class MyApplicationOut(ApplicationOut):
    delivery_address = fields.String(allow_none=True)  # the holder's own address, unmasked (Art. 20)


class MyCardOut(CardOut):
    items = {**CardOut.items, "usable": I.CARD_STATUS, "settlement_suspended": I.SETTLEMENT_SUSPENDED,
             "fields": I.FIELD_STATUS}
    application = fields.Nested(MyApplicationOut, allow_none=True)
    usable = fields.Boolean()
    settlement_suspended = fields.Boolean()
    fields_ = fields.Dict(keys=fields.String(), values=fields.Boolean(), attribute="fields", data_key="fields",
                          metadata={"description": "application field → usable (Art. 6, 14)"})


class MyEventOut(EventOut):
    """A card event as the holder sees it: no staff user id (see the access log's note)."""

    class Meta:
        exclude = ("actor_id",)


class AccessLogOut(Schema):
    ref = fields.Integer(metadata={"description": "audit entry number, to quote in a complaint (Art. 29)"})
    at = fields.DateTime()
    action = fields.String()
    kind = fields.String(metadata={"description": "read | change | sign-in"})
    role = fields.String()
    organisation = fields.String(allow_none=True)
    outlet = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    items = fields.List(fields.String())
    by_you = fields.Boolean()


class AccessLogQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class CorrectionIn(Schema):
    field = fields.String(required=True, validate=validate.OneOf(selfservice.ITEMS),
                          metadata={"description": "the item to correct: personal, card or application-field data"})
    proposed_value = fields.String(required=True, validate=validate.Length(min=1, max=500),
                                   metadata={"description": "the correct value (stored encrypted)"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class AgencyRef(Schema):
    code = fields.String()
    name = fields.String()


class CorrectionOut(Schema):
    id = fields.Integer()
    field = fields.String()
    scope = fields.String()
    proposed_value = fields.String()
    reason = fields.String()
    agency = fields.Method("_agency")
    status = fields.String()
    filed_at = fields.DateTime()
    due_on = fields.Date()
    due_provisional = fields.Boolean()
    resolved_at = fields.DateTime(allow_none=True)
    reply = fields.String(allow_none=True)
    applied = fields.Boolean()

    def _agency(self, req):
        from app.models import Agency

        agency = db.session.get(Agency, req.agency_id)
        return AgencyRef().dump(agency) if agency else None


# ---------------------------------------------------------------- helpers


class _CardView:
    """A card with the holder-facing extras (usability of the card and of each field)."""

    def __init__(self, card: Card, locked: set[Field], suspended: bool):
        self._card = card
        self.usable = card.status in (CardStatus.ACTIVE, CardStatus.REPLACEMENT_PENDING)
        self.settlement_suspended = suspended  # Art. 21: the holder's accounts, one rule for every view
        self.fields = {str(f): self.usable and f not in locked for f in Field}

    def __getattr__(self, name):
        return getattr(self._card, name)


def _me() -> Person:
    person = db.session.get(Person, current_actor().person_id)
    if person is None:
        raise NotFound("Your record no longer exists.")
    return person


# ---------------------------------------------------------------- views


@blp.route("")
@allow(Role.RESIDENT)
@blp.response(200, MeOut)
def me():
    """Your own record, **unmasked**: Art. 20 lets the cardholder query the information in their card
    and its applications; the masking of Art. 16 protects your data from others, not from you."""
    return _me()


@blp.route("/cards")
@allow(Role.RESIDENT)
@blp.response(200, MyCardOut(many=True))
def my_cards():
    """Your cards, current and past, with their status and which application fields are usable (Art. 20)."""
    person = _me()
    locked = set(lifecycle.locked_fields(db.session, person.id))
    suspended = lifecycle.settlement_suspended(db.session, person.id)
    cards = db.session.scalars(select(Card).where(Card.person_id == person.id).order_by(Card.id)).all()
    return [_CardView(c, locked, suspended) for c in cards]


@blp.route("/events")
@allow(Role.RESIDENT)
@blp.response(200, MyEventOut(many=True))
def my_events():
    """The events of all your cards (and changes of your information), oldest first (Art. 20)."""
    person = _me()
    return db.session.scalars(select(CardEvent).where(CardEvent.person_id == person.id)
                              .order_by(CardEvent.id)).all()


@blp.route("/access-log")
@allow(Role.RESIDENT)
@blp.arguments(AccessLogQuery, location="query")
@blp.response(200, AccessLogOut(many=True))
def my_access_log(query):
    """Who read or changed your data, when, and why (Art. 16, 20), newest first.

    Each entry names the role and the **organisation** (bank and outlet, or agency), the channel and
    the purpose — not the individual staff member: their identity is kept in the full audit trail for
    the Bureau and auditors. Quote ``ref`` if you complain (Art. 29): it identifies the entry, and
    through it the person who acted."""
    person = _me()
    return selfservice.access_log(db.session, person.id, limit=query["limit"])


class PhoneChangeIn(Schema):
    phone = fields.String(required=True, validate=validate.Length(min=1, max=24),
                          metadata={"description": "the new mobile number; a one-time code is sent to it"})


class PhoneCodeIn(Schema):
    code = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^[0-9]{6}$"))


class PhoneCodeSentOut(Schema):
    detail = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds"})


def _phone_limited(view):
    """The code endpoints' limits (Art. 19): per address, and per holder (a stolen session cannot
    text a number without end nor try codes without end)."""
    from app.api.auth import _setting

    per_holder = lambda: f"pid:{current_actor().person_id}"  # noqa: E731 (the policy ran first)
    view = limiter.limit(_setting("RATELIMIT_OTP_REQUEST_DOC"), key_func=per_holder)(view)
    return limiter.limit(_setting("RATELIMIT_OTP_REQUEST"))(view)


@blp.route("/phone", methods=["POST"])
@allow(Role.RESIDENT)
@_phone_limited
@blp.arguments(PhoneChangeIn)
@blp.response(202, PhoneCodeSentOut)
def request_phone_change(body):
    """Register a new mobile number (Art. 19: only the holder uses the card, and sign-in codes go to
    this number): a one-time code is sent to the NEW number; the number changes only when you send
    it back to ``POST /api/me/phone/confirmation``. The old number is then told of the change."""
    settings = otp.OtpSettings.from_app()
    otp.request_phone_change(db.session, current_actor(), body["phone"], settings)
    commit()
    return {"detail": "A code has been sent to the new number. Send it back to confirm the change.",
            "expires_in": int(settings.ttl.total_seconds())}


@blp.route("/phone/confirmation", methods=["POST"])
@allow(Role.RESIDENT)
@_phone_limited
@blp.arguments(PhoneCodeIn)
@blp.response(200, MeOut)
def confirm_phone_change(body):
    """Confirm the new mobile number with the code sent to it (5 wrong codes close the request)."""
    person = otp.confirm_phone_change(db.session, current_actor(), body["code"], otp.OtpSettings.from_app())
    commit()
    return person


@blp.route("/corrections", methods=["POST"])
@allow(Role.RESIDENT)
@blp.arguments(CorrectionIn)
@blp.response(201, CorrectionOut)
def file_correction(body):
    """Ask for a correction of your data (Art. 20 ¶2). Personal and card data go to the issuing agency,
    an application field's data to the agency of that field; the answer is due within 20 working days
    (Regulations on the Disclosure of Government Information, Art. 33)."""
    _me()
    req = selfservice.file(db.session, current_actor(), **body)
    commit()
    return req


@blp.route("/corrections")
@allow(Role.RESIDENT)
@blp.response(200, CorrectionOut(many=True))
def my_corrections():
    """Your correction requests, with where they went, their due date and the answer."""
    person = _me()
    return selfservice.for_resident(db.session, person.id)



# ---------------------------------------------------------------- the settlement accounts (Art. 13, 20)


class MyAccountOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    bank_id = fields.Integer(allow_none=True)
    status = fields.String()
    balance_fen = fields.Integer()


@blp.route("/accounts")
@allow(Role.RESIDENT)
@blp.response(200, MyAccountOut(many=True))
def my_accounts():
    """Your two settlement accounts (and former ones) with their status and balance in fen (Art. 13, 20)."""
    from app.models import SettlementAccount

    person = _me()
    accts = db.session.scalars(select(SettlementAccount).where(SettlementAccount.person_id == person.id)
                               .order_by(SettlementAccount.id)).all()
    return [{"id": a.id, "kind": str(a.kind), "bank_id": a.bank_id, "status": str(a.status),
             "balance_fen": settlement.balance(db.session, a)} for a in accts]


@blp.route("/accounts/<int:account_id>/statement")
@allow(Role.RESIDENT)
@blp.arguments(_ledger_api.StatementQuery, location="query")
@blp.response(200, _ledger_api.StatementOut)
def my_statement(query, account_id):
    """Your account's statement, newest first: each line says who posted it (role and organisation, or you)
    and how you consented (e-card code or card and PIN). Quote the transaction id if you complain (Art. 29)."""
    person = _me()
    acct = db.session.get(lifecycle.SettlementAccount, account_id)
    if acct is None or acct.person_id != person.id:
        raise NotFound("You have no such account.")
    st = settlement.statement(db.session, acct, before=query.get("before"), limit=query["limit"])
    return _ledger_api.statement_answer(acct, st, staff=False, person_id=person.id)


# ---------------------------------------------------------------- self-service steps, application, complaints
# (issue 15 item 3: the phone app's pages call the same services, app.services.resident)

from app.api.complaints import FiledOut, FollowOut  # noqa: E402
from app.api.schemas import _enum  # noqa: E402
from app.models.complaint import ComplaintKind, PartyKind  # noqa: E402
from app.services import complaints as _complaints  # noqa: E402
from app.services import resident  # noqa: E402


class SelfServiceStepOut(Schema):
    op = fields.String()
    online = fields.Boolean(metadata={"description": "open to you online (the lifecycle channel table)"})
    possible_now = fields.Boolean(metadata={"description": "allowed for your current card's state"})
    article = fields.String()
    where = fields.List(fields.String(), metadata={"description": "where else it is done: outlet, hotlines"})
    id_document = fields.String(allow_none=True, metadata={"description": "in person your own valid ID document "
                                                                          "is checked: the article"})


@blp.route("/steps")
@allow(Role.RESIDENT)
@blp.response(200, SelfServiceStepOut(many=True))
def my_steps():
    """Which self-service steps are open online and possible for your card now; for the others, where they
    are done and why (deregistration Art. 22, replacement Art. 24, PIN reset Art. 19, unlocking Art. 6),
    read from the same channel and state tables that decide them."""
    return resident.steps(db.session, _me().id)



class ApplicationFormOut(Schema):
    from_platform = fields.List(fields.String(), metadata={"description": "held valid by the government data-"
                                                                          "sharing platform: not asked (Art. 9)"})
    on_record = fields.List(fields.String())
    needed = fields.List(fields.String())
    banks = fields.List(fields.Nested(BankOut), metadata={"description": "the Bureau's published list (Art. 9)"})
    outlets = fields.Method("_outlets")

    def _outlets(self, form):
        return [OutletOut().dump(o) for os_ in form.outlets.values() for o in os_]


@blp.route("/application-form")
@allow(Role.RESIDENT)
@blp.response(200, ApplicationFormOut)
def my_application_form():
    """What an online application asks of you (Art. 9: only what the platform does not hold valid), the
    published banks and their pickup outlets (Art. 12). Apply with ``POST /api/applications/`` (no person id)."""
    form = resident.application_form(db.session, current_actor())
    return form


class MilestoneOut(Schema):
    status = fields.String()
    at = fields.DateTime(allow_none=True)


class ApplicationTrackingOut(Schema):
    card_id = fields.Function(lambda t: t.card.id)
    number = fields.Function(lambda t: t.card.number)
    status = fields.Function(lambda t: str(t.card.status))
    kind = fields.Function(lambda t: str(t.card.kind))
    due_on = fields.Date(allow_none=True)
    due_provisional = fields.Boolean()
    delivery_method = fields.String()
    tracking_ref = fields.String(allow_none=True)
    pickup_outlet = fields.Function(lambda t: t.pickup_outlet.name if t.pickup_outlet else None)
    rejection_reason = fields.String(allow_none=True)
    milestones = fields.List(fields.Nested(MilestoneOut))


@blp.route("/applications")
@allow(Role.RESIDENT)
@blp.response(200, ApplicationTrackingOut(many=True))
def my_applications():
    """Your applications, newest first: due date (Art. 10, 25), delivery and tracking (Art. 12), progress."""
    return resident.tracking(db.session, _me().id)


class MyComplaintIn(Schema):
    kind = _enum(ComplaintKind, required=True,
                 metadata={"description": "complaint (投诉: your name and mobile from your record) or report (举报)"})
    anonymous = fields.Boolean(load_default=False, metadata={"description": "a report only: not linked to you; "
                                                                            "follow it with reference and code"})
    party_kind = _enum(PartyKind, required=True)
    party_agency_id = fields.Integer()
    party_bank_id = fields.Integer()
    about_staff = fields.Boolean(load_default=False)
    staff_description = fields.String(validate=validate.Length(max=_complaints.NOTE_MAX))
    summary = fields.String(required=True, validate=validate.Length(max=_complaints.SUMMARY_MAX))


class MyComplaintOut(Schema):
    id = fields.Integer()
    reference = fields.String()
    kind = fields.String()
    status = fields.String()
    party_kind = fields.String()
    outcome = fields.String(allow_none=True)
    filed_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)


@blp.route("/complaints", methods=["POST"])
@allow(Role.RESIDENT)
@blp.arguments(MyComplaintIn)
@blp.response(201, FiledOut)
def file_my_complaint(body):
    """File a complaint or report (Art. 29), routed to the authority over the party. A complaint is yours to
    follow here (``GET /api/me/complaints``); an anonymous report is not linked to you: keep reference and code."""
    filed = resident.file_complaint(db.session, current_actor(), **body)
    commit()
    return filed


@blp.route("/complaints")
@allow(Role.RESIDENT)
@blp.response(200, MyComplaintOut(many=True))
def my_complaints():
    """The complaints and reports you filed signed in (not your anonymous reports), newest first."""
    return resident.my_complaints(db.session, _me().id)


@blp.route("/complaints/<int:complaint_id>")
@allow(Role.RESIDENT)
@blp.response(200, FollowOut)
def my_complaint(complaint_id):
    """One of your complaints with its timeline, outcome and reply (another's: 404, as for none)."""
    return resident.my_complaint(db.session, _me().id, complaint_id)
