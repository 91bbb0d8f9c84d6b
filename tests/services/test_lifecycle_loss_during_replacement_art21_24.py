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
    lifecycle.register_loss(session, world.teller, old.id)
    assert old.status is CardStatus.LOSS_REGISTERED
    assert set(_statuses(session, old.person_id).values()) == {AccountStatus.SUSPENDED}


def test_lost_card_is_void_when_its_replacement_is_issued_and_accounts_resume_on_activation_art21_24(
        session, world):
    old, new = _replacing(session, world)
    lifecycle.register_loss(session, world.teller, old.id)
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


def test_no_deregistration_or_reissue_while_a_replacement_is_made_art22_24(session, world):
    old, new = _replacing(session, world)
    lifecycle.register_loss(session, world.teller, old.id)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.deregister_loss(session, world.teller, old.id, id_verified=True)
    assert e.value.article == "Art. 22, 24"
    with pytest.raises(IllegalTransition) as e:
        lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP)
    assert e.value.article == "Art. 23, 24"


def test_rejected_replacement_of_a_lost_card_leaves_the_loss_registered_art21_25(session, world):
    old, new = _replacing(session, world, reason=ReplacementReason.BANK_CHANGE, new_bank_id=world.banks[1].id,
                          actor=world.actor("teller_ccb"))
    lifecycle.register_loss(session, world.teller, old.id)
    lifecycle.reject(session, world.clerk, new.id, reason="not eligible at the new bank")
    session.refresh(old)
    assert old.status is CardStatus.LOSS_REGISTERED
    statuses = _statuses(session, old.person_id)
    assert statuses == {(AccountKind.MEDICAL, None): AccountStatus.SUSPENDED,
                        (AccountKind.FINANCIAL, world.banks[0].id): AccountStatus.SUSPENDED}
    lifecycle.deregister_loss(session, world.teller, old.id, id_verified=True)  # found again: back in use
    assert set(_statuses(session, old.person_id).values()) == {AccountStatus.ACTIVE}
