"""Applying for a card and getting it (Art. 4, 7, 8, 9, 10, 12, 25 ¶2).

Art. 7: online or at a bank outlet; Art. 8: employers refer, banks may serve at home (an outlet
service, not a channel); Art. 9: published banks only, nothing asked again that the government
sharing platform holds valid; Art. 4: eligibility; Art. 10, 25: 12 working days, or at once at an
instant card-making outlet; Art. 12: pickup at an outlet or express delivery.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from app.models import SharedRecord
from app.models.enums import (
    AccountKind,
    AccountStatus,
    CardKind,
    CardStatus,
    Channel,
    DeliveryMethod,
    EligibilityBasis,
    Referral,
    Role,
    ServiceMode,
)
from app.privacy.runtime import blind_index
from app.services import lifecycle, people
from app.services.actor import Actor
from app.services.errors import (
    ChannelNotAllowed,
    IllegalTransition,
    Ineligible,
    InvalidInput,
    OutOfScope,
)
from app.services.lifecycle_rules import CHANNELS, Op
from tests.factories import PICKUP, citizen_id, events_of

EXPRESS = lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市越秀区中山五路2号")






def _working_days_after(start: date, n: int) -> date:
    """Independent of app.services.workdays: the n-th official working day after ``start``."""
    d = start
    while n:
        d += timedelta(days=1)
        if chinese_calendar.is_workday(d):
            n -= 1
    return d


# ---------------------------------------------------------------- Art. 7, 8: channels


def test_apply_online_by_resident_art7(world, session):
    person = world.person()
    card = lifecycle.apply(session, world.resident(person.id), person.id, bank_id=world.banks[0].id, delivery=EXPRESS)
    assert card.status is CardStatus.APPLIED
    assert card.kind is CardKind.FIRST
    assert card.application.channel is Channel.ONLINE
    assert card.application.outlet_id is None
    (ev,) = events_of(session, card.id)
    assert (ev.operation, ev.from_status, ev.to_status, ev.channel, ev.actor_role) == (
        "apply", None, "applied", Channel.ONLINE, Role.RESIDENT)
    assert "Art. 7" in ev.article


def test_apply_at_outlet_by_teller_art7(world, session):
    person = world.person()
    card = lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)
    assert card.status is CardStatus.APPLIED
    assert card.application.channel is Channel.OUTLET
    assert card.application.outlet_id == world.outlets[0].id
    assert card.application.service_mode is ServiceMode.COUNTER
    (ev,) = events_of(session, card.id)
    assert (ev.channel, ev.actor_role, ev.outlet_id) == (Channel.OUTLET, Role.BANK_TELLER, world.outlets[0].id)


def test_apply_through_any_other_channel_or_role_refused_art7(world, session):
    """Art. 7 names two channels: the network service platform and a bank outlet. Every other
    (channel, role) pair is refused, naming Art. 7, and nothing is created."""
    person = world.person()
    session.commit()
    allowed = set(CHANNELS[Op.APPLY])
    assert allowed == {(Channel.ONLINE, Role.RESIDENT), (Channel.OUTLET, Role.BANK_TELLER)}
    tried = 0
    for role in Role:
        for channel in Channel:
            if (channel, role) in allowed:
                continue
            with pytest.raises(ChannelNotAllowed) as e:
                lifecycle.apply(session, world.as_role(role, channel, person.id), person.id,
                                bank_id=world.banks[0].id, delivery=PICKUP)
            assert e.value.article == "Art. 7", (role, channel)
            session.rollback()
            tried += 1
    assert tried == len(Role) * len(Channel) - 2
    session.refresh(person)
    assert person.cards == []


def test_teller_at_outlet_without_an_outlet_refused_art7(world, session):
    person = world.person()
    no_outlet = Actor(role=Role.BANK_TELLER, channel=Channel.OUTLET, bank_id=world.banks[0].id)
    with pytest.raises(ChannelNotAllowed):
        lifecycle.apply(session, no_outlet, person.id, bank_id=world.banks[0].id, delivery=PICKUP)


def test_employer_is_a_referral_not_a_channel_art8(world, session):
    """Art. 8 ¶1: employers *tell* their staff to apply; the application still comes through
    Art. 7's channels, with the employer recorded as the referral source."""
    assert "employer" not in {c.value for c in Channel}
    assert all(role is not Role.APP_AGENCY for _, role in CHANNELS[Op.APPLY])
    person = world.person()
    card = lifecycle.apply(session, world.resident(person.id), person.id, bank_id=world.banks[0].id,
                           delivery=EXPRESS, referral=Referral.EMPLOYER)
    assert card.application.referral is Referral.EMPLOYER
    assert card.application.channel is Channel.ONLINE
    (ev,) = events_of(session, card.id)
    assert ev.details["referral"] == "employer"


def test_door_to_door_is_an_outlet_service_mode_art8(world, session):
    """Art. 8 ¶2: a bank serves people with limited mobility at home; that is a way an outlet
    serves (channel = outlet, service mode = door_to_door), not a channel of its own."""
    assert "door_to_door" not in {c.value for c in Channel}
    person = world.person()
    card = lifecycle.apply(session, world.actor("teller_yx"), person.id, bank_id=world.banks[0].id,
                           delivery=PICKUP, service_mode=ServiceMode.DOOR_TO_DOOR, id_verified=True)
    assert card.application.channel is Channel.OUTLET
    assert card.application.service_mode is ServiceMode.DOOR_TO_DOOR
    assert card.application.outlet_id == world.outlets[1].id


def test_door_to_door_online_refused_art8(world, session):
    person = world.person()
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.apply(session, world.resident(person.id), person.id, bank_id=world.banks[0].id,
                        delivery=EXPRESS, service_mode=ServiceMode.DOOR_TO_DOOR)
    assert "Art. 8" in e.value.article


def test_second_application_while_a_card_is_held_refused_art23_24(world, session):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.apply(session, world.teller, card.person_id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)
    assert e.value.article == "Art. 23, 24"


def test_second_application_while_one_is_pending_refused_art7(world, session):
    card = world.card(CardStatus.IN_PRODUCTION)
    with pytest.raises(IllegalTransition):
        lifecycle.apply(session, world.resident(card.person_id), card.person_id, bank_id=world.banks[0].id,
                        delivery=EXPRESS)


def test_application_opens_both_settlement_accounts_art13(world, session):
    person = world.person()
    lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)
    accts = lifecycle.accounts(session, person.id)
    assert sorted((a.kind, a.status) for a in accts) == [
        (AccountKind.FINANCIAL, AccountStatus.PENDING), (AccountKind.MEDICAL, AccountStatus.PENDING)]
    fin = next(a for a in accts if a.kind is AccountKind.FINANCIAL)
    assert fin.bank_id == world.banks[0].id


# ---------------------------------------------------------------- Art. 9: data and bank


def test_unpublished_bank_refused_art9(world, session):
    person = world.person()
    assert world.banks[2].published is False
    with pytest.raises(InvalidInput) as e:
        lifecycle.apply(session, world.resident(person.id), person.id, bank_id=world.banks[2].id, delivery=EXPRESS)
    assert "9 ¶3" in e.value.article


def test_unknown_bank_refused_art9(world, session):
    person = world.person()
    with pytest.raises(InvalidInput):
        lifecycle.apply(session, world.resident(person.id), person.id, bank_id=999_999, delivery=EXPRESS)


def test_teller_applying_for_another_bank_refused_art9(world, session):
    """Art. 9 ¶3: the applicant chooses the bank; a teller takes applications for their own bank."""
    person = world.person()
    with pytest.raises(OutOfScope) as e:
        lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[1].id, delivery=PICKUP, id_verified=True)
    assert "Art. 9" in e.value.article
    card = lifecycle.apply(session, world.actor("teller_ccb"), person.id, bank_id=world.banks[1].id,
                           delivery=PICKUP, id_verified=True)
    assert card.bank_id == world.banks[1].id


def _shared(session, number: str, *, valid_until: date | None, **kw) -> SharedRecord:
    rec = SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", number),
                       name=kw.pop("name", "林晓华"), address=kw.pop("address", "广州市海珠区江南大道3号"),
                       photo=kw.pop("photo", b"\x89PNG-shared"), ethnicity=kw.pop("ethnicity", "汉"),
                       valid_until=valid_until, **kw)
    session.add(rec)
    session.flush()
    return rec


def test_valid_shared_data_not_asked_again_art9(world, session, clock):
    """Art. 9 ¶2: what the government sharing platform holds valid is not asked of the applicant again."""
    number = citizen_id()
    _shared(session, number, valid_until=date(2030, 1, 1), household_registration=True)
    platform = people.LocalSharingPlatform(session)
    assert people.still_needed("resident_id", number, platform) == ["phone", "occupation"]
    person = people.register(session, world.teller, people.Applicant(
        doc_type="resident_id", doc_number=number, phone="13900001111", occupation="教师"))
    assert person.name == "林晓华"
    assert person.address == "广州市海珠区江南大道3号"
    assert person.photo == b"\x89PNG-shared"
    assert person.eligibility is EligibilityBasis.HOUSEHOLD_REGISTRATION
    card = lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)
    assert card.status is CardStatus.APPLIED


def test_unknown_document_everything_asked_art9(world, session, clock):
    number = citizen_id()
    assert people.still_needed("resident_id", number, people.LocalSharingPlatform(session)) == [
        "name", "photo", "phone", "address", "occupation"]


def test_out_of_date_shared_data_asked_again_art9(world, session, clock):
    """Art. 9 ¶2 protects only *valid* shared data: data out of date on the platform is asked again."""
    number = citizen_id()
    _shared(session, number, valid_until=date(2026, 11, 22), insured=True)  # the day before the clock's today
    session.commit()
    platform = people.LocalSharingPlatform(session)
    assert people.still_needed("resident_id", number, platform) == ["name", "photo", "phone", "address", "occupation"]
    with pytest.raises(InvalidInput) as e:
        people.register(session, world.teller, people.Applicant(
            doc_type="resident_id", doc_number=number, phone="13900001111", occupation="教师"))
    assert e.value.article == "Art. 9"
    assert set(e.value.extra["missing"]) == {"name", "photo", "address"}
    session.rollback()
    person = people.register(session, world.teller, people.Applicant(
        doc_type="resident_id", doc_number=number, phone="13900001111", occupation="教师", name="林晓华",
        photo=b"\x89PNG-new", address="广州市白云区机场路1号"))
    assert person.address == "广州市白云区机场路1号"
    assert person.eligibility is EligibilityBasis.SOCIAL_SECURITY  # insurance is still on the platform


def test_shared_data_valid_until_today_still_valid_art9(world, session, clock):
    number = citizen_id()
    _shared(session, number, valid_until=date(2026, 11, 23))  # the clock's today
    assert people.still_needed("resident_id", number, people.LocalSharingPlatform(session)) == ["phone", "occupation"]


# ---------------------------------------------------------------- Art. 4: eligibility


def test_ineligible_applicant_refused_art4(world, session):
    """Art. 4: no Guangzhou household registration, not insured here, and no public-services basis claimed."""
    with pytest.raises(Ineligible) as e:
        world.person(eligibility=None)
    assert e.value.article == "Art. 4"


def test_insured_without_household_registration_eligible_art4(world, session, clock):
    number = citizen_id()
    _shared(session, number, valid_until=None, insured=True)
    person = world.person(doc_number=number, eligibility=None)
    assert person.eligibility is EligibilityBasis.SOCIAL_SECURITY


def test_deceased_applicant_refused_art4(world, session):
    person = world.person()
    from app.services.actor import SYSTEM

    assert people.apply_government_notice(session, SYSTEM, person.doc_type, person.doc_number, kind="death",
                                          effective=date(2026, 11, 1)) == []  # nothing to cancel yet
    with pytest.raises(Ineligible) as e:
        lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP, id_verified=True)
    assert e.value.article == "Art. 4"
    assert lifecycle.accounts(session, person.id) == []


def test_applicant_who_lost_eligibility_refused_art4(world, session):
    person = world.person()
    person.eligible = False
    session.flush()
    with pytest.raises(Ineligible):
        lifecycle.apply(session, world.resident(person.id), person.id, bank_id=world.banks[0].id, delivery=EXPRESS)


# ---------------------------------------------------------------- Art. 10, 25: deadline and instant issuance


def test_accept_sets_due_date_twelve_working_days_art10(world, session, clock):
    """Art. 10: issued within 12 working days after acceptance; the day of acceptance does not count.
    Accepted Monday 23 Nov 2026 -> Wednesday 9 Dec 2026."""
    card = world.card(CardStatus.APPLIED)
    lifecycle.accept(session, world.clerk, card.id)
    app_ = card.application
    assert app_.accepted_on == date(2026, 11, 23)
    assert app_.due_on == date(2026, 12, 9) == _working_days_after(date(2026, 11, 23), 12)
    assert app_.due_provisional is False
    ev = events_of(session, card.id)[-1]
    assert (ev.operation, ev.details["due_on"]) == ("accept", "2026-12-09")
    assert ev.article == "Art. 10, 25"


def test_accept_before_national_day_skips_holidays_art10(world, session, clock):
    clock.set(datetime(2026, 9, 30, 2, 0, tzinfo=UTC))
    card = world.card(CardStatus.ACCEPTED)
    assert card.application.accepted_on == date(2026, 9, 30)
    assert card.application.due_on == _working_days_after(date(2026, 9, 30), 12)
    assert card.application.due_on > date(2026, 10, 16)  # a week of holidays lies in between


def test_accept_uses_guangzhou_local_date_art10(world, session, clock):
    """16:30 UTC on Sunday 22 Nov is 00:30 on Monday 23 Nov in Guangzhou: accepted Monday."""
    clock.set(datetime(2026, 11, 22, 16, 30, tzinfo=UTC))
    card = world.card(CardStatus.ACCEPTED)
    assert card.application.accepted_on == date(2026, 11, 23)
    assert card.application.due_on == date(2026, 12, 9)


def test_reissue_accepted_due_in_twelve_working_days_art25(world, session, clock):
    old = world.card(CardStatus.LOSS_REGISTERED)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, id_verified=True)
    lifecycle.accept(session, world.clerk, new.id)
    assert new.application.due_on == date(2026, 12, 9)


def test_instant_issuance_at_instant_outlet_art10(world, session, clock):
    """Art. 10 ¶2: urgent need, in person at an instant card-making outlet: issued at once."""
    person = world.person()
    assert world.outlets[0].instant
    card = lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                           service_mode=ServiceMode.INSTANT, id_verified=True)
    assert card.status is CardStatus.ISSUED
    assert card.received_on == date(2026, 11, 23)
    assert card.application.accepted_on == card.application.due_on == date(2026, 11, 23)
    assert card.application.service_mode is ServiceMode.INSTANT
    evs = events_of(session, card.id)
    assert [(e.operation, e.from_status, e.to_status) for e in evs] == [
        ("apply", None, "applied"), ("issue_instantly", "applied", "issued")]
    assert evs[1].article == "Art. 10 ¶2, 25 ¶2"
    lifecycle.activate(session, world.teller, card.id, pin="135790")
    assert card.status is CardStatus.ACTIVE


def test_instant_issuance_at_non_instant_outlet_refused_art10(world, session):
    person = world.person()
    teller_yx = world.actor("teller_yx")
    assert not world.outlets[1].instant
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.apply(session, teller_yx, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                        service_mode=ServiceMode.INSTANT, id_verified=True)
    assert e.value.article == "Art. 10 ¶2, 25 ¶2"


def test_instant_issuance_online_refused_art10(world, session):
    person = world.person()
    with pytest.raises(ChannelNotAllowed):
        lifecycle.apply(session, world.resident(person.id), person.id, bank_id=world.banks[0].id,
                        delivery=EXPRESS, service_mode=ServiceMode.INSTANT, id_verified=True)


def test_instant_issuance_needs_id_check_art10(world, session):
    person = world.person()
    with pytest.raises(InvalidInput) as e:
        lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                        service_mode=ServiceMode.INSTANT)
    assert e.value.article == "Art. 10 ¶2, 25 ¶2"


def test_instant_reissue_at_instant_outlet_art25(world, session, clock):
    """Art. 25 ¶2: an urgent reissue at an instant outlet is issued at once (fee still due, Art. 27)."""
    old = world.card(CardStatus.LOSS_REGISTERED)
    new = lifecycle.reissue(session, world.teller, old.id, delivery=PICKUP, service_mode=ServiceMode.INSTANT,
                            id_verified=True)
    assert new.status is CardStatus.ISSUED
    assert old.status is CardStatus.INVALIDATED
    with pytest.raises(InvalidInput):
        lifecycle.reissue(session, world.teller, new.id, delivery=PICKUP, service_mode=ServiceMode.INSTANT)


def test_instant_reissue_at_non_instant_outlet_refused_art25(world, session):
    old = world.card(CardStatus.LOSS_REGISTERED)
    with pytest.raises(ChannelNotAllowed) as e:
        lifecycle.reissue(session, world.actor("teller_yx"), old.id, delivery=PICKUP,
                          service_mode=ServiceMode.INSTANT, id_verified=True)
    assert e.value.article == "Art. 10 ¶2, 25 ¶2"


def test_instant_replacement_replaces_old_card_at_once_art25(world, session, clock):
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.replace(session, world.teller, old.id, reason=lifecycle.ReplacementReason.DAMAGED,
                            delivery=PICKUP, service_mode=ServiceMode.INSTANT, id_verified=True)
    assert new.status is CardStatus.ISSUED
    session.refresh(old)
    assert old.status is CardStatus.REPLACED


# ---------------------------------------------------------------- Art. 12: pickup or express


def test_express_delivery_dispatch_deliver_issued_art12(world, session, clock):
    card = world.card(CardStatus.PRODUCED, delivery=DeliveryMethod.EXPRESS)
    assert card.application.delivery_method is DeliveryMethod.EXPRESS
    assert card.application.delivery_address == "广州市天河区天河路100号"
    lifecycle.dispatch(session, world.clerk, card.id, tracking_ref="SF1234567890")
    assert card.status is CardStatus.IN_TRANSIT
    assert card.application.tracking_ref == "SF1234567890"
    assert card.received_on is None
    clock.advance(days=2)
    lifecycle.deliver(session, world.clerk, card.id)
    assert card.status is CardStatus.ISSUED
    assert card.received_on == date(2026, 11, 25)
    evs = events_of(session, card.id)
    assert [(e.operation, e.from_status, e.to_status) for e in evs[-2:]] == [
        ("dispatch", "produced", "in_transit"), ("deliver", "in_transit", "issued")]
    assert evs[-2].details["tracking_ref"] == "SF1234567890"
    assert {e.article for e in evs[-2:]} == {"Art. 12"}


def test_pickup_of_express_card_refused_art12(world, session):
    card = world.card(CardStatus.PRODUCED, delivery=DeliveryMethod.EXPRESS)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.pick_up(session, world.teller, card.id)
    assert e.value.article == "Art. 12"


def test_dispatch_of_pickup_card_refused_art12(world, session):
    card = world.card(CardStatus.PRODUCED, delivery=DeliveryMethod.PICKUP)
    with pytest.raises(IllegalTransition) as e:
        lifecycle.dispatch(session, world.clerk, card.id, tracking_ref="SF1")
    assert e.value.article == "Art. 12"


def test_pickup_at_outlet_records_receipt_art12(world, session, clock):
    card = world.card(CardStatus.PRODUCED)
    clock.advance(days=3)
    lifecycle.pick_up(session, world.actor("teller_yx"), card.id, id_verified=True)
    assert card.status is CardStatus.ISSUED
    assert card.received_on == date(2026, 11, 26)
    ev = events_of(session, card.id)[-1]
    assert (ev.operation, ev.outlet_id, ev.details.get("id_verified")) == ("pick_up", world.outlets[1].id, True)


def test_express_needs_an_address_art12(world, session):
    person = world.person()
    with pytest.raises(InvalidInput) as e:
        lifecycle.apply(session, world.resident(person.id), person.id, bank_id=world.banks[0].id,
                        delivery=lifecycle.Delivery(DeliveryMethod.EXPRESS, "  "))
    assert e.value.article == "Art. 12"


def test_pickup_before_production_finished_refused_art12(world, session):
    card = world.card(CardStatus.IN_PRODUCTION)
    with pytest.raises(IllegalTransition):
        lifecycle.pick_up(session, world.teller, card.id)
