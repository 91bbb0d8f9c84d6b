"""Settlement at the counter (issue 17; Art. 13, 19, 21, 24, 26): find a holder, see their two accounts and
each account's statement (an audited read, Art. 16), credit, debit with the holder's consent (card + PIN,
or the e-card code), reverse a posting of one's own organisation.

Thin: every step is ``app.services.settlement`` (the same calls as ``/api/ledger``), who may post which type
is its ``RULES`` table, who may open a page the API's roles. Each form carries an idempotency key made when
the form is rendered: a double submit posts once and is shown the first posting. Money steps have a
confirmation step; the PIN is typed there, by the holder, and never sent back in a page (Art. 19).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from app.api.ledger import STATEMENT_READERS, PostedOut, statement_answer
from app.extensions import db
from app.i18n import N_, translate
from app.models import Bank, LedgerTransaction, SettlementAccount
from app.models.enums import AccountKind, Role
from app.models.enums import TransactionType as T
from app.services import disclosure, lifecycle, settlement
from app.services.errors import DomainError, InvalidInput
from app.services.settlement import RULES, Consent, Direction
from app.web.desk.forms import SearchForm
from app.web.forms import actor, helpers
from app.web.policy import page
from app.web.settlement import forms

bp = Blueprint("settlement", __name__, template_folder="templates", url_prefix="/settlement")
helpers(bp)

CREDITORS = tuple(r for r in settlement.roles_for(Direction.CREDIT) if r is not Role.RESIDENT)
DEBITORS = tuple(r for r in settlement.roles_for(Direction.DEBIT) if r is not Role.RESIDENT)

TX_LABELS = {
    "fund_transfer_in": N_("Medical insurance fund transfer-in"), "medical_settlement": N_("Medical expense settlement"),
    "premium_payment": N_("Social insurance premium payment"), "benefit_payment": N_("Social security benefit"),
    "reimbursement": N_("Reimbursement after non-real-time medical settlement"), "deposit": N_("Cash deposit"),
    "withdrawal": N_("Cash withdrawal"), "transfer": N_("Transfer"), "bank_change_move": N_("Balance moved on a change of bank"),
    "reversal": N_("Reversal"),
}
COUNTERPARTY_LABELS = {"medical_fund": N_("Medical insurance fund"), "social_insurance_fund": N_("Social insurance fund"),
                       "medical_settlement": N_("Medical institution (settlement)"), "cash": N_("Cash at the counter"),
                       "interbank_clearing": N_("Interbank clearing"), "account": N_("Account")}
CONSENT_LABELS = {"ecard": N_("E-card code"), "card_pin": N_("Card and PIN")}
# The service's field names, as this area's forms name them (a refusal is shown beside its field).
FIELD_NAMES = {"amount_fen": "amount"}
CONSENT_FIELDS = forms.DebitForm.CONSENT_FIELDS


def counterparty_label(code: str | None) -> str:
    if not code:
        return "—"
    head, _, tail = code.partition(":")
    name = translate(COUNTERPARTY_LABELS.get(head, head))
    return f"{name} {tail}".strip() if tail else name


@bp.context_processor
def _labels():
    return {"tx_label": lambda t: translate(TX_LABELS.get(str(t), str(t))),
            "counterparty_label": counterparty_label,
            "consent_label": lambda c: translate(CONSENT_LABELS[c]) if c in CONSENT_LABELS else "—",
            "signed_money": _signed_money}


def _signed_money(fen: int | None) -> str:
    from app.i18n import money

    if fen is None:
        return ""
    return ("+" if fen > 0 else "−") + money(abs(fen))


def _refused(template: str, e: DomainError, form=None, **context):
    """Re-render after a refused step: nothing written (a wrong PIN's count excepted, Art. 19), the refusal
    with its article above the form, and beside its field when the form has it."""
    db.session.commit() if e.extra.get("commit") else db.session.rollback()
    name = FIELD_NAMES.get(e.extra.get("field"), e.extra.get("field"))
    if form is not None and isinstance(name, str) and name in form:
        form[name].errors = [*form[name].errors, e.translated()[1]]
        if name not in CONSENT_FIELDS:  # back to the first step, the field to correct shown with its reason
            context["confirm"] = False
    return render_template(template, form=form, refused=e, **context), e.status


def types_for(direction: Direction, kind: AccountKind | None = None) -> list[T]:
    """The transaction types the signed-in role (an agency: of its own field) may post (``RULES``)."""
    a = actor()
    field = disclosure.agency_field(db.session, a) if a.role is Role.APP_AGENCY else None
    return [t for t, r in RULES.items() if r.direction is direction and (a.role, field) in r.posters
            and (kind is None or r.kind is kind)]


def _account_or_404(account_id: int | None) -> SettlementAccount | None:
    if account_id is None:
        return None
    acct = db.session.get(SettlementAccount, account_id)
    if acct is None:
        abort(404)
    return acct


def _banks() -> dict[int, Bank]:
    return {b.id: b for b in db.session.scalars(select(Bank))}


# ---------------------------------------------------------------- find a holder, their accounts


STARTERS = tuple(dict.fromkeys((*STATEMENT_READERS, *CREDITORS, *DEBITORS)))


@bp.route("/", methods=["GET", "POST"])
@page(*STARTERS)
def search():
    """Find the holder at the counter by card number (or document, or mobile) with a stated purpose (Art. 16).
    A role that reads no statement (an application agency) gets the debit and credit forms only."""
    if g.staff.role not in STATEMENT_READERS:
        if request.method != "GET":
            abort(403)
        return render_template("settlement/search.html", form=None)
    form = SearchForm(purposes=disclosure.lookup_purposes(g.staff.role))
    if request.method == "GET" or not form.validate():
        return render_template("settlement/search.html", form=form), 422 if request.method == "POST" else 200
    try:
        found = disclosure.lookup(db.session, actor(), disclosure.LookupBy(form.by.data), form.value.data,
                                  purpose=form.purpose.data or None, detail=form.detail.data,
                                  doc_type=form.doc_type.data, nationality=form.nationality.data or None)
    except DomainError as e:
        return _refused("settlement/search.html", e, form)
    db.session.commit()
    if len(found) == 1:
        return redirect(url_for("web.settlement.holder", person_id=found[0].id))
    results = [(p.id, p.name) for p in found]
    from app.privacy import mask_name

    return render_template("settlement/search.html", form=SearchForm(purposes=disclosure.lookup_purposes(g.staff.role),
                                                                   formdata=None),
                           results=[(i, mask_name(n) if n else "") for i, n in results], searched=True)


@bp.route("/holders/<int:person_id>")
@page(*STATEMENT_READERS)
def holder(person_id: int):
    """The holder's accounts with status and balance (an audited read, Art. 16) and what may be done."""
    a = actor()
    accts = lifecycle.accounts(db.session, person_id, open_only=False)
    if not accts:
        disclosure.check_remit(db.session, a, person_id)
        abort(404)
    disclosure.disclose(db.session, a, person_id, "statement", subject="settlement:accounts")
    card = lifecycle.current_card(db.session, person_id)
    rows = [(acct, settlement.balance(db.session, acct)) for acct in accts]
    disclosure.commit_read(db.session)
    return render_template("settlement/holder.html", person_id=person_id, rows=rows, card=card, banks=_banks(),
                           credit_types={k: types_for(Direction.CREDIT, k) for k in AccountKind},
                           debit_types={k: types_for(Direction.DEBIT, k) for k in AccountKind})


@bp.route("/accounts/<int:account_id>")
@page(*STATEMENT_READERS)
def statement(account_id: int):
    """The account's statement for the counter: balance and postings, newest first, who posted each (Art. 13);
    a read of personal data within the remit, on record (Art. 16), as ``GET /api/ledger/accounts/…/statement``."""
    acct = _account_or_404(account_id)
    a = actor()
    disclosure.disclose(db.session, a, acct.person_id, "statement", subject=f"account:{acct.id}")
    before = request.args.get("before", type=int)
    st = settlement.statement(db.session, acct, before=before, limit=50)
    answer = statement_answer(acct, st, staff=True)
    reversed_ids = {ln["reversal_of"] for ln in answer["lines"] if ln["reversal_of"]}
    reversible = {ln.transaction_id for ln in st.lines if _may_reverse(ln.poster, ln.type)
                  and ln.transaction_id not in reversed_ids}
    disclosure.commit_read(db.session)
    return render_template("settlement/statement.html", acct=acct, st=answer, before=before, banks=_banks(),
                           reversible=reversible, person_id=acct.person_id,
                           credit_types=types_for(Direction.CREDIT, acct.kind),
                           debit_types=types_for(Direction.DEBIT, acct.kind))


def _may_reverse(poster, type_) -> bool:
    """Whether to offer a reversal: the service decides (``settlement.reverse``); this only hides the button
    from whom it would refuse (another organisation, a reversal, a balance move)."""
    s = g.staff
    if s.role not in settlement.REVERSERS or type_ in (T.REVERSAL, T.BANK_CHANGE_MOVE):
        return False
    return bool((poster.agency_id and poster.agency_id == s.agency_id)
                or (s.role is Role.BANK_TELLER and poster.bank_id and poster.bank_id == s.bank_id))


# ---------------------------------------------------------------- credits and debits


def _posted(posted, account_id: int | None):
    """After a posting: back to the statement (or the form, for a role that reads no statement)."""
    db.session.commit()
    out = PostedOut().dump(posted)
    if posted.replayed:
        flash(translate("Already posted as transaction {id}: a repeated submission posts nothing.",
                        id=posted.transaction_id), "success")
    else:
        flash(translate("Posted: {type}, {amount}, transaction {id}.", type=translate(TX_LABELS[str(posted.type)]),
                        amount=_money(posted.amount_fen), id=posted.transaction_id), "success")
    if account_id is not None and g.staff.role in STATEMENT_READERS:
        return redirect(url_for("web.settlement.statement", account_id=account_id))
    return render_template("settlement/posted.html", posted=out)


def _money(fen: int) -> str:
    from app.i18n import money

    return money(fen)


def _account_of(posted) -> int | None:
    """The holder account a posting moved (its statement to return to)."""
    return next(iter(posted.balances), None)


def _context_account(acct: SettlementAccount | None):
    """The account a form was opened from: within the remit, and which card it is used with."""
    if acct is None:
        return None, None
    disclosure.check_remit(db.session, actor(), acct.person_id)
    return acct, lifecycle.current_card(db.session, acct.person_id)


@bp.route("/credit", methods=["GET", "POST"])
@page(*CREDITORS)
def credit():
    """A credit (Art. 13): a fund transfer-in, a benefit, a reimbursement, a cash deposit, each on its own
    account; into a suspended holder's account as configured (Art. 21), never into a closed one (Art. 26)."""
    acct, card = _context_account(_account_or_404(request.values.get("account_id", type=int)))
    types = types_for(Direction.CREDIT, acct.kind if acct else None)
    if not types:
        abort(403)
    form = forms.CreditForm(types=types, labels=TX_LABELS)
    if acct is not None:  # the page's own account, whatever the form says
        form.account_id.data = acct.id
    context = {"form": form, "acct": acct, "card": card, "direction": "credit", "banks": _banks()}
    if request.method == "GET":
        return render_template("settlement/post.html", **context)
    confirming = request.form.get("step") == "confirm"
    if not form.validate():
        return render_template("settlement/post.html", confirm=confirming, **context), 422
    if not confirming:
        return render_template("settlement/post.html", confirm=True, amount_fen=form.amount_fen, **context)
    try:
        posted = settlement.credit(db.session, actor(), T(form.type.data), form.amount_fen, key=form.key.data,
                                   account_id=form.account_id.data or None,
                                   card_number=None if form.account_id.data else form.card_number.data,
                                   reference=form.reference.data or None)
    except DomainError as e:
        return _refused("settlement/post.html", e, confirm=True, amount_fen=form.amount_fen,
                        **{k: v for k, v in context.items() if k != "form"}, form=form)
    return _posted(posted, acct.id if acct else _account_of(posted))


@bp.route("/debit", methods=["GET", "POST"])
@page(*DEBITORS)
def debit():
    """A debit with the holder present (Art. 13, 19): the e-card code scanned, or the card and its PIN typed by
    the holder on the confirmation step. Refused while settlement is suspended (Art. 21), on a cancelled card
    (Art. 26), on a locked field or before activation (Art. 6), short of funds."""
    acct, card = _context_account(_account_or_404(request.values.get("account_id", type=int)))
    types = types_for(Direction.DEBIT, acct.kind if acct else None)
    if not types:
        abort(403)
    form = forms.DebitForm(types=types, labels=TX_LABELS)
    if request.method == "GET" and card is not None:
        form.card_number.data = card.number
    context = {"form": form, "acct": acct, "card": card, "direction": "debit", "banks": _banks()}
    if request.method == "GET":
        return render_template("settlement/post.html", **context)
    confirming = request.form.get("step") == "confirm"
    valid = form.validate()
    if not confirming:  # the consent is given on the confirmation step, never carried in the page
        for name in form.CONSENT_FIELDS:
            form[name].errors = []
            form[name].data = None
        valid = not any(f.errors for f in form)
    if not valid:
        return render_template("settlement/post.html", confirm=confirming, amount_fen=form.amount_fen, **context), 422
    if not confirming:
        return render_template("settlement/post.html", confirm=True, amount_fen=form.amount_fen, **context)
    consent = Consent(ecard_token=(form.ecard_token.data or "").strip() or None,
                      card_number=(form.card_number.data or "").strip() or None, pin=form.pin.data or None)
    try:
        if not consent.ecard_token and not consent.pin:
            raise InvalidInput("A debit needs the holder present: their e-card code, or the PIN of the card.",
                               article="Art. 19", field="pin")
        posted = settlement.debit(db.session, actor(), T(form.type.data), form.amount_fen, key=form.key.data,
                                  consent=consent, to_account_id=form.to_account_id.data or None,
                                  reference=form.reference.data or None)
    except DomainError as e:
        form.pin.data = None
        return _refused("settlement/post.html", e, confirm=True, amount_fen=form.amount_fen,
                        **{k: v for k, v in context.items() if k != "form"}, form=form)
    source = next((i for i, b in posted.balances.items() if acct is None or i == acct.id), None)
    return _posted(posted, acct.id if acct else source)


# ---------------------------------------------------------------- reversal


@bp.route("/transactions/<int:transaction_id>/reversal", methods=["GET", "POST"])
@page(*settlement.REVERSERS)
def reverse(transaction_id: int):
    """Reverse one transaction, once, by the organisation that posted it (Art. 13)."""
    tx = db.session.get(LedgerTransaction, transaction_id)
    if tx is None:
        abort(404)
    acct, _card = _context_account(_account_or_404(request.values.get("account_id", type=int)))
    form = forms.ReversalForm()
    context = {"form": form, "tx": tx, "acct": acct}
    if request.method == "GET":
        return render_template("settlement/reverse.html", **context)
    if not form.validate():
        return render_template("settlement/reverse.html", **context), 422
    try:
        posted = settlement.reverse(db.session, actor(), transaction_id, key=form.key.data, reason=form.reason.data)
    except DomainError as e:
        return _refused("settlement/reverse.html", e, **{k: v for k, v in context.items() if k != "form"}, form=form)
    return _posted(posted, acct.id if acct else _account_of(posted))
