"""The holder's own settlement accounts on the phone (issue 17; Art. 13, 20): both accounts with status and
balance, and each account's statement saying who posted what (role and organisation, or "you") and how the
holder consented. The same reads as ``GET /api/me/accounts`` and ``/api/me/accounts/{id}/statement``
(``app.api.ledger.statement_answer``); a resident's own read is not an audited staff read (Art. 16, 20)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from app.api.ledger import statement_answer
from app.extensions import db
from app.models import Bank, SettlementAccount
from app.services import settlement
from app.web.forms import helpers
from app.web.phone import me, resident_page
from app.web.settlement import _labels

bp = Blueprint("accounts", __name__, template_folder="templates", url_prefix="/accounts")
helpers(bp)
bp.context_processor(_labels)  # the settlement pages' names of types, counterparties and consent

PAGE = 30


def _banks() -> dict[int, str]:
    return dict(db.session.execute(select(Bank.id, Bank.name)).all())


@bp.route("/")
@resident_page
def index():
    """Your two settlement accounts (and former ones), each with its status and balance (Art. 13, 20)."""
    person = me()
    accts = db.session.scalars(select(SettlementAccount).where(SettlementAccount.person_id == person.id)
                               .order_by(SettlementAccount.status == "closed", SettlementAccount.id)).all()
    rows = [(a, settlement.balance(db.session, a)) for a in accts]
    return render_template("accounts/index.html", rows=rows, banks=_banks())


@bp.route("/<int:account_id>")
@resident_page
def statement(account_id: int):
    """One of your accounts: its postings, newest first; each says who posted it and how you consented."""
    person = me()
    acct = db.session.get(SettlementAccount, account_id)
    if acct is None or acct.person_id != person.id:
        abort(404)
    before = request.args.get("before", type=int)
    st = settlement.statement(db.session, acct, before=before, limit=PAGE)
    answer = statement_answer(acct, st, staff=False, person_id=person.id)
    return render_template("accounts/statement.html", acct=acct, st=answer, banks=_banks(),
                           more=len(answer["lines"]) >= PAGE)
