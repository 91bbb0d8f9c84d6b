"""Art. 21, 24: a card still in use while its replacement is made can be lost too. Registering the
loss suspends both accounts at once; the lost card is void once its replacement is issued; the
accounts resume when the new card is activated."""
from __future__ import annotations

import pytest

from app.models.enums import AccountKind, AccountStatus, CardStatus, ReplacementReason
from app.services import lifecycle
from app.services.errors import IllegalTransition
from app.services.lifecycle_rules import event_article
from tests.factories import PICKUP, PIN, events_of


def _statuses(session, person_id):
    return {(a.kind, a.bank_id): a.status for a in lifecycle.accounts(session, person_id)}


def _replacing(session, world, **kw):
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.replace(session, kw.pop("actor", world.teller), old.id,
                            reason=kw.pop("reason", ReplacementReason.DAMAGED), delivery=PICKUP, **kw)
    return old, new


def test_card_awaiting_replacement_can_be_registered_lost_art21_24(session, world):
    old, new = _replacing(session, world)
    lifecycle.register_loss(session, world.teller, old.id, id_verified=True)
    assert old.status is CardStatus.LOSS_REGISTERED
    assert set(_statuses(session, old.person_id).values()) == {AccountStatus.SUSPENDED}


def test_lost_card_is_void_when_its_replacement_is_issued_and_accounts_resume_on_activation_art21_24(
        session, world):
    old, new = _replacing(session, world)
    lifecycle.register_loss(session, world.teller, old.id, id_verified=True)
    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
        step(session, world.clerk, new.id)
    lifecycle.pick_up(session, world.teller, new.id)
    session.refresh(old)
    assert (old.status, new.status) == (CardStatus.INVALIDATED, CardStatus.ISSUED)
    last = events_of(session, old.id)[-1]
    assert event_article(last.operation, last.from_status, last.to_status) == "Art. 21, 24"
    assert set(_statuses(session, old.person_id).values()) == {AccountStatus.SUSPENDED}  # until activation
    lifecycle.activate(session, world.teller, new.id, pin=PIN)
    assert set(_statuses(session, old.person_id).values()) == {AccountStatus.ACTIVE}


def test_loss_deregistration_allowed_while_replacement_pending_art22(session, world):
    """Art. 22: 持卡人办理挂失手续后, 未办理补领申请手续前, 找回本人社会保障卡的, 可以 … 解除挂失: only an
    application for a reissue (补领) bars it; a replacement (换领, Art. 24) is another thing. Found
    again, the card is back in use awaiting its replacement, which goes on."""
    old, new = _replacing(session, world)
    lifecycle.register_loss(session, world.resident(old.person_id), old.id)
    lifecycle.deregister_loss(session, world.teller, old.id, id_verified=True)
    assert old.status is CardStatus.REPLACEMENT_PENDING
    last = events_of(session, old.id)[-1]
    assert (last.operation, last.from_status, last.to_status) == (
        "deregister_loss", "loss_registered", "replacement_pending")
    assert event_article(last.operation, last.from_status, last.to_status) == "Art. 22, 24"
    assert set(_statuses(session, old.person_id).values()) == {AccountStatus.ACTIVE}
    assert lifecycle.inquire_status(session, world.teller, old.id).usable
    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
        step(session, world.clerk, new.id)
    lifecycle.pick_up(session, world.teller, new.id)
    session.refresh(old)
    assert old.status is CardStatus.REPLACED  # replaced as planned, not void as a lost card would be


def test_loss_deregistration_during_a_bank_change_gives_the_accounts_back_as_they_were_art22_24(session, world):
    """The new bank's account stays pending until the new card is activated; the former bank's account
    is still waiting to be unbound; the medical account is back in use."""
    old, new = _replacing(session, world, reason=ReplacementReason.BANK_CHANGE, new_bank_id=world.banks[1].id,
                          actor=world.actor("teller_ccb"))
    before = _statuses(session, old.person_id)
    assert before[(AccountKind.FINANCIAL, world.banks[1].id)] is AccountStatus.PENDING
    lifecycle.register_loss(session, world.resident(old.person_id), old.id)
    lifecycle.deregister_loss(session, world.teller, old.id, id_verified=True)
    assert old.status is CardStatus.REPLACEMENT_PENDING
    assert _statuses(session, old.person_id) == before


def test_no_reissue_while_a_replacement_is_made_art23_24(session, world):
    old, new = _replacing(session, world)
    lifecycle.register_loss(session, world.resident(old.person_id), old.id)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    assert e.value.article == "Art. 23, 24"


def test_rejected_replacement_of_a_lost_card_leaves_the_loss_registered_art21_25(session, world):
    old, new = _replacing(session, world, reason=ReplacementReason.BANK_CHANGE, new_bank_id=world.banks[1].id,
                          actor=world.actor("teller_ccb"))
    lifecycle.register_loss(session, world.teller, old.id, id_verified=True)
    lifecycle.reject(session, world.clerk, new.id, reason="not eligible at the new bank")
    session.refresh(old)
    assert old.status is CardStatus.LOSS_REGISTERED
    statuses = _statuses(session, old.person_id)
    assert statuses == {(AccountKind.MEDICAL, None): AccountStatus.SUSPENDED,
                        (AccountKind.FINANCIAL, world.banks[0].id): AccountStatus.SUSPENDED}
    lifecycle.deregister_loss(session, world.teller, old.id, id_verified=True)  # found again: back in use
    assert set(_statuses(session, old.person_id).values()) == {AccountStatus.ACTIVE}


def test_bank_change_while_a_reissue_is_not_yet_in_use_keeps_both_accounts_suspended_art21_23_24(session, world):
    """Art. 21, 23: after a reissue both accounts stay suspended until the new card is activated. A
    change of bank (Art. 24(3)) of that card, not yet activated, opens the new bank's account suspended
    too; refused, it gives the former bank's account back suspended. Activation ends the suspension."""
    lost = world.card(CardStatus.LOSS_REGISTERED)
    reissued = lifecycle.reissue(session, world.resident(lost.person_id), lost.id, delivery=PICKUP)
    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
        step(session, world.clerk, reissued.id)
    lifecycle.pick_up(session, world.teller, reissued.id)
    new = lifecycle.replace(session, world.actor("teller_ccb"), reissued.id, reason=ReplacementReason.BANK_CHANGE,
                            delivery=PICKUP, new_bank_id=world.banks[1].id)
    statuses = _statuses(session, lost.person_id)
    assert statuses[(AccountKind.MEDICAL, None)] is AccountStatus.SUSPENDED
    assert statuses[(AccountKind.FINANCIAL, world.banks[1].id)] is AccountStatus.SUSPENDED
    lifecycle.reject(session, world.clerk, new.id, reason="not eligible at the new bank")
    assert set(_statuses(session, lost.person_id).values()) == {AccountStatus.SUSPENDED}
    lifecycle.activate(session, world.teller, reissued.id, pin=PIN)
    assert set(_statuses(session, lost.person_id).values()) == {AccountStatus.ACTIVE}
