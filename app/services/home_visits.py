"""Door-to-door requests (Art. 8 ¶2): a cooperating bank serves people of limited mobility at home.

Door-to-door service is a way a bank outlet serves, not a channel of its own (``lifecycle_rules``:
``apply`` at an outlet with ``service_mode = door_to_door``, the ID document checked there as at the
counter, Art. 7). What is added here is the request that comes before the visit: who asked, why they
cannot come, where, the visit date, and how it ended: with the application taken at home, or with a
reason. The bank's staff handle their own bank's requests only (Art. 16); personal data is encrypted
at rest and masked on the audit trail.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Card, HomeVisitRequest, VisitReason, VisitStatus
from app.models.enums import Role, ServiceMode
from app.privacy import mask_address, mask_name, mask_phone
from app.services import audit, clock
from app.services.actor import Actor
from app.services.errors import ChannelNotAllowed, IllegalTransition, InvalidInput, NotFound, OutOfScope
from app.services.people import check_phone

ARTICLE = "Art. 8 ¶2"
OPEN_STATES = (VisitStatus.OPEN, VisitStatus.SCHEDULED)


def _teller(actor: Actor) -> None:
    if actor.role is not Role.BANK_TELLER or actor.bank_id is None:
        raise ChannelNotAllowed("Door-to-door service is given by a cooperating bank's outlet.", article=ARTICLE)


def _text(value: str | None, field: str, limit: int) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise InvalidInput("This is required.", field=field)
    if len(value) > limit:
        raise InvalidInput("At most {limit} characters.", params={"limit": limit}, field=field)
    return value


def _visit_date(visit_on: date | None) -> date | None:
    if visit_on is not None and visit_on < clock.today():
        raise InvalidInput("The visit date lies in the past.", field="visit_on")
    return visit_on


def file_request(session: Session, actor: Actor, *, name: str, phone: str, address: str, reason: VisitReason,
                 visit_on: date | None = None) -> HomeVisitRequest:
    """Record a request for a home visit at the teller's bank (and outlet)."""
    _teller(actor)
    try:
        reason = VisitReason(reason)
    except ValueError:
        raise InvalidInput("The reason is one of: {reasons}.", params={"reasons": ", ".join(VisitReason)},
                           field="reason") from None
    req = HomeVisitRequest(
        bank_id=actor.bank_id, outlet_id=actor.outlet_id, name=_text(name, "name", 60),
        phone=check_phone(_text(phone, "phone", 24)), address=_text(address, "address", 200), reason=reason,
        status=VisitStatus.SCHEDULED if visit_on else VisitStatus.OPEN, visit_on=_visit_date(visit_on),
        created_at=clock.now(), created_by=actor.user_id,
    )
    session.add(req)
    session.flush()
    audit.record(session, actor, "home_visit.file", subject=f"home_visit:{req.id}",
                 changes={"name": mask_name(req.name), "phone": mask_phone(req.phone),
                          "address": mask_address(req.address), "reason": str(reason),
                          "visit_on": visit_on.isoformat() if visit_on else None})
    return req


def get_request(session: Session, actor: Actor, request_id: int, *, lock: bool = False) -> HomeVisitRequest:
    _teller(actor)
    q = select(HomeVisitRequest).where(HomeVisitRequest.id == request_id)
    if lock:
        q = q.with_for_update()
    req = session.scalars(q).one_or_none()
    if req is None:
        raise NotFound("No door-to-door request {request_id}.", params={"request_id": request_id})
    if req.bank_id != actor.bank_id:
        raise OutOfScope("This request was made to another bank.", article="Art. 16")
    return req


def _open(req: HomeVisitRequest) -> None:
    if req.status not in OPEN_STATES:
        raise IllegalTransition("The request is {status} already.", params={"status": str(req.status)}, article=ARTICLE,
                                state=str(req.status))


def schedule(session: Session, actor: Actor, request_id: int, visit_on: date) -> HomeVisitRequest:
    req = get_request(session, actor, request_id, lock=True)
    _open(req)
    if visit_on is None:
        raise InvalidInput("Give the visit date.", field="visit_on")
    old = req.visit_on
    req.visit_on, req.status = _visit_date(visit_on), VisitStatus.SCHEDULED
    audit.record(session, actor, "home_visit.schedule", subject=f"home_visit:{req.id}",
                 changes={"visit_on": [old.isoformat() if old else None, visit_on.isoformat()]})
    return req


def complete(session: Session, actor: Actor, request_id: int, card_id: int) -> HomeVisitRequest:
    """Close the request with the application taken at home: a card of the teller's bank applied for
    with ``service_mode = door_to_door`` (Art. 8 ¶2)."""
    req = get_request(session, actor, request_id, lock=True)
    _open(req)
    card = session.get(Card, card_id)
    if card is None or card.application is None:
        raise InvalidInput("No application {card_id}.", params={"card_id": card_id}, field="card_id")
    if card.bank_id != req.bank_id or card.application.service_mode is not ServiceMode.DOOR_TO_DOOR:
        raise InvalidInput("That is not a door-to-door application taken by this bank.", article=ARTICLE,
                           field="card_id")
    req.status, req.card_id, req.closed_at = VisitStatus.DONE, card.id, clock.now()
    audit.record(session, actor, "home_visit.done", person_id=card.person_id, subject=f"home_visit:{req.id}",
                 changes={"card": card.id})
    return req


def cancel(session: Session, actor: Actor, request_id: int, outcome: str) -> HomeVisitRequest:
    req = get_request(session, actor, request_id, lock=True)
    _open(req)
    req.status, req.outcome, req.closed_at = VisitStatus.CANCELLED, _text(outcome, "outcome", 200), clock.now()
    audit.record(session, actor, "home_visit.cancel", subject=f"home_visit:{req.id}")  # free text: not copied
    return req


def requests(session: Session, actor: Actor, *, open_only: bool = True) -> list[HomeVisitRequest]:
    """The teller's bank's requests, the earliest visit first, unscheduled last."""
    _teller(actor)
    q = select(HomeVisitRequest).where(HomeVisitRequest.bank_id == actor.bank_id)
    if open_only:
        q = q.where(HomeVisitRequest.status.in_(OPEN_STATES))
    q = q.order_by(HomeVisitRequest.visit_on.is_(None), HomeVisitRequest.visit_on, HomeVisitRequest.id)
    return list(session.scalars(q))


def reveal_contact(session: Session, actor: Actor, request_id: int, detail: str) -> dict[str, str]:
    """The full name, mobile number and address of an open request, for the teller of its bank who is
    arranging or making the visit (Art. 8 ¶2), with a few words of why; audited with them (Art. 16).
    A closed request's contact details are not shown again."""
    req = get_request(session, actor, request_id)
    _open(req)
    why = _text(detail, "detail", 200)
    audit.record(session, actor, "reveal.home_visit", subject=f"home_visit:{req.id}",
                 purpose=f"door-to-door visit ({ARTICLE}): {why}", fields=["name", "phone", "address"])
    return {"name": req.name, "phone": req.phone, "address": req.address}


def log_list(session: Session, actor: Actor, shown: list[HomeVisitRequest]) -> None:
    """A staff read of requesters' (masked) data is on the audit trail (Art. 16)."""
    if shown:
        audit.record(session, actor, "read.home_visits", subject="home_visits:" + ",".join(str(r.id) for r in shown),
                     fields=["name", "phone", "address"])
