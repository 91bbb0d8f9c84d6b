"""Builders for settlement tests: the posting organisations the World lacks, e-card codes, quick postings."""
from __future__ import annotations

import itertools
import uuid

from flask import current_app
from sqlalchemy import func, select

from app.models import Agency, LedgerPosting, LedgerTransaction, SettlementAccount, StaffUser
from app.models.enums import AccountKind, AgencyKind, Field, Role
from app.models.enums import TransactionType as T
from app.services import settlement
from app.services.actor import Actor
from app.services.hashing import hash_password
from app.services.settlement import Consent
from tests.factories import PIN

_n = itertools.count(1)


def key() -> str:
    return f"test-{uuid.uuid4().hex}"


def social_insurance(world) -> Actor:
    """The social insurance agency (an application agency of the HRSS field): premiums and benefits."""
    if "social" not in world.staff:
        agency = Agency(code=f"SIA{next(_n)}", name="社会保险经办机构", kind=AgencyKind.APPLICATION, field=Field.HRSS)
        world.session.add(agency)
        world.session.flush()
        world.agencies["SIA"] = agency
        world.staff["social"] = StaffUser(username="social", display_name="social",
                                          password_hash=hash_password("social-pw"), role=Role.APP_AGENCY,
                                          agency_id=agency.id)
        world.session.add(world.staff["social"])
        world.session.flush()
    return world.actor("social")


def account_of(session, person_id: int, kind: AccountKind, *, open_only: bool = True) -> SettlementAccount:
    q = select(SettlementAccount).where(SettlementAccount.person_id == person_id, SettlementAccount.kind == kind)
    accts = list(session.scalars(q.order_by(SettlementAccount.id.desc())))
    return next(a for a in accts if not open_only or a.status != "closed")


def token(session, person_id: int) -> str:
    return current_app.extensions["ecard_issuer"].issue(session, person_id)[0].token


def fund(session, world, person_id: int, fen: int):
    """Money on both accounts: a fund transfer-in to the personal account, a benefit to the financial one."""
    med = account_of(session, person_id, AccountKind.MEDICAL)
    fin = account_of(session, person_id, AccountKind.FINANCIAL)
    settlement.credit(session, world.actor("medical"), T.FUND_TRANSFER_IN, fen, key=key(), account_id=med.id)
    settlement.credit(session, social_insurance(world), T.BENEFIT_PAYMENT, fen, key=key(), account_id=fin.id)
    return med, fin


def by_card(card, pin: str = PIN) -> Consent:
    return Consent(card_number=card.number, pin=pin)


def journal_counts(session) -> tuple[int, int]:
    session.expire_all()
    return (session.scalar(select(func.count()).select_from(LedgerTransaction)),
            session.scalar(select(func.count()).select_from(LedgerPosting)))


class RecordingLedger:
    """An account holder configured in place of the default (SETTLEMENT_HOLDERS): the embedded ledger, with
    every suspend / resume it is told of recorded, as a bank core's adapter would forward them."""

    calls: list[tuple[str, int]] = []

    def __init__(self):
        from app.services.ledger import EmbeddedLedger

        self._inner = EmbeddedLedger()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def suspend(self, session, account):
        self.calls.append(("suspend", account.id))

    def resume(self, session, account):
        self.calls.append(("resume", account.id))


class OtherBankLedger:
    """A second account holder (another bank's core) configured for one bank's financial accounts
    (``SETTLEMENT_HOLDERS["financial:<code>"]``): the embedded ledger behind its own instance, so a transfer
    to it goes through interbank clearing. ``failing`` makes its postings fail, as a core that is down."""

    failing = False

    def __init__(self):
        from app.services.ledger import EmbeddedLedger

        self._inner = EmbeddedLedger()

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def post(self, session, request):
        if self.failing:
            from app.services.errors import DomainError

            class HolderUnavailable(DomainError):
                status, type, title = 503, "holder-unavailable", "Account holder unavailable"

            raise HolderUnavailable("The other bank's core did not answer.")
        return self._inner.post(session, request)


def card_at(world, bank_index: int, teller: str):
    """An active card (PIN ``tests.factories.PIN``) at another of the World's banks, through the lifecycle."""
    from app.models.enums import CardStatus
    from app.services import lifecycle
    from tests.factories import PICKUP

    s, t = world.session, world.actor(teller)
    person = world.person()
    card = lifecycle.apply(s, t, person.id, bank_id=world.banks[bank_index].id, delivery=PICKUP, id_verified=True)
    lifecycle.accept(s, world.clerk, card.id)
    lifecycle.start_production(s, world.clerk, card.id)
    lifecycle.finish_production(s, world.clerk, card.id)
    lifecycle.pick_up(s, t, card.id)
    lifecycle.activate(s, t, card.id, pin=PIN)
    s.refresh(card)
    assert card.status is CardStatus.ACTIVE
    return card
