"""The card fee (工本费) and its two waivers (Art. 27).

Waived (1) for the first card, (2) for a *replacement* (换领) within one year of *receiving* the card
because a quality defect makes it unusable. Never for a reissue (补领) after a loss. The amount is
set by the price and finance authorities: configurable (``CARD_FEE_FEN``).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from app.models.enums import (
    CardKind,
    CardStatus,
    DeliveryMethod,
    FeeWaiver,
    ReplacementReason,
)
from app.services import fees, lifecycle
from app.services.errors import InvalidInput
from tests.factories import PICKUP

FEE = 2000


@pytest.fixture
def fee(app, monkeypatch):
    monkeypatch.setitem(app.config, "CARD_FEE_FEN", FEE)
    return FEE


def _replace(session, world, card, reason=ReplacementReason.DAMAGED, **kw):
    actor = world.actor("teller_ccb") if reason is ReplacementReason.BANK_CHANGE else world.teller
    if reason is ReplacementReason.BANK_CHANGE:
        kw.setdefault("new_bank_id", world.banks[1].id)
    return lifecycle.replace(session, actor, card.id, reason=reason, delivery=PICKUP, **kw)


# ---------------------------------------------------------------- through the lifecycle


def test_first_card_free_art27(world, session, fee):
    card = world.card(CardStatus.APPLIED)
    assert card.kind is CardKind.FIRST
    assert (card.application.fee_fen, card.application.fee_waiver) == (0, FeeWaiver.FIRST_CARD)


def test_first_card_free_online_art27(world, session, fee):
    person = world.person()
    card = lifecycle.apply(session, world.resident(person.id), person.id, bank_id=world.banks[0].id,
                           delivery=lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市"))
    assert card.application.fee_waiver is FeeWaiver.FIRST_CARD


def test_first_card_after_a_rejected_application_still_free_art27(world, session, fee):
    """Art. 27(1) 首次申领: a rejected application produced no card; the first card actually made is
    still the first card (CardKind.RENEWED is for a new card after an earlier one was cancelled)."""
    rejected = world.card(CardStatus.REJECTED)
    card = lifecycle.apply(session, world.teller, rejected.person_id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)
    assert card.kind is CardKind.FIRST
    assert (card.application.fee_fen, card.application.fee_waiver) == (0, FeeWaiver.FIRST_CARD)


def test_new_card_after_cancellation_charged_art27(world, session, fee):
    card = world.card(CardStatus.ACTIVE)
    lifecycle.cancel(session, world.teller, card.person_id, reason=lifecycle.CancellationReason.HOLDER_REQUEST)
    again = lifecycle.apply(session, world.teller, card.person_id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)
    assert again.kind is CardKind.RENEWED
    assert (again.application.fee_fen, again.application.fee_waiver) == (fee, None)


def test_reissue_charged_art27(world, session, fee):
    old = world.card(CardStatus.LOSS_REGISTERED)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    assert (new.application.fee_fen, new.application.fee_waiver) == (fee, None)


def test_instant_reissue_charged_art27(world, session, fee):
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP,
                            service_mode=lifecycle.ServiceMode.INSTANT, id_verified=True)
    assert new.application.fee_fen == fee


def test_reissue_never_waived_even_with_quality_defect_art27():
    """Art. 27(2) waives a *replacement* (换领), never a reissue (补领), whatever the card's quality."""
    for received in (date(2026, 11, 23), date(2026, 1, 1), None):
        assert fees.card_fee(CardKind.REISSUE, fee_fen=FEE, today=date(2026, 11, 24), quality_defect=True,
                             replacement_reason=ReplacementReason.DAMAGED,
                             previous_received_on=received) == (FEE, None)


def test_fee_amount_is_configurable_art27(world, session, app, monkeypatch):
    monkeypatch.setitem(app.config, "CARD_FEE_FEN", 1234)
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    assert new.application.fee_fen == 1234


def test_quality_defect_replacement_within_one_year_of_receipt_free_art27(world, session, fee, clock):
    """Art. 27(2): 领取社会保障卡后1年内 … 质量问题 … 换领: counted from receipt (pickup), not from application."""
    card = world.card(CardStatus.ACTIVE)
    assert card.received_on == date(2026, 11, 23)
    clock.set(datetime(2027, 11, 23, 2, 0, tzinfo=UTC))  # one year after receipt, last day
    new = _replace(session, world, card, quality_defect=True)
    assert (new.application.fee_fen, new.application.fee_waiver) == (0, FeeWaiver.QUALITY_DEFECT_WITHIN_YEAR)
    assert new.application.quality_defect is True


def test_quality_defect_replacement_a_year_and_a_day_after_receipt_charged_art27(world, session, fee, clock):
    card = world.card(CardStatus.ACTIVE)
    clock.set(datetime(2027, 11, 24, 2, 0, tzinfo=UTC))
    new = _replace(session, world, card, quality_defect=True)
    assert (new.application.fee_fen, new.application.fee_waiver) == (fee, None)


def test_one_year_counted_from_receipt_not_from_application_art27(world, session, fee, clock):
    """Applied and accepted in November 2026, received two months later: the year runs from receipt."""
    card = world.card(CardStatus.PRODUCED)
    clock.advance(days=60)
    lifecycle.pick_up(session, world.teller, card.id)
    lifecycle.activate(session, world.teller, card.id, pin="135790")
    assert card.received_on == date(2027, 1, 22)
    clock.set(datetime(2028, 1, 22, 2, 0, tzinfo=UTC))
    new = _replace(session, world, card, quality_defect=True)
    assert new.application.fee_fen == 0


def test_year_boundary_uses_guangzhou_date_art27(world, session, fee, clock):
    """17:00 UTC on 23 Nov 2027 is already 24 Nov in Guangzhou: a year and a day, charged."""
    card = world.card(CardStatus.ACTIVE)
    clock.set(datetime(2027, 11, 23, 17, 0, tzinfo=UTC))
    new = _replace(session, world, card, quality_defect=True)
    assert new.application.fee_fen == fee


def test_damaged_without_quality_defect_charged_art27(world, session, fee):
    card = world.card(CardStatus.ACTIVE)
    new = _replace(session, world, card)
    assert (new.application.fee_fen, new.application.fee_waiver) == (fee, None)


def test_replacement_for_bank_change_charged_art27(world, session, fee):
    card = world.card(CardStatus.ACTIVE)
    new = _replace(session, world, card, ReplacementReason.BANK_CHANGE)
    assert (new.application.fee_fen, new.application.fee_waiver) == (fee, None)


def test_bank_change_cannot_claim_quality_defect_art27(world, session, fee):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(InvalidInput) as e:
        _replace(session, world, card, ReplacementReason.BANK_CHANGE, quality_defect=True)
    assert e.value.article == "Art. 27(2)"


def test_replacement_for_changed_data_charged_art27(world, session, fee):
    card = world.card(CardStatus.ACTIVE)
    new = _replace(session, world, card, ReplacementReason.BASIC_DATA_CHANGED)
    assert new.application.fee_fen == fee


def test_fee_recorded_on_apply_event_art27(world, session, fee):
    from sqlalchemy import select

    from app.models import CardEvent

    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    ev = session.scalars(select(CardEvent).where(CardEvent.card_id == new.id)).one()
    assert ev.details["fee_fen"] == fee and "fee_waiver" not in ev.details
    first = session.scalars(select(CardEvent).where(CardEvent.card_id == old.id).order_by(CardEvent.id)).first()
    assert first.details["fee_waiver"] == "first_card"


# ---------------------------------------------------------------- the rule as a function


@pytest.mark.parametrize("kind", [CardKind.REISSUE, CardKind.RENEWED])
def test_only_first_card_and_defect_replacement_waived_art27(kind):
    assert fees.card_fee(kind, fee_fen=FEE, today=date(2026, 1, 1)) == (FEE, None)


def test_first_card_free_whatever_the_fee_art27():
    assert fees.card_fee(CardKind.FIRST, fee_fen=9999, today=date(2026, 1, 1)) == (0, FeeWaiver.FIRST_CARD)


@pytest.mark.parametrize(("received", "today", "free"), [
    (date(2026, 11, 23), date(2026, 11, 23), True),
    (date(2026, 11, 23), date(2027, 11, 23), True),
    (date(2026, 11, 23), date(2027, 11, 24), False),
    (date(2028, 2, 29), date(2029, 2, 28), True),  # leap day: the year ends on 28 February
    (date(2028, 2, 29), date(2029, 3, 1), False),
])
def test_quality_defect_one_year_window_art27(received, today, free):
    fee, waiver = fees.card_fee(CardKind.REPLACEMENT, fee_fen=FEE, today=today,
                                replacement_reason=ReplacementReason.DAMAGED, quality_defect=True,
                                previous_received_on=received)
    assert (fee == 0, waiver is FeeWaiver.QUALITY_DEFECT_WITHIN_YEAR) == (free, free)


def test_quality_defect_without_receipt_date_charged_art27():
    assert fees.card_fee(CardKind.REPLACEMENT, fee_fen=FEE, today=date(2026, 1, 1),
                         replacement_reason=ReplacementReason.DAMAGED, quality_defect=True,
                         previous_received_on=None) == (FEE, None)


def test_one_year_after_art27():
    assert fees.one_year_after(date(2026, 11, 23)) == date(2027, 11, 23)
    assert fees.one_year_after(date(2028, 2, 29)) == date(2029, 2, 28)
    assert fees.one_year_after(date(2026, 12, 31)) - date(2026, 12, 31) == timedelta(days=365)
