"""Art. 24, 25: a replacement application the issuing agency refuses gives the holder back the card
awaiting replacement, as it was; a refused bank change leaves the accounts where they were."""
from __future__ import annotations

from app.models.enums import (
    AccountKind,
    AccountStatus,
    CardStatus,
    DeliveryMethod,
    ReplacementReason,
)
from app.services import lifecycle
from app.services.lifecycle_rules import event_article


def _replace(session, world, card, reason, **kw):
    return lifecycle.replace(session, kw.pop("actor", world.teller), card.id, reason=reason,
                             delivery=lifecycle.Delivery(DeliveryMethod.PICKUP), **kw)


def test_rejected_replacement_gives_back_the_active_card_art24_25(session, world):
    old = world.card(CardStatus.ACTIVE)
    new = _replace(session, world, old, ReplacementReason.DAMAGED)
    assert old.status is CardStatus.REPLACEMENT_PENDING
    lifecycle.reject(session, world.clerk, new.id, reason="photo unusable")
    session.refresh(old)
    assert (old.status, new.status) == (CardStatus.ACTIVE, CardStatus.REJECTED)
    old_events = session.query(lifecycle.CardEvent).filter_by(card_id=old.id).order_by(lifecycle.CardEvent.id).all()
    ev = old_events[-1]
    assert (ev.operation, ev.from_status, ev.to_status, ev.article) == ("reject", "replacement_pending", "active",
                                                                        "Art. 24, 25")
    assert event_article(ev.operation, ev.from_status, ev.to_status) == "Art. 24, 25"
    assert old_events  # the side effect is recorded on the old card
    # and the holder can apply for a replacement again
    again = _replace(session, world, old, ReplacementReason.DAMAGED)
    assert again.status is CardStatus.APPLIED


def test_rejected_bank_change_keeps_the_former_banks_account_art24_25(session, world):
    old = world.card(CardStatus.ACTIVE)
    new = _replace(session, world, old, ReplacementReason.BANK_CHANGE, new_bank_id=world.banks[1].id,
                   actor=world.actor("teller_ccb"))
    lifecycle.reject(session, world.clerk, new.id, reason="not eligible at the new bank")
    fin = [a for a in lifecycle.accounts(session, old.person_id, open_only=False) if a.kind is AccountKind.FINANCIAL]
    by_bank = {a.bank_id: a.status for a in fin}
    assert by_bank == {world.banks[0].id: AccountStatus.ACTIVE, world.banks[1].id: AccountStatus.CLOSED}
    session.refresh(old)
    assert old.status is CardStatus.ACTIVE


def test_field_lock_moves_the_etag_even_with_a_frozen_clock_art6(session, world, clock):
    card = world.card(CardStatus.ACTIVE)
    before = card.version
    lifecycle.set_field_lock(session, world.teller, card.id, field=lifecycle.Field.TRANSPORT, locked=True)
    assert card.version == before + 1
