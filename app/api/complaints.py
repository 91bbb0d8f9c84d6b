"""Complaints and reports (Art. 29): public intake and follow-up, hotline intake, the authority's handling.

Filing and following need no sign-in (Art. 29 gives the right to any person or organisation); both are rate
limited per address. The follow-up code is in the filing answer only, once."""
from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields, validate

from app.api.common import Blueprint, commit
from app.api.schemas import Disclosed, _enum
from app.auth import allow, current_actor
from app.extensions import db, limiter
from app.models.complaint import (
    ComplainantType,
    ComplaintKind,
    ComplaintOutcome,
    ComplaintStatus,
    IntakeChannel,
    PartyKind,
)
from app.privacy import mask_name, mask_phone
from app.replica import replica_reads
from app.services import complaints, disclosure
from app.services.disclosure import Item as I

blp = Blueprint("complaints", __name__, url_prefix="/api/complaints",
                description="Complaints and reports (Art. 29)")


class ComplaintIn(Schema):
    kind = _enum(ComplaintKind, required=True,
                 metadata={"description": "complaint (投诉: needs name and phone) or report (举报: may be anonymous)"})
    complainant_type = _enum(ComplainantType, required=True)
    anonymous = fields.Boolean(load_default=False)
    complainant_name = fields.String(validate=validate.Length(max=complaints.NAME_MAX))
    complainant_phone = fields.String(validate=validate.Length(max=24))
    party_kind = _enum(PartyKind, required=True)
    party_agency_id = fields.Integer()
    party_bank_id = fields.Integer()
    about_staff = fields.Boolean(load_default=False)
    staff_description = fields.String(validate=validate.Length(max=complaints.NOTE_MAX))
    summary = fields.String(required=True, validate=validate.Length(max=complaints.SUMMARY_MAX))


class FiledOut(Schema):
    reference = fields.Function(lambda f: f.complaint.reference)
    code = fields.String(metadata={"description": "The follow-up code: shown once, keep it with the reference."})
    status = fields.Function(lambda f: str(f.complaint.status))
    authority = fields.Function(lambda f: f.complaint.authority)


class FollowIn(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=20))
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))


class PublicStepOut(Schema):
    step = fields.String()
    to_status = fields.String()
    at = fields.DateTime()


class FollowOut(Schema):
    """What the complainant sees: no personal data, no staff identity."""

    reference = fields.Function(lambda f: f.complaint.reference)
    kind = fields.Function(lambda f: str(f.complaint.kind))
    status = fields.Function(lambda f: str(f.complaint.status))
    party_kind = fields.Function(lambda f: str(f.complaint.party_kind))
    party_name = fields.String(allow_none=True)
    authority = fields.Function(lambda f: f.authority.code)
    authority_name = fields.Function(lambda f: f.authority.name_zh)
    filed_at = fields.Function(lambda f: f.complaint.filed_at.isoformat())
    closed_at = fields.Function(lambda f: f.complaint.closed_at.isoformat() if f.complaint.closed_at else None)
    outcome = fields.Function(lambda f: str(f.complaint.outcome) if f.complaint.outcome else None)
    reply = fields.Function(lambda f: f.complaint.reply)
    steps = fields.List(fields.Nested(PublicStepOut))


class ComplaintOut(Disclosed):
    """A complaint as its handlers see it: the complainant's name and phone masked (Art. 16); the case
    itself (summary, staff description) in full, since it is what they investigate; every read audited."""

    items = {"complainant_name": I.NAME, "complainant_phone": I.PHONE}
    items.update({k: I.REF for k in (
        "id", "reference", "kind", "channel", "complainant_type", "anonymous", "party_kind", "party_agency_id",
        "party_bank_id", "about_staff", "staff_description", "summary", "authority", "status", "assignee_id",
        "outcome", "reply", "filed_at", "closed_at", "version")})
    id = fields.Integer()
    reference = fields.String()
    kind = fields.String()
    channel = fields.String()
    complainant_type = fields.String()
    anonymous = fields.Boolean()
    complainant_name = fields.Function(lambda c: mask_name(c.complainant_name) if c.complainant_name else None)
    complainant_phone = fields.Function(lambda c: mask_phone(c.complainant_phone) if c.complainant_phone else None)
    party_kind = fields.String()
    party_agency_id = fields.Integer(allow_none=True)
    party_bank_id = fields.Integer(allow_none=True)
    about_staff = fields.Boolean()
    staff_description = fields.String(allow_none=True)
    summary = fields.String()
    authority = fields.String()
    status = fields.String()
    assignee_id = fields.Integer(allow_none=True)
    outcome = fields.String(allow_none=True)
    reply = fields.String(allow_none=True)
    filed_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class StepOut(Schema):
    step = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    actor_role = fields.String()
    actor_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    at = fields.DateTime()


class ComplaintDetailOut(Schema):
    complaint = fields.Nested(ComplaintOut)
    steps = fields.List(fields.Nested(StepOut))


class ComplaintQuery(Schema):
    status = _enum(ComplaintStatus)
    mine = fields.Boolean(load_default=False, metadata={"description": "only those assigned to me"})


class VersionIn(Schema):
    version = fields.Integer(metadata={"description": "the version you read: refused (412) if it changed"})


class AssignIn(VersionIn):
    assignee_id = fields.Integer(required=True)


class InvestigateIn(VersionIn):
    note = fields.String(required=True, validate=validate.Length(max=complaints.NOTE_MAX))


class CloseIn(VersionIn):
    outcome = _enum(ComplaintOutcome, required=True)
    reply = fields.String(required=True, validate=validate.Length(max=complaints.REPLY_MAX),
                          metadata={"description": "what the complainant reads"})
    note = fields.String(validate=validate.Length(max=complaints.NOTE_MAX))


class HandlerOut(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()


def _intake(body) -> complaints.Intake:
    return complaints.Intake(**body)


@blp.route("", methods=["POST"])
@allow(public=True)
@limiter.limit(lambda: current_app.config["RATELIMIT_COMPLAINT_FILE"])
@blp.arguments(ComplaintIn)
@blp.response(201, FiledOut)
def file_complaint(body):
    """File a complaint or report (Art. 29). The answer holds the reference and, once, the follow-up code."""
    filed = complaints.file(db.session, _intake(body), channel=IntakeChannel.API)
    commit()
    return filed


@blp.route("/hotline", methods=["POST"])
@allow(*complaints.INTAKE_ROLES)
@blp.arguments(ComplaintIn)
@blp.response(201, FiledOut)
def file_by_hotline(body):
    """A 12345 operator records a caller's complaint or report (Art. 29); read reference and code to the caller."""
    filed = complaints.file(db.session, _intake(body), channel=IntakeChannel.HOTLINE, actor=current_actor())
    commit()
    return filed


@blp.route("/follow", methods=["POST"])
@allow(public=True)
@limiter.limit(lambda: current_app.config["RATELIMIT_COMPLAINT_FOLLOW"])
@blp.arguments(FollowIn)
@blp.response(200, FollowOut)
def follow(body):
    """Follow a complaint with its reference and follow-up code (both in a POST body, never in a URL)."""
    return complaints.follow(db.session, body["reference"], body["code"])


@blp.route("")
@allow(*complaints.HANDLERS)
@blp.arguments(ComplaintQuery, location="query")
@blp.response(200, ComplaintOut(many=True))
@replica_reads
def list_complaints(query):
    """Complaints routed to your authority, oldest first (complainants masked; the read is audited)."""
    rows = complaints.for_staff(db.session, current_actor(), query.get("status"), mine=query["mine"])
    disclosure.commit_read(db.session)
    return rows


@blp.route("/handlers")
@allow(*complaints.HANDLERS)
@blp.response(200, HandlerOut(many=True))
def handlers():
    """Your authority's active handlers, to assign a complaint to."""
    return complaints.assignable(db.session, current_actor())


@blp.route("/<int:complaint_id>")
@allow(*complaints.HANDLERS)
@blp.response(200, ComplaintDetailOut)
def get_complaint(complaint_id):
    c, steps = complaints.get(db.session, current_actor(), complaint_id)
    disclosure.commit_read(db.session)
    return {"complaint": c, "steps": steps}


@blp.route("/<int:complaint_id>/assignment", methods=["POST"])
@allow(*complaints.HANDLERS)
@blp.arguments(AssignIn)
@blp.response(200, ComplaintOut)
def assign(body, complaint_id):
    c = complaints.assign(db.session, current_actor(), complaint_id, body["assignee_id"], version=body.get("version"))
    commit()
    return c


@blp.route("/<int:complaint_id>/investigation", methods=["POST"])
@allow(*complaints.HANDLERS)
@blp.arguments(InvestigateIn)
@blp.response(200, ComplaintOut)
def investigate(body, complaint_id):
    """The assignee starts the investigation, with a note (internal)."""
    c = complaints.investigate(db.session, current_actor(), complaint_id, body["note"], version=body.get("version"))
    commit()
    return c


@blp.route("/<int:complaint_id>/closure", methods=["POST"])
@allow(*complaints.HANDLERS)
@blp.arguments(CloseIn)
@blp.response(200, ComplaintOut)
def close(body, complaint_id):
    """Close with an outcome and the reply the complainant reads (``withdrawn``: from any open state)."""
    c = complaints.close(db.session, current_actor(), complaint_id, body["outcome"], body["reply"],
                         note=body.get("note"), version=body.get("version"))
    commit()
    return c
