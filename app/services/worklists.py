"""What each desk has to do today (the back office dashboard, issue 14): the counter's queue, the
applications the 12-working-day limit is about to catch or has caught (Art. 10, 25; the arithmetic is
``app.services.deadlines``), the cards waiting for pickup (Art. 12), and the correction requests open
(Art. 20); and the applications pages' queues: to dispatch, with the courier, door-to-door, instant
(Art. 8 ¶2, 10 ¶2, 12). Each list is the caller's own: a teller's outlet or bank, a clerk's agency;
reading one is logged (Art. 16) by the caller, as the API logs its lists."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.models import Card, CardApplication, CorrectionRequest
from app.models.enums import CardStatus, DeliveryMethod, Role, ServiceMode
from app.models.selfservice import CorrectionStatus
from app.services import clock, deadlines, disclosure
from app.services.actor import Actor

LIMIT = 50  # rows per list on a page; the count says how many there are


@dataclass(frozen=True)
class Worklist:
    rows: list
    total: int


def _local_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=clock.CHINA)
    return start, start + timedelta(days=1)


def counter_queue(session: Session, actor: Actor, day: date | None = None) -> Worklist:
    """Today's applications at the teller's outlet (Art. 7, 9), newest first: what the counter took in."""
    start, end = _local_day_bounds(day or clock.today())
    q = (select(CardApplication, Card).join(Card, Card.id == CardApplication.card_id)
         .where(CardApplication.outlet_id == actor.outlet_id, CardApplication.submitted_at >= start,
                CardApplication.submitted_at < end))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = list(session.execute(q.order_by(CardApplication.submitted_at.desc()).limit(LIMIT)))
    return Worklist(rows, total or 0)


def awaiting_pickup(session: Session, actor: Actor) -> Worklist:
    """Cards produced and waiting to be picked up (Art. 12): for a teller, those sent to their outlet (the
    pickup outlet the holder chose, else the outlet that took the application) of their own bank; all
    for the agency. (``lifecycle.pick_up`` hands a card over at the chosen outlet only, or at any outlet
    of its bank when none was chosen.)"""
    q = (select(CardApplication, Card).join(Card, Card.id == CardApplication.card_id)
         .where(Card.status == CardStatus.PRODUCED, CardApplication.delivery_method == DeliveryMethod.PICKUP))
    if actor.role is Role.BANK_TELLER:
        q = q.where(Card.bank_id == actor.bank_id, or_(
            CardApplication.pickup_outlet_id == actor.outlet_id,
            CardApplication.pickup_outlet_id.is_(None) & (CardApplication.outlet_id == actor.outlet_id)))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = list(session.execute(q.order_by(Card.updated_at).limit(LIMIT)))
    return Worklist(rows, total or 0)


def awaiting_acceptance(session: Session) -> Worklist:
    """Applications the issuing agency has still to accept or reject (Art. 9, 10), oldest first."""
    q = (select(CardApplication, Card).join(Card, Card.id == CardApplication.card_id)
         .where(Card.status == CardStatus.APPLIED))
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = list(session.execute(q.order_by(CardApplication.submitted_at).limit(LIMIT)))
    return Worklist(rows, total or 0)


def deadline_watch(session: Session, soon: int = 3) -> Worklist:
    """Overdue and due within ``soon`` working days (Art. 10, 25), most urgent first."""
    return Worklist(deadlines.watch_list(session, soon=soon, limit=LIMIT), deadlines.watch_count(session, soon=soon))


def open_corrections(session: Session, actor: Actor) -> Worklist:
    """Correction requests still open and routed to the caller's agency (Art. 20), oldest due first."""
    q = select(CorrectionRequest).where(CorrectionRequest.status == CorrectionStatus.OPEN)
    if actor.role is not Role.BUREAU:
        q = q.where(CorrectionRequest.agency_id == actor.agency_id)
    total = session.scalar(select(func.count()).select_from(q.subquery()))
    rows = list(session.scalars(q.order_by(CorrectionRequest.due_on, CorrectionRequest.id).limit(LIMIT)))
    return Worklist(rows, total or 0)


# ---------------------------------------------------------------- the applications pages' queues


def _cards(actor: Actor, *where, order=None):
    q = (select(Card).join(CardApplication, CardApplication.card_id == Card.id).where(*where)
         .where(disclosure.remit_clause(actor, Card.person_id)))
    if actor.role is Role.BANK_TELLER:
        q = q.where(Card.bank_id == actor.bank_id)
    return q.order_by(*(order or (CardApplication.submitted_at, Card.id))).limit(LIMIT)


def to_dispatch(session: Session, actor: Actor) -> list[Card]:
    """Produced cards going by express, to hand to the courier (Art. 12), the earliest due first."""
    return list(session.scalars(_cards(actor, Card.status == CardStatus.PRODUCED,
                                       CardApplication.delivery_method == DeliveryMethod.EXPRESS,
                                       order=(CardApplication.due_on, Card.id))))


def in_transit(session: Session, actor: Actor) -> list[Card]:
    """Cards with the courier, to record as delivered (Art. 12)."""
    return list(session.scalars(_cards(actor, Card.status == CardStatus.IN_TRANSIT)))


def door_to_door(session: Session, actor: Actor) -> list[Card]:
    """Applications taken at home (Art. 8 ¶2), the newest first."""
    return list(session.scalars(_cards(actor, CardApplication.service_mode == ServiceMode.DOOR_TO_DOOR,
                                       order=(CardApplication.submitted_at.desc(), Card.id.desc()))))
