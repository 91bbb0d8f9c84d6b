"""Cardholders: registration pre-filled from the sharing platform (Art. 9), lookups by blind index,
information change (Art. 6, 24(2)), cancellation (Art. 26) and the bank-change unbinding (Art. 24)."""
from __future__ import annotations

from flask_smorest import Blueprint
from sqlalchemy import select

from app.api.common import commit
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




def _readable(person_id: int):
    actor = current_actor()
    person = db.session.get(lifecycle.Person, person_id)
    if person is None:
        raise NotFound(f"No cardholder {person_id}.")
    held = lifecycle.current_card(db.session, person.id)
    lifecycle.check_scope(actor, person.id, held.bank_id if held else None)
    return person


@blp.route("/", methods=["POST"])
@allow(*COUNTER, Role.RESIDENT)
@blp.arguments(ApplicantIn)
@blp.response(201, PersonOut)
def register(body):
    """Register an applicant. Only what the government platform does not hold valid is required (Art. 9 ¶2)."""
    person = people.register(db.session, current_actor(), people.Applicant(**body))
    commit()
    return person


def _disclosed(person_id: int, what: str, subject: str | None = None) -> None:
    """Art. 16: a staff read of personal data is audited and committed before the answer leaves."""
    disclosure.log_read(db.session, current_actor(), [person_id], what, subject=subject)
    disclosure.commit_read(db.session)


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
    person = _readable(person.id)
    _disclosed(person.id, "person", subject=f"lookup:{query['doc_type']}")
    return person


@blp.route("/prefill", methods=["POST"])
@allow(*COUNTER, Role.RESIDENT)
@blp.arguments(DocumentQuery)
@blp.response(200, PrefillOut)
def prefill(query):
    """Which application items the applicant must still supply (Art. 9 ¶2)."""
    doc = people.check_document(query["doc_type"], query["doc_number"], query.get("nationality"))
    return {"still_needed": people.still_needed(doc.type, doc.number, people.LocalSharingPlatform(db.session))}


@blp.route("/<int:person_id>")
@allow(*READERS, Role.RESIDENT)
@blp.response(200, PersonOut)
def get_person(person_id):
    """A cardholder, masked (Art. 16)."""
    person = _readable(person_id)
    _disclosed(person.id, "person")
    return person


@blp.route("/<int:person_id>/cards")
@allow(*READERS, Role.RESIDENT)
@blp.response(200, CardOut(many=True))
def person_cards(person_id):
    """All the holder's cards, current and past."""
    person = _readable(person_id)
    cards = db.session.scalars(select(Card).where(Card.person_id == person.id).order_by(Card.id)).all()
    _disclosed(person.id, "person_cards")
    return cards


@blp.route("/<int:person_id>/accounts")
@allow(*READERS, Role.RESIDENT)
@blp.response(200, AccountOut(many=True))
def person_accounts(person_id):
    """The two settlement accounts and their status (Art. 13, 21)."""
    person = _readable(person_id)
    accounts = lifecycle.accounts(db.session, person.id, open_only=False)
    _disclosed(person.id, "accounts")
    return accounts


@blp.route("/<int:person_id>/reveal", methods=["POST"])
@allow(*STAFF_ROLES, Role.RESIDENT)
@blp.arguments(RevealIn)
@blp.response(200, RevealOut)
def reveal(body, person_id):
    """Full values of named fields, for a role allowed to see them within its remit and a stated purpose;
    audited with the purpose, refusals too (Art. 16). Who may see what: `disclosure.REVEAL`."""
    answer = disclosure.reveal(db.session, current_actor(), person_id, body["fields"], body["purpose"])
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
