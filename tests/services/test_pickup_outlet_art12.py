"""Art. 12: the holder may choose the outlet of the card's bank where they collect the card; it is
then handed over there only."""
from __future__ import annotations

import pytest

from app.models.enums import CardStatus, DeliveryMethod
from app.services import lifecycle
from app.services.errors import ChannelNotAllowed, InvalidInput
from tests.factories import snapshot


def _produced(world, session, outlet):
    person = world.person()
    card = lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, id_verified=True,
                           delivery=lifecycle.Delivery(DeliveryMethod.PICKUP, outlet_id=outlet.id))
    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
        step(session, world.clerk, card.id)
    return card


def test_a_card_is_handed_over_at_the_pickup_outlet_the_holder_chose_art12(world, session):
    card = _produced(world, session, world.outlets[1])
    assert card.application.pickup_outlet_id == world.outlets[1].id
    session.commit()
    before = snapshot(session, [card.person_id])
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.pick_up(session, world.teller, card.id, id_verified=True)  # outlets[0]: not the one chosen
    assert e.value.article == "Art. 12" and world.outlets[1].code in e.value.detail
    session.rollback()
    assert snapshot(session, [card.person_id]) == before
    lifecycle.pick_up(session, world.actor("teller_yx"), card.id, id_verified=True)
    assert card.status is CardStatus.ISSUED


def test_the_pickup_outlet_must_be_an_outlet_of_the_cards_bank_art12(world, session):
    person = world.person()
    with pytest.raises(InvalidInput) as e:
        lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, id_verified=True,
                        delivery=lifecycle.Delivery(DeliveryMethod.PICKUP, outlet_id=world.outlets[2].id))
    assert (e.value.article, e.value.extra["field"]) == ("Art. 12", "pickup_outlet_id")


def test_a_pickup_outlet_goes_with_pickup_not_express_art12(world, session):
    person = world.person()
    with pytest.raises(InvalidInput):
        lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, id_verified=True,
                        delivery=lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市天河区天河路100号",
                                                    outlet_id=world.outlets[0].id))
