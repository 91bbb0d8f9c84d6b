"""The Bureau's own records (Art. 5, 6 ¶2, 16): the cooperating banks and outlets it publishes, and the staff
accounts it administers. The public list (``GET /api/banks/``) shows only ``published`` banks; applicants
choose only from it (Art. 9 ¶3). Every change is audited with the old and new values.

What the Bureau pages need beyond these (the holiday calendar and its preview, deactivation, the audit search
and chain verification) lives where it already was: ``app.services.workdays``, ``sessions.deactivate_staff``,
``audit.search`` / ``audit.verify``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models import Agency, Bank, Outlet, StaffUser
from app.models.enums import Role
from app.services import audit
from app.services.actor import Actor
from app.services.errors import ChannelNotAllowed, InvalidInput, NotFound

PUBLISHERS = (Role.BUREAU,)  # Art. 6 ¶2: the Bureau determines and publishes the cooperating banks
ADMINS = (Role.BUREAU,)  # staff accounts (as sessions.ADMINS)
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,23}$")


def _check(actor: Actor, roles) -> None:
    if actor.role not in roles:
        raise ChannelNotAllowed("Only the Bureau keeps the cooperating banks, their outlets and the staff accounts.",
                                article="Art. 5, 6")


@dataclass(frozen=True)
class BankIn:
    code: str
    name: str
    published: bool = True


@dataclass(frozen=True)
class OutletIn:
    code: str
    name: str
    district: str
    address: str
    instant: bool = False


def _code(value: str, field: str = "code") -> str:
    code = (value or "").strip().upper()
    if not _CODE.match(code):
        raise InvalidInput("A code is 2 to 24 capital letters, digits or hyphens.", field=field)
    return code


def _text(value: str, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise InvalidInput("Write 1 to {limit} characters.", params={"limit": limit}, field=field)
    return value


def banks(session: Session) -> list[Bank]:
    """Every bank, published or not, with its outlets (the Bureau's list; the public sees the published)."""
    return list(session.scalars(select(Bank).options(selectinload(Bank.outlets)).order_by(Bank.code)))


def _unique(session: Session, model, code: str, own_id: int | None) -> None:
    other = session.scalars(select(model).where(model.code == code)).first()
    if other is not None and other.id != own_id:
        raise InvalidInput("The code {code} is taken.", params={"code": code}, field="code")


def save_bank(session: Session, actor: Actor, bank_id: int | None, data: BankIn) -> Bank:
    _check(actor, PUBLISHERS)
    code, name = _code(data.code), _text(data.name, "name", 100)
    bank = Bank() if bank_id is None else session.get(Bank, bank_id, with_for_update=True)
    if bank is None:
        raise NotFound("No bank {bank_id}.", params={"bank_id": bank_id})
    _unique(session, Bank, code, bank_id)
    old = {"code": bank.code, "name": bank.name, "published": bank.published}
    bank.code, bank.name, bank.published = code, name, bool(data.published)
    if bank_id is None:
        session.add(bank)
    session.flush()
    new = {"code": code, "name": name, "published": bank.published}
    audit.record(session, actor, "bank.create" if bank_id is None else "bank.update", subject=f"bank:{bank.id}",
                 purpose="cooperating banks (Art. 6 ¶2)",
                 changes={k: [old[k], new[k]] for k in new if old[k] != new[k]})
    return bank


def save_outlet(session: Session, actor: Actor, bank_id: int, outlet_id: int | None, data: OutletIn) -> Outlet:
    _check(actor, PUBLISHERS)
    bank = session.get(Bank, bank_id)
    if bank is None:
        raise NotFound("No bank {bank_id}.", params={"bank_id": bank_id})
    values = {"code": _code(data.code), "name": _text(data.name, "name", 120),
              "district": _text(data.district, "district", 20), "address": _text(data.address, "address", 200),
              "instant": bool(data.instant)}
    outlet = Outlet(bank_id=bank.id) if outlet_id is None else session.get(Outlet, outlet_id, with_for_update=True)
    if outlet is None or outlet.bank_id != bank.id:
        raise NotFound("No outlet {outlet_id} of bank {bank_id}.", params={"outlet_id": outlet_id, "bank_id": bank_id})
    _unique(session, Outlet, values["code"], outlet_id)
    old = {k: getattr(outlet, k) for k in values}
    for k, v in values.items():
        setattr(outlet, k, v)
    if outlet_id is None:
        session.add(outlet)
    session.flush()
    audit.record(session, actor, "outlet.create" if outlet_id is None else "outlet.update",
                 subject=f"outlet:{outlet.id}", purpose="outlets (Art. 6 ¶2, 10 ¶2)",
                 changes={k: [old[k], values[k]] for k in values if old[k] != values[k]})
    return outlet


@dataclass(frozen=True)
class StaffRow:
    user: StaffUser
    organisation: str | None  # the bank (and outlet) or the agency the account acts for


def staff_accounts(session: Session, actor: Actor, *, role: Role | None = None,
                   active: bool | None = None) -> list[StaffRow]:
    _check(actor, ADMINS)
    q = select(StaffUser).order_by(StaffUser.role, StaffUser.username)
    if role is not None:
        q = q.where(StaffUser.role == role)
    if active is not None:
        q = q.where(StaffUser.active.is_(active))
    banks_ = {b.id: b.name for b in session.scalars(select(Bank))}
    outlets = {o.id: o.name for o in session.scalars(select(Outlet))}
    agencies = {a.id: a.name for a in session.scalars(select(Agency))}
    rows = []
    for u in session.scalars(q):
        org = agencies.get(u.agency_id) or " · ".join(filter(None, (banks_.get(u.bank_id), outlets.get(u.outlet_id))))
        rows.append(StaffRow(u, org or None))
    return rows
