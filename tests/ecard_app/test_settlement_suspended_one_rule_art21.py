"""Art. 21: both settlement accounts are suspended while a loss is in force, and through a reissue until
the new card is activated. Every view says so with ONE rule: the holder (/api/me/cards), the counter's
status inquiry, the application agency's lookup and the e-card token never disagree."""
from __future__ import annotations

from app.models.enums import CardStatus, DeliveryMethod
from app.services import lifecycle
from tests.ecard_app.test_lifecycle_binding_art21_26_28 import _claims
from tests.factories import PIN


def _views(client, world, staff, resident, issue, person, new_card) -> dict[str, object]:
    world.session.commit()
    mine = client.get("/api/me/cards", headers=resident(person.id)).get_json()
    status = client.get(f"/api/cards/{new_card.id}/status", headers=staff(world, "teller")).get_json()
    agency = client.post("/api/agency/holders", json={"doc_type": "resident_id", "doc_number": person.doc_number},
                         headers=staff(world, "medical")).get_json()
    return {
        "me/cards": {c["settlement_suspended"] for c in mine},
        "cards/status": {status["settlement_suspended"]},
        "agency/holders": {agency["settlement_suspended"]},
        "ecard token": {_claims(client, issue, person.id).settlement_suspended},
    }


def test_settlement_suspended_is_one_rule_for_every_view_during_a_reissue_art21(
        client, session, world, staff, resident, issue) -> None:
    old = world.card(CardStatus.ACTIVE)
    person = old.person
    lifecycle.register_loss(session, world.teller, old.id, id_verified=True)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=lifecycle.Delivery(DeliveryMethod.PICKUP),
                           id_verified=True)
    assert lifecycle.settlement_suspended(session, person.id) is True
    assert _views(client, world, staff, resident, issue, person, new) == dict.fromkeys(
        ("me/cards", "cards/status", "agency/holders", "ecard token"), {True})
    for step in (lambda: lifecycle.accept(session, world.clerk, new.id),
                 lambda: lifecycle.start_production(session, world.clerk, new.id),
                 lambda: lifecycle.finish_production(session, world.clerk, new.id),
                 lambda: lifecycle.pick_up(session, world.teller, new.id),
                 lambda: lifecycle.activate(session, world.teller, new.id, pin=PIN)):
        step()
    assert lifecycle.settlement_suspended(session, person.id) is False
    assert _views(client, world, staff, resident, issue, person, new) == dict.fromkeys(
        ("me/cards", "cards/status", "agency/holders", "ecard token"), {False})
