"""The applications' work lists (Art. 10, 12, 25): which cards wait for which step, for whom.

Reads only; each list is of the cards the state machine would let that step take (the state and the
delivery method), within the actor's remit (a teller: their own bank's cards, Art. 16). The pages log
what they show (``disclosure.log_read``).
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import Card, CardApplication
from app.models.enums import CardStatus, DeliveryMethod, Role, ServiceMode
from app.services import disclosure
from app.services.actor import Actor

LIMIT = 200


def _cards(actor: Actor, *where, order=None):
    q = (select(Card).join(CardApplication, CardApplication.card_id == Card.id).where(*where)
         .where(disclosure.remit_clause(actor, Card.person_id)))
    if actor.role is Role.BANK_TELLER:
        q = q.where(Card.bank_id == actor.bank_id)
    return q.order_by(*(order or (CardApplication.submitted_at, Card.id))).limit(LIMIT)


def awaiting_decision(session: Session, actor: Actor) -> list[Card]:
    """Applications to accept or reject, the oldest first (Art. 4, 10)."""
    return list(session.scalars(_cards(actor, Card.status == CardStatus.APPLIED)))


def to_dispatch(session: Session, actor: Actor) -> list[Card]:
    """Produced cards going by express, to hand to the courier (Art. 12)."""
    return list(session.scalars(_cards(actor, Card.status == CardStatus.PRODUCED,
                                       CardApplication.delivery_method == DeliveryMethod.EXPRESS,
                                       order=(CardApplication.due_on, Card.id))))


def in_transit(session: Session, actor: Actor) -> list[Card]:
    """Cards with the courier, to record as delivered (Art. 12)."""
    return list(session.scalars(_cards(actor, Card.status == CardStatus.IN_TRANSIT)))


def awaiting_pickup(session: Session, actor: Actor) -> list[Card]:
    """Produced cards to be collected: for a teller, at their outlet (or any outlet of the bank, where the
    holder chose none), Art. 12."""
    where = [Card.status == CardStatus.PRODUCED, CardApplication.delivery_method == DeliveryMethod.PICKUP]
    if actor.role is Role.BANK_TELLER:
        where.append(or_(CardApplication.pickup_outlet_id.is_(None), CardApplication.pickup_outlet_id == actor.outlet_id))
    return list(session.scalars(_cards(actor, *where)))


def door_to_door(session: Session, actor: Actor) -> list[Card]:
    """Applications taken at home (Art. 8 ¶2), the newest first."""
    return list(session.scalars(_cards(actor, CardApplication.service_mode == ServiceMode.DOOR_TO_DOOR,
                                       order=(CardApplication.submitted_at.desc(), Card.id.desc()))))


def instant_issued(session: Session, actor: Actor) -> list[Card]:
    """Cards issued on the spot at an instant outlet (Art. 10 ¶2, 25 ¶2), the newest first."""
    return list(session.scalars(_cards(actor, CardApplication.service_mode == ServiceMode.INSTANT,
                                       order=(CardApplication.submitted_at.desc(), Card.id.desc()))))
