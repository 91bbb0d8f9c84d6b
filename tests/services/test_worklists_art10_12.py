"""The applications' work lists (Art. 10, 12, 16): each lists the cards waiting for its step, within the
actor's remit."""
from __future__ import annotations

from app.models.enums import CardStatus, DeliveryMethod
from app.services import lifecycle, worklists


def test_each_list_holds_the_cards_waiting_for_its_step_art10_12(session, world):
    applied = world.card(CardStatus.APPLIED)
    express = world.card(CardStatus.PRODUCED, delivery=DeliveryMethod.EXPRESS)
    pickup = world.card(CardStatus.PRODUCED)
    moving = world.card(CardStatus.IN_TRANSIT, delivery=DeliveryMethod.EXPRESS)
    clerk = world.clerk
    assert [c for _, c in worklists.awaiting_acceptance(session).rows] == [applied]
    assert worklists.to_dispatch(session, clerk) == [express]
    assert worklists.in_transit(session, clerk) == [moving]
    assert [c for _, c in worklists.awaiting_pickup(session, world.teller).rows] == [pickup]


def test_a_teller_sees_only_the_cards_for_their_bank_and_outlet_art12_16(session, world):
    person = world.person()
    chosen = lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, id_verified=True,
                             delivery=lifecycle.Delivery(DeliveryMethod.PICKUP, outlet_id=world.outlets[1].id))
    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
        step(session, world.clerk, chosen.id)
    def at(name):
        return [c for _, c in worklists.awaiting_pickup(session, world.actor(name)).rows]

    assert at("teller") == []  # applied here, but the holder chose the other outlet
    assert at("teller_yx") == [chosen]
    assert at("teller_ccb") == []  # another bank
