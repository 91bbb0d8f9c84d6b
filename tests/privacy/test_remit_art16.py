"""Art. 16 ("在各自的职权范围内"): each party only within its own remit.

* Pre-filling an application asks the government sharing platform about a document: a resident may ask
  only about their own document (otherwise it tells anyone whether an ID number is a real person), and
  staff pre-fills are on record.
* A teller registering someone who is already registered gets the record only within its bank's remit,
  and that read is on record; a bank's remit ends with its card relationship (a cancelled card).
* A reveal names a purpose from a list plus free text, and a clerk's reveal names its case.
"""
from __future__ import annotations

import json

import pytest

from app.models import SharedRecord
from app.models.enums import CardStatus
from app.privacy.runtime import blind_index
from app.services import lifecycle, selfservice
from tests.factories import citizen_id
from tests.privacy.art16_helpers import (  # noqa: F401
    app_keys_fixture,
    count,
    entries,
    resident_headers,
    staff_fixture,
)

NAME = "欧阳晓燕"


def _platform_record(session, doc: str) -> None:
    session.add(SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", doc),
                             name=NAME, household_registration=True))
    session.commit()


def _prefill(client, headers, doc):
    return client.post("/api/persons/prefill", json={"doc_type": "resident_id", "doc_number": doc}, headers=headers)


# ---------------------------------------------------------------- item 4: pre-fill


def test_a_resident_may_prefill_only_their_own_document_art16_19(app, client, session, world) -> None:
    me = world.person()
    stranger = citizen_id(region="440104", birth="19700101", seq=777)
    _platform_record(session, stranger)
    headers = resident_headers(app, me.id)
    before = count(session)
    other = _prefill(client, headers, stranger)
    assert other.status_code == 403 and other.mimetype == "application/problem+json"
    assert other.get_json()["article"] == "Art. 16, 19"
    assert "still_needed" not in other.get_json()
    unknown = _prefill(client, headers, citizen_id(region="440104", birth="19700101", seq=778))
    same = ("type", "title", "detail", "article")  # the same answer whether or not the platform knows it
    assert unknown.status_code == 403 and [unknown.get_json()[k] for k in same] == [other.get_json()[k] for k in same]
    assert count(session) == before  # a resident's own inquiry is not an audited staff read
    own = _prefill(client, headers, me.doc_number)
    assert own.status_code == 200 and "still_needed" in own.get_json()


def test_a_staff_prefill_is_on_record_art16(client, session, world, staff) -> None:
    doc = citizen_id(region="440104", birth="19700101", seq=779)
    _platform_record(session, doc)
    resp = _prefill(client, {**staff("teller"), "X-Request-ID": "req-prefill"}, doc)
    assert resp.status_code == 200
    assert "name" not in resp.get_json()["still_needed"]
    [entry] = entries(session, action="read.prefill")
    assert (entry.actor_id, entry.actor_role) == (world.staff["teller"].id, "bank_teller")
    rec = entry.record
    assert rec["request_id"] == "req-prefill" and rec["bank_id"] == world.staff["teller"].bank_id
    assert doc not in str(rec) and rec["subject"] == f"prefill:resident_id:{doc[:6]}********{doc[-4:]}"
    assert rec["fields"] == ["platform_record"]


# ---------------------------------------------------------------- item 6: the bank's remit


def test_registering_another_banks_customer_gives_no_record_art16(client, session, world, staff) -> None:
    person = world.person(name=NAME)
    card = world.card(CardStatus.ACTIVE, person=person)  # bank 0
    session.commit()
    body = {"doc_type": "resident_id", "doc_number": person.doc_number}
    before = count(session)
    other = client.post("/api/persons/", json=body, headers=staff("teller_ccb"))
    assert other.status_code == 403 and other.get_json()["article"] == "Art. 16"
    assert "欧**燕" not in json.dumps(other.get_json(), ensure_ascii=False) and card.number not in other.get_data(as_text=True)
    assert count(session) == before
    own = client.post("/api/persons/", json=body, headers=staff("teller"))
    assert own.status_code == 200 and own.get_json()["id"] == person.id  # 200: nothing was created
    [entry] = entries(session, action="read.person")
    assert (entry.person_id, entry.actor_id) == (person.id, world.staff["teller"].id)
    assert entry.record["subject"] == "register:existing"


def test_applying_for_another_banks_customer_tells_nothing_of_their_card_art16(client, session, world,
                                                                              staff) -> None:
    person = world.person(name=NAME)
    card = world.card(CardStatus.ACTIVE, person=person)  # bank 0
    session.commit()
    resp = client.post("/api/applications/", headers=staff("teller_ccb"), json={
        "applicant": {"doc_type": "resident_id", "doc_number": person.doc_number}, "bank_id": world.banks[1].id,
        "delivery_method": "pickup", "id_verified": True})
    assert resp.status_code == 409 and card.number not in resp.get_data(as_text=True)


def test_a_new_registration_is_created_and_on_record_art9_16(client, session, world, staff) -> None:
    body = {"doc_type": "resident_id", "doc_number": citizen_id(seq=611), "name": NAME, "phone": "13912345678",
            "address": "广州市越秀区中山五路2号", "photo": "iVBORw==", "occupation": "教师",
            "eligibility": "public_services"}
    resp = client.post("/api/persons/", json=body, headers=staff("teller_ccb"))
    assert resp.status_code == 201
    assert [e.person_id for e in entries(session, action="person.register")] == [resp.get_json()["id"]]


def test_a_banks_remit_ends_with_its_card_relationship_art16(client, session, world, staff) -> None:
    card = world.card(CardStatus.ACTIVE)
    pid = card.person_id
    lifecycle.cancel(session, world.teller, pid, reason=lifecycle.CancellationReason.HOLDER_REQUEST)
    session.commit()
    body = {"fields": ["name"], "purpose": "counter_service", "detail": "持卡人到柜台咨询"}
    resp = client.post(f"/api/persons/{pid}/reveal", json=body, headers=staff("teller"))
    assert resp.status_code == 403 and resp.get_json()["article"] == "Art. 16"
    assert entries(session, action="reveal.refused")[0].record["subject"] == "refused: scope"
    for url in (f"/api/persons/{pid}", f"/api/persons/{pid}/cards", f"/api/cards/{card.id}"):
        assert client.get(url, headers=staff("teller")).status_code == 403, url
    assert client.get(f"/api/cards/?person_id={pid}", headers=staff("teller")).get_json() == []
    assert client.get(f"/api/persons/{pid}", headers=staff("clerk")).status_code == 200  # the agency still may


def test_a_bank_change_keeps_the_former_bank_in_remit_until_it_unbinds_art16_24(client, session, world,
                                                                               staff) -> None:
    card = world.card(CardStatus.ACTIVE)
    lifecycle.replace(session, world.actor("teller_ccb"), card.id, reason=lifecycle.ReplacementReason.BANK_CHANGE,
                      new_bank_id=world.banks[1].id, delivery=lifecycle.Delivery(lifecycle.DeliveryMethod.PICKUP))
    session.commit()
    for who in ("teller", "teller_ccb"):
        assert client.get(f"/api/persons/{card.person_id}", headers=staff(who)).status_code == 200, who


# ---------------------------------------------------------------- item 7: purpose and case


@pytest.fixture
def holder(world, session):
    person = world.person(name=NAME)
    card = world.card(CardStatus.ACTIVE, person=person)
    session.commit()
    return person, card


def _reveal(client, headers, pid, **body):
    return client.post(f"/api/persons/{pid}/reveal", json={"fields": ["name"], **body}, headers=headers)


@pytest.mark.parametrize("body", [
    {"purpose": "aaaaa", "detail": "aaaaa"},  # not on the list
    {"purpose": "办理补卡，核对持卡人身份"},  # free text is not a purpose
    {"purpose": "counter_service"},  # the free text is missing
    {"purpose": "counter_service", "detail": "   "},
])
def test_a_reveal_needs_a_purpose_from_the_list_and_free_text_art16(client, session, staff, holder, body) -> None:
    before = count(session)
    resp = _reveal(client, staff("teller"), holder[0].id, **body)
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    assert count(session) == before


def test_a_reveal_records_the_purpose_and_the_free_text_art16(client, session, staff, holder) -> None:
    resp = _reveal(client, staff("teller"), holder[0].id, purpose="counter_service", detail="持卡人在柜台办理挂失")
    assert resp.status_code == 200, resp.get_json()
    [entry] = entries(session, action="reveal.person")
    assert entry.record["purpose"] == "counter_service: 持卡人在柜台办理挂失"


def test_a_purpose_not_of_the_roles_remit_is_refused_art16(client, staff, holder) -> None:
    assert _reveal(client, staff("teller"), holder[0].id, purpose="own_inquiry", detail="x").status_code == 422
    assert _reveal(client, staff("clerk"), holder[0].id, purpose="counter_service",
                   detail="柜台服务").status_code == 422  # the issuing agency has no counter of its own here


def test_a_clerks_reveal_names_its_case_art16_20(app, client, session, world, staff, holder) -> None:
    person, card = holder
    pid = person.id
    no_case = _reveal(client, staff("clerk"), pid, purpose="correction", detail="核对更正申请")
    assert no_case.status_code == 422 and no_case.get_json()["article"] == "Art. 16"
    req = selfservice.file(session, world.resident(pid), field="name", proposed_value="欧阳小燕", reason="错字")
    other = world.person()
    other_req = selfservice.file(session, world.resident(other.id), field="name", proposed_value="x", reason="y")
    session.commit()
    wrong = _reveal(client, staff("clerk"), pid, purpose="correction", detail="核对更正申请", case=str(other_req.id))
    assert wrong.status_code == 422
    assert _reveal(client, staff("clerk"), pid, purpose="correction", detail="核对更正申请",
                   case="999999").status_code == 422
    ok = _reveal(client, staff("clerk"), pid, purpose="correction", detail="核对更正申请", case=str(req.id))
    assert ok.status_code == 200, ok.get_json()
    [entry] = entries(session, action="reveal.person")
    assert entry.record["subject"] == f"correction:{req.id}"
    # making the card: the case is the holder's card
    assert _reveal(client, staff("clerk"), pid, purpose="card_production", detail="制卡核对",
                   case=str(card.id)).status_code == 200
    other_card = world.card(CardStatus.ACCEPTED, person=other)
    session.commit()
    assert _reveal(client, staff("clerk"), pid, purpose="card_production", detail="制卡核对",
                   case=str(other_card.id)).status_code == 422
    # a complaint (Art. 29): the complaint's reference
    assert _reveal(client, staff("clerk"), pid, purpose="complaint", detail="投诉处理",
                   case="12345-20261201-0042").status_code == 200
    assert entries(session, action="reveal.person")[-1].record["subject"] == "complaint:12345-20261201-0042"
    # the holder's access log shows the purpose
    log = client.get("/api/me/access-log", headers=resident_headers(app, pid)).get_json()
    assert any(row["purpose"] == "correction: 核对更正申请" for row in log)
