"""Legacy identity certificates brought into the card system (Art. 34, 36).

Art. 34: from the Measures' entry into force on **1 February 2022** (Art. 36) the city's departments and district
governments issue no other identity certificate for natural persons to enjoy social security or other public
services; those already issued stop being issued anew and are gradually folded into the card system; a special
provision of a law, regulation or rule prevails.

So a link from an old certificate to the cardholder is recorded by the issuing agency (Art. 5 ¶2: it runs the
system and the card's related services) when:

* the certificate was issued **before 2022-02-01**: it is an existing one, folded in; or
* it was issued on or after that day **and** the clerk states the law, regulation or rule that provided for it
  (``legal_basis``); without one the registration is refused with Art. 34, 36: such a certificate should not
  exist.

A certificate belongs to one holder: its number (personal data, Art. 16) is stored encrypted and found by a
blind index of kind and number, never in clear; a second link of the same certificate is refused. Every link
and every read is in the audit trail.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import LegacyCertificate, Person
from app.models.enums import Role
from app.models.legacy import LegacyKind
from app.privacy import blind_index, mask_id_number
from app.services import audit, clock, disclosure
from app.services.actor import Actor
from app.services.errors import ChannelNotAllowed, IllegalTransition, InvalidInput, NotFound

ARTICLE = "Art. 34, 36"
IN_FORCE = date(2022, 2, 1)  # Art. 36: no new certificate from this day on (Art. 34)
LINKERS = (Role.AGENCY_CLERK,)  # the issuing agency folds old certificates into the card (Art. 5 ¶2, 34)
READERS = (Role.AGENCY_CLERK, Role.BUREAU)
NUMBER_MAX, ISSUER_MAX, BASIS_MIN, BASIS_MAX = 40, 120, 8, 300


@dataclass(frozen=True)
class LegacyIn:
    kind: LegacyKind
    number: str
    issuer: str
    issued_on: date
    legal_basis: str | None = None


def _bidx(kind: LegacyKind, number: str) -> str:
    return blind_index("id_number", f"{kind}:{number}")


def _normal(number: str) -> str:
    return "".join(number.split()).upper()


def masked(number: str) -> str:
    return mask_id_number(number)


def needs_legal_basis(issued_on: date) -> bool:
    return issued_on >= IN_FORCE


def link(session: Session, actor: Actor, person_id: int, data: LegacyIn) -> LegacyCertificate:
    if actor.role not in LINKERS:
        raise ChannelNotAllowed("Old certificates are folded into the card by the issuing agency.",
                                article="Art. 5, 34")
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("No cardholder {person_id}.", params={"person_id": person_id})
    number = _normal(data.number or "")
    if not (2 <= len(number) <= NUMBER_MAX) or not number.isalnum():
        raise InvalidInput("The certificate number is 2 to {n} letters and digits.", params={"n": NUMBER_MAX}, field="number")
    issuer = (data.issuer or "").strip()
    if not issuer or len(issuer) > ISSUER_MAX:
        raise InvalidInput("Name the department that issued it (at most {n} characters).", params={"n": ISSUER_MAX}, field="issuer")
    if data.issued_on > clock.today():
        raise InvalidInput("The issue date is in the future.", field="issued_on")
    basis = (data.legal_basis or "").strip() or None
    if needs_legal_basis(data.issued_on):
        if basis is None:
            raise IllegalTransition(
                "Since 1 February 2022 no other identity certificate for social security or public services is "
                "issued; one dated on or after that day is registered only if a law, regulation or rule "
                "provides for it: name it as the legal basis.", article=ARTICLE, field="legal_basis")
        if not (BASIS_MIN <= len(basis) <= BASIS_MAX):
            raise InvalidInput("The legal basis is {low} to {high} characters.", params={"low": BASIS_MIN, "high": BASIS_MAX}, field="legal_basis")
    elif basis is not None:
        raise InvalidInput("A certificate issued before 1 February 2022 needs no legal basis.", field="legal_basis")
    bidx = _bidx(data.kind, number)
    existing = session.scalars(select(LegacyCertificate).where(LegacyCertificate.number_bidx == bidx)).first()
    if existing is not None:
        if existing.person_id == person_id:
            raise IllegalTransition("This certificate is already linked to this cardholder.", article="Art. 34",
                                    field="number")
        raise IllegalTransition("This certificate is already linked to another cardholder.", article="Art. 34",
                                field="number")
    cert = LegacyCertificate(person_id=person.id, kind=data.kind, issuer=issuer, number=number, number_bidx=bidx,
                             issued_on=data.issued_on, legal_basis=basis, linked_at=clock.now(),
                             linked_by=actor.user_id)
    session.add(cert)
    session.flush()
    audit.record(session, actor, "legacy.link", person_id=person.id, subject=f"legacy:{cert.id}",
                 purpose="fold an old certificate into the card (Art. 34)", fields=["legacy_number"],
                 changes={"kind": str(data.kind), "number": masked(number), "issued_on": data.issued_on.isoformat(),
                          "legal_basis": bool(basis)})
    return cert


def of_person(session: Session, actor: Actor, person_id: int) -> list[LegacyCertificate]:
    """A holder's linked certificates (numbers masked in every answer); the read is audited (Art. 16)."""
    if actor.role not in READERS:
        raise ChannelNotAllowed("Linked certificates are read by the issuing agency and the Bureau.",
                                article="Art. 16, 34")
    if session.get(Person, person_id) is None:
        raise NotFound("No cardholder {person_id}.", params={"person_id": person_id})
    disclosure.disclose(session, actor, person_id, "legacy")
    return list(session.scalars(select(LegacyCertificate).where(LegacyCertificate.person_id == person_id)
                                .order_by(LegacyCertificate.issued_on, LegacyCertificate.id)))


def find_holder(session: Session, actor: Actor, kind: LegacyKind, number: str) -> int:
    """The cardholder an old certificate was folded into, for a clerk who is shown the old one (Art. 34)."""
    if actor.role not in LINKERS:
        raise ChannelNotAllowed("Old certificates are looked up by the issuing agency.", article="Art. 16, 34")
    cert = session.scalars(select(LegacyCertificate).where(
        LegacyCertificate.number_bidx == _bidx(kind, _normal(number)))).first()
    if cert is None:
        raise NotFound("No cardholder is linked to this certificate.")
    disclosure.disclose(session, actor, cert.person_id, "legacy", subject=f"legacy:{cert.id}")
    return cert.person_id
