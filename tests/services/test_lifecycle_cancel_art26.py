"""Cancellation (注销): Art. 26 (the issuing agency must cancel on death or lost eligibility) and
Art. 6 (cancellation at the bank on the holder's request).

Every live card of the holder ends, the one in hand and the one being made; both accounts close;
a deceased person cannot apply again.
"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.models import CardEvent
from app.models.enums import (
    AccountStatus,
    CancellationReason,
    CardKind,
    CardStatus,
    Channel,
    DeliveryMethod,
    Field,
    ReplacementReason,
    Role,
)
from app.services import lifecycle, people
from app.services.actor import SYSTEM, Actor
from app.services.errors import (
    ChannelNotAllowed,
    IllegalTransition,
    Ineligible,
    InvalidInput,
    OutOfScope,
)
from tests.factories import DIED, PICKUP, PIN


def _held_and_in_production(session, world):
    """A holder with a card in hand (replacement pending) and its replacement in production."""
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.replace(session, world.teller, old.id, reason=ReplacementReason.DAMAGED, delivery=PICKUP)
    lifecycle.accept(session, world.clerk, new.id)
    lifecycle.start_production(session, world.clerk, new.id)
    return old, new


def _assert_all_closed(session, person_id):
    accts = lifecycle.accounts(session, person_id, open_only=False)
    assert len(accts) == 2
    assert all(a.status is AccountStatus.CLOSED and a.closed_at is not None for a in accts)
    assert lifecycle.accounts(session, person_id) == []


@pytest.mark.parametrize("who", ["agency", "gov_feed", "gov_notice"])
def test_cancel_on_death_cancels_held_card_and_card_in_production_art26(world, session, who):
    """Art. 26: the issuing agency cancels the card of a holder whose household registration public
    security cancelled because of death, on its own initiative or from the government feed."""
    old, new = _held_and_in_production(session, world)
    pid = old.person_id
    if who == "agency":
        cancelled = lifecycle.cancel(session, world.clerk, pid, reason=CancellationReason.DEATH, effective=DIED)
    elif who == "gov_feed":  # the feed's system actor
        cancelled = lifecycle.cancel(session, SYSTEM, pid, reason=CancellationReason.DEATH, effective=DIED)
    else:  # public security's notice through the government feed (Art. 15, 26)
        person = old.person
        cancelled = people.apply_government_notice(session, SYSTEM, person.doc_type, person.doc_number,
                                                   kind="death", effective=date(2026, 11, 20))
        assert person.deceased_on == date(2026, 11, 20)
    assert {c.id for c in cancelled} == {old.id, new.id}
    assert old.status is CardStatus.CANCELLED and new.status is CardStatus.CANCELLED
    assert old.ended_at is not None and new.ended_at is not None
    _assert_all_closed(session, pid)
    for card, src in ((old, "replacement_pending"), (new, "in_production")):
        ev = session.scalars(select(CardEvent).where(CardEvent.card_id == card.id)
                             .order_by(CardEvent.id.desc())).first()
        assert (ev.operation, ev.from_status, ev.to_status, ev.reason, ev.channel) == (
            "cancel", src, "cancelled", "death", Channel.AGENCY if who == "agency" else Channel.GOV_FEED)
        assert ev.actor_role is (Role.AGENCY_CLERK if who == "agency" else Role.SYSTEM)
        assert "Art. 26" in ev.article


def test_cancel_on_death_after_reissue_cancels_the_new_card_art26(world, session):
    old = world.card(CardStatus.LOSS_REGISTERED)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    cancelled = lifecycle.cancel(session, SYSTEM, old.person_id, reason=CancellationReason.DEATH, effective=DIED)
    assert [c.id for c in cancelled] == [new.id]
    assert old.status is CardStatus.INVALIDATED  # void already; stays so
    assert new.status is CardStatus.CANCELLED
    _assert_all_closed(session, old.person_id)


def test_bank_teller_cannot_cancel_for_death_art26(world, session):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.cancel(session, world.teller, card.person_id, reason=CancellationReason.DEATH, effective=DIED)
    assert e.value.article == "Art. 26"
    with pytest.raises(ChannelNotAllowed):
        lifecycle.cancel(session, world.teller, card.person_id, reason=CancellationReason.INELIGIBLE)
    assert card.status is CardStatus.ACTIVE


@pytest.mark.parametrize("who", ["hotline", "medical", "bureau", "resident"])
def test_cancel_through_other_channels_refused_art26(world, session, who):
    card = world.card(CardStatus.ACTIVE)
    actor = world.resident(card.person_id) if who == "resident" else world.actor(who)
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.cancel(session, actor, card.person_id, reason=CancellationReason.HOLDER_REQUEST)
    assert e.value.article == "Art. 26"


def test_holder_request_cancellation_only_at_the_bank_art6(world, session):
    """Art. 6: cancellation is a bank service; the issuing agency cancels on its own initiative only
    for the Art. 26 reasons."""
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    for actor in (world.clerk, SYSTEM):
        with pytest.raises(ChannelNotAllowed) as e:
            lifecycle.cancel(session, actor, card.person_id, reason=CancellationReason.HOLDER_REQUEST)
        assert e.value.article == "Art. 6"
        session.rollback()
    cancelled = lifecycle.cancel(session, world.actor("teller_yx"), card.person_id,
                                 reason=CancellationReason.HOLDER_REQUEST)
    assert [c.id for c in cancelled] == [card.id]
    assert card.status is CardStatus.CANCELLED
    _assert_all_closed(session, card.person_id)


def test_holder_request_at_another_bank_refused_art16(world, session):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(OutOfScope):
        lifecycle.cancel(session, world.actor("teller_ccb"), card.person_id,
                         reason=CancellationReason.HOLDER_REQUEST)


def test_holder_request_for_card_in_production_at_another_bank_refused_art16(world, session):
    """Art. 16: a card still being made belongs to the bank chosen for it as much as a card in hand."""
    card = world.card(CardStatus.IN_PRODUCTION)
    with pytest.raises(OutOfScope):
        lifecycle.cancel(session, world.actor("teller_ccb"), card.person_id,
                         reason=CancellationReason.HOLDER_REQUEST)
    assert card.status is CardStatus.IN_PRODUCTION


def test_apply_after_cancellation_refused_for_deceased_art26(world, session):
    card = world.card(CardStatus.ACTIVE)
    pid = card.person_id
    person = card.person
    people.apply_government_notice(session, SYSTEM, person.doc_type, person.doc_number, kind="death",
                                   effective=date(2026, 11, 20))
    assert card.status is CardStatus.CANCELLED
    session.commit()
    for actor in (world.teller, world.resident(pid)):
        with pytest.raises(Ineligible) as e:
            lifecycle.apply(session, actor, pid, bank_id=world.banks[0].id,
                            delivery=lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市"))
        assert e.value.article == "Art. 4"
        session.rollback()


def test_cancellation_for_death_alone_blocks_a_new_application_art26(world, session):
    """The agency cancels for death (Art. 26) through the back office, without a separate death record:
    no new card may be applied for in the deceased holder's name afterwards."""
    card = world.card(CardStatus.ACTIVE)
    lifecycle.cancel(session, world.clerk, card.person_id, reason=CancellationReason.DEATH, effective=DIED)
    session.commit()
    with pytest.raises(Ineligible):
        lifecycle.apply(session, world.teller, card.person_id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)


def test_cancellation_for_lost_eligibility_blocks_a_new_application_art26(world, session):
    card = world.card(CardStatus.ISSUED)
    lifecycle.cancel(session, world.clerk, card.person_id, reason=CancellationReason.INELIGIBLE)
    assert card.person.eligible is False
    with pytest.raises(Ineligible):
        lifecycle.apply(session, world.teller, card.person_id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)


def test_apply_again_after_holder_request_cancellation_art6(world, session):
    card = world.card(CardStatus.ACTIVE)
    lifecycle.cancel(session, world.teller, card.person_id, reason=CancellationReason.HOLDER_REQUEST)
    new = lifecycle.apply(session, world.teller, card.person_id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)
    assert new.kind is CardKind.RENEWED
    assert {a.status for a in lifecycle.accounts(session, card.person_id)} == {AccountStatus.PENDING}


def test_cancel_with_no_live_card_refused_art26(world, session):
    card = world.card(CardStatus.CANCELLED)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.cancel(session, world.clerk, card.person_id, reason=CancellationReason.DEATH, effective=DIED)
    assert e.value.article == "Art. 26"


def test_cancelled_card_refuses_every_operation_art26(world, session):
    card = world.card(CardStatus.CANCELLED)
    session.commit()
    t, res = world.teller, world.resident(card.person_id)
    for op in (
        lambda: lifecycle.activate(session, t, card.id, pin="246801"),
        lambda: lifecycle.register_loss(session, res, card.id),
        lambda: lifecycle.deregister_loss(session, t, card.id, id_verified=True),
        lambda: lifecycle.reissue(session, t, card.id, delivery=PICKUP, id_verified=True),
        lambda: lifecycle.replace(session, t, card.id, reason=ReplacementReason.DAMAGED, delivery=PICKUP),
        lambda: lifecycle.set_field_lock(session, t, card.id, field=Field.TRANSPORT, locked=True),
        lambda: lifecycle.change_pin(session, res, card.id, old_pin=PIN, new_pin="246801"),
        lambda: lifecycle.reset_pin(session, t, card.id, new_pin="246801", id_verified=True),
    ):
        with pytest.raises(IllegalTransition):
            op()
        session.rollback()
        assert card.status is CardStatus.CANCELLED
    report = lifecycle.inquire_status(session, t, card.id)
    assert not report.usable and not any(report.fields.values())


def test_cancel_by_feed_records_system_actor_without_user_art26(world, session):
    card = world.card(CardStatus.ACTIVE)
    lifecycle.cancel(session, Actor(role=Role.SYSTEM, channel=Channel.GOV_FEED, request_id="feed-42"),
                     card.person_id, reason=CancellationReason.DEATH, effective=DIED)
    ev = session.scalars(select(CardEvent).where(CardEvent.card_id == card.id).order_by(CardEvent.id.desc())).first()
    assert ev.actor_id is None and ev.request_id == "feed-42"


# ---------------------------------------------------------------- Art. 26: death, one rule for both paths



def _person_row(session, person_id):
    from app.models import Person

    session.expire_all()
    p = session.get(Person, person_id)
    return p.deceased_on, p.eligible


def test_clerk_cancelling_for_death_marks_the_person_deceased_as_the_feed_does_art26(world, session):
    """Art. 26 (因死亡被公安机关注销户籍): whether the issuing agency's clerk cancels for death or public
    security's notice arrives through the government feed, the person is marked the same way:
    deceased on the date of death, no longer eligible; the date goes into the audit trail."""
    by_clerk, by_feed = world.card(CardStatus.ACTIVE), world.card(CardStatus.ACTIVE)
    lifecycle.cancel(session, world.clerk, by_clerk.person_id, reason=CancellationReason.DEATH, effective=DIED)
    person = by_feed.person
    people.apply_government_notice(session, SYSTEM, person.doc_type, person.doc_number, kind="death",
                                   effective=DIED)
    session.commit()
    assert _person_row(session, by_clerk.person_id) == _person_row(session, by_feed.person_id) == (DIED, False)
    from app.models import AuditEntry

    for pid in (by_clerk.person_id, by_feed.person_id):
        marks = [e for e in session.scalars(select(AuditEntry).where(AuditEntry.person_id == pid))
                 if e.action == "person.deceased"]
        assert len(marks) == 1, pid


def test_cancellation_for_death_needs_the_date_of_death_art26(world, session):
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    for actor in (world.clerk, SYSTEM):
        with pytest.raises(InvalidInput) as e:
            lifecycle.cancel(session, actor, card.person_id, reason=CancellationReason.DEATH)
        assert e.value.article == "Art. 26" and e.value.extra.get("field") == "effective"
        session.rollback()
    with pytest.raises(InvalidInput):  # not a date to come
        lifecycle.cancel(session, world.clerk, card.person_id, reason=CancellationReason.DEATH,
                         effective=date(2099, 1, 1))
    session.rollback()
    assert _person_row(session, card.person_id) == (None, True) and card.status is CardStatus.ACTIVE
