"""Service guides (Art. 18): public reading, no sign-in, free; each agency publishes its own."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.common import CACHEABLE, Blueprint, commit
from app.auth import allow, current_actor
from app.extensions import db
from app.services import guides

blp = Blueprint("guides", __name__, url_prefix="/api/guides", description="Service guides (Art. 18)")


class GuideFields(Schema):
    title = fields.String(validate=validate.Length(max=guides.LIMITS["title"]))
    service_items = fields.String(validate=validate.Length(max=guides.TEXT_LIMIT),
                                  metadata={"description": "服务事项: the service items / what the agency offers"})
    scope = fields.String(allow_none=True, validate=validate.Length(max=guides.TEXT_LIMIT),
                          metadata={"description": "使用范围 (issuing agency, required there)"})
    usage = fields.String(allow_none=True, validate=validate.Length(max=guides.TEXT_LIMIT),
                          metadata={"description": "使用方法 (issuing agency, required there)"})
    conditions = fields.String(allow_none=True, validate=validate.Length(max=guides.TEXT_LIMIT),
                               metadata={"description": "办理条件 (application agency, required there)"})
    procedure = fields.String(allow_none=True, validate=validate.Length(max=guides.TEXT_LIMIT),
                              metadata={"description": "办理流程 (application agency, required there)"})
    time_limit = fields.String(allow_none=True, validate=validate.Length(max=guides.LIMITS["time_limit"]),
                               metadata={"description": "办理时限 (application agency, required there)"})
    contact = fields.String(allow_none=True, validate=validate.Length(max=guides.LIMITS["contact"]))


class GuideIn(GuideFields):
    pass


class GuideOut(GuideFields):
    version = fields.Integer()
    published_at = fields.DateTime()


class AgencyGuideOut(Schema):
    agency_id = fields.Function(lambda v: v.agency.id)
    agency_code = fields.Function(lambda v: v.agency.code)
    agency_name = fields.Function(lambda v: v.agency.name)
    agency_kind = fields.Function(lambda v: str(v.agency.kind))
    field = fields.Function(lambda v: str(v.agency.field) if v.agency.field else None)
    guide = fields.Nested(GuideOut, allow_none=True)


@blp.route("/")
@allow(public=True)
@blp.response(200, AgencyGuideOut(many=True))
def list_guides():
    """Every agency's service guide in force: the issuing agency's first, then the application agencies'."""
    return guides.published(db.session), CACHEABLE


@blp.route("/<int:agency_id>")
@allow(public=True)
@blp.response(200, AgencyGuideOut)
def get_guide(agency_id):
    """One agency's guide in force (``guide`` is null until it publishes one)."""
    return guides.guide_of(db.session, agency_id), CACHEABLE


@blp.route("/<int:agency_id>/versions")
@allow(public=True)
@blp.response(200, GuideOut(many=True))
def versions(agency_id):
    """Every version the agency published, newest first: what was announced on any day."""
    return guides.history(db.session, agency_id), CACHEABLE


@blp.route("/<int:agency_id>", methods=["POST"])
@allow(*guides.EDITORS)
@blp.arguments(GuideIn)
@blp.response(201, GuideOut)
def publish(body, agency_id):
    """Publish a new version of your own agency's guide (issuing agency: service items, scope, usage;
    application agency: service items, conditions, procedure, time limit). Older versions stay."""
    guide = guides.publish(db.session, current_actor(), agency_id, body)
    commit()
    return guide
