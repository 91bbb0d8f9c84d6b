"""Staff accounts: deactivation ends the account's sessions at once (Art. 16)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.common import Blueprint, commit
from app.auth import allow, current_actor
from app.extensions import db
from app.models.enums import STAFF_ROLES, Role
from app.replica import replica_reads
from app.services import bureau, sessions

blp = Blueprint("staff", __name__, url_prefix="/api/staff", description="Staff accounts (Art. 16)")


class DeactivationIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500),
                           metadata={"description": "why (kept in the audit trail)"})


class StaffOut(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    active = fields.Boolean()


class StaffQuery(Schema):
    role = fields.Enum(Role, by_value=True, validate=validate.OneOf(sorted(STAFF_ROLES)))
    active = fields.Boolean()


class StaffRowOut(StaffOut):
    display_name = fields.Function(lambda r: r.user.display_name)
    id = fields.Function(lambda r: r.user.id)
    username = fields.Function(lambda r: r.user.username)
    role = fields.Function(lambda r: str(r.user.role))
    active = fields.Function(lambda r: r.user.active)
    organisation = fields.String(allow_none=True)


@blp.route("")
@allow(*bureau.ADMINS)
@blp.arguments(StaffQuery, location="query")
@blp.response(200, StaffRowOut(many=True))
@replica_reads
def list_staff(query):
    """Staff accounts with their role and organisation, by role then username."""
    return bureau.staff_accounts(db.session, current_actor(), role=query.get("role"), active=query.get("active"))


@blp.route("/<int:user_id>/deactivation", methods=["POST"])
@allow(*sessions.ADMINS)
@blp.arguments(DeactivationIn)
@blp.response(200, StaffOut)
def deactivate(body, user_id):
    """Deactivate a staff account: it can no longer log in, and every session it has ends now (its
    access and refresh tokens are refused at their next request). Audited with the reason."""
    user = sessions.deactivate_staff(db.session, current_actor(), user_id, body["reason"])
    commit()
    return user
