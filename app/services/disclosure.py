"""Who may see which personal information, and the record of every look (Art. 16).

Art. 16 asks the issuing agency, the banks and the application agencies to protect cardholders'
personal information and forbids disclosing it or inquiring into it unlawfully; each party sees it
only "在各自的职权范围内" (within its own remit). ONE table, :data:`DISCLOSURE`, says for each role

* **whom** it sees (``scope``): every holder (the issuing agency, the Bureau, the auditor), the holders
  with a live card or an open account at its bank (a teller: the remit ends with the relationship), the
  holders it has just looked up by ID document (an application agency, Art. 28), the caller it has just
  verified (the 12345 hotline, Art. 21), itself (a resident). :func:`check_remit` is the one check every
  read endpoint, every reveal and a hotline's operation make;
* **what** its answers carry (``sees``, masked): every item, or for an application agency the status and
  its own field, for the hotline what a loss registration needs. ``app.api.schemas.Disclosed`` drops
  from every answer each key whose :class:`Item` the caller's role is not shown;
* **which full values** it may ask for (``reveals``): :func:`reveal`, with a purpose from
  :data:`PURPOSES`, a few words, and the case where the purpose has one (a clerk's always has).

A staff read, even masked, is written to the audit trail by :func:`log_read` in the same transaction,
with the items shown; a reveal with its purpose and case; a refused reveal too (``reveal.refused``: an
attempted unlawful inquiry is exactly what the auditor looks for). A resident reading their own data
is not logged (it is their own inquiry under Art. 20). No role sees everything: the Bureau and the
auditor read the trail but no full value; the clerk sees full values but not the trail.
"""
from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import exists, false, or_, select, true, union_all
from sqlalchemy.orm import Session, scoped_session

from app.models import Agency, AuditEntry, Card, CorrectionRequest, Person, SettlementAccount
from app.models.card import PENDING_STATES, VALID_STATES
from app.models.enums import STAFF_ROLES, AccountStatus, CardStatus, Field, Role
from app.privacy import mask_id_number, mask_name
from app.services import audit, clock, lifecycle, people
from app.services.actor import Actor
from app.services.errors import DomainError, InvalidInput, NotFound, OutOfScope
from app.services.lifecycle_rules import TRANSITION_INDEX, Op

ARTICLE = "Art. 16"

# ---------------------------------------------------------------- the items an answer can carry


class Item(StrEnum):
    """The vocabulary of what an answer shows (masked) and the audit trail records (Art. 16)."""

    REF = "ref"  # record ids and versions (the ETag): they name a record, they tell nothing about a person
    NAME = "name"
    DOC_NUMBER = "doc_number"
    SSN = "ssn"
    PHONE = "phone"
    ADDRESS = "address"
    PHOTO_PRESENT = "photo_present"
    SEX = "sex"
    NATIONALITY = "nationality"
    OCCUPATION = "occupation"
    ELIGIBILITY = "eligibility"  # the basis of Art. 4, eligible, deceased
    FIELD_STATUS = "field_status"  # every application field's lock and use
    OWN_FIELD = "own_field"  # the caller's own application field only (Art. 33)
    CARD_STATUS = "card_status"  # the card's status and kind, whether it is usable
    CARD_NUMBER = "card_number"
    CARD_DETAILS = "card_details"  # bank, predecessor, dates of receipt and activation, PIN locked
    APPLICATION = "application"  # channel, service mode, due date, fee, courier reference, rejection grounds
    DELIVERY_ADDRESS = "delivery_address"
    SETTLEMENT_SUSPENDED = "settlement_suspended"  # Art. 21
    ACCOUNT_STATUS = "account_status"
    ACCOUNT_BANK = "account_bank"
    ACCOUNT_BALANCE = "account_balance"  # a settlement account's balance (Art. 13)
    ACCOUNT_STATEMENT = "account_statement"  # its postings: amounts, counterparties, who posted (Art. 13)
    CARD_EVENTS = "card_events"
    PLATFORM_RECORD = "platform_record"  # what the government platform holds for a document (Art. 9)


EVERY_ITEM = frozenset(Item) - {Item.OWN_FIELD}  # FIELD_STATUS covers the own field

# ---------------------------------------------------------------- audited reads

I = Item  # (short, for the table below)
# what → (audit action, the items the answer carries, all masked)
READS: dict[str, tuple[str, tuple[Item, ...]]] = {
    "person": ("read.person", (I.DOC_NUMBER, I.SSN, I.NAME, I.PHONE, I.ADDRESS, I.PHOTO_PRESENT, I.SEX,
                               I.NATIONALITY, I.OCCUPATION, I.ELIGIBILITY, I.FIELD_STATUS)),
    "person_cards": ("read.person_cards", (I.CARD_NUMBER, I.CARD_STATUS, I.CARD_DETAILS, I.APPLICATION,
                                           I.DELIVERY_ADDRESS)),
    "accounts": ("read.accounts", (I.ACCOUNT_STATUS, I.ACCOUNT_BANK)),
    "statement": ("read.statement", (I.ACCOUNT_STATUS, I.ACCOUNT_BANK, I.ACCOUNT_BALANCE, I.ACCOUNT_STATEMENT)),
    "card": ("read.card", (I.CARD_NUMBER, I.CARD_STATUS, I.CARD_DETAILS, I.APPLICATION, I.DELIVERY_ADDRESS)),
    "cards": ("read.cards", (I.CARD_NUMBER, I.CARD_STATUS, I.CARD_DETAILS, I.APPLICATION, I.DELIVERY_ADDRESS)),
    "card_events": ("read.card_events", (I.CARD_EVENTS,)),
    "card_status": ("read.card_status", (I.CARD_NUMBER, I.CARD_STATUS, I.CARD_DETAILS, I.APPLICATION,
                                         I.SETTLEMENT_SUSPENDED, I.FIELD_STATUS, I.OWN_FIELD)),
    "deadlines": ("read.deadlines", (I.CARD_NUMBER, I.CARD_STATUS, I.CARD_DETAILS, I.APPLICATION,
                                     I.DELIVERY_ADDRESS)),
    "agency_holder": ("read.agency_holder", (I.NAME, I.SSN, I.CARD_STATUS, I.SETTLEMENT_SUSPENDED, I.OWN_FIELD)),
    "agency_feed": ("read.agency_feed", (I.NAME, I.SSN, I.CARD_NUMBER, I.CARD_STATUS, I.SETTLEMENT_SUSPENDED,
                                         I.OWN_FIELD)),
    "hotline_caller": ("read.hotline_caller", (I.NAME, I.CARD_STATUS, I.SETTLEMENT_SUSPENDED)),
    "prefill": ("read.prefill", (I.PLATFORM_RECORD,)),
    "legacy": ("read.legacy", (I.DOC_NUMBER,)),  # old identity certificates linked to the holder (Art. 34)
}


def log_read(session: Session, actor: Actor, person_ids: Iterable[int | None], what: str, *,
             subject: str | None = None, fields: Iterable[str] | None = None) -> int:
    """Record that ``actor`` was shown (masked) personal data of ``person_ids`` (Art. 16).

    One entry per cardholder in the answer, so that each holder's access history is complete when the
    trail is queried by person; the caller commits it together with the read, before the answer
    leaves. Residents and the system are not logged. Returns the number of entries written.
    """
    if actor.role not in STAFF_ROLES:
        return 0
    action, default_fields = READS[what]
    shown = sees(actor.role)
    listed = (sorted(set(fields)) if fields is not None
              else [str(i) for i in default_fields if i in shown])  # what THIS role was shown
    holders = list(dict.fromkeys(p for p in person_ids if p is not None))
    if holders:
        audit.record_many(session, actor, action, holders, subject=subject, fields=listed)
    return len(holders)


def commit_read(session: Session | scoped_session) -> None:
    """Commit a read's audit entries without expiring what was read: the answer is then exactly the
    data that was logged, and serialising it does not reload (and decrypt) every row again."""
    real = session() if isinstance(session, scoped_session) else session
    keep, real.expire_on_commit = real.expire_on_commit, False
    try:
        real.commit()
    finally:
        real.expire_on_commit = keep


# ---------------------------------------------------------------- the table: whom and what each role is shown


class Revealable(StrEnum):
    DOC_NUMBER = "doc_number"
    SSN = "ssn"
    NAME = "name"
    PHONE = "phone"
    ADDRESS = "address"
    PHOTO = "photo"


ALL_FIELDS = frozenset(Revealable)


class Scope(StrEnum):
    ANY = "any"  # every cardholder: the issuing agency runs the system and makes the cards (Art. 5, 10)
    OWN_BANK = "own_bank"  # holders with a live card or an open account at the teller's bank (Art. 6, 24 ¶2)
    LOOKED_UP = "looked_up"  # holders the agency looked up by ID document for a service (Art. 28)
    CALLER = "caller"  # the caller the hotline operator has just verified by document and questions (Art. 21)
    SELF = "self"  # the cardholder themself (Art. 20)


@dataclass(frozen=True)
class Remit:
    scope: Scope  # whose data
    sees: frozenset[Item]  # which items its answers carry (masked)
    reveals: frozenset[Revealable]  # which full values it may ask for, with a purpose
    why: str


# Art. 16: each party within its own remit. Every read endpoint checks ``scope`` (:func:`check_remit`),
# every answer carries only ``sees`` (``app.api.schemas.Disclosed``), every reveal only ``reveals``.
DISCLOSURE: dict[Role, Remit] = {
    Role.BUREAU: Remit(Scope.ANY, EVERY_ITEM, frozenset(),
                       "supervises the card's management (Art. 5) and reads the audit trail; no full value"),
    Role.AUDITOR: Remit(Scope.ANY, EVERY_ITEM, frozenset(), "reads the audit trail; no full value"),
    Role.AGENCY_CLERK: Remit(Scope.ANY, EVERY_ITEM, ALL_FIELDS,
                             "accepts applications, produces and delivers the card (Art. 5, 10, 12, 17)"),
    Role.BANK_TELLER: Remit(Scope.OWN_BANK, EVERY_ITEM,
                            frozenset({Revealable.NAME, Revealable.DOC_NUMBER, Revealable.PHONE, Revealable.ADDRESS}),
                            "serves its own bank's cardholders at the counter (Art. 6)"),
    Role.APP_AGENCY: Remit(Scope.LOOKED_UP,
                           frozenset({Item.REF, Item.NAME, Item.SSN, Item.CARD_STATUS, Item.SETTLEMENT_SUSPENDED,
                                      Item.OWN_FIELD}),
                           frozenset({Revealable.NAME, Revealable.DOC_NUMBER}),
                           "keeps serving a holder it has just looked up by ID document, in its own field "
                           "(Art. 28, 33)"),
    Role.HOTLINE_OPERATOR: Remit(Scope.CALLER,
                                 frozenset({Item.REF, Item.NAME, Item.CARD_STATUS, Item.SETTLEMENT_SUSPENDED}),
                                 frozenset(), "registers the loss of the caller it has verified (Art. 21)"),
    Role.RESIDENT: Remit(Scope.SELF, EVERY_ITEM, ALL_FIELDS, "queries their own information (Art. 20)"),
}


def sees(role: Role) -> frozenset[Item]:
    """The items answers to ``role`` may carry; none for a role absent from the table."""
    remit = DISCLOSURE.get(role)
    return remit.sees if remit else frozenset()


@dataclass(frozen=True)
class Grant:
    fields: frozenset[Revealable]
    scope: Scope
    why: str


# Which full values a role may see, and whose: the reveal column of DISCLOSURE. A role absent sees none.
REVEAL: dict[Role, Grant] = {role: Grant(r.reveals, r.scope, r.why) for role, r in DISCLOSURE.items() if r.reveals}

# An application agency may reveal a holder's name and ID number for this long after looking them up.
AGENCY_LOOKUP_WINDOW = timedelta(hours=1)
# A hotline operator acts on a caller for this long after verifying them (one call).
CALLER_WINDOW = timedelta(minutes=30)
# A new bank's teller serves a holder changing to it for this long after finding them by ID document.
BANK_CHANGE_WINDOW = timedelta(minutes=30)
BANK_CHANGE_LOOKUP = "lookup.bank_change"


def reveal_table() -> list[dict]:
    """The table as data (documentation and tests)."""
    return [{"role": str(role), "scope": str(r.scope), "sees": sorted(r.sees), "fields": sorted(r.reveals),
             "why": r.why} for role, r in DISCLOSURE.items()]


def bank_relationship(session: Session, person_id: int) -> set[int]:
    """The banks a holder has a live relationship with: a card not ended (held or being made), or a
    settlement account not closed (the former bank's, until it confirms the unbinding, Art. 24 ¶2)."""
    cards = select(Card.bank_id).where(Card.person_id == person_id,
                                       Card.status.in_([*VALID_STATES, *PENDING_STATES]))
    accounts = select(SettlementAccount.bank_id).where(
        SettlementAccount.person_id == person_id, SettlementAccount.status != AccountStatus.CLOSED,
        SettlementAccount.bank_id.is_not(None))
    return set(session.scalars(union_all(cards, accounts)))  # one round trip: asked on every staff read


def _recently(session: Session, actor: Actor, person_id: int, what: str, window: timedelta) -> bool:
    """Whether ``actor`` had the read ``what`` (or the audited action of that name) of this holder
    within ``window``: the remits that open per service are these entries."""
    since = clock.now() - window
    action = READS[what][0] if what in READS else what
    return actor.user_id is not None and session.scalar(
        select(AuditEntry.seq).where(
            AuditEntry.action == action, AuditEntry.actor_id == actor.user_id,
            AuditEntry.person_id == person_id, AuditEntry.at >= since,
        ).limit(1)
    ) is not None


def _why_not(session: Session, actor: Actor, person_id: int) -> str | None:
    """None when ``person_id`` is within ``actor``'s remit, else why not."""
    remit = DISCLOSURE.get(actor.role)
    if remit is None:
        return f"The role '{actor.role}' sees no cardholder's data."
    scope = remit.scope
    if scope is Scope.ANY:
        return None
    if scope is Scope.SELF:
        return None if actor.person_id == person_id else "A resident may see only their own information."
    if scope is Scope.OWN_BANK:
        if actor.bank_id is None:
            return "This person is not a cardholder of your bank."
        if actor.bank_id not in bank_relationship(session, person_id) and not _recently(
                session, actor, person_id, BANK_CHANGE_LOOKUP, BANK_CHANGE_WINDOW):
            return "This person is not a cardholder of your bank."
        return None
    if scope is Scope.LOOKED_UP:
        if not _recently(session, actor, person_id, "agency_holder", AGENCY_LOOKUP_WINDOW):
            return ("An application agency sees a holder only right after looking the holder up by the ID "
                    "document presented for a service (POST /api/agency/holders).")
        return None
    if scope is Scope.CALLER:
        if not _recently(session, actor, person_id, "hotline_caller", CALLER_WINDOW):
            return ("The hotline acts only for the caller it has just verified by ID document and identity "
                    "questions (POST /api/hotline/callers).")
        return None
    raise AssertionError(scope)  # pragma: no cover


def within_remit(session: Session, actor: Actor, person_id: int) -> bool:
    return _why_not(session, actor, person_id) is None


def check_remit(session: Session, actor: Actor, person_id: int) -> None:
    """Refuse (403, Art. 16) unless ``person_id`` is within ``actor``'s remit: THE check of every read."""
    why = _why_not(session, actor, person_id)
    if why:
        raise OutOfScope(why, article=ARTICLE)


def check_call_remit(session: Session, actor: Actor, person_id: int) -> None:
    """Operations: a role whose remit opens per service (the hotline's caller) acts only within it."""
    remit = DISCLOSURE.get(actor.role)
    if remit is not None and remit.scope is Scope.CALLER:
        check_remit(session, actor, person_id)


class LookupBy(StrEnum):
    CARD_NUMBER = "card_number"
    DOCUMENT = "document"
    PHONE = "phone"


def lookup_purposes(role: Role) -> list[Purpose]:
    """The purposes a role may give for finding a cardholder: its reveal purposes (:data:`PURPOSES`)."""
    return [p for p, rule in PURPOSES.items() if role in rule.roles]


def lookup(session: Session, actor: Actor, by: LookupBy, value: str, *, purpose: str | None, detail: str,
           doc_type: str | None = None, nationality: str | None = None) -> list[Person]:
    """Find cardholders by card number, ID document or mobile number through the blind indexes, with a
    stated purpose (Art. 16): a purpose of the caller's role when it has any, and a few words on what for.
    Only holders within the caller's remit are returned; each find is on record with the purpose (an
    unsuccessful one too, without a person). The caller commits."""
    purposes = lookup_purposes(actor.role)
    if purposes and purpose not in purposes:
        raise InvalidInput("The purpose is one of: {purposes}.", article=ARTICLE, field="purpose",
                           params={"purposes": ", ".join(purposes)})
    detail = " ".join((detail or "").split())
    if not detail or len(detail) > MAX_DETAIL:
        raise InvalidInput("Say in a few words what the inquiry is for (detail, at most {MAX_DETAIL} characters).",
                           article=ARTICLE, field="detail", params={"MAX_DETAIL": MAX_DETAIL})
    recorded = f"{purpose or 'inquiry'}: {detail}"
    if by is LookupBy.CARD_NUMBER:
        card = session.scalars(select(Card).where(Card.number == value.strip().upper())).one_or_none()
        found = [card.person] if card else []
    elif by is LookupBy.DOCUMENT:
        person = people.find_by_document(session, doc_type or "", value, nationality)
        found = [person] if person else []
    else:
        found = people.find_by_phone(session, value)
    if purpose == Purpose.BANK_CHANGE and by is LookupBy.DOCUMENT and actor.bank_id is not None:
        # The holder is at this bank's counter with the document to change to it (Art. 24(3)): the find
        # opens this teller's remit on them for BANK_CHANGE_WINDOW, and is on the holder's access log.
        for p in found:
            audit.record(session, actor, BANK_CHANGE_LOOKUP, person_id=p.id, purpose=recorded, subject=f"lookup:{by}")
        if found:
            return found
    shown = [p for p in found if within_remit(session, actor, p.id)]
    for p in shown:
        audit.record(session, actor, "lookup.person", person_id=p.id, purpose=recorded, subject=f"lookup:{by}")
    if not shown:
        audit.record(session, actor, "lookup.none", purpose=recorded, subject=f"lookup:{by}")
    return shown


def disclose(session: Session, actor: Actor, person_id: int, what: str, *, subject: str | None = None) -> None:
    """A read of one holder's data: within the caller's remit (else 403), and on record (Art. 16)."""
    check_remit(session, actor, person_id)
    log_read(session, actor, [person_id], what, subject=subject)


def remit_clause(actor: Actor, person_id_column):
    """The remit as a SQL condition on a holder's id column, for lists (a teller's card search)."""
    remit = DISCLOSURE.get(actor.role)
    if remit is None:
        return false()
    if remit.scope is Scope.ANY:
        return true()
    if remit.scope is Scope.SELF:
        return person_id_column == actor.person_id
    if remit.scope is Scope.OWN_BANK and actor.bank_id is not None:
        live_card = exists().where(Card.person_id == person_id_column, Card.bank_id == actor.bank_id,
                                   Card.status.in_([*VALID_STATES, *PENDING_STATES]))
        open_account = exists().where(SettlementAccount.person_id == person_id_column,
                                      SettlementAccount.bank_id == actor.bank_id,
                                      SettlementAccount.status != AccountStatus.CLOSED)
        return or_(live_card, open_account)
    return false()


def fields_shown(session: Session, actor: Actor, fields: dict[str, bool]) -> dict[str, bool]:
    """A status inquiry's field statuses as the caller may see them: all, its own field only, or none."""
    shown = sees(actor.role)
    if Item.FIELD_STATUS in shown:
        return fields
    if Item.OWN_FIELD in shown:
        own = str(agency_field(session, actor))
        return {own: fields[own]} if own in fields else {}
    return {}


# ---------------------------------------------------------------- revealing full values


class Purpose(StrEnum):
    COUNTER_SERVICE = "counter_service"
    CARD_PRODUCTION = "card_production"
    CORRECTION = "correction"
    COMPLAINT = "complaint"
    OWN_INQUIRY = "own_inquiry"
    BANK_CHANGE = "bank_change"


class Case(StrEnum):
    CARD = "card"  # the holder's card being made, delivered or handed over
    CORRECTION = "correction"  # a correction request of the holder routed to the caller's agency (Art. 20)
    COMPLAINT = "complaint"  # the complaint's reference (12345 ticket, letter number; Art. 29)


@dataclass(frozen=True)
class PurposeRule:
    why: str
    roles: frozenset[Role]
    case: Case | None  # the case a reveal for this purpose names, checked where the system holds it


# Why a full value may be needed, and for which roles. A clerk has no counter of its own: each of its
# purposes is a case, so each of its reveals names the case it serves.
PURPOSES: dict[Purpose, PurposeRule] = {
    Purpose.COUNTER_SERVICE: PurposeRule("serving the holder present at a counter (Art. 7, 21–24, 28)",
                                         frozenset({Role.BANK_TELLER, Role.APP_AGENCY}), None),
    Purpose.CARD_PRODUCTION: PurposeRule("making, delivering or handing over the holder's card (Art. 10, 12)",
                                         frozenset({Role.AGENCY_CLERK, Role.BANK_TELLER}), Case.CARD),
    Purpose.CORRECTION: PurposeRule("deciding the holder's correction request (Art. 20)",
                                    frozenset({Role.AGENCY_CLERK, Role.APP_AGENCY}), Case.CORRECTION),
    Purpose.COMPLAINT: PurposeRule("handling the holder's complaint (Art. 29)",
                                   frozenset({Role.AGENCY_CLERK}), Case.COMPLAINT),
    Purpose.OWN_INQUIRY: PurposeRule("the holder's own inquiry (Art. 20)", frozenset({Role.RESIDENT}), None),
    # The holder comes to a new bank to change to it (Art. 24(3)): that bank has no relationship with them
    # yet, so it finds them by the ID document presented, and its remit opens on them (BANK_CHANGE_WINDOW).
    Purpose.BANK_CHANGE: PurposeRule("taking the holder's change to this bank, with the ID document presented "
                                     "(Art. 24(3))", frozenset({Role.BANK_TELLER}), None),
}
MAX_DETAIL = 200


class RevealRefused(DomainError):
    status, type, title = 403, "reveal-refused", "Not within your remit"


def _refuse(session: Session, actor: Actor, person_id: int, fields: list[str], purpose: str,
            reason: str, detail: str) -> RevealRefused:
    """Log the refused attempt and build the error; the API commits the entry (``commit=True``)."""
    audit.record(session, actor, "reveal.refused", person_id=person_id, purpose=purpose, fields=fields,
                 subject=f"refused: {reason}")
    return RevealRefused(detail, article=ARTICLE, fields=fields, commit=True)


def _case(session: Session, actor: Actor, person_id: int, kind: Case, ref: str | None) -> str:
    """The case a reveal serves, checked against what the system holds; its audit subject."""
    ref = (ref or "").strip()
    if not ref:
        raise InvalidInput("Name the {kind} this inquiry serves (case).", article=ARTICLE, field="case", params={"kind": kind})
    if kind is Case.COMPLAINT:
        if len(ref) > 60:
            raise InvalidInput("A complaint reference has at most 60 characters.", field="case")
        return f"complaint:{ref}"
    if not ref.isdigit():
        raise InvalidInput("The {kind} is named by its number.", field="case", params={"kind": kind})
    if kind is Case.CARD:
        card = session.get(Card, int(ref))
        if card is None or card.person_id != person_id:
            raise InvalidInput("That is not a card of this holder.", article=ARTICLE, field="case")
        return f"card:{card.id}"
    req = session.get(CorrectionRequest, int(ref))
    if req is None or req.person_id != person_id or req.agency_id != actor.agency_id:
        raise InvalidInput("That is not a correction request of this holder routed to your agency.",
                           article=ARTICLE, field="case")
    return f"correction:{req.id}"


def _purpose(purpose: str, detail: str) -> tuple[PurposeRule, str]:
    """(the purpose's rule, the purpose as recorded) of a reveal; 422 for a purpose outside the list or
    without its free text (Art. 16)."""
    try:
        rule = PURPOSES[Purpose(purpose)]
    except ValueError:
        raise InvalidInput("The purpose is one of: {purposes}.", article=ARTICLE,
                           field="purpose", params={"purposes": ", ".join(PURPOSES)}) from None
    detail = " ".join((detail or "").split())
    if not detail or len(detail) > MAX_DETAIL:
        raise InvalidInput("Say in a few words what the inquiry is for (detail, at most {MAX_DETAIL} characters).",
                           article=ARTICLE, field="detail", params={"MAX_DETAIL": MAX_DETAIL})
    return rule, f"{purpose}: {detail}"


def _serves(session: Session, actor: Actor, person_id: int, purpose: str, rule: PurposeRule,
            case: str | None) -> str | None:
    """The case's audit subject, for a purpose of the actor's role; 422 otherwise (Art. 16)."""
    if actor.role not in rule.roles:
        own = ", ".join(p for p, r in PURPOSES.items() if actor.role in r.roles) or "none"
        raise InvalidInput("'{purpose}' is not a purpose of the role '{role}'; its purposes: {purposes}.",
                           article=ARTICLE, field="purpose", params={"purpose": purpose, "role": actor.role,
                                                                    "purposes": own})
    return _case(session, actor, person_id, rule.case, case) if rule.case else None


def _value(person: Person, field: Revealable) -> str | None:
    value = getattr(person, str(field))
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def reveal(session: Session, actor: Actor, person_id: int, fields: Iterable[str], purpose: str,
           detail: str = "", case: str | None = None) -> dict:
    """Full values of ``fields`` of a cardholder, for a role allowed to see them within its remit, with a
    purpose from :data:`PURPOSES`, a free-text detail and, for a purpose that has one, its case (Art. 16).
    The reveal is audited with the purpose and the case in the caller's transaction; a refusal is
    audited as ``reveal.refused`` and raises :class:`RevealRefused` (403)."""
    rule, recorded = _purpose(purpose, detail)
    try:
        wanted = sorted({Revealable(f) for f in fields})
    except ValueError:
        raise InvalidInput("Fields to reveal: {fields}.", field="fields",
                           params={"fields": ", ".join(sorted(ALL_FIELDS))}) from None
    if not wanted:
        raise InvalidInput("Name at least one field to reveal.", field="fields")
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("No cardholder {person_id}.", params={"person_id": person_id})
    names = [str(f) for f in wanted]
    grant = REVEAL.get(actor.role)
    if grant is None:
        raise _refuse(session, actor, person_id, names, recorded, "role",
                      f"The role '{actor.role}' sees personal information masked only.")
    subject = _serves(session, actor, person_id, purpose, rule, case)
    denied = [str(f) for f in wanted if f not in grant.fields]
    if denied:
        raise _refuse(session, actor, person_id, names, recorded, "fields",
                      f"The role '{actor.role}' may not see in full: {', '.join(denied)}.")
    why_not = _why_not(session, actor, person_id)
    if why_not:
        raise _refuse(session, actor, person_id, names, recorded, "scope", why_not)
    entry = audit.record(session, actor, "reveal.person", person_id=person_id, purpose=recorded, fields=names,
                         subject=subject)
    return {"person_id": person_id, "purpose": recorded, "audit_seq": entry.seq,
            "values": {name: _value(person, f) for name, f in zip(names, wanted)}}


# ---------------------------------------------------------------- application agencies (Art. 28, 33)

USABLE = (CardStatus.ACTIVE, CardStatus.REPLACEMENT_PENDING)


def agency_field(session: Session, actor: Actor) -> Field:
    """The application field that is the remit of the actor's application agency (Art. 15, 16, 33)."""
    agency = session.get(Agency, actor.agency_id) if actor.agency_id is not None else None
    if agency is None or agency.field is None:
        raise OutOfScope("Your account is not attached to an application agency with a field.", article=ARTICLE)
    return agency.field


def agency_holder(session: Session, actor: Actor, doc_type: str, doc_number: str,
                  nationality: str | None = None) -> dict:
    """What an application agency sees of a holder it looks up by ID document (Art. 28): masked name and
    social security number, the card's status, whether settlement is suspended (Art. 21) and the status
    of the agency's OWN field only; never another field (Art. 16). The lookup is audited, and opens the
    agency's remit on this holder for :data:`AGENCY_LOOKUP_WINDOW`."""
    if actor.role is not Role.APP_AGENCY:
        raise OutOfScope("Only an application agency uses this lookup.", article=ARTICLE)
    field = agency_field(session, actor)
    person = people.find_by_document(session, doc_type, doc_number, nationality)
    if person is None:
        raise NotFound("No cardholder with that document.")
    card = lifecycle.current_card(session, person.id)
    locked = field in lifecycle.locked_fields(session, person.id)
    usable = card is not None and card.status in USABLE
    log_read(session, actor, [person.id], "agency_holder", subject=f"field:{field}")
    return {
        "person_id": person.id,
        "name": mask_name(person.name),
        "ssn": mask_id_number(person.ssn),
        "card_status": str(card.status) if card else None,
        "card_kind": str(card.kind) if card else None,
        "settlement_suspended": lifecycle.settlement_suspended(session, person.id),
        "field": {"field": str(field), "locked": locked, "usable": usable and not locked},
    }


# ---------------------------------------------------------------- the 12345 hotline (Art. 21)


def hotline_caller(session: Session, actor: Actor, doc_type: str, doc_number: str, *, name: str, phone: str,
                   nationality: str | None = None) -> dict:
    """The caller's current card, for a loss registration by the 12345 hotline (Art. 21): found by the ID
    document the caller reads out AND the answers to identity questions (the full name and the registered
    mobile number), compared through their blind indexes. What the operator gets is what the loss
    registration needs (the card id and its version, i.e. the ETag), the card's status and the masked name;
    the verification opens the operator's remit on this holder for :data:`CALLER_WINDOW` (Art. 16).
    Wrong answers and unknown documents get the same 404; a wrong answer for a real holder is on record
    (``read.hotline_caller.refused``), so the holder's access log shows the attempt."""
    if actor.role is not Role.HOTLINE_OPERATOR:
        raise OutOfScope("Only the 12345 hotline uses this lookup.", article=ARTICLE)
    person = people.find_by_document(session, doc_type, doc_number, nationality)
    if person is not None and not (people.same_name(person, name) and people.same_phone(person, phone)):
        audit.record(session, actor, "read.hotline_caller.refused", person_id=person.id,
                     subject="refused: identity answers", fields=["name", "phone"])
        raise NotFound("No cardholder matches this document and these answers.", commit=True)
    card = lifecycle.current_card(session, person.id) if person is not None else None
    if card is None:
        raise NotFound("No cardholder matches this document and these answers.")
    log_read(session, actor, [person.id], "hotline_caller", subject=f"card:{card.id}")
    return {"person_id": person.id, "name": mask_name(person.name), "card": card,
            "settlement_suspended": lifecycle.settlement_suspended(session, person.id),
            "loss_registration": (Op.REGISTER_LOSS, card.status) in TRANSITION_INDEX}


# ---------------------------------------------------------------- registration (Art. 9, 16)


def register(session: Session, actor: Actor, applicant: people.Applicant) -> tuple[Person, bool]:
    """Register an applicant (:func:`people.register`); (person, created). A document that is already
    registered hands the record back only within the caller's remit, and as an audited read (Art. 16):
    a teller of another bank learns nothing more than that it may not see this person."""
    existing = people.find_by_document(session, applicant.doc_type, applicant.doc_number, applicant.nationality)
    person = people.register(session, actor, applicant)
    if existing is None:
        return person, True
    disclose(session, actor, existing.id, "person", subject="register:existing")
    return existing, False
