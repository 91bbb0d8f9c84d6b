"""Art. 16, 28, 33: an application agency looks a holder up by ID document to keep serving them during a
reissue or replacement; it sees masked identity data and the status of its OWN field only, and the
lookup is on record. It may then see the holder's full name and ID number, with a purpose."""
from __future__ import annotations

import pytest

from app.models import Agency, StaffUser
from app.models.enums import CardStatus, Field, Role
from app.services import lifecycle
from app.services.hashing import hash_password
from tests.factories import citizen_id
from tests.privacy.art16_helpers import app_keys_fixture, entries, staff_fixture  # noqa: F401

DOC = citizen_id(region="440104", birth="19850315", seq=456)
NAME = "欧阳晓燕"


@pytest.fixture
def holder(world, session, clock):
    person = world.person(doc_number=DOC, name=NAME)
    card = world.card(CardStatus.ACTIVE, person=person)
    lifecycle.set_field_lock(session, world.teller, card.id, field=Field.TRANSPORT, locked=True, reason="test")
    session.commit()
    return person, card


def _lookup(client, headers, doc=DOC):
    return client.post("/api/agency/holders", json={"doc_type": "resident_id", "doc_number": doc}, headers=headers)


def test_agency_sees_masked_identity_and_its_own_field_only_art16_28(client, session, world, staff, holder) -> None:
    person, _ = holder
    resp = _lookup(client, staff("medical"))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body == {"person_id": person.id, "name": "欧**燕", "ssn": DOC[:6] + "********" + DOC[-4:],
                    "card_status": "active", "card_kind": "first", "settlement_suspended": False,
                    "field": {"field": "medical", "locked": False, "usable": True}}
    assert "transport" not in resp.get_data(as_text=True)
    [entry] = entries(session, action="read.agency_holder")
    assert (entry.person_id, entry.actor_id) == (person.id, world.staff["medical"].id)
    assert entry.record["agency_id"] == world.agencies["MED"].id


def test_another_agency_sees_its_own_locked_field_art16(client, session, world, staff, holder) -> None:
    session.add(StaffUser(username="transit", display_name="transit", password_hash=hash_password("transit-pw"),
                          role=Role.APP_AGENCY, agency_id=world.agencies["TRANS"].id))
    session.commit()
    body = _lookup(client, staff("transit")).get_json()
    assert body["field"] == {"field": "transport", "locked": True, "usable": False}
    assert "medical" not in str(body)


def test_during_a_reissue_the_agency_still_finds_the_holder_with_settlement_suspended_art28(
        client, session, world, staff, holder) -> None:
    _, card = holder
    lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
    lifecycle.reissue(session, world.teller, card.id, delivery=lifecycle.Delivery(lifecycle.DeliveryMethod.PICKUP), id_verified=True)
    session.commit()
    body = _lookup(client, staff("medical")).get_json()
    assert body["card_kind"] == "reissue" and body["card_status"] == "applied"
    assert body["settlement_suspended"] is True
    assert body["field"]["usable"] is False


def test_status_inquiry_by_an_agency_shows_status_and_its_own_field_only_art16(client, staff, holder) -> None:
    _, card = holder
    # not by walking card ids: only a holder it looked up by document (Art. 16, 28)
    walked = client.get(f"/api/cards/{card.id}/status", headers=staff("medical"))
    assert walked.status_code == 403 and walked.get_json()["article"] == "Art. 16"
    assert card.number not in walked.get_data(as_text=True)
    assert _lookup(client, staff("medical")).status_code == 200
    agency = client.get(f"/api/cards/{card.id}/status", headers=staff("medical")).get_json()
    assert agency == {"card": {"id": card.id, "person_id": card.person_id, "status": "active", "kind": "first",
                               "version": card.version},
                      "usable": True, "settlement_suspended": False, "fields": {"medical": True}}
    teller = client.get(f"/api/cards/{card.id}/status", headers=staff("teller")).get_json()
    assert teller["fields"]["transport"] is False and len(teller["fields"]) == len(Field)


def test_an_agency_reveals_name_and_id_only_after_looking_the_holder_up_art16_28(
        client, session, world, staff, holder, clock) -> None:
    person, _ = holder
    body = {"fields": ["name", "doc_number"], "purpose": "counter_service", "detail": "医保结算窗口核对身份"}
    url = f"/api/persons/{person.id}/reveal"
    assert client.post(url, json=body, headers=staff("medical")).status_code == 403
    assert _lookup(client, staff("medical")).status_code == 200
    resp = client.post(url, json=body, headers=staff("medical"))
    assert resp.status_code == 200 and resp.get_json()["values"] == {"name": NAME, "doc_number": DOC}
    phone = client.post(url, json={**body, "fields": ["phone"]}, headers=staff("medical"))
    assert phone.status_code == 403  # never more than name and ID number
    clock.advance(hours=1, seconds=1)
    assert client.post(url, json=body, headers=staff("medical")).status_code == 403  # the lookup has lapsed
    assert [e.record["subject"] for e in entries(session, action="reveal.refused")] == [
        "refused: scope", "refused: fields", "refused: scope"]


def test_only_application_agencies_use_the_holder_lookup_art16(client, staff, holder) -> None:
    for who in ("clerk", "teller", "bureau", "auditor", "hotline"):
        resp = _lookup(client, staff(who))
        assert resp.status_code == 403, who


def test_unknown_document_and_agency_without_a_field_art16(client, session, world, staff, holder) -> None:
    assert _lookup(client, staff("medical"), doc=citizen_id(seq=999)).status_code == 404
    nofield = Agency(code="NOFIELD", name="no field", kind="application", field=None)
    session.add(nofield)
    session.flush()
    session.add(StaffUser(username="nofield", display_name="x", password_hash=hash_password("nofield-pw"),
                          role=Role.APP_AGENCY, agency_id=nofield.id))
    session.commit()
    assert _lookup(client, staff("nofield")).status_code == 403
