"""Correction requests, staff side (Art. 20 ¶2): the agency a request was routed to decides it.

* ``agency_clerk`` (issuing agency) and ``app_agency`` (an application agency) see and decide the
  requests routed to their own agency; they see the proposed values in full, and each such read is
  audited (the holder sees it in their access log).
* ``bureau`` supervises: it sees every request and its deadline, with the values masked, and
  decides nothing.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.common import Blueprint, commit
from app.api.me import CorrectionOut
from app.auth import allow, current_actor
from app.extensions import db
from app.models import CorrectionStatus
from app.models.enums import Role
from app.privacy import mask_name
from app.services import disclosure, people, selfservice

blp = Blueprint("corrections", __name__, url_prefix="/api/corrections",
                description="Correction requests routed to an agency (Art. 20)")


class StaffCorrectionOut(CorrectionOut):
    person_id = fields.Integer()
    resolved_by = fields.Integer(allow_none=True)


def _masked(value: str, item: str) -> str:
    if item in people.MASKS and item not in ("occupation",):
        return people.masked(item, value)
    return mask_name(value) if value else value  # first and last character kept, the rest starred


class _Supervised:
    """The Bureau's view of a request: deadline and outcome, not the personal values (Art. 16)."""

    WITHHELD = "(withheld)"

    def __init__(self, req):
        self._req = req
        self.proposed_value = _masked(req.proposed_value, req.field)
        self.reason = self.WITHHELD
        self.reply = self.WITHHELD if req.reply else None

    def __getattr__(self, name):
        return getattr(self._req, name)


class CorrectionQuery(Schema):
    status = fields.Enum(CorrectionStatus, by_value=True)


class ResolutionIn(Schema):
    outcome = fields.Enum(CorrectionStatus, by_value=True, required=True,
                          metadata={"description": "corrected | rejected | referred (card-face data: to an outlet, "
                                                   "Art. 24(2))"})
    reply = fields.String(required=True, validate=validate.Length(min=1, max=1000),
                          metadata={"description": "the answer the holder reads"})


@blp.route("")
@allow(Role.AGENCY_CLERK, Role.APP_AGENCY, Role.BUREAU)
@blp.arguments(CorrectionQuery, location="query")
@blp.response(200, StaffCorrectionOut(many=True))
def list_corrections(query):
    """Requests routed to your agency (the Bureau: all, masked), soonest due first."""
    actor = current_actor()
    rows = selfservice.for_staff(db.session, actor, query.get("status"))
    disclosure.commit_read(db.session)  # the reads' audit entries, committed before the answer leaves
    return [_Supervised(r) for r in rows] if actor.role is Role.BUREAU else rows


@blp.route("/<int:request_id>/resolution", methods=["POST"])
@allow(Role.AGENCY_CLERK, Role.APP_AGENCY)
@blp.arguments(ResolutionIn)
@blp.response(200, StaffCorrectionOut)
def resolve(body, request_id):
    """Decide a request: ``corrected`` (contact data is written to the record at once), ``rejected``,
    or ``referred`` for card-face data, which changes only at an outlet with a new card (Art. 24(2))."""
    req = selfservice.resolve(db.session, current_actor(), request_id, outcome=body["outcome"], reply=body["reply"])
    commit()
    return req
