"""Cardholders: registration with government data sharing (Art. 4, 9), lookups by blind index
(Art. 16), and changes of personal information (Art. 6, 24(2))."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Person, SharedRecord, next_value
from app.models.enums import Channel, EligibilityBasis, ReplacementReason, Role
from app.privacy import mask_address, mask_id_number, mask_name, mask_phone
from app.privacy.runtime import blind_index
from app.services import audit, clock, lifecycle
from app.services.actor import Actor
from app.services.documents import (
    DocumentError,
    assign_social_security_number,
    normalise_mobile,
    social_security_number,
    validate_document,
)
from app.services.errors import ChannelNotAllowed, Ineligible, InvalidInput, NotFound, OutOfScope
from app.services.lifecycle_rules import Op

# How each personal value appears in the audit trail: masked, never in full (Art. 16).
MASKS = {"name": mask_name, "doc_number": mask_id_number, "phone": mask_phone, "address": mask_address,
         "ethnicity": lambda v: "**" if v else v, "photo": lambda v: f"<{len(v)} bytes>" if v else v,
         "occupation": lambda v: v}


def masked(field_: str, value):
    return MASKS[field_](value)


# Data printed on the card face or its chip's basic data: a lawful change needs a new card (Art. 17, 24(2)).
FACE_FIELDS = ("name", "doc_number", "ethnicity", "photo")
CONTACT_FIELDS = ("phone", "address", "occupation")


@dataclass(frozen=True)
class SharedData:
    """What the government information sharing platform holds valid for a document (Art. 9 ¶2)."""

    name: str | None = None
    ethnicity: str | None = None
    address: str | None = None
    photo: bytes | None = None
    household_registration: bool = False
    insured: bool = False

    def known(self) -> set[str]:
        return {k for k in ("name", "ethnicity", "address", "photo") if getattr(self, k)}


class SharingPlatform(Protocol):
    def lookup(self, doc_type: str, doc_number: str) -> SharedData | None: ...


class LocalSharingPlatform:
    """The platform as a seeded local table; the production adapter calls the government API."""

    def __init__(self, session: Session):
        self.session = session

    def lookup(self, doc_type: str, doc_number: str) -> SharedData | None:
        rec = self.session.scalars(select(SharedRecord).where(
            SharedRecord.doc_type == doc_type,
            SharedRecord.doc_number_bidx == blind_index("id_number", doc_number),
        )).first()
        if rec is None:
            return None
        if rec.valid_until and rec.valid_until < clock.today():
            # Out of date on the platform: the applicant may be asked again (Art. 9 ¶2).
            return SharedData(household_registration=rec.household_registration, insured=rec.insured)
        return SharedData(name=rec.name, ethnicity=rec.ethnicity, address=rec.address, photo=rec.photo,
                          household_registration=rec.household_registration, insured=rec.insured)


REQUIRED_FROM_APPLICANT = ("name", "photo", "phone", "address", "occupation")  # Art. 9 ¶1 (an open list)


@dataclass
class Applicant:
    doc_type: str
    doc_number: str
    nationality: str | None = None
    name: str | None = None
    ethnicity: str | None = None
    phone: str | None = None
    address: str | None = None
    photo: bytes | None = None
    occupation: str | None = None
    eligibility: EligibilityBasis | None = None  # claimed basis; checked against the platform (Art. 4)
    extra: dict = field(default_factory=dict)


def still_needed(doc_type: str, doc_number: str, platform: SharingPlatform) -> list[str]:
    """Which Art. 9 items the applicant must still supply: what the platform holds valid is not asked again."""
    shared = platform.lookup(doc_type, doc_number) or SharedData()
    return [f for f in REQUIRED_FROM_APPLICANT if f not in shared.known()]


PREFILL_ROLES = (Role.RESIDENT, Role.BANK_TELLER, Role.AGENCY_CLERK)


def prefill(session: Session, actor: Actor, doc_type: str, doc_number: str, nationality: str | None = None,
            platform: SharingPlatform | None = None) -> list[str]:
    """What an applicant must still supply (Art. 9 ¶2). The answer tells whether the government platform
    knows a document, so (Art. 16, 19): a resident asks only about their OWN document, refused the same
    way whatever the platform holds; a counter's inquiry is on the audit trail (masked document)."""
    if actor.role not in PREFILL_ROLES:
        raise ChannelNotAllowed("Pre-filling is part of an application, at an outlet or online.", article="Art. 7")
    doc = check_document(doc_type, doc_number, nationality)
    if actor.role is Role.RESIDENT:
        me = session.get(Person, actor.person_id) if actor.person_id is not None else None
        if me is None or (me.doc_type, me.doc_number_bidx) != (doc.type, document_index(doc)):
            raise OutOfScope("A resident may pre-fill an application with their own ID document only.",
                             article="Art. 16, 19")
    needed = still_needed(doc.type, doc.number, platform or LocalSharingPlatform(session))
    if actor.role is not Role.RESIDENT:
        existing = find_by_document(session, doc.type, doc.number, doc.nationality)
        audit.record(session, actor, "read.prefill", person_id=existing.id if existing else None,
                     subject=f"prefill:{doc.type}:{mask_id_number(doc.number)}", fields=["platform_record"])
    return needed


def same_name(person: Person, answer: str) -> bool:
    """An identity answer: the holder's name, compared through the blind index (spacing and width ignored)."""
    try:
        return bool(answer) and blind_index("name", answer) == person.name_bidx
    except ValueError:
        return False


def same_phone(person: Person, answer: str) -> bool:
    """An identity answer: the registered mobile number, in any of its written forms."""
    try:
        return person.phone_bidx is not None and blind_index("phone", normalise_mobile(answer)) == person.phone_bidx
    except (DocumentError, ValueError):
        return False


def document_index(doc) -> str:
    """Blind index of a document. Passport numbers are unique only within the issuing country,
    so a passport is indexed with its nationality."""
    key = f"{doc.nationality}/{doc.number}" if doc.type == "passport" else doc.number
    return blind_index("id_number", key)


def find_by_document(
    session: Session, doc_type: str, doc_number: str, nationality: str | None = None,
) -> Person | None:
    doc = check_document(doc_type, doc_number, nationality)  # a passport needs its nationality to validate
    return session.scalars(select(Person).where(
        Person.doc_type == doc.type, Person.doc_number_bidx == document_index(doc)
    )).one_or_none()


def find_by_phone(session: Session, phone: str) -> list[Person]:
    """Holders with this registered mobile number, through its blind index (no decryption, Art. 16).
    A number may be shared (a family's): every holder with it."""
    number = check_phone(phone)
    return list(session.scalars(select(Person).where(Person.phone_bidx == blind_index("phone", number))
                                .order_by(Person.id)))


def find_by_ssn(session: Session, ssn: str) -> Person | None:
    return session.scalars(select(Person).where(Person.ssn_bidx == blind_index("id_number", ssn))).one_or_none()


# validate_document's parameters by the names of the data they check (Applicant, Person, the requests).
_DOCUMENT_FIELDS = {"type": "doc_type", "number": "doc_number", "nationality": "nationality"}


def check_document(doc_type: str, number: str, nationality: str | None):
    try:
        return validate_document(doc_type, number, nationality=nationality, today=clock.today())
    except DocumentError as e:
        raise InvalidInput(e.template, article="Art. 11", field=_DOCUMENT_FIELDS.get(e.field, e.field),
                           params=e.params) from None


def check_phone(value: str | None) -> str | None:
    """A mobile number in its one stored form, or InvalidInput."""
    if value is None:
        return None
    try:
        return normalise_mobile(value)
    except DocumentError as e:
        raise InvalidInput(e.template, field="phone", params=e.params) from None


def _eligibility(claimed: EligibilityBasis | None, shared: SharedData) -> EligibilityBasis:
    """Art. 4: Guangzhou household registration, or lawful enjoyment of its social security or other
    public services. Registration and insurance are checked with the platform; a public-services
    basis is accepted as declared and verified at acceptance by the issuing agency."""
    if shared.household_registration:
        return EligibilityBasis.HOUSEHOLD_REGISTRATION
    if shared.insured:
        return EligibilityBasis.SOCIAL_SECURITY
    if claimed is EligibilityBasis.PUBLIC_SERVICES:
        return claimed
    raise Ineligible("The government platform shows neither Guangzhou household registration nor social "
                     "insurance here; a holder of other Guangzhou public services must declare that basis.",
                     article="Art. 4")


def register(session: Session, actor: Actor, a: Applicant, platform: SharingPlatform | None = None) -> Person:
    """Register a cardholder, or return the existing one. Only data the platform does not hold
    valid is required from the applicant (Art. 9 ¶2); what the applicant supplies overrides data
    the platform marks out of date. Whether an existing holder may be handed back is the caller's
    remit: the API registers through ``disclosure.register``, which checks it (Art. 16)."""
    if actor.role not in (Role.RESIDENT, Role.BANK_TELLER, Role.AGENCY_CLERK):
        raise ChannelNotAllowed("Only the applicant, a bank outlet or the issuing agency registers an applicant.",
                                article="Art. 7")
    doc = check_document(a.doc_type, a.doc_number, a.nationality)
    existing = find_by_document(session, doc.type, doc.number, doc.nationality)
    if existing is not None:
        if actor.role is Role.RESIDENT and actor.person_id not in (None, existing.id):
            raise OutOfScope("A resident may apply only for themselves.", article="Art. 19")
        return existing
    platform = platform or LocalSharingPlatform(session)
    shared = platform.lookup(doc.type, doc.number) or SharedData()
    values = {k: getattr(a, k) or getattr(shared, k, None) for k in ("name", "ethnicity", "address", "photo")}
    values.update(phone=check_phone(a.phone), occupation=a.occupation)
    missing = [f for f in REQUIRED_FROM_APPLICANT if not values.get(f)]
    if missing:
        raise InvalidInput("Missing: {fields} (not held valid by the government platform).",
                           article="Art. 9", field=missing[0], missing=missing, params={"fields": ", ".join(missing)})
    ssn = social_security_number(doc) or assign_social_security_number(next_value(session, "ssn"))
    person = Person(
        doc_type=doc.type, doc_number=doc.number, doc_number_bidx=document_index(doc),
        ssn=ssn, ssn_bidx=blind_index("id_number", ssn), name=values["name"],
        name_bidx=blind_index("name", values["name"]), ethnicity=values["ethnicity"],
        nationality=doc.nationality or "CHN", sex=doc.sex, phone=values["phone"],
        phone_bidx=blind_index("phone", values["phone"]), address=values["address"], photo=values["photo"],
        occupation=values["occupation"], eligibility=_eligibility(a.eligibility, shared),
        created_at=clock.now(), updated_at=clock.now(),
    )
    session.add(person)
    session.flush()
    audit.record(session, actor, "person.register", person_id=person.id,
                 fields=sorted(k for k in values if values.get(k)),
                 changes={"prefilled_from_platform": sorted(k for k in shared.known() if not getattr(a, k))})
    return person


@dataclass(frozen=True)
class ReplacementOffer:
    """Art. 24(2) 可以申请换领: the holder MAY apply for a replacement of ``card_id`` for ``reason``, at
    the fee of Art. 27 (``fee_fen``); the holder decides (``POST /api/cards/{card_id}/replacement``)."""

    card_id: int
    reason: ReplacementReason
    article: str
    fee_fen: int


def change_info(
    session: Session, actor: Actor, person_id: int, changes: dict, *, id_verified: bool = False,
    phone_confirmed: bool = False,
) -> tuple[Person, ReplacementOffer | None]:
    """Change personal information (Art. 6). Contact data (phone, address, occupation) changes in
    place. A lawful change of data on the card face (name, ID number, ethnicity, photo) keeps the
    person and their history; it is taken at an outlet with the holder's documents checked, and the
    holder is offered a replacement of the card in hand where the state table allows one (Art.
    24(2) 可以申请: offered, never started or charged on the holder's behalf). Returns (person, the
    offer or None)."""
    lifecycle.check_channel(Op.CHANGE_INFO, actor)
    person = lifecycle.lock_person(session, person_id)
    held = lifecycle.held_card(session, person.id)
    scope_card = held or lifecycle.current_card(session, person.id)  # a card still being made counts too
    lifecycle.check_scope(actor, person.id, scope_card.bank_id if scope_card else None)
    unknown = set(changes) - set(FACE_FIELDS) - set(CONTACT_FIELDS)
    if unknown or not changes:
        raise InvalidInput("Cannot change: {fields}.", field="changes",
                           params={"fields": ", ".join(sorted(unknown)) or "nothing given"})
    face = {k: v for k, v in changes.items() if k in FACE_FIELDS}
    if "phone" in changes and actor.role is Role.RESIDENT and not phone_confirmed:
        # Art. 19: only the holder uses the card, and sign-in codes go to this number: online, a new
        # number counts only once a code sent to it came back (app.services.otp.confirm_phone_change).
        raise ChannelNotAllowed("A new mobile number is confirmed with a one-time code sent to it "
                                "(POST /api/me/phone).", article="Art. 19")
    if face and actor.channel is not Channel.OUTLET:
        raise ChannelNotAllowed("A change of basic personal data (on the card face) is taken at an outlet.",
                                article="Art. 24(2)")
    if face and not id_verified:
        raise InvalidInput("A change of basic personal data needs the holder's documents checked in person.",
                           article="Art. 24(2)")
    old = {k: masked(k, getattr(person, k)) for k in changes}
    if "doc_number" in face:
        doc = check_document(person.doc_type, face["doc_number"], person.nationality)
        if find_by_document(session, doc.type, doc.number, doc.nationality):
            raise InvalidInput("Another cardholder already has that ID number.", field="doc_number")
        person.doc_number, person.doc_number_bidx = doc.number, document_index(doc)
        new_ssn = social_security_number(doc)
        if new_ssn:
            person.ssn, person.ssn_bidx = new_ssn, blind_index("id_number", new_ssn)
    if "name" in face:
        person.name, person.name_bidx = face["name"], blind_index("name", face["name"])
    for k in ("ethnicity", "photo", "address", "occupation"):
        if k in changes:
            setattr(person, k, changes[k])
    if "phone" in changes:
        # On every channel the old number is told, so a change nobody asked for does not go unnoticed.
        old_phone = person.phone
        person.phone = check_phone(changes["phone"])
        person.phone_bidx = blind_index("phone", person.phone)
        if old_phone and old_phone != person.phone:
            from app.services import otp

            otp.tell_old_number(session, old_phone, person.phone)
    person.updated_at = clock.now()
    offer = None
    if face and held is not None and (Op.REPLACE, held.status) in lifecycle.TRANSITION_INDEX:
        reason = ReplacementReason.BASIC_DATA_CHANGED
        fee, _ = lifecycle.replacement_fee(held, reason)
        offer = ReplacementOffer(card_id=held.id, reason=reason, article="Art. 24(2)", fee_fen=fee)
    lifecycle.record_event(session, actor, Op.CHANGE_INFO, person_id=person.id, card=held, article="Art. 6, 24(2)",
                     source=held.status if held else None,  # the card's state does not change here
                     changed={k: [old[k], masked(k, getattr(person, k))] for k in sorted(old)},
                     replacement_offered=str(offer.reason) if offer else None)
    session.flush()
    return person, offer


def apply_government_notice(
    session: Session, actor: Actor, doc_type: str, doc_number: str, *, kind: str, effective: date,
    nationality: str | None = None,
) -> list:
    """A notice from the government side (Art. 15, 26): public security cancelled the household
    registration because of death (``kind="death"``), or the holder may no longer enjoy Guangzhou's
    social security and other public services (``kind="ineligible"``). The issuing agency must
    then cancel the card: the person is marked, every live card is cancelled (card events and the
    audit trail tell the agencies and the bank), and no e-card token is issued again.
    Returns the cancelled cards (empty when none was live)."""
    from app.models.enums import CancellationReason

    reason = {"death": CancellationReason.DEATH, "ineligible": CancellationReason.INELIGIBLE}.get(kind)
    if reason is None:
        raise InvalidInput("Unknown notice kind {kind!r}: death or ineligible.", field="kind", params={"kind": kind})
    person = find_by_document(session, doc_type, doc_number, nationality)
    if person is None:
        raise NotFound("No cardholder with that document.")
    person = lifecycle.lock_person(session, person.id)
    live = [c for c in person.cards if (Op.CANCEL, c.status) in lifecycle.TRANSITION_INDEX]
    if live:  # marks the person as a clerk's cancellation does: lifecycle.end_entitlement
        cards = lifecycle.cancel(session, actor, person.id, reason=reason, effective=effective)
    else:
        cards = []
        lifecycle.end_entitlement(session, actor, person, reason, effective)
        lifecycle.close_accounts(session, person.id)  # e.g. only an ended card: accounts must not stay suspended
    audit.record(session, actor, f"person.notice.{kind}", person_id=person.id,
                 changes={"effective": effective.isoformat(), "cancelled": [c.number for c in cards]})
    return cards
