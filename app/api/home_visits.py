"""Door-to-door requests (Art. 8 ¶2): a bank outlet records, arranges and closes home visits for people of
limited mobility; the application itself is ``POST /api/applications`` with ``service_mode = door_to_door``.
Thin: ``app.services.home_visits`` decides."""
from __future__ import annotations

from app.api.common import Blueprint, commit
from app.api.schemas import HomeVisitCancelIn, HomeVisitDoneIn, HomeVisitIn, HomeVisitOut, HomeVisitScheduleIn
from app.auth import allow, current_actor
from app.extensions import db
from app.models.enums import Role
from app.services import disclosure, home_visits

blp = Blueprint("home_visits", __name__, url_prefix="/api/home-visits",
                description="Door-to-door requests (Art. 8 ¶2)")


@blp.route("/", methods=["POST"])
@allow(Role.BANK_TELLER)
@blp.arguments(HomeVisitIn)
@blp.response(201, HomeVisitOut)
def file_request(body):
    """Record a request for a home visit at your bank."""
    req = home_visits.file_request(db.session, current_actor(), **body)
    commit()
    return req


@blp.route("/")
@allow(Role.BANK_TELLER)
@blp.response(200, HomeVisitOut(many=True))
def list_requests():
    """Your bank's open requests, the earliest visit first (masked; an audited read, Art. 16)."""
    actor = current_actor()
    rows = home_visits.requests(db.session, actor)
    home_visits.log_list(db.session, actor, rows)
    disclosure.commit_read(db.session)
    return rows


@blp.route("/<int:request_id>/schedule", methods=["POST"])
@allow(Role.BANK_TELLER)
@blp.arguments(HomeVisitScheduleIn)
@blp.response(200, HomeVisitOut)
def schedule(body, request_id):
    """Arrange (or move) the visit."""
    req = home_visits.schedule(db.session, current_actor(), request_id, body["visit_on"])
    commit()
    return req


@blp.route("/<int:request_id>/completion", methods=["POST"])
@allow(Role.BANK_TELLER)
@blp.arguments(HomeVisitDoneIn)
@blp.response(200, HomeVisitOut)
def complete(body, request_id):
    """Close the request with the door-to-door application taken at home."""
    req = home_visits.complete(db.session, current_actor(), request_id, body["card_id"])
    commit()
    return req


@blp.route("/<int:request_id>/cancellation", methods=["POST"])
@allow(Role.BANK_TELLER)
@blp.arguments(HomeVisitCancelIn)
@blp.response(200, HomeVisitOut)
def cancel(body, request_id):
    """Close the request without a visit, with the reason."""
    req = home_visits.cancel(db.session, current_actor(), request_id, body["outcome"])
    commit()
    return req
