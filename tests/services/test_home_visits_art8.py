"""Door-to-door requests (Art. 8 ¶2): a bank outlet records a home-visit request, arranges it and closes
it with the door-to-door application taken at home; other banks do not see it (Art. 16)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.models import AuditEntry, HomeVisitRequest
from app.models.enums import DeliveryMethod, ServiceMode
from app.models.home_visit import VisitStatus
from app.services import home_visits, lifecycle
from app.services.errors import ChannelNotAllowed, IllegalTransition, InvalidInput, OutOfScope

VISIT = dict(name="李阿婆", phone="13800138000", address="广州市越秀区东风中路5号", reason="elderly")


def test_a_request_is_filed_scheduled_and_closed_with_the_application_taken_at_home_art8(session, world, clock):
    req = home_visits.file_request(session, world.teller, **VISIT)
    assert req.status is VisitStatus.OPEN and req.bank_id == world.banks[0].id
    home_visits.schedule(session, world.teller, req.id, date(2026, 11, 25))
    assert req.status is VisitStatus.SCHEDULED
    person = world.person(name="李阿婆")
    card = lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, id_verified=True,
                           delivery=lifecycle.Delivery(DeliveryMethod.PICKUP), service_mode=ServiceMode.DOOR_TO_DOOR)
    home_visits.complete(session, world.teller, req.id, card.id)
    assert (req.status, req.card_id) == (VisitStatus.DONE, card.id)
    assert home_visits.requests(session, world.teller) == []
    with pytest.raises(IllegalTransition):
        home_visits.cancel(session, world.teller, req.id, "no longer needed")
    trail = session.scalars(select(AuditEntry).where(AuditEntry.action == "home_visit.file")).one()
    assert "李阿婆" not in str(trail.record) and "13800138000" not in str(trail.record)  # masked (Art. 16)


def test_a_counter_application_does_not_close_a_door_to_door_request_art8(session, world):
    req = home_visits.file_request(session, world.teller, **VISIT)
    card = world.card("applied")
    with pytest.raises(InvalidInput) as e:
        home_visits.complete(session, world.teller, req.id, card.id)
    assert e.value.article == "Art. 8 ¶2"


def test_another_bank_neither_sees_nor_handles_the_request_art16(session, world):
    req = home_visits.file_request(session, world.teller, **VISIT)
    ccb = world.actor("teller_ccb")
    assert home_visits.requests(session, ccb) == []
    with pytest.raises(OutOfScope):
        home_visits.cancel(session, ccb, req.id, "x")


def test_only_a_bank_outlet_gives_door_to_door_service_art8(session, world):
    with pytest.raises(ChannelNotAllowed):
        home_visits.file_request(session, world.clerk, **VISIT)


@pytest.mark.parametrize("over, field", [({"phone": "12"}, "phone"), ({"name": " "}, "name"),
                                         ({"reason": "bored"}, "reason"), ({"visit_on": date(2020, 1, 1)}, "visit_on")])
def test_bad_input_to_a_request_names_the_field_and_writes_nothing_art8(session, world, clock, over, field):
    with pytest.raises(InvalidInput) as e:
        home_visits.file_request(session, world.teller, **{**VISIT, **over})
    assert e.value.extra["field"] == field
    session.rollback()
    assert session.scalars(select(HomeVisitRequest)).all() == []
