"""Applications for a card (Art. 7–10) and the issuance deadline watch list (Art. 10, 25)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.common import Blueprint, commit, etag
from app.api.schemas import ApplicationIn, CardOut, DeadlineOut
from app.auth import allow, current_actor
from app.extensions import db
from app.models.enums import Role
from app.replica import replica_reads
from app.services import deadlines, disclosure, lifecycle, people
from app.services.errors import InvalidInput
from app.services.lifecycle_rules import Op

blp = Blueprint("applications", __name__, url_prefix="/api/applications",
                description="Card applications and deadlines (Art. 7–10, 25)")


class WatchQuery(Schema):
    soon = fields.Integer(load_default=3, validate=validate.Range(min=0, max=250), metadata={"description": "working days"})


@blp.route("/", methods=["POST"])
@allow(op=Op.APPLY)
@blp.arguments(ApplicationIn)
@blp.response(201, CardOut)
def apply(body):
    """Apply for a card online or at an outlet (Art. 7), registering the applicant if needed (Art. 9)."""
    actor = current_actor(body.get("channel"))
    if "person_id" in body:
        person_id = body["person_id"]
    elif "applicant" in body:
        person_id = people.register(db.session, actor, people.Applicant(**body["applicant"])).id
    elif actor.person_id is not None:  # a signed-in resident applies for themselves
        person_id = actor.person_id
    else:
        raise InvalidInput("Give person_id or applicant.", field="applicant")
    card = lifecycle.apply(
        db.session, actor, person_id, bank_id=body["bank_id"],
        delivery=lifecycle.Delivery(body["delivery_method"], body.get("delivery_address"),
                                    body.get("pickup_outlet_id")),
        service_mode=body["service_mode"], referral=body["referral"], id_verified=body["id_verified"],
    )
    commit()
    return card, 201, {"ETag": etag(card)}


WATCHERS = (Role.AGENCY_CLERK, Role.BUREAU)  # who watches the issuance deadline (also the dashboard's panel)


@blp.route("/deadlines")
@allow(*WATCHERS)
@blp.arguments(WatchQuery, location="query")
@blp.response(200, DeadlineOut(many=True))
@blp.paginate()
@replica_reads
def watch_list(query, pagination_parameters):
    """Applications overdue or due within `soon` working days (Art. 10, 25), most urgent first, one page."""
    p = pagination_parameters
    p.item_count = deadlines.watch_count(db.session, soon=query["soon"])
    rows = deadlines.watch_list(db.session, soon=query["soon"], limit=p.page_size, offset=(p.page - 1) * p.page_size)
    # Art. 16: the list shows cardholders' (masked) application data: audited, committed before it leaves
    disclosure.log_read(db.session, current_actor(), [r.card.person_id for r in rows], "deadlines",
                        subject="deadlines")
    disclosure.commit_read(db.session)
    return rows
