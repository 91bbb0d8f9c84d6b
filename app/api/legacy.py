"""Legacy identity certificates folded into the card (Art. 34, 36): link, list (masked), look up."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.api.common import Blueprint, commit
from app.api.schemas import Disclosed, _enum
from app.auth import allow, current_actor
from app.extensions import db
from app.models.legacy import LegacyKind
from app.services import disclosure, legacy
from app.services.disclosure import Item as I

blp = Blueprint("legacy", __name__, url_prefix="/api/persons",
                description="Legacy identity certificates (Art. 34, 36)")


class LegacyIn(Schema):
    kind = _enum(LegacyKind, required=True)
    number = fields.String(required=True, validate=validate.Length(min=1, max=legacy.NUMBER_MAX))
    issuer = fields.String(required=True, validate=validate.Length(min=1, max=legacy.ISSUER_MAX))
    issued_on = fields.Date(required=True)
    legal_basis = fields.String(validate=validate.Length(max=legacy.BASIS_MAX), metadata={
        "description": "Required for a certificate issued on or after 2022-02-01: the law, regulation or rule "
                       "that provided for it (Art. 34, 36)."})


class LegacyOut(Disclosed):
    items = {"number": I.DOC_NUMBER}
    items.update({k: I.REF for k in ("id", "person_id", "kind", "issuer", "issued_on", "legal_basis",
                                     "linked_at", "linked_by")})
    id = fields.Integer()
    person_id = fields.Integer()
    kind = fields.String()
    issuer = fields.String()
    number = fields.Function(lambda c: legacy.masked(c.number))
    issued_on = fields.Date()
    legal_basis = fields.String(allow_none=True)
    linked_at = fields.DateTime()
    linked_by = fields.Integer(allow_none=True)


class LookupIn(Schema):
    kind = _enum(LegacyKind, required=True)
    number = fields.String(required=True, validate=validate.Length(min=1, max=legacy.NUMBER_MAX))


class LookupOut(Schema):
    person_id = fields.Integer()


@blp.route("/<int:person_id>/legacy-certificates")
@allow(*legacy.READERS)
@blp.response(200, LegacyOut(many=True))
def list_certificates(person_id):
    """The old certificates linked to this cardholder (numbers masked; the read is audited)."""
    rows = legacy.of_person(db.session, current_actor(), person_id)
    disclosure.commit_read(db.session)
    return rows


@blp.route("/<int:person_id>/legacy-certificates", methods=["POST"])
@allow(*legacy.LINKERS)
@blp.arguments(LegacyIn)
@blp.response(201, LegacyOut)
def link_certificate(body, person_id):
    """Link an old identity certificate to the cardholder (Art. 34). One issued on or after 2022-02-01
    is refused unless ``legal_basis`` names the law that provided for it (Art. 34, 36)."""
    cert = legacy.link(db.session, current_actor(), person_id, legacy.LegacyIn(**body))
    commit()
    return cert


@blp.route("/legacy-certificates/lookup", methods=["POST"])
@allow(*legacy.LINKERS)
@blp.arguments(LookupIn)
@blp.response(200, LookupOut)
def lookup(body):
    """The cardholder an old certificate was folded into (number in the body, never in a URL; audited)."""
    person_id = legacy.find_holder(db.session, current_actor(), body["kind"], body["number"])
    disclosure.commit_read(db.session)
    return {"person_id": person_id}
