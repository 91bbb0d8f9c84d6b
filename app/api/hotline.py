"""The 12345 government service hotline (Art. 21): find the caller's card by ID document and identity
questions, then register the loss with ``POST /api/cards/{id}/loss-registration`` and the ETag given here.
The operator's remit is the caller it has just verified (Art. 16)."""
from __future__ import annotations

from app.api.common import Blueprint, etag
from app.api.schemas import HotlineCallerIn, HotlineCallerOut
from app.auth import allow, current_actor
from app.extensions import db, limiter
from app.models.enums import Role
from app.services import disclosure

blp = Blueprint("hotline", __name__, url_prefix="/api/hotline",
                description="12345 hotline: the caller's card, for a loss registration (Art. 16, 21)")


@blp.route("/callers", methods=["POST"])
@allow(Role.HOTLINE_OPERATOR)
@limiter.limit("30/minute")
@blp.arguments(HotlineCallerIn)
@blp.response(200, HotlineCallerOut, headers={"ETag": {"schema": {"type": "string"}}})
def caller(body):
    """The caller's current card, found by ID document plus the holder's name and registered mobile: its id,
    status and ETag, what a loss registration needs, and no more. Wrong answers and unknown documents get the
    same 404; the verification lets this operator act on this holder for a while (Art. 16, 21)."""
    answer = disclosure.hotline_caller(db.session, current_actor(), body["doc_type"], body["doc_number"],
                                       name=body["name"], phone=body["phone"], nationality=body.get("nationality"))
    disclosure.commit_read(db.session)
    tag = etag(answer["card"])
    return {**answer, "etag": tag}, 200, {"ETag": tag}
