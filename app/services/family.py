"""Family e-cards (亲情服务): a holder (the guardian) shows the e-card of a family member who cannot sign
in themself — an elderly person without a smartphone, a child (Art. 19, 20, 35).

Rules, each enforced here and nowhere else (the API and the pages call these functions):

* A guardian links at most ``LIMITS[relation]`` members per kind of relationship (pending and active
  links count). The table is the one place to change it.
* The member is named by their own document (type and number) and name, which must match the
  register; one answer whether the document is unknown or the name differs (no enumeration).
* An adult member agrees themself (Art. 19: only the cardholder uses the card, or whom they allow):
  a one-time code goes to the MEMBER's registered mobile (``app.services.otp``: only an HMAC kept,
  expiry, at most ``max_attempts`` wrong codes), or the member shows their document to a bank teller
  at an outlet. So does a child: knowing a child's ID number and name proves nothing (Art. 16), so the
  code goes to the child's registered mobile (normally the parent's own, given when the parent applied
  for the child's card), or a teller checks the child's document and the guardianship at an outlet. A
  link confirmed for a child under ``ADULT_AGE`` (birth date of the ID number) is marked ``minor``; it
  stops giving tokens once the child comes of age, when the then adult member agrees themself.
* A pending link gives nothing. Only an active link, of THIS guardian, gives tokens, and they are the
  member's own: the member's card, status, settlement suspension and field locks, refused exactly as
  the member's own would be (``Issuer.claims``: cancelled card, Art. 26). Every token batch shown is an
  audit entry about the member naming the guardian (Art. 19, 20), which the member reads
  (``views_of``, ``/api/me/family/guardians/views`` and the access log).
* The guardian, the member, or staff (``STAFF_REMOVERS``) remove a link; issuance reads the link's
  status in the same transaction, so removal stops it at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.i18n import N_
from app.models import AuditEntry, Person
from app.models.enums import Role
from app.models.family import Consent, FamilyLink, LinkStatus, Relation
from app.privacy import mask_name, mask_phone
from app.services import audit, clock, otp, people
from app.services.actor import Actor
from app.services.documents import DocumentError, validate_document
from app.services.errors import ChannelNotAllowed, DomainError, IllegalTransition, InvalidInput, NotFound

# ---------------------------------------------------------------- the policy table (one place)

LIMITS: dict[Relation, int] = {Relation.ELDERLY: 4, Relation.CHILD: 3, Relation.SPOUSE: 1, Relation.OTHER: 2}
ADULT_AGE = 18  # Civil Code Art. 17: a person of 18 or more is an adult
STAFF_CONFIRMERS = (Role.BANK_TELLER,)  # the member in person at an outlet, document checked
STAFF_REMOVERS = (Role.BANK_TELLER, Role.AGENCY_CLERK)  # remove a link at the member's request
STAFF_READERS = STAFF_CONFIRMERS + STAFF_REMOVERS  # look a person's links up (audited, Art. 16)
LIVE = (LinkStatus.PENDING, LinkStatus.ACTIVE)

VIEW_ACTION = "family.ecard_view"  # one audit entry per token batch shown for a member


class FamilyLimit(DomainError):
    status, type, title = 409, "family-limit", "Too many family members of this kind"


_NO_MATCH = N_("No cardholder has this document with this name.")
_NO_LINK = N_("You have no such family member.")


# ---------------------------------------------------------------- helpers


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def birth_date(person: Person) -> date | None:
    """From the ID document (citizen ID, permanent-residence ID, …); None where it carries none (passport)."""
    try:
        return validate_document(person.doc_type, person.doc_number, nationality=person.nationality,
                                 today=clock.today()).birth_date
    except DocumentError:
        return None


def is_minor(person: Person) -> bool:
    born = birth_date(person)
    return born is not None and age_on(born, clock.today()) < ADULT_AGE


def _consent(session: Session, link: FamilyLink, how: Consent) -> Consent:
    """How the link was agreed: ``minor`` when given for a child under age (on the child's behalf, through
    the child's registered mobile or at an outlet), which ends when the child comes of age."""
    if link.relation is Relation.CHILD and is_minor(session.get(Person, link.member_id)):
        return Consent.MINOR
    return how


def _person(session: Session, person_id: int | None) -> Person:
    person = session.get(Person, person_id) if person_id is not None else None
    if person is None or person.deceased_on is not None:
        raise NotFound("No such cardholder.")
    return person


def _resident(actor: Actor) -> int:
    if actor.role is not Role.RESIDENT or actor.person_id is None:
        raise ChannelNotAllowed("Family e-cards are managed by the cardholder themself.", article="Art. 19")
    return actor.person_id


def _audit(session: Session, actor: Actor, action: str, link: FamilyLink, purpose: str, **changes) -> None:
    audit.record(session, actor, action, person_id=link.member_id, subject=f"family:{link.id}", purpose=purpose,
                 changes={"guardian_id": link.guardian_id, "relation": str(link.relation), **changes})


def consent_message(code: str, minutes: int, guardian: Person) -> str:
    who = mask_name(guardian.name)
    return (f"【广州社保卡】{who}申请代您出示电子社保卡（亲情服务），验证码{code}，{minutes}分钟内有效。"
            f"同意请将验证码告诉{who}，否则请忽略。 Guangzhou SSC: {who} asks to show your e-card for you "
            f"(family service). Code {code}, valid {minutes} min. Give it only if you agree.")


def _send_code(session: Session, link: FamilyLink, member: Person, guardian: Person,
               settings: otp.OtpSettings) -> bool:
    """A consent code to the member's registered mobile; False when the member has none (outlet only)."""
    if not member.phone:
        return False
    code, salt, digest = otp.new_code(settings)
    link.code_salt, link.code_hash, link.code_attempts = salt, digest, 0
    link.code_expires_at = clock.now() + settings.ttl
    (settings.gateway or otp.OutboxGateway()).send(session, member.phone,
                                                   consent_message(code, settings.ttl.seconds // 60, guardian))
    return True


# ---------------------------------------------------------------- the guardian


@dataclass(frozen=True)
class Added:
    link: FamilyLink
    code_sent: bool  # a consent code went to the member's mobile
    masked_phone: str | None  # where it went


def add_member(session: Session, actor: Actor, *, relation: Relation | str, doc_type: str, doc_number: str,
               name: str, settings: otp.OtpSettings, nationality: str | None = None) -> Added:
    """The guardian names a member by their document and name. The link waits for the consent given through
    the member's registered mobile (a code), or at an outlet, a child's too."""
    guardian = _person(session, _resident(actor))
    relation = Relation(relation)
    people.check_document(doc_type, doc_number, nationality)  # 422 for a malformed number
    member = people.find_by_document(session, doc_type, doc_number, nationality)
    if member is None or member.deceased_on is not None or not people.same_name(member, name):
        raise NotFound(_NO_MATCH)
    if member.id == guardian.id:
        raise InvalidInput("You cannot add yourself: your own e-card is on your e-card page.", field="doc_number")
    # Serialize this guardian's additions (the limit is a count): lock the guardian's row.
    session.execute(select(Person.id).where(Person.id == guardian.id).with_for_update())
    if session.scalar(select(FamilyLink.id).where(FamilyLink.guardian_id == guardian.id,
                                                  FamilyLink.member_id == member.id, FamilyLink.status.in_(LIVE))):
        raise IllegalTransition("This person is already among your family members (or waiting for consent).")
    used = session.scalar(select(func.count()).select_from(FamilyLink).where(
        FamilyLink.guardian_id == guardian.id, FamilyLink.relation == relation, FamilyLink.status.in_(LIVE)))
    if used >= LIMITS[relation]:
        raise FamilyLimit("At most {limit} family members of the kind '{relation}'. Remove one first.",
                          params={"limit": LIMITS[relation], "relation": str(relation)})
    now = clock.now()
    link = FamilyLink(guardian_id=guardian.id, member_id=member.id, relation=relation, status=LinkStatus.PENDING,
                      created_at=now, code_attempts=0)
    session.add(link)
    session.flush()
    sent = link.status is LinkStatus.PENDING and _send_code(session, link, member, guardian, settings)
    _audit(session, actor, "family.link_add", link, "family e-card link (Art. 19, 20)",
           status=str(link.status), consent=str(link.consent) if link.consent else None, code_sent=sent)
    return Added(link, sent, mask_phone(member.phone) if sent else None)


def _own_link(session: Session, guardian_id: int, link_id: int, *statuses: LinkStatus,
              lock: bool = False) -> FamilyLink:
    q = select(FamilyLink).where(FamilyLink.id == link_id, FamilyLink.guardian_id == guardian_id,
                                 FamilyLink.status.in_(statuses))
    link = session.scalars(q.with_for_update() if lock else q).first()
    if link is None:
        raise NotFound(_NO_LINK)
    return link


def resend_code(session: Session, actor: Actor, link_id: int, settings: otp.OtpSettings) -> Added:
    guardian = _person(session, _resident(actor))
    link = _own_link(session, guardian.id, link_id, LinkStatus.PENDING, lock=True)
    member = session.get(Person, link.member_id)
    if not _send_code(session, link, member, guardian, settings):
        raise IllegalTransition("The member has no registered mobile number: the member confirms in person at "
                                "a bank outlet with their ID document.", article="Art. 19")
    _audit(session, actor, "family.consent_code", link, "family e-card consent (Art. 19)")
    return Added(link, True, mask_phone(member.phone))


_REFUSED = otp._REFUSED


def confirm_code(session: Session, actor: Actor, link_id: int, code: str, settings: otp.OtpSettings) -> FamilyLink:
    """The member's code came back (told to the guardian by the member): the link is active."""
    guardian_id = _resident(actor)
    link = _own_link(session, guardian_id, link_id, LinkStatus.PENDING, lock=True)
    now = clock.now()
    if link.code_hash is None or link.code_expires_at is None or link.code_expires_at <= now:
        raise otp.CodeRefused(_REFUSED, article="Art. 19")
    if not otp.code_matches(settings, link.code_salt, link.code_hash, code):
        attempts = session.execute(
            update(FamilyLink).where(FamilyLink.id == link.id, FamilyLink.code_hash.is_not(None))
            .values(code_attempts=FamilyLink.code_attempts + 1).returning(FamilyLink.code_attempts)
        ).scalar_one_or_none() or settings.max_attempts
        left = max(settings.max_attempts - attempts, 0)
        if left == 0:  # closed: a new code must be requested
            session.execute(update(FamilyLink).where(FamilyLink.id == link.id)
                            .values(code_hash=None, code_salt=None, code_expires_at=None))
        _audit(session, actor, "family.consent_refused", link, "family e-card consent (Art. 19)", tries_left=left)
        raise otp.CodeRefused(_REFUSED if left else "Too many wrong codes: request a new code.",
                              article="Art. 19", tries_left=left, commit=True)
    done = session.execute(
        update(FamilyLink).where(FamilyLink.id == link.id, FamilyLink.status == LinkStatus.PENDING,
                                 FamilyLink.code_hash == link.code_hash)
        .values(status=LinkStatus.ACTIVE, consent=_consent(session, link, Consent.CODE), confirmed_at=now,
                code_hash=None, code_salt=None, code_expires_at=None)
    ).rowcount
    if done != 1:  # used concurrently
        raise otp.CodeRefused(_REFUSED, article="Art. 19")
    session.refresh(link)
    _audit(session, actor, "family.consent", link, "family e-card consent (Art. 19)", consent="code")
    return link


def members_of(session: Session, guardian_id: int) -> list[FamilyLink]:
    """The guardian's pending and active links."""
    return list(session.scalars(select(FamilyLink).where(FamilyLink.guardian_id == guardian_id,
                                                         FamilyLink.status.in_(LIVE)).order_by(FamilyLink.id)))


def member_link(session: Session, actor: Actor, link_id: int) -> FamilyLink:
    """One of the guardian's own pending or active links (anything else: 404)."""
    return _own_link(session, _resident(actor), link_id, *LIVE)


def member_tokens(session: Session, actor: Actor, link_id: int, issuer, *, count: int = 1,
                  now: float | None = None) -> list:
    """The MEMBER's e-card tokens for the guardian (``issuer``: ``app.services.ecard.Issuer``). Only an
    active link of this guardian; refused as the member's own would be; each batch recorded (Art. 19, 20)."""
    link = _own_link(session, _resident(actor), link_id, LinkStatus.ACTIVE, lock=True)
    if link.consent is Consent.MINOR and not is_minor(session.get(Person, link.member_id)):
        raise IllegalTransition("The member has come of age: their own consent is needed now (a code to their "
                                "mobile or at a bank outlet). Remove the link and add them again.",
                                article="Art. 19")
    # The member's card and status; no sign-in session of the member is involved (sid=None): the
    # guardian's own session was checked with their access token.
    tokens = issuer.issue(session, link.member_id, count=count, sid=None, now=now)
    _audit(session, actor, VIEW_ACTION, link, "member's e-card shown by a family guardian (Art. 19, 20, 35)",
           tokens=len(tokens), valid_until=tokens[-1].expires_at)
    return tokens


# ---------------------------------------------------------------- the member


def guardians_of(session: Session, member_id: int) -> list[FamilyLink]:
    """Everyone who holds or held a link to the member, newest first (Art. 20)."""
    return list(session.scalars(select(FamilyLink).where(FamilyLink.member_id == member_id)
                                .order_by(FamilyLink.id.desc())))


@dataclass(frozen=True)
class View:
    ref: int  # the audit entry's number (to quote in a complaint, Art. 29)
    at: datetime
    link_id: int
    guardian: str  # masked name
    tokens: int
    valid_until: int | None


def views_of(session: Session, member_id: int, *, limit: int = 100) -> list[View]:
    """Every token batch shown for the member, with the guardian who asked (Art. 19, 20), newest first:
    read from the audit trail, the one record of it."""
    entries = session.scalars(select(AuditEntry).where(AuditEntry.person_id == member_id,
                                                       AuditEntry.action == VIEW_ACTION)
                              .order_by(AuditEntry.seq.desc()).limit(limit)).all()
    names: dict[int, str] = {}
    out = []
    for e in entries:
        ch = (e.record or {}).get("changes") or {}
        gid = ch.get("guardian_id")
        if gid not in names:
            g = session.get(Person, gid) if isinstance(gid, int) else None
            names[gid] = mask_name(g.name) if g else "?"
        link_id = int(str((e.record or {}).get("subject", "family:0")).partition(":")[2] or 0)
        out.append(View(ref=e.seq, at=e.at, link_id=link_id, guardian=names[gid], tokens=int(ch.get("tokens", 0)),
                        valid_until=ch.get("valid_until")))
    return out


# ---------------------------------------------------------------- removal (guardian, member, staff)


def remove(session: Session, actor: Actor, link_id: int) -> FamilyLink:
    """End a link. The guardian or the member (residents: only their own links), or staff of
    ``STAFF_REMOVERS`` (the member at a counter). Token issuance stops at once."""
    link = session.scalars(select(FamilyLink).where(FamilyLink.id == link_id, FamilyLink.status.in_(LIVE))
                           .with_for_update()).first()
    if actor.role is Role.RESIDENT:
        if link is None or actor.person_id not in (link.guardian_id, link.member_id):
            raise NotFound(_NO_LINK)
        by = "guardian" if actor.person_id == link.guardian_id else "member"
    elif actor.role in STAFF_REMOVERS:
        if link is None:
            raise NotFound("No family link {link_id}.", params={"link_id": link_id})
        by = "staff"
    else:
        raise ChannelNotAllowed("A family link is removed by the guardian, the member, or at a counter.",
                                article="Art. 19")
    done = session.execute(update(FamilyLink).where(FamilyLink.id == link.id, FamilyLink.status.in_(LIVE))
                           .values(status=LinkStatus.REMOVED, removed_at=clock.now(), removed_by=by,
                                   removed_by_staff=actor.user_id if by == "staff" else None,
                                   code_hash=None, code_salt=None, code_expires_at=None)).rowcount
    if done != 1:
        raise NotFound(_NO_LINK)
    session.refresh(link)
    _audit(session, actor, "family.link_remove", link, "family e-card link ended (Art. 19)", removed_by=by)
    return link


# ---------------------------------------------------------------- staff: look up, confirm at an outlet


def staff_links(session: Session, actor: Actor, doc_type: str, doc_number: str,
                nationality: str | None = None) -> list[FamilyLink]:
    """A person's links as member and as guardian, for a counter (audited read, Art. 16)."""
    if actor.role not in STAFF_READERS:
        raise ChannelNotAllowed("Family links are handled at a bank counter or by the issuing agency.",
                                article="Art. 16")
    person = people.find_by_document(session, doc_type, doc_number, nationality)
    if person is None:
        raise NotFound("No cardholder has this document.")
    links = list(session.scalars(select(FamilyLink).where(
        (FamilyLink.member_id == person.id) | (FamilyLink.guardian_id == person.id)).order_by(FamilyLink.id)))
    audit.record(session, actor, "family.read", person_id=person.id, subject=f"person:{person.id}",
                 purpose="family links at a counter (Art. 16, 19)", changes={"links": len(links)})
    return links


def confirm_at_outlet(session: Session, actor: Actor, link_id: int, *, doc_type: str, doc_number: str,
                      nationality: str | None = None, id_verified: bool) -> FamilyLink:
    """The member, in person at an outlet, shows their own document and agrees (Art. 19)."""
    if actor.role not in STAFF_CONFIRMERS or actor.outlet_id is None:
        raise ChannelNotAllowed("The member agrees in person at a bank outlet.", article="Art. 19")
    if not id_verified:
        raise InvalidInput("Check the member's own valid ID document first.", article="Art. 19", field="id_verified")
    link = session.scalars(select(FamilyLink).where(FamilyLink.id == link_id).with_for_update()).first()
    member = people.find_by_document(session, doc_type, doc_number, nationality)
    if link is None or link.status is not LinkStatus.PENDING:
        raise NotFound("No family link {link_id} waiting for consent.", params={"link_id": link_id})
    if member is None or member.id != link.member_id:
        raise InvalidInput("This document is not the member's: the member agrees with their own document.",
                           article="Art. 19", field="doc_number")
    link.status, link.consent, link.confirmed_at = LinkStatus.ACTIVE, _consent(session, link, Consent.OUTLET), clock.now()
    link.confirmed_by, link.code_hash, link.code_salt, link.code_expires_at = actor.user_id, None, None, None
    session.flush()
    _audit(session, actor, "family.consent", link, "family e-card consent at an outlet (Art. 19)", consent="outlet")
    return link
