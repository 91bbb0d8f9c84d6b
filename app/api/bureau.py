"""The Bureau's administration of the cooperating banks and outlets it publishes (Art. 6 ¶2, 9 ¶3)."""
from __future__ import annotations

from marshmallow import Schema, fields

from app.api.common import Blueprint, commit
from app.api.schemas import OutletOut
from app.auth import allow, current_actor
from app.extensions import db
from app.replica import replica_reads
from app.services import bureau

blp = Blueprint("bureau", __name__, url_prefix="/api/bureau",
                description="Cooperating banks and outlets, as the Bureau publishes them (Art. 6 ¶2)")


class BankIn(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    published = fields.Boolean(load_default=True)


class OutletIn(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    district = fields.String(required=True)
    address = fields.String(required=True)
    instant = fields.Boolean(load_default=False)


class AdminBankOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    published = fields.Boolean()
    outlets = fields.List(fields.Nested(OutletOut))


@blp.route("/banks")
@allow(*bureau.PUBLISHERS)
@blp.response(200, AdminBankOut(many=True))
@replica_reads
def banks():
    """Every bank, published or not, with its outlets."""
    return bureau.banks(db.session)


@blp.route("/banks", methods=["POST"])
@allow(*bureau.PUBLISHERS)
@blp.arguments(BankIn)
@blp.response(201, AdminBankOut)
def create_bank(body):
    bank = bureau.save_bank(db.session, current_actor(), None, bureau.BankIn(**body))
    commit()
    return bank


@blp.route("/banks/<int:bank_id>", methods=["PUT"])
@allow(*bureau.PUBLISHERS)
@blp.arguments(BankIn)
@blp.response(200, AdminBankOut)
def update_bank(body, bank_id):
    """Change a bank; ``published: false`` takes it off the public list (applicants can no longer choose it)."""
    bank = bureau.save_bank(db.session, current_actor(), bank_id, bureau.BankIn(**body))
    commit()
    return bank


@blp.route("/banks/<int:bank_id>/outlets", methods=["POST"])
@allow(*bureau.PUBLISHERS)
@blp.arguments(OutletIn)
@blp.response(201, OutletOut)
def create_outlet(body, bank_id):
    outlet = bureau.save_outlet(db.session, current_actor(), bank_id, None, bureau.OutletIn(**body))
    commit()
    return outlet


@blp.route("/banks/<int:bank_id>/outlets/<int:outlet_id>", methods=["PUT"])
@allow(*bureau.PUBLISHERS)
@blp.arguments(OutletIn)
@blp.response(200, OutletOut)
def update_outlet(body, bank_id, outlet_id):
    outlet = bureau.save_outlet(db.session, current_actor(), bank_id, outlet_id, bureau.OutletIn(**body))
    commit()
    return outlet
