"""Application agencies (Art. 28, 33): looking a holder up by ID document to keep serving them while
their card is reissued or replaced. An agency sees masked identity data and the status of its own
application field only, never another field (Art. 16); every lookup is audited."""
from __future__ import annotations

from app.api.common import Blueprint
from app.api.schemas import AgencyHolderOut, DocumentQuery
from app.auth import allow, current_actor
from app.extensions import db
from app.models.enums import Role
from app.services import disclosure

blp = Blueprint("agency", __name__, url_prefix="/api/agency",
                description="Application agencies: holder lookup within their field (Art. 16, 28, 33)")


@blp.route("/holders", methods=["POST"])
@allow(Role.APP_AGENCY)
@blp.arguments(DocumentQuery)
@blp.response(200, AgencyHolderOut)
def holder(query):
    """A holder found by ID document: masked name and social security number, card status, settlement
    suspension (Art. 21) and the status of the agency's own field only (Art. 16, 28)."""
    answer = disclosure.agency_holder(db.session, current_actor(), query["doc_type"], query["doc_number"],
                                      query.get("nationality"))
    disclosure.commit_read(db.session)
    return answer
