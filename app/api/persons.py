"""Cardholders: registration pre-filled from the sharing platform (Art. 9), lookups by blind index,
information change (Art. 6, 24(2)), cancellation (Art. 26) and the bank-change unbinding (Art. 24)."""
from __future__ import annotations

from sqlalchemy import select

from app.api.common import Blueprint, commit
from app.api.schemas import (
    AccountOut,
    ApplicantIn,
    CancelIn,
    CardOut,
    ChannelIn,
    DocumentQuery,
    InfoChangeIn,
    InfoChangeOut,
    PersonOut,
    PrefillOut,
    RevealIn,
    RevealOut,
)
from app.auth import allow, current_actor
from app.extensions import db
from app.models import Card
from app.models.enums import STAFF_ROLES, Role
from app.services import disclosure, lifecycle, people
from app.services.errors import NotFound
from app.services.lifecycle_rules import Op

blp = Blueprint("persons", __name__, url_prefix="/api/persons", description="Cardholders (Art. 4, 9, 16, 20)")

COUNTER = (Role.BANK_TELLER, Role.AGENCY_CLERK)
READERS = (Role.BUREAU, Role.AGENCY_CLERK, Role.BANK_TELLER, Role.AUDITOR)




def _disclosed(person_id: int, what: str, subject: str | None = None):
    """Art. 16: a read within the caller's remit (``disclosure.DISCLOSURE``), audited and committed before
    the answer leaves."""
    person = db.session.get(lifecycle.Person, person_id)
    if person is None:
        raise NotFound("No cardholder {person_id}.", params={"person_id": person_id})
    disclosure.disclose(db.session, current_actor(), person.id, what, subject=subject)
    disclosure.commit_read(db.session)
    return person


@blp.route("/", methods=["POST"])
@allow(*COUNTER, Role.RESIDENT)
@blp.arguments(ApplicantIn)
@blp.response(201, PersonOut)
def register(body):
    """Register an applicant. Only what the government platform does not hold valid is required (Art. 9 ¶2).
    A document already registered: 200 with the record, only within your remit and on record (Art. 16)."""
    person, created = disclosure.register(db.session, current_actor(), people.Applicant(**body))
    if created:
        commit()
    else:
        disclosure.commit_read(db.session)
    return person, 201 if created else 200


@blp.route("/lookup", methods=["POST"])
@allow(*READERS)
@blp.arguments(DocumentQuery)
@blp.response(200, PersonOut)
def lookup(query):
    """Find a cardholder by ID document, through the blind index (no decryption, Art. 16)."""
    person = people.find_by_document(db.session, query["doc_type"], query["doc_number"],
                                     query.get("nationality"))
    if person is None:
        raise NotFound("No cardholder with that document.")
    return _disclosed(person.id, "person", subject=f"lookup:{query['doc_type']}")


@blp.route("/prefill", methods=["POST"])
@allow(*COUNTER, Role.RESIDENT)
@blp.arguments(DocumentQuery)
@blp.response(200, PrefillOut)
def prefill(query):
    """Which application items the applicant must still supply (Art. 9 ¶2). A resident asks about their own
    document only; a counter's inquiry is on record (Art. 16)."""
    needed = people.prefill(db.session, current_actor(), query["doc_type"], query["doc_number"],
                            query.get("nationality"))
    commit()
    return {"still_needed": needed}


@blp.route("/<int:person_id>")
@allow(*READERS, Role.RESIDENT)
@blp.response(200, PersonOut)
def get_person(person_id):
    """A cardholder, masked (Art. 16)."""
    return _disclosed(person_id, "person")


@blp.route("/<int:person_id>/cards")
@allow(*READERS, Role.RESIDENT)
@blp.response(200, CardOut(many=True))
def person_cards(person_id):
    """All the holder's cards, current and past."""
    person = _disclosed(person_id, "person_cards")
    return db.session.scalars(select(Card).where(Card.person_id == person.id).order_by(Card.id)).all()


@blp.route("/<int:person_id>/accounts")
@allow(*READERS, Role.RESIDENT)
@blp.response(200, AccountOut(many=True))
def person_accounts(person_id):
    """The two settlement accounts and their status (Art. 13, 21)."""
    person = _disclosed(person_id, "accounts")
    return lifecycle.accounts(db.session, person.id, open_only=False)


@blp.route("/<int:person_id>/reveal", methods=["POST"])
@allow(*STAFF_ROLES, Role.RESIDENT)
@blp.arguments(RevealIn)
@blp.response(200, RevealOut)
def reveal(body, person_id):
    """Full values of named fields, for a role allowed to see them within its remit, with a purpose from the
    list, a word on what for and, for a clerk, the case it serves; audited, refusals too (Art. 16).
    Who may see what: `disclosure.DISCLOSURE`; purposes: `disclosure.PURPOSES`."""
    answer = disclosure.reveal(db.session, current_actor(), person_id, body["fields"], body["purpose"],
                               body["detail"], body.get("case"))
    commit()
    return answer


@blp.route("/<int:person_id>/info-change", methods=["POST"])
@allow(op=Op.CHANGE_INFO)
@blp.arguments(InfoChangeIn)
@blp.response(200, InfoChangeOut)
def change_info(body, person_id):
    """Change personal information; a lawful change of card-face data offers a replacement, which the
    holder may apply for (Art. 24(2))."""
    actor = current_actor(body.pop("channel", None))
    id_verified = body.pop("id_verified")
    person, offer = people.change_info(db.session, actor, person_id, body, id_verified=id_verified)
    commit()
    return {"person": person, "replacement_offer": offer}


@blp.route("/<int:person_id>/cancellation", methods=["POST"])
@allow(op=Op.CANCEL)
@blp.arguments(CancelIn)
@blp.response(200, CardOut(many=True))
def cancel(body, person_id):
    """Cancel the holder's cards: death or lost eligibility (Art. 26), or at the bank on request (Art. 6)."""
    cards = lifecycle.cancel(db.session, current_actor(body.get("channel")), person_id, reason=body["reason"],
                             effective=body.get("effective"))
    commit()
    return cards


@blp.route("/<int:person_id>/unbind-confirmation", methods=["POST"])
@allow(op=Op.CONFIRM_UNBIND)
@blp.arguments(ChannelIn)
@blp.response(200, AccountOut)
def confirm_unbind(body, person_id):
    """The former bank confirms unbinding its financial account after a bank change (Art. 24 ¶2)."""
    account = lifecycle.confirm_unbind(db.session, current_actor(body.get("channel")), person_id)
    commit()
    return account
