"""The Bureau's published list of cooperating banks and their outlets (Art. 6 ¶2, 9 ¶3, 10 ¶2)."""
from __future__ import annotations

from sqlalchemy import select

from app.api.common import CACHEABLE, Blueprint
from app.api.schemas import BankOut, OutletOut
from app.auth import allow
from app.extensions import db
from app.models import Bank, Outlet
from app.services.errors import NotFound

blp = Blueprint("banks", __name__, url_prefix="/api/banks", description="Cooperating banks (Art. 6, 9)")


@blp.route("/")
@allow(public=True)
@blp.response(200, BankOut(many=True))
def list_banks():
    """The cooperating banks the Bureau has published; applicants choose only from these (Art. 9 ¶3)."""
    return db.session.scalars(select(Bank).where(Bank.published.is_(True)).order_by(Bank.code)).all(), CACHEABLE


@blp.route("/<int:bank_id>/outlets")
@allow(public=True)
@blp.response(200, OutletOut(many=True))
def list_outlets(bank_id):
    """A bank's outlets; `instant` marks instant card-making outlets (Art. 10 ¶2)."""
    bank = db.session.get(Bank, bank_id)
    if bank is None or not bank.published:
        raise NotFound("No published bank {bank_id}.", params={"bank_id": bank_id})
    return db.session.scalars(select(Outlet).where(Outlet.bank_id == bank_id).order_by(Outlet.code)).all(), CACHEABLE
