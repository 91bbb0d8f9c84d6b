"""Who may see which personal information, and the record of every look (Art. 16).

Art. 16 asks the issuing agency, the banks and the application agencies to protect cardholders'
personal information and forbids disclosing it or inquiring into it unlawfully; each party sees it
only "在各自的职权范围内" (within its own remit). Here that becomes three rules:

* **Masked by default.** Every API answer carries masked values (``app.api.schemas``). A staff read of a
  cardholder's data, even masked, is written to the audit trail by :func:`log_read` in the same
  transaction as the read, with the fields it returned. A resident reading their own data is not
  logged (it is their own inquiry under Art. 20).
* **Full values only with a remit and a purpose.** :func:`reveal` hands out full values only for the
  fields :data:`REVEAL` grants the caller's role, only within that role's scope, and only with a stated
  purpose; the reveal is logged with the purpose, and a refused attempt is logged too
  (``reveal.refused``: an attempted unlawful inquiry is exactly what the auditor looks for).
* **No role sees everything.** The Bureau supervises and reads the audit trail but sees no full values;
  the auditor likewise; tellers see their own bank's cardholders; an application agency sees the
  status of its own field only (:func:`agency_holder`) and the full name and ID number only of a holder
  it has just looked up by the document presented at its counter (Art. 28).
"""
from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from app.models import Agency, AuditEntry, Person
from app.models.enums import STAFF_ROLES, CardStatus, Field, Role
from app.privacy import mask_id_number, mask_name
from app.services import audit, clock, lifecycle, people
from app.services.actor import Actor
from app.services.errors import DomainError, InvalidInput, NotFound, OutOfScope

ARTICLE = "Art. 16"

# ---------------------------------------------------------------- audited reads

# what → (audit action, the personal-data items the answer carries, all masked)
READS: dict[str, tuple[str, tuple[str, ...]]] = {
    "person": ("read.person", ("doc_number", "ssn", "name", "phone", "address", "photo_present", "sex",
                               "nationality", "occupation", "eligibility", "field_status")),
    "person_cards": ("read.person_cards", ("card_number", "card_status", "application", "delivery_address")),
    "accounts": ("read.accounts", ("account_status", "account_bank")),
    "card": ("read.card", ("card_number", "card_status", "application", "delivery_address")),
    "cards": ("read.cards", ("card_number", "card_status", "application", "delivery_address")),
    "card_events": ("read.card_events", ("card_events",)),
    "card_status": ("read.card_status", ("card_number", "card_status", "settlement_suspended", "field_status")),
    "deadlines": ("read.deadlines", ("card_number", "card_status", "application", "delivery_address")),
    "agency_holder": ("read.agency_holder", ("name", "ssn", "card_status", "settlement_suspended",
                                             "field_status")),
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
    listed = sorted(set(fields)) if fields is not None else list(default_fields)
    written = 0
    for person_id in dict.fromkeys(p for p in person_ids if p is not None):
        audit.record(session, actor, action, person_id=person_id, subject=subject, fields=listed)
        written += 1
    return written


def commit_read(session: Session | scoped_session) -> None:
    """Commit a read's audit entries without expiring what was read: the answer is then exactly the
    data that was logged, and serialising it does not reload (and decrypt) every row again."""
    real = session() if isinstance(session, scoped_session) else session
    keep, real.expire_on_commit = real.expire_on_commit, False
    try:
        real.commit()
    finally:
        real.expire_on_commit = keep


# ---------------------------------------------------------------- revealing full values


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
    OWN_BANK = "own_bank"  # cardholders whose current card is with the teller's bank (Art. 6)
    LOOKED_UP = "looked_up"  # holders the agency looked up by ID document for a service (Art. 28)
    SELF = "self"  # the cardholder themself (Art. 20)


@dataclass(frozen=True)
class Grant:
    fields: frozenset[Revealable]
    scope: Scope
    why: str


# Art. 16: which full values a role may see, and whose. A role absent from the table sees none.
REVEAL: dict[Role, Grant] = {
    Role.AGENCY_CLERK: Grant(ALL_FIELDS, Scope.ANY,
                             "accepts applications, produces and delivers the card (Art. 5, 10, 12, 17)"),
    Role.BANK_TELLER: Grant(frozenset({Revealable.NAME, Revealable.DOC_NUMBER, Revealable.PHONE,
                                       Revealable.ADDRESS}), Scope.OWN_BANK,
                            "serves its own bank's cardholders at the counter (Art. 6)"),
    Role.APP_AGENCY: Grant(frozenset({Revealable.NAME, Revealable.DOC_NUMBER}), Scope.LOOKED_UP,
                           "keeps serving a holder it has just looked up by ID document (Art. 28, 33)"),
    Role.RESIDENT: Grant(ALL_FIELDS, Scope.SELF, "queries their own information (Art. 20)"),
    # Role.BUREAU, Role.AUDITOR, Role.HOTLINE_OPERATOR: none. The Bureau supervises and the auditor
    # reads the trail; neither needs a full value, so "no role sees everything" (Art. 16).
}

# An application agency may reveal a holder's name and ID number for this long after looking them up.
AGENCY_LOOKUP_WINDOW = timedelta(hours=1)
MIN_PURPOSE = 5


class RevealRefused(DomainError):
    status, type, title = 403, "reveal-refused", "Not within your remit"


def reveal_table() -> list[dict]:
    """The table as data (documentation and tests)."""
    return [{"role": str(role), "fields": sorted(g.fields), "scope": str(g.scope), "why": g.why}
            for role, g in REVEAL.items()]


def _refuse(session: Session, actor: Actor, person_id: int, fields: list[str], purpose: str,
            reason: str, detail: str) -> RevealRefused:
    """Log the refused attempt and build the error; the API commits the entry (``commit=True``)."""
    audit.record(session, actor, "reveal.refused", person_id=person_id, purpose=purpose, fields=fields,
                 subject=f"refused: {reason}")
    return RevealRefused(detail, article=ARTICLE, fields=fields, commit=True)


def _looked_up_recently(session: Session, actor: Actor, person_id: int) -> bool:
    since = clock.now() - AGENCY_LOOKUP_WINDOW
    return session.scalar(
        select(AuditEntry.seq).where(
            AuditEntry.action == READS["agency_holder"][0], AuditEntry.actor_id == actor.user_id,
            AuditEntry.person_id == person_id, AuditEntry.at >= since,
        ).limit(1)
    ) is not None


def _in_scope(session: Session, actor: Actor, scope: Scope, person_id: int) -> str | None:
    """None when ``person_id`` is within ``actor``'s remit for ``scope``, else why not."""
    if scope is Scope.ANY:
        return None
    if scope is Scope.SELF:
        return None if actor.person_id == person_id else "A resident may see only their own information."
    if scope is Scope.OWN_BANK:
        card = lifecycle.current_card(session, person_id)
        if card is None or actor.bank_id is None or card.bank_id != actor.bank_id:
            return "This person is not a cardholder of your bank."
        return None
    if scope is Scope.LOOKED_UP:
        if actor.user_id is None or not _looked_up_recently(session, actor, person_id):
            return ("An application agency sees a holder's name and ID number only right after looking "
                    "the holder up by the ID document presented for a service (GET /api/agency/holders).")
        return None
    raise AssertionError(scope)  # pragma: no cover


def _value(person: Person, field: Revealable) -> str | None:
    value = getattr(person, str(field))
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def reveal(session: Session, actor: Actor, person_id: int, fields: Iterable[str], purpose: str) -> dict:
    """Full values of ``fields`` of a cardholder, for a role allowed to see them within its remit and a
    stated purpose (Art. 16). The reveal is audited with the purpose in the caller's transaction; a
    refusal is audited as ``reveal.refused`` and raises :class:`RevealRefused` (403)."""
    purpose = (purpose or "").strip()
    if len(purpose) < MIN_PURPOSE:
        raise InvalidInput(f"State the purpose of this inquiry (at least {MIN_PURPOSE} characters).",
                           article=ARTICLE, field="purpose")
    try:
        wanted = sorted({Revealable(f) for f in fields})
    except ValueError:
        raise InvalidInput(f"Fields to reveal: {', '.join(sorted(ALL_FIELDS))}.", field="fields") from None
    if not wanted:
        raise InvalidInput("Name at least one field to reveal.", field="fields")
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"No cardholder {person_id}.")
    names = [str(f) for f in wanted]
    grant = REVEAL.get(actor.role)
    if grant is None:
        raise _refuse(session, actor, person_id, names, purpose, "role",
                      f"The role '{actor.role}' sees personal information masked only.")
    denied = [str(f) for f in wanted if f not in grant.fields]
    if denied:
        raise _refuse(session, actor, person_id, names, purpose, "fields",
                      f"The role '{actor.role}' may not see in full: {', '.join(denied)}.")
    why_not = _in_scope(session, actor, grant.scope, person_id)
    if why_not:
        raise _refuse(session, actor, person_id, names, purpose, "scope", why_not)
    entry = audit.record(session, actor, "reveal.person", person_id=person_id, purpose=purpose, fields=names)
    return {"person_id": person_id, "purpose": purpose, "audit_seq": entry.seq,
            "values": {name: _value(person, f) for name, f in zip(names, wanted)}}


# ---------------------------------------------------------------- application agencies (Art. 28, 33)

USABLE = (CardStatus.ACTIVE, CardStatus.REPLACEMENT_PENDING)


def agency_field(session: Session, actor: Actor) -> Field:
    """The application field that is the remit of the actor's application agency (Art. 15, 16, 33)."""
    agency = session.get(Agency, actor.agency_id) if actor.agency_id is not None else None
    if agency is None or agency.field is None:
        raise OutOfScope("Your account is not attached to an application agency with a field.", article=ARTICLE)
    return agency.field


def agency_holder(session: Session, actor: Actor, doc_type: str, doc_number: str) -> dict:
    """What an application agency sees of a holder it looks up by ID document (Art. 28): masked name and
    social security number, the card's status, whether settlement is suspended (Art. 21) and the status
    of the agency's OWN field only; never another field (Art. 16). The lookup is audited."""
    if actor.role is not Role.APP_AGENCY:
        raise OutOfScope("Only an application agency uses this lookup.", article=ARTICLE)
    field = agency_field(session, actor)
    person = people.find_by_document(session, doc_type, doc_number)
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


def only_own_field(session: Session, actor: Actor, fields: dict[str, bool]) -> dict[str, bool]:
    """An application agency's view of a status inquiry (Art. 6, 20): its own field only (Art. 16)."""
    if actor.role is not Role.APP_AGENCY:
        return fields
    own = str(agency_field(session, actor))
    return {own: fields[own]} if own in fields else {}
