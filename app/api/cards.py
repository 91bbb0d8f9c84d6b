"""Cards: reads, and one endpoint per lifecycle operation (never a free PATCH of the status).

The operation endpoints are generated from ``CARD_OPERATIONS``; the roles each one admits come
from the lifecycle channel table, so who may do what is declared once.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from sqlalchemy import select

from app.api.auth import pin_limited
from app.api.common import IF_MATCH_PARAM, Blueprint, commit, etag, expected_version
from app.api.schemas import (
    CardOut,
    CardQuery,
    ChannelIn,
    DispatchIn,
    EventOut,
    FieldLockIn,
    IdCheckIn,
    PinChangeIn,
    PinIn,
    PinResetIn,
    ReasonIn,
    ReissueIn,
    ReplaceIn,
    StatusOut,
)
from app.auth import allow, current_actor
from app.extensions import db
from app.models import Card, CardEvent
from app.models.enums import Field, Role
from app.replica import replica_reads
from app.services import disclosure, lifecycle
from app.services.errors import InvalidInput
from app.services.lifecycle_rules import Op

blp = Blueprint("cards", __name__, url_prefix="/api/cards", description="Cards and their lifecycle (Art. 6–27)")

STAFF_READERS = (Role.BUREAU, Role.AGENCY_CLERK, Role.BANK_TELLER, Role.AUDITOR)




def _read(card_id: int, what: str) -> Card:
    """Art. 16: a card read within the caller's remit (``disclosure.DISCLOSURE``), audited and committed
    before the answer leaves."""
    card = lifecycle.load_card(db.session, card_id, lock=False)
    disclosure.disclose(db.session, current_actor(), card.person_id, what, subject=f"card:{card.id}")
    disclosure.commit_read(db.session)
    return card


@blp.route("/")
@allow(*STAFF_READERS)
@blp.arguments(CardQuery, location="query")
@blp.response(200, CardOut(many=True))
@blp.paginate()
@replica_reads
def list_cards(query, pagination_parameters):
    """Find cards by number, holder or status (a teller sees their own bank's cards only)."""
    actor = current_actor()
    q = lifecycle.find_cards(actor, **query).where(disclosure.remit_clause(actor, Card.person_id))
    total = db.session.scalar(select(db.func.count()).select_from(q.subquery()))
    pagination_parameters.item_count = total
    p = pagination_parameters
    cards = db.session.scalars(q.offset((p.page - 1) * p.page_size).limit(p.page_size)).all()
    disclosure.log_read(db.session, actor, [c.person_id for c in cards], "cards", subject="cards:search")
    disclosure.commit_read(db.session)
    return cards


@blp.route("/<int:card_id>")
@allow(*STAFF_READERS, Role.RESIDENT)
@blp.response(200, CardOut, headers={"ETag": {"schema": {"type": "string"}}})
def get_card(card_id):
    """One card; its ETag goes with every state-changing call on it (If-Match)."""
    card = _read(card_id, "card")
    return card, 200, {"ETag": etag(card)}


@blp.route("/<int:card_id>/events")
@allow(*STAFF_READERS)
@blp.response(200, EventOut(many=True))
def card_events(card_id):
    """The card's event history, for staff. The holder sees theirs at /api/me/events (Art. 20),
    without staff user ids."""
    card = _read(card_id, "card_events")
    return db.session.scalars(select(CardEvent).where(CardEvent.card_id == card.id).order_by(CardEvent.id)).all()


@blp.route("/<int:card_id>/status")
@allow(op=Op.INQUIRE_STATUS)
@blp.arguments(ChannelIn, location="query")
@blp.response(200, StatusOut)
def status_inquiry(query, card_id):
    """Application status inquiry: which fields are usable (Art. 6, 20). An application agency: only for a
    holder it has looked up by document, only the status and its own field (Art. 16)."""
    actor = current_actor(query.get("channel"))
    report = lifecycle.inquire_status(db.session, actor, card_id)
    report = dataclasses.replace(report, fields=disclosure.fields_shown(db.session, actor, report.fields))
    disclosure.disclose(db.session, actor, report.card.person_id, "card_status", subject=f"card:{report.card.id}")
    disclosure.commit_read(db.session)
    return report


def _delivery(body: dict) -> lifecycle.Delivery:
    return lifecycle.Delivery(body.pop("delivery_method"), body.pop("delivery_address", None),
                              body.pop("pickup_outlet_id", None))


def _field(name: str) -> Field:
    try:
        return Field(name)
    except ValueError:
        raise InvalidInput("Unknown application field '{name}'.", field="field", params={"name": name}) from None


# (url suffix, operation, input schema, call(session, actor, card_id, body, version) -> Card, status code)
Call = Callable[..., Card]
CARD_OPERATIONS: list[tuple[str, Op, type, Call, int]] = [
    ("acceptance", Op.ACCEPT, ChannelIn, lambda s, a, c, b, v: lifecycle.accept(s, a, c, expected_version=v), 200),
    ("rejection", Op.REJECT, ReasonIn,
     lambda s, a, c, b, v: lifecycle.reject(s, a, c, reason=b["reason"], expected_version=v), 200),
    ("production-start", Op.START_PRODUCTION, ChannelIn,
     lambda s, a, c, b, v: lifecycle.start_production(s, a, c, expected_version=v), 200),
    ("production-finish", Op.FINISH_PRODUCTION, ChannelIn,
     lambda s, a, c, b, v: lifecycle.finish_production(s, a, c, expected_version=v), 200),
    ("dispatch", Op.DISPATCH, DispatchIn,
     lambda s, a, c, b, v: lifecycle.dispatch(s, a, c, tracking_ref=b["tracking_ref"], expected_version=v), 200),
    ("delivery", Op.DELIVER, ChannelIn, lambda s, a, c, b, v: lifecycle.deliver(s, a, c, expected_version=v), 200),
    ("pickup", Op.PICK_UP, IdCheckIn,
     lambda s, a, c, b, v: lifecycle.pick_up(s, a, c, expected_version=v, id_verified=b["id_verified"]), 200),
    ("activation", Op.ACTIVATE, PinIn,
     lambda s, a, c, b, v: lifecycle.activate(s, a, c, pin=b["pin"], expected_version=v), 200),
    ("loss-registration", Op.REGISTER_LOSS, IdCheckIn,
     lambda s, a, c, b, v: lifecycle.register_loss(s, a, c, id_verified=b["id_verified"], expected_version=v), 200),
    ("loss-deregistration", Op.DEREGISTER_LOSS, IdCheckIn,
     lambda s, a, c, b, v: lifecycle.deregister_loss(s, a, c, id_verified=b["id_verified"], expected_version=v), 200),
    ("reissue", Op.REISSUE, ReissueIn,
     lambda s, a, c, b, v: lifecycle.reissue(s, a, c, delivery=_delivery(b), service_mode=b["service_mode"],
                                             id_verified=b["id_verified"], expected_version=v), 201),
    ("replacement", Op.REPLACE, ReplaceIn,
     lambda s, a, c, b, v: lifecycle.replace(
         s, a, c, reason=b["reason"], delivery=_delivery(b), quality_defect=b["quality_defect"],
         new_bank_id=b.get("new_bank_id"), service_mode=b["service_mode"], id_verified=b["id_verified"],
         expected_version=v), 201),
    ("pin-change", Op.CHANGE_PIN, PinChangeIn,
     lambda s, a, c, b, v: lifecycle.change_pin(s, a, c, old_pin=b["old_pin"], new_pin=b["new_pin"],
                                                expected_version=v), 200),
    ("pin-reset", Op.RESET_PIN, PinResetIn,
     lambda s, a, c, b, v: lifecycle.reset_pin(s, a, c, new_pin=b["new_pin"], id_verified=b["id_verified"],
                                               expected_version=v), 200),
]


PIN_OPS = (Op.ACTIVATE, Op.CHANGE_PIN, Op.RESET_PIN)


def _register(suffix: str, op: Op, schema: type, call: Call, status: int) -> None:
    def view(body, card_id, **path):
        actor = current_actor(body.pop("channel", None))
        card = call(db.session, actor, card_id, {**body, **path}, expected_version(card_id))
        commit()
        return card, status, {"ETag": etag(card)}

    view.__name__ = view.__qualname__ = f"card_{op}"
    view.__doc__ = f"{op.replace('_', ' ').capitalize()} ({lifecycle.article_of(op)})."
    decorated = blp.response(status, CardOut)(view)
    decorated = blp.arguments(schema)(decorated)
    if op in PIN_OPS:  # Art. 19: rate-limited per address and per card (after authentication)
        decorated = pin_limited(op)(decorated)
    decorated = allow(op=op)(decorated)
    blp.route(f"/<int:card_id>/{suffix}", methods=["POST"], endpoint=f"card_{op}",
              parameters=[IF_MATCH_PARAM])(decorated)


for _row in CARD_OPERATIONS:
    _register(*_row)

_register("fields/<field>/lock", Op.LOCK_FIELD, FieldLockIn,
          lambda s, a, c, b, v: (lifecycle.set_field_lock(s, a, c, field=_field(b["field"]), locked=True,
                                                          reason=b.get("reason"), expected_version=v),
                                 s.get(Card, c))[1], 200)
_register("fields/<field>/unlock", Op.UNLOCK_FIELD, FieldLockIn,
          lambda s, a, c, b, v: (lifecycle.set_field_lock(s, a, c, field=_field(b["field"]), locked=False,
                                                          reason=b.get("reason"), expected_version=v),
                                 s.get(Card, c))[1], 200)
