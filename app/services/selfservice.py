"""Resident self-service (Art. 20): corrections routed to the body that holds the data, with a due
date, and the holder's view of the audit trail (who read or changed their data, Art. 16).

Art. 20 ¶2: a cardholder may ask the issuing agency **or an application agency** to correct the
information in the card and its applications. Routing:

* personal data (name, ID number, ethnicity, photo, sex, nationality, mobile, address,
  occupation) and card data (status, events, bank, delivery) → the **issuing agency**, which runs
  the information system (Art. 5) and holds that data;
* data of an application field (``medical``, ``transport``, … Art. 14, 33) → the **application
  agency whose field it is** (it collected the data, Art. 15); when no agency is registered for the
  field, the issuing agency takes it (it may always be asked, Art. 20 ¶2) and forwards it.

Due date: 20 working days after the day of filing (Regulations of the PRC on the Disclosure of
Government Information, Art. 33 ¶2: 20 working days from receipt), counted like the issuance
deadline on the official PRC calendar (``app.services.deadlines.calendar``): the day of filing does
not count; a year without holiday data gives a provisional date.

Resolution (one call per decision, audited):

* ``corrected``: for contact data (mobile, address, occupation) the value is written through
  ``people.change_info`` (its own event and audit entry); for card and field data the handling
  agency corrected its records (``applied`` stays False).
* ``rejected``: the data was right; the reply says why.
* ``referred``: card-face data (name, ID number, ethnicity, photo, and sex / nationality, which come
  from the ID document) changes only with the holder's documents checked in person at a bank outlet
  and a replacement card (Art. 24(2)); ``corrected`` is refused for it with that explanation.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import (
    Agency,
    AuditEntry,
    Bank,
    CorrectionRequest,
    CorrectionStatus,
    Outlet,
    Person,
)
from app.models.enums import AgencyKind, Channel, Field, Role
from app.services import audit, clock, deadlines, people
from app.services.actor import Actor
from app.services.errors import (
    ChannelNotAllowed,
    IllegalTransition,
    InvalidInput,
    NotFound,
    OutOfScope,
)

CORRECTION_WORKING_DAYS = 20  # Regulations on the Disclosure of Government Information, Art. 33

# Data on the card face or read from the ID document: corrected only at an outlet (Art. 24(2)).
FACE_ITEMS = ("name", "doc_number", "ethnicity", "photo", "sex", "nationality")
CONTACT_ITEMS = tuple(people.CONTACT_FIELDS)  # phone, address, occupation: corrected in place
PERSONAL_ITEMS = FACE_ITEMS + CONTACT_ITEMS
CARD_ITEMS = ("card_status", "card_event", "card_bank", "delivery_address")
FIELD_ITEMS = tuple(str(f) for f in Field)
ITEMS = PERSONAL_ITEMS + CARD_ITEMS + FIELD_ITEMS

HANDLERS = (Role.AGENCY_CLERK, Role.APP_AGENCY)  # decide corrections routed to their agency
SUPERVISORS = (Role.BUREAU,)  # read-only: deadlines and outcomes, values masked


def scope_of(item: str) -> str:
    if item in PERSONAL_ITEMS:
        return "personal"
    if item in CARD_ITEMS:
        return "card"
    if item in FIELD_ITEMS:
        return "field"
    raise InvalidInput("'{item}' is not an item that can be corrected; one of: {items}.",
                       field="field", params={"item": item, "items": ", ".join(ITEMS)})


def _issuing_agency(session: Session) -> Agency:
    agency = session.scalars(select(Agency).where(Agency.kind == AgencyKind.ISSUING).order_by(Agency.id)).first()
    if agency is None:
        raise NotFound("No issuing agency is registered to receive corrections.")
    return agency


def route(session: Session, item: str) -> Agency:
    """The agency that receives a correction of ``item`` (Art. 20 ¶2)."""
    if scope_of(item) == "field":
        agency = session.scalars(
            select(Agency).where(Agency.kind == AgencyKind.APPLICATION, Agency.field == Field(item))
            .order_by(Agency.id)
        ).first()
        if agency is not None:
            return agency
    return _issuing_agency(session)


def file(session: Session, actor: Actor, *, field: str, proposed_value: str, reason: str) -> CorrectionRequest:
    """A cardholder asks for a correction of their own data (Art. 20)."""
    if actor.role is not Role.RESIDENT or actor.person_id is None:
        raise ChannelNotAllowed("The cardholder files a correction of their own data.", article="Art. 20")
    person = session.get(Person, actor.person_id)
    if person is None:
        raise NotFound("No such cardholder.")
    scope = scope_of(field)
    agency = route(session, field)
    today = clock.today()
    due = deadlines.calendar(session).add_working_days(today, CORRECTION_WORKING_DAYS)
    req = CorrectionRequest(person_id=person.id, field=field, scope=scope, proposed_value=proposed_value,
                            reason=reason, agency_id=agency.id, status=CorrectionStatus.OPEN,
                            filed_at=clock.now(), due_on=due.due, due_provisional=due.provisional)
    session.add(req)
    session.flush()
    audit.record(session, actor, "correction.file", person_id=person.id, subject=f"correction:{req.id}",
                 purpose="correction request (Art. 20)", fields=[field],
                 changes={"routed_to": agency.code, "due_on": due.due.isoformat()})
    return req


def for_resident(session: Session, person_id: int) -> list[CorrectionRequest]:
    return list(session.scalars(select(CorrectionRequest).where(CorrectionRequest.person_id == person_id)
                                .order_by(CorrectionRequest.id)))


def for_staff(session: Session, actor: Actor, status: CorrectionStatus | None = None) -> list[CorrectionRequest]:
    """Handlers see what was routed to their own agency; the Bureau sees all (read-only)."""
    q = select(CorrectionRequest).order_by(CorrectionRequest.due_on, CorrectionRequest.id)
    if actor.role in HANDLERS:
        if actor.agency_id is None:
            return []
        q = q.where(CorrectionRequest.agency_id == actor.agency_id)
    elif actor.role not in SUPERVISORS:
        raise OutOfScope("Corrections are handled by the agency that holds the data.", article="Art. 16, 20")
    if status is not None:
        q = q.where(CorrectionRequest.status == status)
    rows = list(session.scalars(q))
    handler = actor.role in HANDLERS  # handlers see the values in full, the Bureau masked: both are reads
    for r in rows:
        audit.record(session, actor, "correction.read", person_id=r.person_id, subject=f"correction:{r.id}",
                     purpose="handle a correction request (Art. 20)" if handler else "supervise deadlines (Art. 5)",
                     fields=[r.field], changes={"masked": not handler})
    return rows


def resolve(session: Session, actor: Actor, request_id: int, *, outcome: CorrectionStatus, reply: str,
            ) -> CorrectionRequest:
    """Decide a correction routed to the actor's agency."""
    if actor.role not in HANDLERS:
        raise ChannelNotAllowed("Only the agency the request was routed to decides it.", article="Art. 20")
    req = session.get(CorrectionRequest, request_id, with_for_update=True, populate_existing=True)
    if req is None:
        raise NotFound("No correction request {request_id}.", params={"request_id": request_id})
    if actor.agency_id is None or req.agency_id != actor.agency_id:
        raise OutOfScope("This request was routed to another agency.", article="Art. 16, 20")
    if req.status is not CorrectionStatus.OPEN:
        raise IllegalTransition("The request was already decided ({status}).", article="Art. 20",
                                params={"status": req.status})
    if outcome is CorrectionStatus.OPEN:
        raise InvalidInput("The outcome is corrected, rejected or referred.", field="outcome")
    face = req.field in FACE_ITEMS
    if outcome is CorrectionStatus.CORRECTED and face:
        raise IllegalTransition(
            "'{field}' is card-face or ID-document data: it is corrected only with the holder's documents "
            "checked in person at a bank outlet, with a replacement card. Resolve it as 'referred' and tell "
            "the holder to visit an outlet.", article="Art. 24(2)", params={"field": req.field})
    if outcome is CorrectionStatus.REFERRED and not face:
        raise InvalidInput("Only card-face data is referred to an outlet; correct or reject this one.",
                           field="outcome")
    if outcome is CorrectionStatus.CORRECTED and req.field in CONTACT_ITEMS:
        # Writes the value, its card event and audit entry (Art. 6); a bad value (say, not a mobile
        # number) raises here and the request stays open.
        people.change_info(session, actor.via(Channel.AGENCY), req.person_id, {req.field: req.proposed_value})
        req.applied = True
    # Conditional on the request still being open: two handlers cannot both decide it (SQLite has no
    # row lock; on PostgreSQL the FOR UPDATE above already serializes them).
    t = CorrectionRequest.__table__  # Core: the ORM's session sync would compare the encrypted column
    done = session.execute(
        update(t).where(t.c.id == req.id, t.c.status == CorrectionStatus.OPEN)
        .values(status=outcome, reply=reply, resolved_at=clock.now(), resolved_by=actor.user_id, applied=req.applied)
    ).rowcount
    if done != 1:
        raise IllegalTransition("The request was decided by someone else meanwhile.", article="Art. 20")
    session.refresh(req)
    audit.record(session, actor, "correction.resolve", person_id=req.person_id, subject=f"correction:{req.id}",
                 purpose="decide a correction request (Art. 20)", fields=[req.field],
                 changes={"status": ["open", str(outcome)], "applied": req.applied})
    return req


# ---------------------------------------------------------------- the holder's access log


@dataclass(frozen=True)
class AccessLogRow:
    """One audit entry about the holder, as the holder sees it.

    Shown: when, what (action and kind), the role and the ORGANISATION that acted (bank and outlet,
    or agency), channel, purpose, which items, and ``ref`` (the entry's sequence number, to quote in
    a complaint under Art. 29). Not shown: the staff member's user id or name, the client address and
    the request id — staff are identified to the Bureau and auditors, who hold the full trail; the
    holder's remedy is against the organisation, which answers for its staff (Art. 29).
    """

    ref: int
    at: datetime
    action: str
    kind: str  # read | change | sign-in
    role: str
    organisation: str | None
    outlet: str | None
    channel: str | None
    purpose: str | None
    items: list[str]
    by_you: bool


def _kind(action: str) -> str:
    if action.startswith("auth."):
        return "sign-in"
    if any(w in action for w in ("read", "view", "lookup", "inquire", "search", "export")):
        return "read"
    return "change"


def access_log(session: Session, person_id: int, *, limit: int = 100) -> list[AccessLogRow]:
    entries = session.scalars(select(AuditEntry).where(AuditEntry.person_id == person_id)
                              .order_by(AuditEntry.seq.desc()).limit(limit)).all()
    banks = {b.id: b.name for b in session.scalars(select(Bank))}
    outlets = {o.id: o.name for o in session.scalars(select(Outlet))}
    agencies = {a.id: a.name for a in session.scalars(select(Agency))}
    rows = []
    for e in entries:
        rec = e.record or {}
        org = agencies.get(rec.get("agency_id")) or banks.get(rec.get("bank_id"))
        changed = (rec.get("changes") or {}).get("changed") if isinstance(rec.get("changes"), dict) else None
        items = list(rec.get("fields") or [])
        if isinstance(changed, dict):  # an information change names the items it changed
            items += [k for k in changed if k not in items]
        by_you = e.actor_role == str(Role.RESIDENT) and rec.get("resident_id") == person_id
        rows.append(AccessLogRow(ref=e.seq, at=e.at, action=e.action, kind=_kind(e.action), role=e.actor_role,
                                 organisation=org, outlet=outlets.get(rec.get("outlet_id")),
                                 channel=rec.get("channel"), purpose=rec.get("purpose"), items=items,
                                 by_you=by_you))
    return rows
