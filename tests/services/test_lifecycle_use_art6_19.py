"""Using the card: activation, application (function) lock/unlock, application status inquiry,
PIN change and reset (Art. 6, 14, 19, 20).

Art. 6's 应用锁定与解锁 locks a *function* of the card (medical, transport …), not an application
form; 应用状态查询 tells which functions are usable. Art. 19: only the holder uses the card and its
PIN; wrong PINs lock it; a reset needs the holder's identity checked in person.
"""
from __future__ import annotations

import pytest

from app.models import FieldStatus
from app.models.enums import AccountStatus, CardStatus, Channel, Field
from app.services import lifecycle
from app.services.errors import (
    ChannelNotAllowed,
    IllegalTransition,
    InvalidInput,
    OutOfScope,
    PinLocked,
    PinRefused,
)
from tests.factories import PICKUP, PIN, events_of

NEW_PIN = "246801"




# ---------------------------------------------------------------- activation (Art. 6, 19)


def test_activation_sets_pin_and_opens_accounts_art6(world, session):
    card = world.card(CardStatus.ISSUED)
    assert {a.status for a in lifecycle.accounts(session, card.person_id)} == {AccountStatus.PENDING}
    lifecycle.activate(session, world.teller, card.id, pin=PIN)
    assert card.status is CardStatus.ACTIVE and card.activated_at is not None
    assert card.pin_hash and PIN not in card.pin_hash  # a slow hash, never the PIN (Art. 19)
    assert {a.status for a in lifecycle.accounts(session, card.person_id)} == {AccountStatus.ACTIVE}


@pytest.mark.parametrize("pin", ["111111", "123456", "987654", "12345", "12a456", "1234567"])
def test_activation_with_weak_or_malformed_pin_refused_art19(world, session, pin):
    card = world.card(CardStatus.ISSUED)
    with pytest.raises(InvalidInput):
        lifecycle.activate(session, world.teller, card.id, pin=pin)


def test_activation_online_refused_art6(world, session):
    card = world.card(CardStatus.ISSUED)
    with pytest.raises(ChannelNotAllowed):
        lifecycle.activate(session, world.resident(card.person_id), card.id, pin=PIN)


@pytest.mark.parametrize("state", ["produced", "active", "loss_registered"])
def test_activation_only_of_issued_card_art6(world, session, state):
    card = world.card(state)
    with pytest.raises(IllegalTransition):
        lifecycle.activate(session, world.teller, card.id, pin=NEW_PIN)


# ---------------------------------------------------------------- lock / unlock (Art. 6, 14)


def test_field_lock_and_unlock_art6(world, session):
    card = world.card(CardStatus.ACTIVE)
    status = lifecycle.set_field_lock(session, world.teller, card.id, field=Field.TRANSPORT, locked=True,
                                      reason="holder's request")
    assert status.locked and status.reason == "holder's request"
    assert lifecycle.locked_fields(session, card.person_id) == [Field.TRANSPORT]
    ev = events_of(session, card.id)[-1]
    assert (ev.operation, ev.from_status, ev.to_status, ev.details["field"]) == (
        "lock_field", "active", "active", "transport")
    lifecycle.set_field_lock(session, world.teller, card.id, field=Field.TRANSPORT, locked=False)
    assert lifecycle.locked_fields(session, card.person_id) == []
    assert events_of(session, card.id)[-1].operation == "unlock_field"


def test_field_lock_online_by_resident_unlock_only_at_outlet_art6(world, session):
    card = world.card(CardStatus.ACTIVE)
    res = world.resident(card.person_id)
    lifecycle.set_field_lock(session, res, card.id, field=Field.FINANCE, locked=True)
    session.commit()
    with pytest.raises(ChannelNotAllowed):
        lifecycle.set_field_lock(session, res, card.id, field=Field.FINANCE, locked=False)
    session.rollback()
    assert lifecycle.locked_fields(session, card.person_id) == [Field.FINANCE]
    lifecycle.set_field_lock(session, world.actor("teller_yx"), card.id, field=Field.FINANCE, locked=False)
    assert lifecycle.locked_fields(session, card.person_id) == []


def test_locking_twice_refused_art6(world, session):
    card = world.card(CardStatus.ACTIVE)
    lifecycle.set_field_lock(session, world.teller, card.id, field=Field.MEDICAL, locked=True)
    session.commit()
    n = len(events_of(session, card.id))
    with pytest.raises(IllegalTransition) as e:
        lifecycle.set_field_lock(session, world.teller, card.id, field=Field.MEDICAL, locked=True)
    assert e.value.article == "Art. 6"
    session.rollback()
    assert len(events_of(session, card.id)) == n


def test_unlocking_an_unlocked_field_refused_art6(world, session):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(IllegalTransition):
        lifecycle.set_field_lock(session, world.teller, card.id, field=Field.MEDICAL, locked=False)


def test_field_lock_survives_reissue_art6(world, session):
    """The lock belongs to the holder, not to a piece of plastic: it survives a reissue."""
    card = world.card(CardStatus.ACTIVE)
    lifecycle.set_field_lock(session, world.teller, card.id, field=Field.MEDICAL, locked=True)
    new = lifecycle.reissue(session, world.teller, card.id, delivery=PICKUP, id_verified=True)
    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
        step(session, world.clerk, new.id)
    lifecycle.pick_up(session, world.teller, new.id)
    lifecycle.activate(session, world.teller, new.id, pin=PIN)
    report = lifecycle.inquire_status(session, world.teller, new.id)
    assert report.usable
    assert report.fields["medical"] is False
    assert report.fields["transport"] is True
    # unlocking through the new card works, the lock being the person's
    lifecycle.set_field_lock(session, world.teller, new.id, field=Field.MEDICAL, locked=False)
    assert session.get(FieldStatus, (card.person_id, Field.MEDICAL)).locked is False


def test_field_lock_refused_for_card_not_in_hand_art6(world, session):
    card = world.card(CardStatus.IN_PRODUCTION)
    with pytest.raises(IllegalTransition):
        lifecycle.set_field_lock(session, world.teller, card.id, field=Field.MEDICAL, locked=True)


# ---------------------------------------------------------------- status inquiry (Art. 6, 20)


def test_status_inquiry_shows_fields_usable_and_locked_art6(world, session):
    card = world.card(CardStatus.ACTIVE)
    lifecycle.set_field_lock(session, world.teller, card.id, field=Field.TRANSPORT, locked=True)
    report = lifecycle.inquire_status(session, world.resident(card.person_id), card.id)
    assert report.card.id == card.id and report.usable and not report.settlement_suspended
    assert set(report.fields) == {str(f) for f in Field}
    assert report.fields["transport"] is False
    assert all(v for k, v in report.fields.items() if k != "transport")


def test_status_inquiry_issued_card_not_yet_usable_art6(world, session):
    card = world.card(CardStatus.ISSUED)
    report = lifecycle.inquire_status(session, world.teller, card.id)
    assert not report.usable and not any(report.fields.values())


def test_status_inquiry_by_agency_staff_art20(world, session):
    card = world.card(CardStatus.ACTIVE)
    for who in ("clerk", "medical", "bureau"):
        assert lifecycle.inquire_status(session, world.actor(who), card.id).usable


def test_status_inquiry_writes_no_event_art6(world, session):
    card = world.card(CardStatus.ACTIVE)
    n, v = len(events_of(session, card.id)), card.version
    lifecycle.inquire_status(session, world.teller, card.id)
    session.flush()
    assert (len(events_of(session, card.id)), card.version) == (n, v)


def test_status_inquiry_through_hotline_refused_art6(world, session):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(ChannelNotAllowed):
        lifecycle.inquire_status(session, world.actor("hotline"), card.id)


# ---------------------------------------------------------------- PIN (Art. 6, 19)


def test_pin_change_with_right_old_pin_art19(world, session):
    card = world.card(CardStatus.ACTIVE)
    lifecycle.change_pin(session, world.resident(card.person_id), card.id, old_pin=PIN, new_pin=NEW_PIN)
    assert events_of(session, card.id)[-1].operation == "change_pin"
    lifecycle.change_pin(session, world.teller, card.id, old_pin=NEW_PIN, new_pin=PIN)


def test_pin_lockout_after_five_wrong_pins_art19(world, session, app):
    """Art. 19: a wrong PIN is counted (and the count committed, as the API does); after
    PIN_MAX_FAILURES wrong PINs even the right PIN is refused until a reset."""
    assert app.config["PIN_MAX_FAILURES"] == 5
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    res = world.resident(card.person_id)
    for i in range(1, 6):
        with pytest.raises(PinRefused) as e:
            lifecycle.change_pin(session, res, card.id, old_pin="975310", new_pin=NEW_PIN)
        assert e.value.extra["tries_left"] == 5 - i
        assert e.value.extra["commit"] is True
        session.commit()  # the API commits the failure count (commit=True)
        assert card.pin_failures == i
    with pytest.raises(PinLocked) as e:
        lifecycle.change_pin(session, res, card.id, old_pin=PIN, new_pin=NEW_PIN)
    assert e.value.article == "Art. 19"
    session.rollback()
    assert card.pin_failures == 5
    with pytest.raises(PinLocked):  # at the outlet too
        lifecycle.change_pin(session, world.teller, card.id, old_pin=PIN, new_pin=NEW_PIN)
    session.rollback()


def test_right_pin_resets_failure_count_art19(world, session):
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    res = world.resident(card.person_id)
    for _ in range(4):
        with pytest.raises(PinRefused):
            lifecycle.change_pin(session, res, card.id, old_pin="975310", new_pin=NEW_PIN)
        session.commit()
    lifecycle.change_pin(session, res, card.id, old_pin=PIN, new_pin=NEW_PIN)
    session.commit()
    assert card.pin_failures == 0


def test_pin_reset_only_at_outlet_with_id_check_clears_lock_art19(world, session):
    card = world.card(CardStatus.ACTIVE)
    card.pin_failures = 5
    session.commit()
    res = world.resident(card.person_id)
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.reset_pin(session, res, card.id, new_pin=NEW_PIN, id_verified=True)
    assert e.value.article == "Art. 19"
    session.rollback()
    with pytest.raises(ChannelNotAllowed):
        lifecycle.reset_pin(session, world.teller.via(Channel.BANK_HOTLINE), card.id, new_pin=NEW_PIN,
                            id_verified=True)
    session.rollback()
    with pytest.raises(InvalidInput) as e:
        lifecycle.reset_pin(session, world.teller, card.id, new_pin=NEW_PIN)
    assert e.value.article == "Art. 19"
    session.rollback()
    assert card.pin_failures == 5
    lifecycle.reset_pin(session, world.teller, card.id, new_pin=NEW_PIN, id_verified=True)
    session.commit()
    assert card.pin_failures == 0
    ev = events_of(session, card.id)[-1]
    assert (ev.operation, ev.details["id_verified"], ev.article) == ("reset_pin", True, "Art. 6, 19")
    lifecycle.change_pin(session, res, card.id, old_pin=NEW_PIN, new_pin=PIN)  # the new PIN works


def test_pin_reset_by_another_banks_teller_refused_art16(world, session):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(OutOfScope):
        lifecycle.reset_pin(session, world.actor("teller_ccb"), card.id, new_pin=NEW_PIN, id_verified=True)


def test_pin_change_on_loss_registered_card_refused_art19(world, session):
    card = world.card(CardStatus.LOSS_REGISTERED)
    with pytest.raises(IllegalTransition):
        lifecycle.change_pin(session, world.resident(card.person_id), card.id, old_pin=PIN, new_pin=NEW_PIN)
