"""持本人有效身份证件: every in-person step the Measures tie to the holder's own valid ID document
needs the check, and the card event records it: application at an outlet (Art. 7), urgent issuance
at an instant outlet (Art. 10 ¶2, 25 ¶2), loss registration at an outlet (Art. 21), loss
deregistration (Art. 22), reissue at an outlet (Art. 23); a PIN reset (Art. 19). Online and by
telephone no document is shown, so nothing is asked there.
"""
from __future__ import annotations

import pytest

from app.models.enums import CardStatus, Channel, DeliveryMethod, ReplacementReason, ServiceMode
from app.services import lifecycle
from app.services.errors import InvalidInput
from app.services.lifecycle_rules import ID_CHECK_REQUIRED, Op, markdown_table
from tests.factories import PICKUP, events_of


def test_id_check_table_names_every_in_person_step_of_the_measures_art7_10_19_21_22_23_25():
    assert ID_CHECK_REQUIRED == {
        (Op.APPLY, Channel.OUTLET): "Art. 7",
        (Op.ISSUE_INSTANTLY, Channel.OUTLET): "Art. 10 ¶2, 25 ¶2",
        (Op.REGISTER_LOSS, Channel.OUTLET): "Art. 21",
        (Op.DEREGISTER_LOSS, Channel.OUTLET): "Art. 22",
        (Op.REISSUE, Channel.OUTLET): "Art. 23",
        (Op.RESET_PIN, Channel.OUTLET): "Art. 19",
    }
    assert "| register_loss | outlet | Art. 21 |" in markdown_table()


def _card_op(world, session, op, state):
    """(card, call(id_verified) → the card whose event records the check) for the in-person card steps."""
    card = world.card(state)
    t = world.actor("teller_yx")
    calls = {
        Op.REGISTER_LOSS: lambda v: lifecycle.register_loss(session, t, card.id, id_verified=v),
        Op.DEREGISTER_LOSS: lambda v: lifecycle.deregister_loss(session, t, card.id, id_verified=v),
        Op.REISSUE: lambda v: (lifecycle.reissue(session, t, card.id, delivery=PICKUP, id_verified=v), card)[1],
        Op.RESET_PIN: lambda v: lifecycle.reset_pin(session, t, card.id, new_pin="246801", id_verified=v),
    }
    return card, calls[op]


@pytest.mark.parametrize("op,state", [(Op.REGISTER_LOSS, CardStatus.ACTIVE),
                                      (Op.DEREGISTER_LOSS, CardStatus.LOSS_REGISTERED),
                                      (Op.REISSUE, CardStatus.LOSS_REGISTERED),
                                      (Op.RESET_PIN, CardStatus.ACTIVE)])
def test_in_person_card_step_needs_and_records_the_id_check_art19_21_22_23(world, session, op, state):
    card, call = _card_op(world, session, op, state)
    session.commit()
    with pytest.raises(InvalidInput) as e:
        call(False)
    assert e.value.article == ID_CHECK_REQUIRED[(op, Channel.OUTLET)]
    assert e.value.extra.get("field") == "id_verified"
    session.rollback()
    assert card.status is state
    call(True)
    ev = next(e for e in reversed(events_of(session, card.id)) if e.operation == op)
    assert ev.details["id_verified"] is True and ev.channel is Channel.OUTLET


def test_outlet_application_needs_and_records_the_id_check_art7(world, session):
    person = world.person()
    session.commit()
    with pytest.raises(InvalidInput) as e:
        lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP)
    assert e.value.article == "Art. 7"
    session.rollback()
    assert person.cards == []
    card = lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                           id_verified=True)
    (ev,) = events_of(session, card.id)
    assert (ev.operation, ev.details["id_verified"]) == ("apply", True)


def test_door_to_door_application_is_an_outlet_step_with_the_id_check_art7_8(world, session):
    """Art. 8 ¶2: the bank serves people with limited mobility at home, as an outlet does: the same check."""
    person = world.person()
    with pytest.raises(InvalidInput) as e:
        lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                        service_mode=ServiceMode.DOOR_TO_DOOR)
    assert e.value.article == "Art. 7"


def test_online_application_loss_and_reissue_need_no_document_art7_21_23(world, session):
    """Online (网络服务平台) and by telephone no document is shown: nothing to check, nothing recorded."""
    person = world.person()
    resident = world.resident(person.id)
    card = lifecycle.apply(session, resident, person.id, bank_id=world.banks[0].id, delivery=PICKUP)
    assert "id_verified" not in events_of(session, card.id)[0].details
    active = world.card(CardStatus.ACTIVE)
    lifecycle.register_loss(session, world.teller.via(Channel.BANK_HOTLINE), active.id)
    lifecycle.reissue(session, world.resident(active.person_id), active.id, delivery=PICKUP)
    assert [e.details.get("id_verified") for e in events_of(session, active.id)[-2:]] == [None, None]


@pytest.mark.parametrize("how", ["apply", "reissue", "replace"])
def test_urgent_issuance_needs_and_records_the_id_check_art10_25(world, session, how):
    """Art. 10 ¶2, 25 ¶2: 急需用卡的, 可以持本人有效身份证件前往 … 即时制卡网点: first card, reissue, replacement."""
    t = world.teller  # the instant outlet
    if how == "apply":
        person = world.person()
        call = lambda v: lifecycle.apply(session, t, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                                         service_mode=ServiceMode.INSTANT, id_verified=v)
    else:
        old = world.card(CardStatus.ACTIVE)
        call = (lambda v: lifecycle.reissue(session, t, old.id, delivery=PICKUP, service_mode=ServiceMode.INSTANT,
                                            id_verified=v)) if how == "reissue" else \
            (lambda v: lifecycle.replace(session, t, old.id, reason=ReplacementReason.DAMAGED, delivery=PICKUP,
                                         service_mode=ServiceMode.INSTANT, id_verified=v))
    session.commit()
    with pytest.raises(InvalidInput) as e:
        call(False)
    assert e.value.article == "Art. 10 ¶2, 25 ¶2"  # before the step's own (Art. 7, 23): the urgent issuance
    session.rollback()
    new = call(True)
    assert new.status is CardStatus.ISSUED
    ev = events_of(session, new.id)[-1]
    assert (ev.operation, ev.details["id_verified"]) == ("issue_instantly", True)


def test_urgent_replacement_without_id_check_names_art25(world, session):
    old = world.card(CardStatus.ACTIVE)
    with pytest.raises(InvalidInput) as e:
        lifecycle.replace(session, world.teller, old.id, reason=ReplacementReason.DAMAGED, delivery=PICKUP,
                          service_mode=ServiceMode.INSTANT)
    assert e.value.article == "Art. 10 ¶2, 25 ¶2"


def test_ordinary_replacement_at_outlet_needs_no_id_check_art24(world, session):
    """Art. 24 names no document for an ordinary replacement (only the urgent one, Art. 25 ¶2)."""
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.replace(session, world.teller, old.id, reason=ReplacementReason.DAMAGED,
                            delivery=lifecycle.Delivery(DeliveryMethod.PICKUP))
    assert new.status is CardStatus.APPLIED
