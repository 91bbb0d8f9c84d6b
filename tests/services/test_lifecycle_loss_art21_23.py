"""Loss registration, loss deregistration and reissue (Art. 21, 22, 23).

Art. 21: online, 12345, the bank's hotline or an outlet; afterwards both settlement accounts are
suspended. Art. 22: a holder who finds the card *before applying for a reissue* may deregister the
loss, in person at an outlet with a valid ID document. Art. 23: reissue online or at an outlet; the
old card is void for ever (no prior loss registration is needed).
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Card
from app.models.enums import (
    AccountKind,
    AccountStatus,
    CardKind,
    CardStatus,
    Channel,
    DeliveryMethod,
    Field,
    Role,
)
from app.services import lifecycle
from app.services.errors import (
    ChannelNotAllowed,
    DomainError,
    IllegalTransition,
    InvalidInput,
    OutOfScope,
)
from tests.factories import PICKUP, PIN, events_of


def _statuses(session, person_id):
    return sorted((a.kind, a.status) for a in lifecycle.accounts(session, person_id))




def _through_to_active(session, world, card):
    lifecycle.accept(session, world.clerk, card.id)
    lifecycle.start_production(session, world.clerk, card.id)
    lifecycle.finish_production(session, world.clerk, card.id)
    lifecycle.pick_up(session, world.teller, card.id)
    lifecycle.activate(session, world.teller, card.id, pin=PIN)


SUSPENDED = [(AccountKind.FINANCIAL, AccountStatus.SUSPENDED), (AccountKind.MEDICAL, AccountStatus.SUSPENDED)]
ACTIVE = [(AccountKind.FINANCIAL, AccountStatus.ACTIVE), (AccountKind.MEDICAL, AccountStatus.ACTIVE)]


# ---------------------------------------------------------------- Art. 21


@pytest.mark.parametrize("channel", ["online", "gov_hotline", "bank_hotline", "outlet"])
def test_loss_registration_through_each_channel_art21(world, session, channel):
    """Art. 21: 网络服务平台, 政务服务便民热线, 合作银行的客服电话, 合作银行网点."""
    card = world.card(CardStatus.ACTIVE)
    assert _statuses(session, card.person_id) == ACTIVE
    actor = {
        "online": world.resident(card.person_id),
        "gov_hotline": world.hotline_call(card.person_id),
        "bank_hotline": world.teller.via(Channel.BANK_HOTLINE),
        "outlet": world.actor("teller_yx"),
    }[channel]
    lifecycle.register_loss(session, actor, card.id, id_verified=channel == "outlet")  # 持本人有效身份证件 there
    assert card.status is CardStatus.LOSS_REGISTERED
    ev = events_of(session, card.id)[-1]
    assert (ev.operation, ev.from_status, ev.to_status, ev.channel, ev.article) == (
        "register_loss", "active", "loss_registered", Channel(channel), "Art. 21")


def test_loss_registration_suspends_both_settlement_accounts_art21(world, session):
    card = world.card(CardStatus.ACTIVE)
    lifecycle.register_loss(session, world.resident(card.person_id), card.id)
    accts = lifecycle.accounts(session, card.person_id)
    assert sorted((a.kind, a.status) for a in accts) == SUSPENDED
    assert all(a.suspended_at is not None for a in accts)
    assert lifecycle.settlement_suspended(session, card.person_id)
    report = lifecycle.inquire_status(session, world.teller, card.id)
    assert report.settlement_suspended and not report.usable
    assert not any(report.fields.values())


@pytest.mark.parametrize("who", ["clerk", "medical", "bureau"])
def test_loss_registration_through_agency_refused_art21(world, session, who):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.register_loss(session, world.actor(who), card.id)
    assert e.value.article == "Art. 21"
    assert card.status is CardStatus.ACTIVE


def test_loss_registration_by_hotline_operator_at_outlet_channel_refused_art21(world, session):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(ChannelNotAllowed):
        lifecycle.register_loss(session, world.actor("hotline", Channel.ONLINE), card.id)


def test_loss_registration_twice_refused_art21(world, session):
    card = world.card(CardStatus.LOSS_REGISTERED)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
    assert e.value.article == "Art. 21"


PENDING = [(AccountKind.FINANCIAL, AccountStatus.PENDING), (AccountKind.MEDICAL, AccountStatus.PENDING)]


def test_card_issued_but_not_activated_can_be_registered_lost_art21(world, session):
    """Art. 21 is conditioned only on the loss (持卡人遗失社会保障卡的): a card the holder received and
    has not activated yet can be lost too, and its accounts are suspended like any other's."""
    card = world.card(CardStatus.ISSUED)
    assert _statuses(session, card.person_id) == PENDING
    lifecycle.register_loss(session, world.resident(card.person_id), card.id)
    assert card.status is CardStatus.LOSS_REGISTERED
    assert _statuses(session, card.person_id) == SUSPENDED
    ev = events_of(session, card.id)[-1]
    assert (ev.operation, ev.from_status, ev.to_status, ev.article) == (
        "register_loss", "issued", "loss_registered", "Art. 21")


def test_loss_deregistration_of_a_card_never_activated_gives_it_back_unactivated_art21_22(world, session):
    """Art. 22 恢复正常使用: the card comes back as it was before the loss, not yet activated (no PIN),
    its accounts pending; activation is still the next step (Art. 6, 19)."""
    card = world.card(CardStatus.ISSUED)
    lifecycle.register_loss(session, world.resident(card.person_id), card.id)
    lifecycle.deregister_loss(session, world.teller, card.id, id_verified=True)
    assert card.status is CardStatus.ISSUED and card.activated_at is None
    assert _statuses(session, card.person_id) == PENDING
    ev = events_of(session, card.id)[-1]
    assert (ev.from_status, ev.to_status, ev.article) == ("loss_registered", "issued", "Art. 21, 22")
    lifecycle.activate(session, world.teller, card.id, pin=PIN)
    assert _statuses(session, card.person_id) == ACTIVE


def test_loss_deregistration_of_a_reissued_card_not_yet_activated_keeps_the_accounts_suspended_art21_23(
        world, session):
    """Art. 21, 23: after a reissue both accounts stay suspended until the new card is activated; the
    new card lost and found again before that changes nothing about it."""
    old = world.card(CardStatus.LOSS_REGISTERED)
    new = lifecycle.reissue(session, world.resident(old.person_id), old.id, delivery=PICKUP)
    _through_to_issued(session, world, new)
    lifecycle.register_loss(session, world.resident(new.person_id), new.id)
    lifecycle.deregister_loss(session, world.teller, new.id, id_verified=True)
    assert new.status is CardStatus.ISSUED
    assert _statuses(session, new.person_id) == SUSPENDED
    lifecycle.activate(session, world.teller, new.id, pin=PIN)
    assert _statuses(session, new.person_id) == ACTIVE


def test_hotline_registers_loss_only_for_the_caller_it_verified_art16_21(world, session):
    """The 12345 remit opens per call (Art. 16): the service itself refuses another holder's card,
    whichever endpoint or page calls it, and changes nothing."""
    verified, other = world.card(CardStatus.ACTIVE), world.card(CardStatus.ACTIVE)
    hotline = world.hotline_call(verified.person_id)
    with pytest.raises(OutOfScope) as e:
        lifecycle.register_loss(session, hotline, other.id)
    assert e.value.article.startswith("Art. 16")
    assert other.status is CardStatus.ACTIVE and _statuses(session, other.person_id) == ACTIVE
    with pytest.raises(OutOfScope):  # no call verified at all
        lifecycle.register_loss(session, world.actor("hotline"), other.id)
    lifecycle.register_loss(session, hotline, verified.id)
    assert verified.status is CardStatus.LOSS_REGISTERED


def _through_to_issued(session, world, card):
    lifecycle.accept(session, world.clerk, card.id)
    lifecycle.start_production(session, world.clerk, card.id)
    lifecycle.finish_production(session, world.clerk, card.id)
    lifecycle.pick_up(session, world.teller, card.id)


def test_lost_card_never_activated_can_be_reissued_art21_23(world, session):
    card = world.card(CardStatus.ISSUED)
    lifecycle.register_loss(session, world.hotline_call(card.person_id), card.id)
    new = lifecycle.reissue(session, world.resident(card.person_id), card.id, delivery=PICKUP)
    assert (card.status, new.status) == (CardStatus.INVALIDATED, CardStatus.APPLIED)
    assert _statuses(session, card.person_id) == SUSPENDED


# ---------------------------------------------------------------- Art. 22


def test_loss_deregistration_at_outlet_with_id_resumes_use_art22(world, session):
    card = world.card(CardStatus.LOSS_REGISTERED)
    assert _statuses(session, card.person_id) == SUSPENDED
    lifecycle.deregister_loss(session, world.actor("teller_yx"), card.id, id_verified=True)
    assert card.status is CardStatus.ACTIVE
    assert _statuses(session, card.person_id) == ACTIVE
    assert not lifecycle.settlement_suspended(session, card.person_id)
    ev = events_of(session, card.id)[-1]
    assert (ev.operation, ev.from_status, ev.to_status, ev.channel, ev.article) == (
        "deregister_loss", "loss_registered", "active", Channel.OUTLET, "Art. 22")
    assert ev.details["id_verified"] is True
    assert lifecycle.inquire_status(session, world.teller, card.id).usable


@pytest.mark.parametrize("channel", ["online", "gov_hotline", "bank_hotline"])
def test_loss_deregistration_only_in_person_at_outlet_art22(world, session, channel):
    card = world.card(CardStatus.LOSS_REGISTERED)
    actor = {"online": world.resident(card.person_id), "gov_hotline": world.actor("hotline"),
             "bank_hotline": world.teller.via(Channel.BANK_HOTLINE)}[channel]
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.deregister_loss(session, actor, card.id, id_verified=True)
    assert e.value.article == "Art. 22"
    assert card.status is CardStatus.LOSS_REGISTERED


def test_loss_deregistration_needs_id_document_art22(world, session):
    card = world.card(CardStatus.LOSS_REGISTERED)
    with pytest.raises(InvalidInput) as e:
        lifecycle.deregister_loss(session, world.teller, card.id)
    assert e.value.article == "Art. 22"


@pytest.mark.parametrize("state", ["active", "issued", "produced"])
def test_loss_deregistration_only_from_loss_registered_art22(world, session, state):
    card = world.card(state)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.deregister_loss(session, world.teller, card.id, id_verified=True)
    assert e.value.article == "Art. 22"


def test_loss_deregistration_refused_after_reissue_art22(world, session):
    """Art. 22: 挂失后, 未办理补领申请手续前, 找回 … 可以 … 解除挂失. Once a reissue was applied for,
    the old card is void: finding it again does not bring it back, and the accounts stay suspended."""
    old = world.card(CardStatus.LOSS_REGISTERED)
    new = lifecycle.reissue(session, world.resident(old.person_id), old.id, delivery=PICKUP)
    session.commit()
    assert old.status is CardStatus.INVALIDATED
    before = (old.version, len(events_of(session, old.id)), _statuses(session, old.person_id))
    with pytest.raises(IllegalTransition) as e:
        lifecycle.deregister_loss(session, world.teller, old.id, id_verified=True)
    assert e.value.article == "Art. 22"
    assert e.value.extra["state"] == "invalidated"
    session.rollback()
    assert old.status is CardStatus.INVALIDATED
    assert (old.version, len(events_of(session, old.id)), _statuses(session, old.person_id)) == before
    assert _statuses(session, old.person_id) == SUSPENDED
    assert new.status is CardStatus.APPLIED


def test_loss_deregistration_refused_after_instant_reissue_art22(world, session):
    old = world.card(CardStatus.LOSS_REGISTERED)
    lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP,
                      service_mode=lifecycle.ServiceMode.INSTANT, id_verified=True)
    with pytest.raises(IllegalTransition):
        lifecycle.deregister_loss(session, world.teller, old.id, id_verified=True)


# ---------------------------------------------------------------- Art. 23


def test_reissue_gives_a_new_card_number_art23(world, session):
    old = world.card(CardStatus.LOSS_REGISTERED)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    assert new.id != old.id and new.number != old.number
    assert new.kind is CardKind.REISSUE
    assert new.predecessor_id == old.id
    assert new.person_id == old.person_id and new.bank_id == old.bank_id
    assert new.status is CardStatus.APPLIED
    assert old.status is CardStatus.INVALIDATED and old.ended_at is not None
    (ev,) = events_of(session, old.id)[-1:]
    assert (ev.operation, ev.from_status, ev.to_status, ev.article) == (
        "reissue", "loss_registered", "invalidated", "Art. 23")


@pytest.mark.parametrize("state", ["active", "issued"])
def test_reissue_needs_no_prior_loss_registration_art23(world, session, state):
    """Art. 23: applying for the reissue ends the old card; no loss registration is needed first."""
    old = world.card(state)
    new = lifecycle.reissue(session, world.resident(old.person_id), old.id, delivery=PICKUP)
    assert old.status is CardStatus.INVALIDATED
    assert new.status is CardStatus.APPLIED
    assert _statuses(session, old.person_id) == SUSPENDED


def test_reissue_online_or_at_outlet_only_art23(world, session):
    old = world.card(CardStatus.LOSS_REGISTERED)
    session.commit()
    for actor in (world.actor("hotline"), world.teller.via(Channel.BANK_HOTLINE), world.clerk,
                  world.actor("medical")):
        with pytest.raises(ChannelNotAllowed) as e:
            lifecycle.reissue(session, actor, old.id, delivery=PICKUP)
        assert e.value.article == "Art. 23"
        session.rollback()
    lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)


def test_reissued_card_invalid_for_ever_art23(world, session):
    """Art. 23: the old card is void for ever: every operation on it is refused afterwards,
    including a second reissue and a loss deregistration; only the status inquiry answers."""
    old = world.card(CardStatus.LOSS_REGISTERED)
    lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    session.commit()
    t, clerk, res = world.teller, world.clerk, world.resident(old.person_id)
    ops = {
        "reissue": lambda: lifecycle.reissue(session, t, old.id, delivery=PICKUP, id_verified=True),
        "reissue online": lambda: lifecycle.reissue(session, res, old.id, delivery=PICKUP),
        "deregister_loss": lambda: lifecycle.deregister_loss(session, t, old.id, id_verified=True),
        "register_loss": lambda: lifecycle.register_loss(session, t, old.id, id_verified=True),
        "activate": lambda: lifecycle.activate(session, t, old.id, pin="246801"),
        "replace": lambda: lifecycle.replace(session, t, old.id, reason=lifecycle.ReplacementReason.DAMAGED,
                                             delivery=PICKUP),
        "lock_field": lambda: lifecycle.set_field_lock(session, t, old.id, field=Field.MEDICAL, locked=True),
        "unlock_field": lambda: lifecycle.set_field_lock(session, t, old.id, field=Field.MEDICAL, locked=False),
        "change_pin": lambda: lifecycle.change_pin(session, res, old.id, old_pin=PIN, new_pin="246801"),
        "reset_pin": lambda: lifecycle.reset_pin(session, t, old.id, new_pin="246801", id_verified=True),
        "accept": lambda: lifecycle.accept(session, clerk, old.id),
        "reject": lambda: lifecycle.reject(session, clerk, old.id, reason="x"),
        "start_production": lambda: lifecycle.start_production(session, clerk, old.id),
        "finish_production": lambda: lifecycle.finish_production(session, clerk, old.id),
        "dispatch": lambda: lifecycle.dispatch(session, clerk, old.id, tracking_ref="SF1"),
        "deliver": lambda: lifecycle.deliver(session, clerk, old.id),
        "pick_up": lambda: lifecycle.pick_up(session, t, old.id),
    }
    version = old.version
    for name, op in ops.items():
        with pytest.raises(IllegalTransition):
            op()
        session.rollback()
        assert old.status is CardStatus.INVALIDATED, name
        assert old.version == version, name
    report = lifecycle.inquire_status(session, t, old.id)
    assert not report.usable and not any(report.fields.values())


def test_reissue_keeps_accounts_suspended_until_new_card_activated_art23(world, session):
    """Art. 21, 23: reissuing ends the old card; the accounts stay suspended while no new card is in
    use, and resume when the new card is activated."""
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    for step in (lambda: lifecycle.accept(session, world.clerk, new.id),
                 lambda: lifecycle.start_production(session, world.clerk, new.id),
                 lambda: lifecycle.finish_production(session, world.clerk, new.id),
                 lambda: lifecycle.pick_up(session, world.teller, new.id)):
        assert _statuses(session, old.person_id) == SUSPENDED
        step()
    assert new.status is CardStatus.ISSUED
    assert _statuses(session, old.person_id) == SUSPENDED
    lifecycle.activate(session, world.teller, new.id, pin=PIN)
    assert _statuses(session, old.person_id) == ACTIVE
    assert not lifecycle.settlement_suspended(session, old.person_id)


def test_reissued_card_can_be_lost_and_reissued_again_art23(world, session):
    first = world.card(CardStatus.ACTIVE)
    second = lifecycle.reissue(session, world.teller, first.id, delivery=PICKUP, id_verified=True)
    _through_to_active(session, world, second)
    lifecycle.register_loss(session, world.resident(first.person_id), second.id)
    third = lifecycle.reissue(session, world.resident(first.person_id), second.id, delivery=PICKUP)
    numbers = {first.number, second.number, third.number}
    assert len(numbers) == 3
    assert [c.status for c in session.scalars(select(Card).where(Card.person_id == first.person_id)
                                               .order_by(Card.id))] == [
        CardStatus.INVALIDATED, CardStatus.INVALIDATED, CardStatus.APPLIED]


def test_reissue_of_card_in_production_refused_art23(world, session):
    card = world.card(CardStatus.IN_PRODUCTION)
    with pytest.raises(DomainError):
        lifecycle.reissue(session, world.teller, card.id, delivery=PICKUP, id_verified=True)


def test_reissue_online_by_resident_records_channel_art23(world, session):
    old = world.card(CardStatus.LOSS_REGISTERED)
    new = lifecycle.reissue(session, world.resident(old.person_id), old.id,
                            delivery=lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市天河区天河路100号"))
    assert new.application.channel is Channel.ONLINE
    assert events_of(session, old.id)[-1].actor_role is Role.RESIDENT
