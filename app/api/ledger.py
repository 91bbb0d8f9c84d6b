"""Settlement on the card's two accounts (Art. 13, 21, 24, 26): credits, debits, reversals, statements.

Thin: every rule is in ``app.services.settlement``. Every posting needs an ``Idempotency-Key`` header (new
for each transaction, the same when retrying it): a retry gets the first answer (``Idempotent-Replayed:
true``) and posts nothing. Amounts are integer fen.
"""
from __future__ import annotations

from flask import request
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from app.api.common import Blueprint, commit
from app.api.schemas import Disclosed
from app.auth import allow, current_actor
from app.extensions import db
from app.models import Agency, Bank, Outlet
from app.models.enums import Role
from app.services import disclosure, settlement
from app.services.disclosure import Item as I
from app.services.settlement import CREDIT_TYPES, DEBIT_TYPES, Consent, Direction
from app.services.settlement_port import CURRENCY, Posted, Statement

blp = Blueprint("ledger", __name__, url_prefix="/api/ledger",
                description="Settlement: money on the two accounts, idempotent (Art. 13, 21, 24, 26)")

IDEMPOTENCY_KEY_PARAM = {
    "in": "header", "name": "Idempotency-Key", "required": True,
    "schema": {"type": "string", "minLength": 8, "maxLength": 64, "pattern": r"^[A-Za-z0-9._:\-]+$"},
    "description": "New for each transaction, the same when retrying it: a retry posts nothing and gets the "
                   "first answer (header Idempotent-Replayed: true). Keys are per caller.",
}
STATEMENT_READERS = (Role.BANK_TELLER, Role.AGENCY_CLERK)


def _amount(**kw):
    return fields.Integer(required=True, strict=True, metadata={
        "description": "Integer fen (1 yuan = 100 fen), positive, at most the configured maximum."}, **kw)


class _Money(Schema):
    amount_fen = _amount()
    currency = fields.String(load_default=CURRENCY, validate=validate.Length(max=8),
                             metadata={"description": "CNY only (Art. 13 ¶3)"})
    reference = fields.String(validate=validate.Length(max=64),
                              metadata={"description": "your own reference (bill number…), shown on statements"})


class CreditIn(_Money):
    type = fields.String(required=True, validate=validate.OneOf([str(t) for t in CREDIT_TYPES]))
    account_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                                metadata={"description": "the settlement account; or card_number"})
    card_number = fields.String(validate=validate.Length(min=1, max=20),
                                metadata={"description": "the card: its account of the type's kind"})


class DebitIn(_Money):
    type = fields.String(required=True, validate=validate.OneOf([str(t) for t in DEBIT_TYPES]))
    ecard_token = fields.String(validate=validate.Length(min=1, max=400), load_only=True,
                                metadata={"description": "the holder's e-card code as scanned (SC2:…)"})
    card_number = fields.String(validate=validate.Length(min=1, max=20),
                                metadata={"description": "with pin: the card presented"})
    pin = fields.String(load_only=True, validate=validate.Length(min=1, max=12),
                        metadata={"description": "the card's PIN, typed by the holder (Art. 19)"})
    to_account_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                                   metadata={"description": "a transfer's financial account"})


class ReversalIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=64))


class PostedOut(Disclosed):
    items = {"transaction_id": I.REF, "type": I.REF, "amount_fen": I.REF, "currency": I.REF,
             "created_at": I.REF, "reference": I.REF, "reversal_of": I.REF, "balances": I.ACCOUNT_BALANCE}
    transaction_id = fields.Integer()
    type = fields.String()
    amount_fen = fields.Integer()
    currency = fields.String()
    created_at = fields.DateTime()
    reference = fields.String(allow_none=True)
    reversal_of = fields.Integer(allow_none=True)
    balances = fields.Dict(keys=fields.String(), values=fields.Integer(),
                           metadata={"description": "account id → its balance after this transaction"})


class PostedByOut(Schema):
    role = fields.String()
    organisation = fields.String(allow_none=True)
    outlet = fields.String(allow_none=True)
    channel = fields.String()
    by_you = fields.Boolean()
    staff_id = fields.Integer(allow_none=True, metadata={"description": "staff statements only"})


class LineOut(Schema):
    transaction_id = fields.Integer()
    at = fields.DateTime()
    type = fields.String()
    amount_fen = fields.Integer(metadata={"description": "signed: + into the account, − out of it"})
    balance_after = fields.Integer(allow_none=True)
    counterparty = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    reversal_of = fields.Integer(allow_none=True)
    consent = fields.String(allow_none=True, metadata={"description": "ecard | card_pin: how the holder consented"})
    posted_by = fields.Nested(PostedByOut)


class StatementOut(Schema):
    account_id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    balance_fen = fields.Integer()
    currency = fields.String()
    lines = fields.List(fields.Nested(LineOut))
    next_before = fields.Integer(allow_none=True, metadata={"description": "pass as `before` for older lines"})


class StatementQuery(Schema):
    before = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1),
                            metadata={"description": "lines of transactions older than this id"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


# ---------------------------------------------------------------- helpers (also used by /api/me)


def idempotency_key() -> str | None:
    return request.headers.get("Idempotency-Key")


def posted_answer(posted: Posted):
    body = {"transaction_id": posted.transaction_id, "type": str(posted.type), "amount_fen": posted.amount_fen,
            "currency": posted.currency, "created_at": posted.created_at, "reference": posted.reference,
            "reversal_of": posted.reversal_of, "balances": {str(k): v for k, v in posted.balances.items()}}
    return body, 201, {"Idempotent-Replayed": "true" if posted.replayed else "false"}


def _names(model, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all()) if ids else {}


def statement_answer(acct, st: Statement, *, staff: bool, person_id: int | None = None) -> dict:
    """A statement with who posted each line: role and organisation (agency, or bank and outlet); the staff
    member's id only on a staff statement (the holder quotes the transaction id, as in the access log)."""
    agencies = _names(Agency, [ln.poster.agency_id for ln in st.lines])
    banks = _names(Bank, [ln.poster.bank_id for ln in st.lines])
    outlets = _names(Outlet, [ln.poster.outlet_id for ln in st.lines])
    lines = []
    for ln in st.lines:
        p = ln.poster
        lines.append({
            "transaction_id": ln.transaction_id, "at": ln.at, "type": str(ln.type), "amount_fen": ln.amount_fen,
            "balance_after": ln.balance_after, "counterparty": ln.counterparty, "reference": ln.reference,
            "reversal_of": ln.reversal_of, "consent": ln.consent,
            "posted_by": {"role": str(p.role), "organisation": agencies.get(p.agency_id) or banks.get(p.bank_id),
                          "outlet": outlets.get(p.outlet_id), "channel": str(p.channel),
                          "by_you": p.resident_id is not None and p.resident_id == person_id,
                          **({"staff_id": p.user_id} if staff else {})},
        })
    return {"account_id": acct.id, "kind": str(acct.kind), "status": str(acct.status), "balance_fen": st.balance_fen,
            "currency": st.currency, "lines": lines,
            "next_before": st.lines[-1].transaction_id if st.lines else None}


# ---------------------------------------------------------------- views


@blp.route("/credits", methods=["POST"])
@allow(*settlement.roles_for(Direction.CREDIT))
@blp.arguments(CreditIn)
@blp.response(201, PostedOut, headers={"Idempotent-Replayed": {"schema": {"type": "string"}}})
@blp.doc(parameters=[IDEMPOTENCY_KEY_PARAM])
def post_credit(body):
    """A credit (Art. 13): `fund_transfer_in` to the personal account (the medical security agency);
    `benefit_payment` (the social insurance agency), `reimbursement` (medical security), `deposit` (a teller
    of the account's bank) to the financial account. Into a suspended holder's account as configured
    (Art. 21, default: it posts); never into a closed one (Art. 26)."""
    posted = settlement.credit(db.session, current_actor(), body["type"], body["amount_fen"], key=idempotency_key(),
                               account_id=body.get("account_id"), card_number=body.get("card_number"),
                               currency=body["currency"], reference=body.get("reference"))
    commit()
    return posted_answer(posted)


@blp.route("/debits", methods=["POST"])
@allow(*settlement.roles_for(Direction.DEBIT))
@blp.arguments(DebitIn)
@blp.response(201, PostedOut, headers={"Idempotent-Replayed": {"schema": {"type": "string"}}})
@blp.doc(parameters=[IDEMPOTENCY_KEY_PARAM])
def post_debit(body):
    """A debit with the holder present, by the e-card code (`ecard_token`, verified as offline: one code pays
    once) or the card and its PIN (Art. 19): `medical_settlement` from the personal account (a hospital's
    medical-insurance desk: medical security agency), `premium_payment` (social insurance agency, or the
    holder online), `withdrawal` (teller), `transfer` (holder online, or teller) from the financial account.
    Refused while settlement is suspended (Art. 21), on a cancelled card (Art. 26), on a locked field or
    before activation (Art. 6)."""
    consent = Consent(ecard_token=body.get("ecard_token"), card_number=body.get("card_number"), pin=body.get("pin"))
    posted = settlement.debit(db.session, current_actor(), body["type"], body["amount_fen"], key=idempotency_key(),
                              consent=consent, to_account_id=body.get("to_account_id"), currency=body["currency"],
                              reference=body.get("reference"))
    commit()
    return posted_answer(posted)


@blp.route("/transactions/<int:transaction_id>/reversal", methods=["POST"])
@allow(*settlement.REVERSERS)
@blp.arguments(ReversalIn)
@blp.response(201, PostedOut, headers={"Idempotent-Replayed": {"schema": {"type": "string"}}})
@blp.doc(parameters=[IDEMPOTENCY_KEY_PARAM])
def reverse(body, transaction_id):
    """Reverse one transaction, once, by the organisation that posted it (Art. 13)."""
    posted = settlement.reverse(db.session, current_actor(), transaction_id, key=idempotency_key(),
                                reason=body["reason"])
    commit()
    return posted_answer(posted)


@blp.route("/accounts/<int:account_id>/statement")
@allow(*STATEMENT_READERS)
@blp.arguments(StatementQuery, location="query")
@blp.response(200, StatementOut)
def account_statement(query, account_id):
    """An account's statement for the counter: balance and postings, newest first, each with who posted it.
    A read of personal data: within your remit, and on record (Art. 16)."""
    acct = settlement.account(db.session, account_id)
    disclosure.disclose(db.session, current_actor(), acct.person_id, "statement", subject=f"account:{acct.id}")
    st = settlement.statement(db.session, acct, before=query.get("before"), limit=query["limit"])
    answer = statement_answer(acct, st, staff=True)
    disclosure.commit_read(db.session)
    return answer
