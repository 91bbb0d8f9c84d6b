"""Complaints and reports (Art. 29): intake, routing to the authority over the party, handling, follow-up.

**Who may complain, how.** Any natural person, legal person or unincorporated organisation (Art. 29), through
the 12345 government service hotline (an operator records the call), the public web page or the public API;
no sign-in is needed: the Measures give the right to everyone, not only to cardholders.

**Anonymous?** Art. 29 names two acts. A *complaint* (投诉) asks for redress of a wrong done to the complainant:
it needs a name and a contact, so the authority can investigate with them and reply (the complaint may be
about the complainant's own card). A *report* (举报) brings a wrongdoing to the authority's notice: it may be
anonymous (no name, no phone is stored at all); the reporter still follows it with reference and code.

**Routing: the authority over the party complained about** (:data:`AUTHORITY_OVER`). Art. 29 sends a
complaint "to the higher authority" (上级机关); Art. 5 ¶1 makes the Bureau the authority in charge of the card's
issuance management, its supervision and the coordination of its application in the whole city. So:

* the issuing agency and its staff → the Bureau (Art. 5 ¶1, ¶2: the agency does the issuance the Bureau supervises);
* a cooperating bank and its staff → the Bureau (Art. 5 ¶1; Art. 6 ¶2: the Bureau chose and published the bank);
* an application agency and its staff, about the card's use → the Bureau (Art. 5 ¶1 监督和协调应用);
* the Bureau itself and its staff → the Bureau's own higher authority, the Municipal People's Government, which
  is outside this system: the complaint is recorded, routed there and marked ``referred`` at once, so the
  Bureau never investigates itself.

(``app.services.selfservice.route`` routes a *correction* to the body that holds an item of data, Art. 20; a
complaint goes to the body that supervises a party, so it is a different table, not a second copy of that one.)

**Handling** (:data:`STEPS`, one call per step, each written as a :class:`ComplaintStep` and an audit entry in
the same transaction): received → assigned (a handler of the authority names one of its staff; reassigning is
allowed while open) → investigating (the assignee starts, with a note) → closed with an outcome and a reply the
complainant reads. A complaint may be closed as ``withdrawn`` from any open state.

**Follow-up.** The reference (``TS-2026-000001``) and a follow-up code shown once at intake; only an argon2 hash
of the code is kept. A wrong code and an unknown reference get the same answer. The answer carries no personal
data and no staff identity: status, party, authority, the timeline of steps, outcome and reply.

**Personal data.** The complainant's name, phone, the summary, notes and the staff description are encrypted at
rest and shown to the authority's handlers masked (API schemas inherit ``Disclosed``); every staff read is in
the audit trail (Art. 16).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Agency, Bank, Complaint, ComplaintStep, StaffUser, next_value
from app.models.complaint import (
    ComplainantType,
    ComplaintKind,
    ComplaintOutcome,
    ComplaintStatus,
    IntakeChannel,
    PartyKind,
)
from app.models.enums import AgencyKind, Channel, Role
from app.services import audit, clock, hashing, people
from app.services.actor import Actor
from app.services.errors import (
    ChannelNotAllowed,
    IllegalTransition,
    InvalidInput,
    NotFound,
    OutOfScope,
    PreconditionFailed,
)

ARTICLE = "Art. 29"


@dataclass(frozen=True)
class Authority:
    code: str  # bureau | municipal_government
    agency_kind: AgencyKind | None  # the agency in this system that handles it; None: outside the system
    article: str
    name_zh: str
    name_en: str


BUREAU = Authority("bureau", AgencyKind.BUREAU, "Art. 5 ¶1, Art. 29", "广州市人力资源和社会保障局",
                   "Guangzhou Municipal Human Resources and Social Security Bureau")
MUNICIPAL_GOVERNMENT = Authority("municipal_government", None, "Art. 29 (上级机关)", "广州市人民政府",
                                 "Guangzhou Municipal People's Government")

# The party complained about → the authority over it (see the module docstring for the articles).
AUTHORITY_OVER: dict[PartyKind, Authority] = {
    PartyKind.ISSUING: BUREAU,
    PartyKind.BANK: BUREAU,
    PartyKind.APPLICATION: BUREAU,
    PartyKind.BUREAU: MUNICIPAL_GOVERNMENT,
}
AUTHORITIES = {a.code: a for a in AUTHORITY_OVER.values()}

HANDLERS = (Role.BUREAU,)  # staff of the authority's agency handle what was routed to it
INTAKE_ROLES = (Role.HOTLINE_OPERATOR,)  # staff who record a complaint for a caller

# (step, from status) → to status. Anything else is refused with Art. 29.
OPEN = (ComplaintStatus.RECEIVED, ComplaintStatus.ASSIGNED, ComplaintStatus.INVESTIGATING)
STEPS: dict[tuple[str, ComplaintStatus], ComplaintStatus] = {
    ("assign", ComplaintStatus.RECEIVED): ComplaintStatus.ASSIGNED,
    ("assign", ComplaintStatus.ASSIGNED): ComplaintStatus.ASSIGNED,
    ("assign", ComplaintStatus.INVESTIGATING): ComplaintStatus.INVESTIGATING,
    ("investigate", ComplaintStatus.ASSIGNED): ComplaintStatus.INVESTIGATING,
    ("close", ComplaintStatus.INVESTIGATING): ComplaintStatus.CLOSED,
    **{("withdraw", s): ComplaintStatus.CLOSED for s in OPEN},
}

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out on the phone
CODE_LENGTH = 10
SUMMARY_MIN, SUMMARY_MAX = 10, 4000
NAME_MAX, NOTE_MAX, REPLY_MAX = 100, 2000, 4000
# A hash to verify against when the reference is unknown: the answer takes as long as for a wrong code.
_DUMMY_HASH: str | None = None


@dataclass(frozen=True)
class Intake:
    kind: ComplaintKind
    complainant_type: ComplainantType
    party_kind: PartyKind
    summary: str
    anonymous: bool = False
    complainant_name: str | None = None
    complainant_phone: str | None = None
    party_agency_id: int | None = None
    party_bank_id: int | None = None
    about_staff: bool = False
    staff_description: str | None = None


@dataclass(frozen=True)
class Filed:
    complaint: Complaint
    code: str  # the follow-up code, shown once; only its hash is kept


def _text(value: str | None, field: str, *, required: bool = False, low: int = 1, high: int = 4000) -> str | None:
    value = value.strip() if isinstance(value, str) else None
    if not value:
        if required:
            raise InvalidInput("This is required.", field=field, article=ARTICLE)
        return None
    if len(value) < low or len(value) > high:
        raise InvalidInput("Write {low} to {high} characters.", params={"low": low, "high": high}, field=field)
    return value


def _agency_of_kind(session: Session, kind: AgencyKind) -> Agency | None:
    return session.scalars(select(Agency).where(Agency.kind == kind).order_by(Agency.id)).first()


def _party(session: Session, i: Intake) -> tuple[int | None, int | None]:
    """(party_agency_id, party_bank_id), checked against the party kind."""
    if i.party_kind is PartyKind.BANK:
        if i.party_agency_id is not None:
            raise InvalidInput("A complaint about a bank names the bank, not an agency.", field="party_agency_id")
        if i.party_bank_id is None or session.get(Bank, i.party_bank_id) is None:
            raise InvalidInput("Name the bank the complaint is about.", field="party_bank_id")
        return None, i.party_bank_id
    if i.party_bank_id is not None:
        raise InvalidInput("Only a complaint about a bank names a bank.", field="party_bank_id")
    want = {PartyKind.BUREAU: AgencyKind.BUREAU, PartyKind.ISSUING: AgencyKind.ISSUING,
            PartyKind.APPLICATION: AgencyKind.APPLICATION}[i.party_kind]
    if i.party_agency_id is None:
        if want is AgencyKind.APPLICATION:
            raise InvalidInput("Name the application agency the complaint is about.", field="party_agency_id")
        agency = _agency_of_kind(session, want)
        return (agency.id if agency else None), None
    agency = session.get(Agency, i.party_agency_id)
    if agency is None or agency.kind is not want:
        raise InvalidInput("Agency {agency_id} is not of the kind chosen.", params={"agency_id": i.party_agency_id},
                           field="party_agency_id")
    return agency.id, None


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _normal_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def _reference(session: Session) -> str:
    year = clock.today().year
    return f"TS-{year}-{next_value(session, f'complaint:{year}'):06d}"


def _step(session: Session, c: Complaint, actor: Actor | None, step: str, before: ComplaintStatus | None,
          note: str | None = None) -> None:
    session.add(ComplaintStep(complaint_id=c.id, step=step, from_status=str(before) if before else None,
                              to_status=str(c.status), actor_role=str(actor.role) if actor else "public",
                              actor_id=actor.user_id if actor else None, note=note, at=clock.now()))


def file(session: Session, intake: Intake, *, channel: IntakeChannel, actor: Actor | None = None) -> Filed:
    """Record a complaint or report and route it (Art. 29). ``actor``: the hotline operator taking the call;
    None for the public web page and API."""
    if channel is IntakeChannel.HOTLINE:
        if actor is None or actor.role not in INTAKE_ROLES:
            raise ChannelNotAllowed("A hotline complaint is recorded by a 12345 operator.", article=ARTICLE)
    elif actor is not None:
        raise ChannelNotAllowed("Web and API complaints are filed by the complainant themself.", article=ARTICLE)
    i = intake
    summary = _text(i.summary, "summary", required=True, low=SUMMARY_MIN, high=SUMMARY_MAX)
    if i.anonymous:
        if i.kind is ComplaintKind.COMPLAINT:
            raise InvalidInput("A complaint (投诉) asks for redress of a wrong done to you and needs your name and "
                               "a contact for the reply; to stay anonymous, file a report (举报).",
                               field="anonymous", article=ARTICLE)
        if i.complainant_name or i.complainant_phone:
            raise InvalidInput("An anonymous report carries no name and no phone.", field="complainant_name")
        name = phone = None
    else:
        name = _text(i.complainant_name, "complainant_name", required=True, high=NAME_MAX)
        phone = None
        if i.complainant_phone and i.complainant_phone.strip():
            try:
                phone = people.check_phone(i.complainant_phone.strip())
            except InvalidInput as e:
                raise InvalidInput(e.detail, field="complainant_phone") from None
        elif i.kind is ComplaintKind.COMPLAINT:
            raise InvalidInput("A complaint needs a phone number for the reply.", field="complainant_phone",
                               article=ARTICLE)
    staff_description = _text(i.staff_description, "staff_description", high=NOTE_MAX) if i.about_staff else None
    if not i.about_staff and i.staff_description and i.staff_description.strip():
        raise InvalidInput("Describe staff only when the complaint is about staff.", field="staff_description")
    party_agency_id, party_bank_id = _party(session, i)
    authority = AUTHORITY_OVER[i.party_kind]  # Art. 29: to the authority over the party
    handler = _agency_of_kind(session, authority.agency_kind) if authority.agency_kind else None
    if authority.agency_kind is not None and handler is None:
        raise NotFound("No authority is registered to receive this complaint.")
    code = _new_code()
    c = Complaint(reference=_reference(session), code_hash=hashing.hash_password(code), kind=i.kind,
                  channel=channel, taken_by=actor.user_id if actor else None, complainant_type=i.complainant_type,
                  anonymous=i.anonymous, complainant_name=name, complainant_phone=phone, party_kind=i.party_kind,
                  party_agency_id=party_agency_id, party_bank_id=party_bank_id, about_staff=i.about_staff,
                  staff_description=staff_description, summary=summary, authority=authority.code,
                  authority_agency_id=handler.id if handler else None,
                  status=ComplaintStatus.RECEIVED if handler else ComplaintStatus.REFERRED, filed_at=clock.now())
    session.add(c)
    session.flush()
    _step(session, c, actor, "file" if handler else "refer", None)
    who = actor or Actor(role=Role.RESIDENT, channel=Channel.ONLINE)  # the public: no account, no person id
    audit.record(session, who, "complaint.file", subject=f"complaint:{c.reference}",
                 purpose=f"{i.kind} under Art. 29 via {channel}",
                 changes={"party": str(i.party_kind), "authority": authority.code, "status": str(c.status)})
    return Filed(c, code)


# ---------------------------------------------------------------- the authority's handlers


def _handler_of(actor: Actor) -> None:
    if actor.role not in HANDLERS:
        raise ChannelNotAllowed("Complaints are handled by the authority they were routed to.", article=ARTICLE)


def _load(session: Session, actor: Actor, complaint_id: int, *, lock: bool = False) -> Complaint:
    _handler_of(actor)
    c = session.get(Complaint, complaint_id, with_for_update=lock, populate_existing=lock)
    if c is None:
        raise NotFound("No complaint {complaint_id}.", params={"complaint_id": complaint_id})
    if actor.agency_id is None or c.authority_agency_id != actor.agency_id:
        raise OutOfScope("This complaint was routed to another authority.", article=ARTICLE)
    return c


def for_staff(session: Session, actor: Actor, status: ComplaintStatus | None = None,
              mine: bool = False) -> list[Complaint]:
    """The complaints routed to the actor's authority, oldest open first; each read is audited (Art. 16)."""
    _handler_of(actor)
    if actor.agency_id is None:
        return []
    q = select(Complaint).where(Complaint.authority_agency_id == actor.agency_id)
    if status is not None:
        q = q.where(Complaint.status == status)
    if mine:
        q = q.where(Complaint.assignee_id == actor.user_id)
    rows = list(session.scalars(q.order_by(Complaint.filed_at, Complaint.id)))
    for c in rows:
        audit.record(session, actor, "complaint.read", subject=f"complaint:{c.reference}",
                     purpose="handle a complaint (Art. 29)", fields=["complainant_name", "complainant_phone"],
                     changes={"masked": True})
    return rows


def get(session: Session, actor: Actor, complaint_id: int) -> tuple[Complaint, list[ComplaintStep]]:
    c = _load(session, actor, complaint_id)
    audit.record(session, actor, "complaint.read", subject=f"complaint:{c.reference}",
                 purpose="handle a complaint (Art. 29)",
                 fields=["complainant_name", "complainant_phone", "summary", "notes"], changes={"masked": True})
    return c, steps_of(session, c.id)


def steps_of(session: Session, complaint_id: int) -> list[ComplaintStep]:
    return list(session.scalars(select(ComplaintStep).where(ComplaintStep.complaint_id == complaint_id)
                                .order_by(ComplaintStep.id)))


def assignable(session: Session, actor: Actor) -> list[StaffUser]:
    """The authority's active handlers, whom a complaint may be assigned to."""
    _handler_of(actor)
    return list(session.scalars(select(StaffUser).where(
        StaffUser.agency_id == actor.agency_id, StaffUser.role.in_(HANDLERS), StaffUser.active.is_(True))
        .order_by(StaffUser.username)))


def _allowed(c: Complaint, step: str, version: int | None) -> ComplaintStatus:
    """The status ``step`` leads to from the complaint's, or the refusal (stale version first)."""
    if version is not None and version != c.version:
        raise PreconditionFailed("Complaint {reference} changed since you read it; reload it.",
                                 params={"reference": c.reference}, version=c.version)
    to = STEPS.get((step, c.status))
    if to is None:
        raise IllegalTransition("This step is not possible while the complaint is {status}.",
                                params={"status": str(c.status)}, step=step, article=ARTICLE)
    return to


def _advance(session: Session, actor: Actor, c: Complaint, step: str, version: int | None) -> ComplaintStatus:
    to = _allowed(c, step, version)
    before = c.status
    c.status = to
    c.version += 1
    return before


def _finish(session: Session, actor: Actor, c: Complaint, step: str, before: ComplaintStatus,
            note: str | None, changes: dict) -> Complaint:
    _step(session, c, actor, step, before, note)
    session.flush()
    audit.record(session, actor, f"complaint.{step}", subject=f"complaint:{c.reference}",
                 purpose="handle a complaint (Art. 29)",
                 changes={"status": [str(before), str(c.status)], **changes})
    return c


def assign(session: Session, actor: Actor, complaint_id: int, assignee_id: int, *,
           version: int | None = None) -> Complaint:
    c = _load(session, actor, complaint_id, lock=True)
    target = session.get(StaffUser, assignee_id)
    if (target is None or not target.active or target.role not in HANDLERS
            or target.agency_id != c.authority_agency_id):
        raise InvalidInput("Assign the complaint to an active handler of the authority it was routed to.",
                           field="assignee_id")
    before = _advance(session, actor, c, "assign", version)
    old = c.assignee_id
    c.assignee_id = target.id
    return _finish(session, actor, c, "assign", before, None, {"assignee_id": [old, target.id]})


def investigate(session: Session, actor: Actor, complaint_id: int, note: str, *,
                version: int | None = None) -> Complaint:
    c = _load(session, actor, complaint_id, lock=True)
    note = _text(note, "note", required=True, low=3, high=NOTE_MAX)
    _allowed(c, "investigate", version)
    if c.assignee_id != actor.user_id:
        raise OutOfScope("Only the handler the complaint is assigned to investigates it.", article=ARTICLE)
    before = _advance(session, actor, c, "investigate", version)
    return _finish(session, actor, c, "investigate", before, note, {})


def close(session: Session, actor: Actor, complaint_id: int, outcome: ComplaintOutcome, reply: str, *,
          note: str | None = None, version: int | None = None) -> Complaint:
    """Close with an outcome and the reply the complainant reads; ``withdrawn`` from any open state."""
    c = _load(session, actor, complaint_id, lock=True)
    reply = _text(reply, "reply", required=True, low=3, high=REPLY_MAX)
    note = _text(note, "note", high=NOTE_MAX)
    step = "withdraw" if outcome is ComplaintOutcome.WITHDRAWN else "close"
    _allowed(c, step, version)
    if step == "close" and c.assignee_id != actor.user_id:
        raise OutOfScope("Only the handler the complaint is assigned to closes it.", article=ARTICLE)
    before = _advance(session, actor, c, step, version)
    c.outcome, c.reply, c.closed_at = outcome, reply, clock.now()
    return _finish(session, actor, c, step, before, note, {"outcome": str(outcome)})


# ---------------------------------------------------------------- the complainant


@dataclass(frozen=True)
class FollowUp:
    complaint: Complaint
    steps: list[ComplaintStep]
    party_name: str | None
    authority: Authority


def follow(session: Session, reference: str, code: str) -> FollowUp:
    """What the complainant sees with reference and code; the same NotFound for a wrong code as for an
    unknown reference, after the same work (Art. 16: a reference alone shows nothing)."""
    global _DUMMY_HASH
    c = session.scalars(select(Complaint).where(Complaint.reference == reference.strip().upper())).first()
    if c is None:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hashing.hash_password(_new_code())
        hashing.verify_password(_DUMMY_HASH, _normal_code(code))
        raise NotFound("No complaint with this reference and code.")
    if not hashing.verify_password(c.code_hash, _normal_code(code)):
        raise NotFound("No complaint with this reference and code.")
    return follow_up_of(session, c)


def follow_up_of(session: Session, c: Complaint) -> FollowUp:
    """What the complainant sees of ``c`` (the caller has established that they are the complainant)."""
    party = None
    if c.party_bank_id is not None:
        party = session.get(Bank, c.party_bank_id).name
    elif c.party_agency_id is not None:
        party = session.get(Agency, c.party_agency_id).name
    return FollowUp(c, steps_of(session, c.id), party, AUTHORITIES[c.authority])


def parties(session: Session) -> tuple[list[Bank], list[Agency]]:
    """What a complaint may be about by name: every bank (a former partner too) and every application agency."""
    banks = list(session.scalars(select(Bank).order_by(Bank.code)))
    agencies = list(session.scalars(select(Agency).where(Agency.kind == AgencyKind.APPLICATION).order_by(Agency.code)))
    return banks, agencies


def open_count(session: Session, actor: Actor) -> int:
    """How many complaints routed to the actor's authority are still open (a dashboard figure; no personal data,
    so no audited read)."""
    from sqlalchemy import func

    if actor.role not in HANDLERS or actor.agency_id is None:
        return 0
    return session.scalar(select(func.count()).select_from(Complaint).where(
        Complaint.authority_agency_id == actor.agency_id, Complaint.status.in_(list(OPEN)))) or 0
