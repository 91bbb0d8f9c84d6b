"""Staff accounts: deactivation ends the account's sessions at once (Art. 16)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.common import Blueprint, commit
from app.auth import allow, current_actor
from app.extensions import db
from app.services import sessions

blp = Blueprint("staff", __name__, url_prefix="/api/staff", description="Staff accounts (Art. 16)")


class DeactivationIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500),
                           metadata={"description": "why (kept in the audit trail)"})


class StaffOut(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    active = fields.Boolean()


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
