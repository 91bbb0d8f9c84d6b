"""Test data builders (the ``gen_*`` habit of CTFd / factory callables of Indico)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from app.models import Agency, Bank, Outlet, StaffUser
from app.models.enums import (
    AgencyKind,
    CardStatus,
    Channel,
    DeliveryMethod,
    EligibilityBasis,
    Field,
    Role,
)
from app.services import lifecycle, people
from app.services.actor import SYSTEM, Actor
from app.services.documents import mod11_2_check_char
from app.services.hashing import hash_password

_serial = itertools.count(1)
PIN = "135790"
PICKUP = lifecycle.Delivery(DeliveryMethod.PICKUP)
DIED = date(2026, 11, 20)  # a date of death for cancellations (Art. 26), before the tests' clock


def events_of(session: Session, card_id: int) -> list:
    """The card's events, oldest first."""
    from sqlalchemy import select

    from app.models import CardEvent

    return list(session.scalars(select(CardEvent).where(CardEvent.card_id == card_id).order_by(CardEvent.id)))


def citizen_id(region: str = "440106", birth: str = "19900101", seq: int | None = None) -> str:
    """A valid 18-digit citizen ID (GB 11643) with a correct MOD 11-2 check character."""
    seq = next(_serial) % 1000 if seq is None else seq
    first17 = f"{region}{birth}{seq:03d}"
    return first17 + mod11_2_check_char(first17)


class FrozenClock:
    def __init__(self, monkeypatch, module, start: datetime):
        self.current = start
        monkeypatch.setattr(module, "now", lambda: self.current)

    def set(self, when: datetime) -> None:
        self.current = when

    def advance(self, **kw) -> None:
        self.current = self.current + timedelta(**kw)


@dataclass
class World:
    session: Session
    banks: list[Bank] = field(default_factory=list)
    outlets: list[Outlet] = field(default_factory=list)  # outlets[0] (bank 0) is instant; [1] bank 0; [2] bank 1
    agencies: dict[str, Agency] = field(default_factory=dict)
    staff: dict[str, StaffUser] = field(default_factory=dict)

    @classmethod
    def build(cls, session: Session) -> World:
        w = cls(session)
        w.banks = [Bank(code="ICBC-GZ", name="工商银行广州分行"), Bank(code="CCB-GZ", name="建设银行广州分行"),
                   Bank(code="OLD-GZ", name="Unlisted bank", published=False)]
        session.add_all(w.banks)
        session.flush()
        w.outlets = [
            Outlet(bank_id=w.banks[0].id, code="ICBC-TH-01", name="天河即时制卡网点", district="天河区",
                   address="天河路1号", instant=True),
            Outlet(bank_id=w.banks[0].id, code="ICBC-YX-01", name="越秀网点", district="越秀区", address="中山五路2号"),
            Outlet(bank_id=w.banks[1].id, code="CCB-HZ-01", name="海珠网点", district="海珠区", address="江南大道3号"),
        ]
        session.add_all(w.outlets)
        for code, kind, fld in [("HRSS", AgencyKind.BUREAU, None), ("SSCC", AgencyKind.ISSUING, None),
                                ("12345", AgencyKind.HOTLINE, None), ("MED", AgencyKind.APPLICATION, Field.MEDICAL),
                                ("TRANS", AgencyKind.APPLICATION, Field.TRANSPORT)]:
            w.agencies[code] = Agency(code=code, name=code, kind=kind, field=fld)
        session.add_all(w.agencies.values())
        session.flush()
        specs = {
            "bureau": (Role.BUREAU, None, None, "HRSS"), "clerk": (Role.AGENCY_CLERK, None, None, "SSCC"),
            "teller": (Role.BANK_TELLER, 0, 0, None), "teller_yx": (Role.BANK_TELLER, 0, 1, None),
            "teller_ccb": (Role.BANK_TELLER, 1, 2, None), "hotline": (Role.HOTLINE_OPERATOR, None, None, "12345"),
            "medical": (Role.APP_AGENCY, None, None, "MED"), "auditor": (Role.AUDITOR, None, None, "HRSS"),
        }
        for name, (role, b, o, a) in specs.items():
            w.staff[name] = StaffUser(
                username=name, display_name=name, password_hash=hash_password(f"{name}-pw"), role=role,
                bank_id=w.banks[b].id if b is not None else None,
                outlet_id=w.outlets[o].id if o is not None else None,
                agency_id=w.agencies[a].id if a else None)
        session.add_all(w.staff.values())
        session.flush()
        return w

    def actor(self, name: str, channel: Channel | None = None) -> Actor:
        u = self.staff[name]
        default = {Role.BANK_TELLER: Channel.OUTLET, Role.HOTLINE_OPERATOR: Channel.GOV_HOTLINE}
        return Actor(role=u.role, channel=channel or default.get(u.role, Channel.AGENCY), user_id=u.id,
                     bank_id=u.bank_id, outlet_id=u.outlet_id, agency_id=u.agency_id)

    @property
    def teller(self) -> Actor:
        return self.actor("teller")

    @property
    def clerk(self) -> Actor:
        return self.actor("clerk")

    system = SYSTEM

    def as_role(self, role: Role, channel: Channel, person_id: int | None = None) -> Actor:
        """Any role through any channel, with the organisation a real user of that role would have."""
        if role is Role.RESIDENT:
            return Actor(role=role, channel=channel, person_id=person_id)
        if role is Role.SYSTEM:
            return Actor(role=role, channel=channel)
        name = {Role.BANK_TELLER: "teller", Role.BUREAU: "bureau", Role.AGENCY_CLERK: "clerk",
                Role.HOTLINE_OPERATOR: "hotline", Role.APP_AGENCY: "medical", Role.AUDITOR: "auditor"}[role]
        return self.actor(name, channel)

    def hotline_call(self, person_id: int) -> Actor:
        """The 12345 operator once it has verified this caller by ID document and identity answers: its
        remit opens on this holder only (Art. 16, 21), through the real lookup."""
        from app.models import Person
        from app.services import disclosure

        actor, p = self.actor("hotline"), self.session.get(Person, person_id)
        disclosure.hotline_caller(self.session, actor, p.doc_type, p.doc_number, name=p.name, phone=p.phone,
                                  nationality=p.nationality)
        return actor

    def resident(self, person_id: int) -> Actor:
        return Actor(role=Role.RESIDENT, channel=Channel.ONLINE, person_id=person_id)

    def person(self, **overrides):
        data = dict(doc_type="resident_id", doc_number=citizen_id(), name="陈小明", phone="13812345678",
                    address="广州市天河区天河路100号", photo=b"\x89PNG-photo", occupation="工程师",
                    eligibility=EligibilityBasis.PUBLIC_SERVICES)
        data.update(overrides)
        return people.register(self.session, self.teller, people.Applicant(**data))

    def card(self, state: CardStatus | str = CardStatus.ACTIVE, person=None, *, delivery=DeliveryMethod.PICKUP):
        """A card driven through the real lifecycle to ``state``."""
        state = CardStatus(state)
        s, w = self.session, self
        person = person or self.person()
        card = lifecycle.apply(s, w.teller, person.id, bank_id=w.banks[0].id,
                               delivery=lifecycle.Delivery(delivery, "广州市天河区天河路100号"), id_verified=True)
        path = [
            (CardStatus.ACCEPTED, lambda c: lifecycle.accept(s, w.clerk, c.id)),
            (CardStatus.IN_PRODUCTION, lambda c: lifecycle.start_production(s, w.clerk, c.id)),
            (CardStatus.PRODUCED, lambda c: lifecycle.finish_production(s, w.clerk, c.id)),
        ]
        if delivery is DeliveryMethod.EXPRESS:
            path += [(CardStatus.IN_TRANSIT, lambda c: lifecycle.dispatch(s, w.clerk, c.id, tracking_ref="SF123")),
                     (CardStatus.ISSUED, lambda c: lifecycle.deliver(s, w.clerk, c.id))]
        else:
            path += [(CardStatus.ISSUED, lambda c: lifecycle.pick_up(s, w.teller, c.id))]
        path += [(CardStatus.ACTIVE, lambda c: lifecycle.activate(s, w.teller, c.id, pin=PIN))]
        extra = {
            CardStatus.LOSS_REGISTERED: lambda c: lifecycle.register_loss(s, w.teller, c.id, id_verified=True),
            CardStatus.REPLACEMENT_PENDING: lambda c: lifecycle.replace(
                s, w.teller, c.id, reason=lifecycle.ReplacementReason.DAMAGED,
                delivery=lifecycle.Delivery(DeliveryMethod.PICKUP)),
            CardStatus.INVALIDATED: lambda c: lifecycle.reissue(s, w.teller, c.id, id_verified=True,
                                                                delivery=lifecycle.Delivery(DeliveryMethod.PICKUP)),
            CardStatus.CANCELLED: lambda c: lifecycle.cancel(s, w.clerk, c.person_id, effective=DIED,
                                                             reason=lifecycle.CancellationReason.DEATH),
        }
        if state is CardStatus.REJECTED:
            lifecycle.reject(s, w.clerk, card.id, reason="not eligible")
            return card
        for target, step in path:
            if card.status is state:
                return card
            step(card)
        if state in extra:
            extra[state](card)
        s.refresh(card)
        assert card.status is state, (card.status, state)
        return card


def snapshot(session: Session, person_ids) -> dict:
    """Everything a lifecycle operation could change for these cardholders, read fresh from the
    database: cards (status, version, PIN failures), events, accounts, field locks, personal
    data indexes. Two equal snapshots mean nothing changed ("nothing changes when refused")."""
    from sqlalchemy import func, select

    from app.models import (
        Card,
        CardApplication,
        CardEvent,
        FieldStatus,
        Person,
        SettlementAccount,
    )

    ids = sorted(set(person_ids))
    session.expire_all()
    return {
        "persons": [tuple(r) for r in session.execute(
            select(Person.id, Person.eligible, Person.deceased_on, Person.name_bidx, Person.doc_number_bidx,
                   Person.phone_bidx).where(Person.id.in_(ids)).order_by(Person.id))],
        "cards": [tuple(r) for r in session.execute(
            select(Card.id, Card.person_id, Card.number, Card.status, Card.version, Card.pin_failures,
                   Card.received_on, Card.ended_at).where(Card.person_id.in_(ids)).order_by(Card.id))],
        "applications": [tuple(r) for r in session.execute(
            select(CardApplication.id, CardApplication.accepted_on, CardApplication.due_on,
                   CardApplication.tracking_ref, CardApplication.fee_fen)
            .where(CardApplication.person_id.in_(ids)).order_by(CardApplication.id))],
        "events": session.scalar(select(func.count()).select_from(CardEvent)),
        "all_cards": session.scalar(select(func.count()).select_from(Card)),
        "accounts": [tuple(r) for r in session.execute(
            select(SettlementAccount.id, SettlementAccount.person_id, SettlementAccount.kind,
                   SettlementAccount.bank_id, SettlementAccount.status)
            .where(SettlementAccount.person_id.in_(ids)).order_by(SettlementAccount.id))],
        "fields": [tuple(r) for r in session.execute(
            select(FieldStatus.person_id, FieldStatus.field, FieldStatus.locked)
            .where(FieldStatus.person_id.in_(ids)).order_by(FieldStatus.person_id, FieldStatus.field))],
    }
