"""Replacement (换领, Art. 24) and information change (Art. 6, 24(2)).

Art. 24: (1) face soiled or chip unreadable/unwritable, (2) basic personal data changed lawfully
(name, ID number, ethnicity 民族 …), (3) change of bank, where the issuing agency and the FORMER bank
cooperate. Replacement is taken at an outlet: no online channel is named (Art. 6, 24). The old card
stays usable until the new one is issued.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import Bank, CardApplication, CardEvent, Outlet, StaffUser
from app.models.enums import (
    AccountKind,
    AccountStatus,
    CardKind,
    CardStatus,
    Channel,
    DeliveryMethod,
    ReplacementReason,
    Role,
)
from app.privacy.runtime import blind_index
from app.services import lifecycle, people
from app.services.actor import Actor
from app.services.errors import (
    ChannelNotAllowed,
    IllegalTransition,
    InvalidInput,
    OutOfScope,
)
from app.services.hashing import hash_password
from tests.factories import PICKUP, PIN, citizen_id, events_of


def _produce(session, world, card):
    lifecycle.accept(session, world.clerk, card.id)
    lifecycle.start_production(session, world.clerk, card.id)
    lifecycle.finish_production(session, world.clerk, card.id)


def _third_bank_teller(session) -> Actor:
    bank = Bank(code="BOC-GZ", name="中国银行广州分行")
    session.add(bank)
    session.flush()
    outlet = Outlet(bank_id=bank.id, code="BOC-BY-01", name="白云网点", district="白云区", address="机场路1号")
    session.add(outlet)
    session.flush()
    user = StaffUser(username="teller_boc", display_name="teller_boc", password_hash=hash_password("x"),
                     role=Role.BANK_TELLER, bank_id=bank.id, outlet_id=outlet.id)
    session.add(user)
    session.flush()
    return Actor(role=Role.BANK_TELLER, channel=Channel.OUTLET, user_id=user.id, bank_id=bank.id,
                 outlet_id=outlet.id)


# ---------------------------------------------------------------- Art. 24(1): damaged


def test_replacement_for_damaged_card_art24(world, session, clock):
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.replace(session, world.teller, old.id, reason=ReplacementReason.DAMAGED, delivery=PICKUP)
    assert old.status is CardStatus.REPLACEMENT_PENDING
    assert new.status is CardStatus.APPLIED and new.kind is CardKind.REPLACEMENT
    assert new.number != old.number and new.predecessor_id == old.id
    assert new.application.replacement_reason is ReplacementReason.DAMAGED
    ev = events_of(session, old.id)[-1]
    assert (ev.operation, ev.from_status, ev.to_status, ev.article, ev.reason) == (
        "replace", "active", "replacement_pending", "Art. 24", "damaged")
    # Art. 24, 28: the old card stays usable while the new one is made; accounts are not suspended.
    report = lifecycle.inquire_status(session, world.teller, old.id)
    assert report.usable and not report.settlement_suspended


def test_old_card_replaced_when_new_card_issued_art24(world, session, clock):
    old = world.card(CardStatus.REPLACEMENT_PENDING)
    new = old.person.cards[-1]
    assert new.status is CardStatus.APPLIED
    _produce(session, world, new)
    assert old.status is CardStatus.REPLACEMENT_PENDING  # still usable until the new one is issued
    lifecycle.pick_up(session, world.teller, new.id)
    session.refresh(old)
    assert new.status is CardStatus.ISSUED
    assert old.status is CardStatus.REPLACED and old.ended_at is not None
    ev = events_of(session, old.id)[-1]
    assert (ev.operation, ev.from_status, ev.to_status, ev.article) == (
        "replace", "replacement_pending", "replaced", "Art. 24")
    assert ev.details["replaced_by"] == new.number
    lifecycle.activate(session, world.teller, new.id, pin=PIN)
    assert new.status is CardStatus.ACTIVE


def test_old_card_replaced_when_new_card_delivered_by_express_art24(world, session, clock):
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.replace(session, world.teller, old.id, reason=ReplacementReason.DAMAGED,
                            delivery=lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市天河区天河路100号"))
    _produce(session, world, new)
    lifecycle.dispatch(session, world.clerk, new.id, tracking_ref="SF42")
    lifecycle.deliver(session, world.clerk, new.id)
    session.refresh(old)
    assert (old.status, new.status) == (CardStatus.REPLACED, CardStatus.ISSUED)


def test_replacement_online_refused_art24(world, session):
    """Art. 6, 24: no online channel is named for replacement."""
    old = world.card(CardStatus.ACTIVE)
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.replace(session, world.resident(old.person_id), old.id, reason=ReplacementReason.DAMAGED,
                          delivery=lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市"))
    assert e.value.article == "Art. 24"
    assert old.status is CardStatus.ACTIVE


@pytest.mark.parametrize("state", ["loss_registered", "replacement_pending", "produced"])
def test_replacement_refused_unless_card_in_hand_art24(world, session, state):
    """A lost card is reissued (Art. 23), not replaced; a replacement already under way is not repeated."""
    old = world.card(state)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.replace(session, world.teller, old.id, reason=ReplacementReason.DAMAGED, delivery=PICKUP)
    assert e.value.article == "Art. 24"


def test_replacement_by_another_banks_teller_refused_art24(world, session):
    old = world.card(CardStatus.ACTIVE)
    with pytest.raises(OutOfScope):
        lifecycle.replace(session, world.actor("teller_ccb"), old.id, reason=ReplacementReason.DAMAGED,
                          delivery=PICKUP)


# ---------------------------------------------------------------- Art. 24(3): change of bank


def test_bank_change_taken_at_new_bank_former_bank_confirms_unbinding_art24(world, session, clock):
    old = world.card(CardStatus.ACTIVE)
    pid = old.person_id
    before = {a.kind: a for a in lifecycle.accounts(session, pid)}
    medical_id, old_fin_id = before[AccountKind.MEDICAL].id, before[AccountKind.FINANCIAL].id
    ccb = world.actor("teller_ccb")
    new = lifecycle.replace(session, ccb, old.id, reason=ReplacementReason.BANK_CHANGE, delivery=PICKUP,
                            new_bank_id=world.banks[1].id)
    assert new.bank_id == world.banks[1].id and old.bank_id == world.banks[0].id
    assert new.application.replacement_reason is ReplacementReason.BANK_CHANGE
    accts = {(a.kind, a.bank_id): a for a in lifecycle.accounts(session, pid)}
    assert accts[(AccountKind.FINANCIAL, world.banks[0].id)].status is AccountStatus.UNBINDING
    assert accts[(AccountKind.FINANCIAL, world.banks[1].id)].status is AccountStatus.PENDING
    assert accts[(AccountKind.MEDICAL, None)].id == medical_id
    assert accts[(AccountKind.MEDICAL, None)].status is AccountStatus.ACTIVE  # the medical account stays

    session.commit()
    # Neither the new bank nor a third bank confirms the former bank's unbinding (Art. 24 ¶2).
    for actor in (ccb, _third_bank_teller(session)):
        session.commit()
        with pytest.raises(OutOfScope) as e:
            lifecycle.confirm_unbind(session, actor, pid)
        assert e.value.article == "Art. 24 ¶2"
        session.rollback()
    with pytest.raises(ChannelNotAllowed):
        lifecycle.confirm_unbind(session, world.clerk, pid)
    session.rollback()

    account = lifecycle.confirm_unbind(session, world.actor("teller_yx"), pid)  # the former bank
    session.commit()
    assert account.id == old_fin_id
    assert account.status is AccountStatus.CLOSED and account.closed_at is not None
    assert account.unbind_confirmed_by == world.staff["teller_yx"].id
    ev = session.scalars(select(CardEvent).where(CardEvent.operation == "confirm_unbind")).one()
    assert (ev.person_id, ev.article, ev.channel) == (pid, "Art. 24 ¶2", Channel.OUTLET)
    with pytest.raises(IllegalTransition):  # nothing left to unbind
        lifecycle.confirm_unbind(session, world.teller, pid)
    session.rollback()

    # The new card is handed out by the new bank; the old one then ends.
    _produce(session, world, new)
    lifecycle.pick_up(session, ccb, new.id)
    session.refresh(old)
    assert old.status is CardStatus.REPLACED
    lifecycle.activate(session, ccb, new.id, pin=PIN)
    accts = lifecycle.accounts(session, pid)
    assert sorted((a.kind, a.bank_id, a.status) for a in accts) == [
        (AccountKind.FINANCIAL, world.banks[1].id, AccountStatus.ACTIVE),
        (AccountKind.MEDICAL, None, AccountStatus.ACTIVE)]
    # The former bank no longer serves this holder's card (Art. 16).
    with pytest.raises(OutOfScope):
        lifecycle.register_loss(session, world.teller, new.id, id_verified=True)


def test_bank_change_taken_at_former_bank_refused_art24(world, session):
    old = world.card(CardStatus.ACTIVE)
    with pytest.raises(OutOfScope) as e:
        lifecycle.replace(session, world.teller, old.id, reason=ReplacementReason.BANK_CHANGE, delivery=PICKUP,
                          new_bank_id=world.banks[1].id)
    assert e.value.article == "Art. 24(3)"


def test_bank_change_to_same_or_unpublished_bank_refused_art24(world, session):
    old = world.card(CardStatus.ACTIVE)
    session.commit()
    for bank_id in (None, world.banks[0].id, world.banks[2].id):
        with pytest.raises(InvalidInput):
            lifecycle.replace(session, world.actor("teller_ccb"), old.id, reason=ReplacementReason.BANK_CHANGE,
                              delivery=PICKUP, new_bank_id=bank_id)
        session.rollback()


def test_quality_defect_only_for_damaged_card_art27(world, session):
    old = world.card(CardStatus.ACTIVE)
    with pytest.raises(InvalidInput) as e:
        lifecycle.replace(session, world.actor("teller_ccb"), old.id, reason=ReplacementReason.BANK_CHANGE,
                          delivery=PICKUP, new_bank_id=world.banks[1].id, quality_defect=True)
    assert e.value.article == "Art. 27(2)"


# ---------------------------------------------------------------- Art. 24(2), Art. 6: information change


def _no_new_card(session, old, version):
    """Nothing but the data changed: the card, its version and the holder's cards are as they were,
    and no application (so no fee, Art. 27) was made."""
    session.refresh(old)
    assert old.version == version and len(old.person.cards) == 1
    assert session.scalar(select(func.count()).select_from(CardApplication)
                          .where(CardApplication.person_id == old.person_id)) == 1


def test_name_change_records_the_change_and_offers_a_replacement_art24(world, session, app):
    """Art. 24(2): 持卡人姓名 … 依法变更的, 持卡人可以申请换领: the change is recorded and a replacement
    offered; the holder decides. Nothing is started and nothing is charged on the holder's behalf."""
    old = world.card(CardStatus.ACTIVE)
    version = old.version
    person, offer = people.change_info(session, world.teller, old.person_id, {"name": "陈大明"}, id_verified=True)
    assert person.name == "陈大明" and person.name_bidx == blind_index("name", "陈大明")
    assert offer == people.ReplacementOffer(card_id=old.id, reason=ReplacementReason.BASIC_DATA_CHANGED,
                                            article="Art. 24(2)", fee_fen=app.config["CARD_FEE_FEN"])
    assert old.status is CardStatus.ACTIVE
    (ev,) = [e for e in events_of(session, old.id) if e.operation == "change_info"]
    assert (ev.from_status, ev.to_status) == ("active", "active") and "name" in ev.details["changed"]
    _no_new_card(session, old, version)
    # The holder decides to take the replacement: an application of its own, with the fee it offered.
    new = lifecycle.replace(session, world.teller, old.id, reason=offer.reason, delivery=PICKUP)
    assert new.application.replacement_reason is ReplacementReason.BASIC_DATA_CHANGED
    assert new.application.fee_fen == offer.fee_fen and old.status is CardStatus.REPLACEMENT_PENDING


def test_ethnicity_change_offers_a_replacement_art24(world, session):
    """Art. 24(2) in the ruling Chinese text lists 民族 (ethnicity)."""
    old = world.card(CardStatus.ISSUED)
    version = old.version
    _, offer = people.change_info(session, world.teller, old.person_id, {"ethnicity": "壮"}, id_verified=True)
    assert offer.reason is ReplacementReason.BASIC_DATA_CHANGED and offer.card_id == old.id
    assert old.status is CardStatus.ISSUED
    _no_new_card(session, old, version)


def test_id_number_change_keeps_person_and_history_art24(world, session):
    """Art. 11, 24(2): a lawful change of ID number keeps the person and their cards; a new card is offered."""
    old = world.card(CardStatus.ACTIVE)
    pid = old.person_id
    number = citizen_id(birth="19900101")
    person, offer = people.change_info(session, world.teller, pid, {"doc_number": number}, id_verified=True)
    assert person.id == pid
    assert people.find_by_document(session, "resident_id", number).id == pid
    assert people.find_by_ssn(session, number).id == pid  # citizens: SSN = ID number
    assert offer.card_id == old.id and old.status is CardStatus.ACTIVE


def test_name_change_with_a_lost_card_is_recorded_without_a_replacement_offer_art23_24(world, session):
    """The lawful change is a fact to record whatever the card's state. A lost card cannot be replaced
    (Art. 24 from a card in hand only); its reissue (Art. 23) will carry the new name."""
    old = world.card(CardStatus.LOSS_REGISTERED)
    person, offer = people.change_info(session, world.teller, old.person_id, {"name": "陈大明"}, id_verified=True)
    assert person.name == "陈大明" and offer is None
    assert old.status is CardStatus.LOSS_REGISTERED


def test_name_change_online_refused_art24(world, session):
    old = world.card(CardStatus.ACTIVE)
    session.commit()
    with pytest.raises(ChannelNotAllowed) as e:
        people.change_info(session, world.resident(old.person_id), old.person_id, {"name": "陈大明"},
                           id_verified=True)
    assert e.value.article == "Art. 24(2)"
    session.rollback()
    session.refresh(old.person)
    assert old.person.name == "陈小明"
    assert old.status is CardStatus.ACTIVE


def test_name_change_at_agency_refused_art24(world, session):
    old = world.card(CardStatus.ACTIVE)
    with pytest.raises(ChannelNotAllowed):
        people.change_info(session, world.clerk, old.person_id, {"name": "陈大明"}, id_verified=True)


def test_name_change_without_id_check_refused_art24(world, session):
    old = world.card(CardStatus.ACTIVE)
    with pytest.raises(InvalidInput) as e:
        people.change_info(session, world.teller, old.person_id, {"name": "陈大明"})
    assert e.value.article == "Art. 24(2)"


def test_phone_change_online_needs_no_new_card_art6(world, session):
    """Art. 6 information change: contact data changes in place, online too; no new card. (Online, a
    new mobile counts once the code sent to it came back, Art. 19: tests/selfservice/test_phone_change_art19.py.)"""
    old = world.card(CardStatus.ACTIVE)
    version = old.version
    person, offer = people.change_info(session, world.resident(old.person_id), old.person_id,
                                       {"phone": "139 0000 2222"}, phone_confirmed=True)
    assert offer is None
    assert person.phone_bidx == blind_index("phone", person.phone)
    assert "2222" in person.phone
    session.refresh(old)
    assert old.status is CardStatus.ACTIVE and old.version == version
    assert len(old.person.cards) == 1
    ev = events_of(session, old.id)[-1]
    assert (ev.operation, ev.channel, ev.article) == ("change_info", Channel.ONLINE, "Art. 6, 24(2)")
    assert "phone" in ev.details["changed"]


def test_resident_cannot_change_someone_elses_info_art16(world, session):
    a = world.card(CardStatus.ACTIVE)
    b = world.person()
    with pytest.raises(OutOfScope):
        people.change_info(session, world.resident(b.id), a.person_id, {"phone": "13900002222"})


def test_unknown_field_change_refused_art6(world, session):
    old = world.card(CardStatus.ACTIVE)
    with pytest.raises(InvalidInput):
        people.change_info(session, world.teller, old.person_id, {"eligible": True})
