"""The cardholder's own self-service in the phone app (issue 15 item 3): what is open online, what is done
elsewhere and why, the application form with government pre-fill, the application's progress, and the
holder's own complaints.

Nothing here decides whether a lifecycle step is allowed: the steps themselves run through
``app.services.lifecycle`` (which reads ``lifecycle_rules``); this module only *reads* the same tables to tell
the holder, before they try, which steps are open online (``(online, resident)`` in ``CHANNELS``), which are
possible for their card now (a row in ``TRANSITION_INDEX`` from its state), and where the others are done,
with the article (``CHANNEL_ARTICLES`` / the state table) and whether their own ID document is checked there
(``ID_CHECK_REQUIRED``). Every function takes the holder's own ``person_id``: there is no way to name another.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Bank, Card, CardEvent, Complaint, Outlet, Person
from app.models.card import PENDING_STATES, VALID_STATES
from app.models.complaint import ComplainantType, ComplaintKind, IntakeChannel, PartyKind
from app.models.enums import CardStatus, Channel, Role
from app.services import complaints, lifecycle, people
from app.services.actor import Actor
from app.services.errors import ChannelNotAllowed, NotFound
from app.services.lifecycle_rules import (
    CHANNEL_ARTICLES,
    CHANNELS,
    ID_CHECK_REQUIRED,
    TRANSITION_INDEX,
    Op,
    article_of,
)

# The steps the Measures give the holder (Art. 6's bank services as they concern the holder, Art. 7, 19–24).
# Which of them are open online is the channel table's answer, not this list's.
SELF_SERVICE_OPS: tuple[Op, ...] = (
    Op.APPLY, Op.REGISTER_LOSS, Op.REISSUE, Op.LOCK_FIELD, Op.CHANGE_PIN, Op.INQUIRE_STATUS,
    Op.DEREGISTER_LOSS, Op.REPLACE, Op.RESET_PIN, Op.UNLOCK_FIELD,
)
ONLINE = (Channel.ONLINE, Role.RESIDENT)


@dataclass(frozen=True)
class Step:
    op: Op
    online: bool  # the channel table lists (online, resident)
    possible_now: bool  # the state table allows it from the holder's current card (or no card, to apply)
    article: str  # why it is (not) open online: the channel refusal's article, else the step's own
    where: tuple[Channel, ...]  # the other channels that do it (not online): outlet, hotlines
    id_document: str | None  # in person the holder's own valid ID document is checked: the article


def _possible(op: Op, card: Card | None) -> bool:
    if op is Op.APPLY:  # a first (or renewed) card: no card valid or being made (lifecycle.apply refuses else)
        return (op, None) in TRANSITION_INDEX and (card is None or card.status not in (*VALID_STATES,
                                                                                       *PENDING_STATES))
    return card is not None and (op, card.status) in TRANSITION_INDEX


def steps(session: Session, person_id: int) -> list[Step]:
    """Each self-service step: open online or not, possible for the current card or not, and where else."""
    card = lifecycle.current_card(session, person_id)
    out = []
    for op in SELF_SERVICE_OPS:
        pairs = CHANNELS[op]
        online = ONLINE in pairs
        where = tuple(dict.fromkeys(c for c, r in pairs if (c, r) != ONLINE and r is not Role.SYSTEM))
        id_doc = next((ID_CHECK_REQUIRED[(op, c)] for c in where if (op, c) in ID_CHECK_REQUIRED), None)
        out.append(Step(op=op, online=online, possible_now=_possible(op, card),
                        article=CHANNEL_ARTICLES.get(op) or article_of(op), where=where, id_document=id_doc))
    return out


def step(session: Session, person_id: int, op: Op) -> Step:
    return next(s for s in steps(session, person_id) if s.op is op)


# ---------------------------------------------------------------- the application form (Art. 9, 12)


@dataclass(frozen=True)
class ApplicationForm:
    """What the online application asks: only what the platform does not hold valid (Art. 9 ¶2).

    ``from_platform``: items the government data-sharing platform holds valid for the holder's document (not
    asked again); ``on_record``: the other Art. 9 items already on the holder's record; ``needed``: what the
    holder must still supply (empty for a registered holder); banks: the Bureau's published list only (Art. 6 ¶2,
    9 ¶3); outlets per bank for pickup (Art. 12)."""

    person: Person
    from_platform: list[str]
    on_record: list[str]
    needed: list[str]
    banks: list[Bank]
    outlets: dict[int, list[Outlet]]


def application_form(session: Session, actor: Actor) -> ApplicationForm:
    person = _me(session, actor)
    shared = people.LocalSharingPlatform(session).lookup(str(person.doc_type), person.doc_number)
    known = shared.known() if shared else set()
    still = people.prefill(session, actor, str(person.doc_type), person.doc_number, person.nationality)
    from_platform = [f for f in people.REQUIRED_FROM_APPLICANT if f in known]
    on_record = [f for f in still if getattr(person, f, None)]
    needed = [f for f in still if not getattr(person, f, None)]
    banks = list(session.scalars(select(Bank).where(Bank.published.is_(True)).order_by(Bank.code)))
    outlets = {b.id: list(session.scalars(select(Outlet).where(Outlet.bank_id == b.id).order_by(Outlet.code)))
               for b in banks}
    return ApplicationForm(person, from_platform, on_record, needed, banks, outlets)


# ---------------------------------------------------------------- following an application (Art. 10, 12, 25)


PROGRESS: tuple[CardStatus, ...] = (CardStatus.APPLIED, CardStatus.ACCEPTED, CardStatus.IN_PRODUCTION,
                                    CardStatus.PRODUCED, CardStatus.IN_TRANSIT, CardStatus.ISSUED)


@dataclass(frozen=True)
class Milestone:
    status: str
    at: datetime | None  # when the card reached it; None: not yet


@dataclass(frozen=True)
class Tracking:
    card: Card
    due_on: date | None  # Art. 10, 25: 12 working days from acceptance
    due_provisional: bool
    delivery_method: str
    tracking_ref: str | None  # the courier's reference (Art. 12)
    pickup_outlet: Outlet | None
    milestones: list[Milestone]
    rejection_reason: str | None


def tracking(session: Session, person_id: int) -> list[Tracking]:
    """The holder's applications, newest first, with due date, delivery and the steps reached so far."""
    cards = list(session.scalars(select(Card).where(Card.person_id == person_id).order_by(Card.id.desc())))
    out = []
    for card in cards:
        app_ = card.application
        if app_ is None:
            continue
        reached: dict[str, datetime] = {}
        for e in session.scalars(select(CardEvent).where(CardEvent.card_id == card.id).order_by(CardEvent.id)):
            if e.to_status and e.to_status not in reached:
                reached[e.to_status] = e.created_at
        steps_ = [s for s in PROGRESS if not (s is CardStatus.IN_TRANSIT and str(app_.delivery_method) == "pickup")]
        out.append(Tracking(
            card=card, due_on=app_.due_on, due_provisional=app_.due_provisional,
            delivery_method=str(app_.delivery_method), tracking_ref=app_.tracking_ref,
            pickup_outlet=session.get(Outlet, app_.pickup_outlet_id) if app_.pickup_outlet_id else None,
            milestones=[Milestone(str(s), reached.get(str(s))) for s in steps_],
            rejection_reason=app_.rejection_reason,
        ))
    return out


# ---------------------------------------------------------------- the holder's own complaints (Art. 29)


def _me(session: Session, actor: Actor) -> Person:
    if actor.role is not Role.RESIDENT or actor.person_id is None:
        raise ChannelNotAllowed("Only the signed-in cardholder uses their own self-service.", article="Art. 19")
    person = session.get(Person, actor.person_id)
    if person is None:
        raise NotFound("Your record no longer exists.")
    return person


def file_complaint(session: Session, actor: Actor, *, kind: ComplaintKind, party_kind: PartyKind, summary: str,
                   party_bank_id: int | None = None, party_agency_id: int | None = None,
                   about_staff: bool = False, staff_description: str | None = None,
                   anonymous: bool = False) -> complaints.Filed:
    """A complaint or report filed in the phone app (Art. 29), routed like any other. A complaint carries the
    holder's name and mobile from their record (not asked again) and is linked to the holder, who follows it
    in the app; an anonymous report stores neither and is NOT linked (the link would name the reporter): it is
    followed with its reference and code like one filed on the public page."""
    person = _me(session, actor)
    intake = complaints.Intake(
        kind=kind, complainant_type=ComplainantType.NATURAL_PERSON, party_kind=party_kind, summary=summary,
        anonymous=anonymous, complainant_name=None if anonymous else person.name,
        complainant_phone=None if anonymous else person.phone, party_agency_id=party_agency_id,
        party_bank_id=party_bank_id, about_staff=about_staff, staff_description=staff_description,
    )
    filed = complaints.file(session, intake, channel=IntakeChannel.WEB)
    if not anonymous:
        filed.complaint.person_id = person.id
        session.flush()
    return filed


def my_complaints(session: Session, person_id: int) -> list[Complaint]:
    return list(session.scalars(select(Complaint).where(Complaint.person_id == person_id)
                                .order_by(Complaint.id.desc())))


def my_complaint(session: Session, person_id: int, complaint_id: int) -> complaints.FollowUp:
    """One of the holder's complaints with its timeline; another's, or none, is the same NotFound (Art. 16)."""
    c = session.get(Complaint, complaint_id)
    if c is None or c.person_id != person_id:
        raise NotFound("You have no complaint {complaint_id}.", params={"complaint_id": complaint_id})
    return complaints.follow_up_of(session, c)
