"""The application agencies' event feed (Art. 15, 16, 26): an outbox written by
``lifecycle.record_event`` in the transaction of the lifecycle change it reports.

Ordering without loss or duplicates on PostgreSQL. A sequence (or an identity column) hands out its
numbers when rows are INSERTed, not when their transactions commit: a reader paging ``seq > cursor``
can see 8 committed while 7 is still in flight, move its cursor to 8, and never see 7. Here ``seq``
is taken from the ``agency_feed`` row of :class:`~app.models.Counter` by ``UPDATE … RETURNING``
(``app.models.sequence.next_value``): that row stays locked until the writing transaction ends, so the
next writer gets its number only after this one committed (or rolled back, which returns the number).
Numbers are therefore assigned in commit order and without gaps, and a reader that sees ``n`` sees
every smaller number: plain ``seq > cursor`` paging is exact. The price is that event-writing
transactions serialise from their first feed event to their commit; they already do, on the audit
trail's head row (``app.services.audit``), which every lifecycle event locks first, so the counter
adds no new wait and (taken after the audit head, always) no new lock order. See docs in README.

Audience: an event with ``field`` None concerns every application agency (the card's status, its
successor, settlement suspension: what agency_holder shows each of them); a field lock or unlock, or
data pushed within a field, concerns only the agencies of that field (Art. 16: never another field's
data). Stored data are ids, statuses and reason codes; the holder's masked name and number are added
when an agency reads the feed, and that read is audited."""
from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import AgencyEvent, Card, CardEvent, next_value
from app.models.enums import CardKind, Field
from app.services import clock

COUNTER = "agency_feed"

# The event types of the feed, and the article each reports under.
TYPES = {
    "card.cancelled": "Art. 26",
    "card.reissued": "Art. 23",
    "card.replacement_applied": "Art. 24",
    "card.replaced": "Art. 24",
    "card.loss_registered": "Art. 21",
    "card.loss_deregistered": "Art. 22",
    "field.locked": "Art. 6, 14",
    "field.unlocked": "Art. 6, 14",
    "settlement.suspended": "Art. 21",
    "settlement.resumed": "Art. 21, 22",
    "record.updated": "Art. 15",
}


def card_ref(card: Card | None) -> dict | None:
    if card is None:
        return None
    return {"id": card.id, "status": str(card.status), "kind": str(card.kind)}  # no card number (Art. 16)


def emit(session: Session, type_: str, *, person_id: int, card: Card | None = None, field: Field | None = None,
         data: dict | None = None) -> AgencyEvent:
    """Append one feed event in the caller's transaction (commit-ordered ``seq``; see the module doc)."""
    seq = next_value(session, COUNTER)
    event = AgencyEvent(seq=seq, id=f"evt_{uuid.uuid4().hex}", type=type_, person_id=person_id,
                        card_id=card.id if card else None, field=field, article=TYPES[type_],
                        data={"card": card_ref(card), **(data or {})}, created_at=clock.now())
    session.add(event)
    session.flush()
    from app.services import webhooks  # webhooks reads the feed's rows: imported here, not at the top

    webhooks.enqueue(session, event)
    return event


def _suspended(session: Session, person_id: int) -> bool:
    from app.services import lifecycle

    return lifecycle.settlement_suspended(session, person_id)


def on_card_event(session: Session, ev: CardEvent, card: Card | None) -> None:
    """What a lifecycle event means to the agencies (called by ``lifecycle.record_event``). Only a
    translation of what the lifecycle service already decided: no rule of the card is made here."""
    op, pid, details = ev.operation, ev.person_id, ev.details or {}
    if op == "cancel":
        emit(session, "card.cancelled", person_id=pid, card=card,
             data={"reason": ev.reason or details.get("reason"), "from_status": ev.from_status})
    elif op == "apply" and card is not None and card.predecessor_id:
        old = session.get(Card, card.predecessor_id)
        kind = "card.reissued" if card.kind is CardKind.REISSUE else "card.replacement_applied"
        emit(session, kind, person_id=pid, card=card,
             data={"old_card": card_ref(old), "new_card": card_ref(card),
                   "replacement_reason": details.get("replacement_reason")})
    elif op == "replace" and ev.to_status in ("replaced", "invalidated"):
        new = session.scalars(select(Card).where(Card.predecessor_id == card.id).order_by(Card.id.desc())).first()
        emit(session, "card.replaced", person_id=pid, card=card,
             data={"old_card": card_ref(card), "new_card": card_ref(new)})
    elif op == "register_loss":
        emit(session, "card.loss_registered", person_id=pid, card=card)
    elif op == "deregister_loss":
        emit(session, "card.loss_deregistered", person_id=pid, card=card)
    elif op in ("lock_field", "unlock_field") and details.get("field"):
        emit(session, "field.locked" if op == "lock_field" else "field.unlocked", person_id=pid, card=card,
             field=Field(details["field"]), data={"field": details["field"]})
    elif op == "agency_push":
        emit(session, "record.updated", person_id=pid, card=None, field=Field(details["field"]),
             data={"field": details["field"], "pushed": sorted(details.get("changed", {}))})
    _settlement_edge(session, ev, card)


def _settlement_edge(session: Session, ev: CardEvent, card: Card | None) -> None:
    """Announce a change of the holder's settlement suspension (Art. 21), as the one rule
    ``lifecycle.settlement_suspended`` reads it, against the last state the feed announced."""
    if ev.operation not in SETTLEMENT_OPS:
        return
    now = _suspended(session, ev.person_id)
    last = session.scalars(select(AgencyEvent.type).where(AgencyEvent.person_id == ev.person_id,
                                                          AgencyEvent.type.like("settlement.%"))
                           .order_by(AgencyEvent.seq.desc()).limit(1)).first()
    if now != (last == "settlement.suspended"):
        emit(session, "settlement.suspended" if now else "settlement.resumed", person_id=ev.person_id, card=card,
             data={"cause": ev.operation})


# The operations after which the accounts' suspension may have changed (a reissue suspends them before its
# new card's application is recorded, so "apply" covers it).
SETTLEMENT_OPS = frozenset({"register_loss", "deregister_loss", "apply", "activate"})


def page(session: Session, field: Field, *, after: int, limit: int) -> tuple[list[AgencyEvent], bool]:
    """The events after ``after`` that concern an agency of ``field``, oldest first; and whether more follow."""
    rows = list(session.scalars(
        select(AgencyEvent).where(AgencyEvent.seq > after,
                                  or_(AgencyEvent.field.is_(None), AgencyEvent.field == field))
        .order_by(AgencyEvent.seq).limit(limit + 1)))
    return rows[:limit], len(rows) > limit


def concerns(event: AgencyEvent, field: Field) -> bool:
    return event.field is None or event.field == field
