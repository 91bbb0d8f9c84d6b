"""Correction requests (Art. 20 ¶2): routed to the issuing agency (personal and card data) or to the
application agency of the field; due in 20 working days (Regulations on the Disclosure of Government
Information, Art. 33); decided by that agency only; audited; the holder sees the outcome."""
from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from app.models import AuditEntry, CorrectionRequest, Person
from app.models.enums import CardStatus
from app.services import deadlines
from tests.selfservice.conftest import problem

FILED = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # Monday 28 Sep 2026, 10:00 in Guangzhou


def _file(client, headers, field, value, reason="wrong on record"):
    return client.post("/api/me/corrections", headers=headers,
                       json={"field": field, "proposed_value": value, "reason": reason})


def test_personal_data_correction_goes_to_the_issuing_agency_due_in_20_working_days_art20(
        client, session, world, resident, clock):
    clock.set(FILED)
    person = world.person()
    resp = _file(client, resident(person), "address", "广州市海珠区江南大道3号")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["agency"] == {"code": "SSCC", "name": "SSCC"} and body["scope"] == "personal"
    assert body["status"] == "open" and body["proposed_value"] == "广州市海珠区江南大道3号"
    # 20 working days after Mon 28 Sep 2026 (the filing day does not count), over the National Day
    # holiday (1-7 Oct off; Sat 10 Oct worked): 29, 30 Sep (2); 8, 9, 10 Oct (5); 12-16 (10); 19-23 (15);
    # 26-30 Oct (20)
    assert body["due_on"] == "2026-10-30" and body["due_provisional"] is False
    cal = deadlines.calendar(session)
    assert cal.working_days_between(date(2026, 9, 28), date(2026, 10, 30)) == 20


def test_field_data_correction_goes_to_that_fields_application_agency_art20(client, session, world, resident):
    person = world.person()
    body = _file(client, resident(person), "medical", "insured since 2019, not 2021").get_json()
    assert body["agency"]["code"] == "MED" and body["scope"] == "field"
    # a field without a registered application agency: the issuing agency takes it (Art. 20 ¶2)
    body = _file(client, resident(person), "housing", "no housing subsidy record").get_json()
    assert body["agency"]["code"] == "SSCC"


def test_card_data_correction_goes_to_the_issuing_agency_art20(client, session, world, resident):
    card = world.card(CardStatus.ACTIVE)
    body = _file(client, resident(card.person), "card_event", "I never registered a loss").get_json()
    assert body["agency"]["code"] == "SSCC" and body["scope"] == "card"


def test_unknown_item_is_refused(client, session, world, resident):
    person = world.person()
    problem(_file(client, resident(person), "salary", "1"), 422)


def test_proposed_value_and_reason_are_encrypted_at_rest_art16(client, session, world, resident):
    person = world.person()
    _file(client, resident(person), "address", "广州市番禺区市桥街9号", reason="moved in 2025")
    with session.get_bind().connect() as c:
        raw = c.exec_driver_sql("SELECT proposed_value, reason FROM correction_requests").one()
    assert "番禺".encode() not in bytes(raw[0]) and b"moved" not in bytes(raw[1])


def test_agency_resolves_contact_correction_and_the_holder_sees_it_art20(client, session, world, resident, staff):
    person = world.person()
    me = resident(person)
    req = _file(client, me, "address", "广州市番禺区市桥街9号").get_json()
    clerk = staff(world, "clerk")
    listed = client.get("/api/corrections?status=open", headers=clerk).get_json()
    assert [r["id"] for r in listed] == [req["id"]] and listed[0]["proposed_value"] == "广州市番禺区市桥街9号"
    resp = client.post(f"/api/corrections/{req['id']}/resolution", headers=clerk,
                       json={"outcome": "corrected", "reply": "Updated."})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["status"] == "corrected" and resp.get_json()["applied"] is True
    session.expire_all()
    assert session.get(Person, person.id).address == "广州市番禺区市桥街9号"  # applied through people.change_info
    mine = client.get("/api/me/corrections", headers=me).get_json()
    assert mine[0]["status"] == "corrected" and mine[0]["reply"] == "Updated." and mine[0]["resolved_at"]
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.person_id == person.id)).all()
    assert {"correction.file", "correction.read", "correction.resolve", "card.change_info"} <= set(actions)
    # decided once only
    problem(client.post(f"/api/corrections/{req['id']}/resolution", headers=clerk,
                        json={"outcome": "rejected", "reply": "again"}), 409)


def test_mobile_number_is_not_changed_through_a_correction_request_art19(client, session, world, resident, staff):
    """The mobile number receives the sign-in codes: it changes only with a code sent to the new number
    (POST /api/me/phone), never by a clerk deciding a request nobody proved the new number for."""
    person = world.person()
    body = problem(_file(client, resident(person), "phone", "13987654321"), 422)
    assert body["article"] == "Art. 19" and "/api/me/phone" in body["detail"]
    assert session.scalars(select(CorrectionRequest)).all() == []
    # a request filed before this rule: the clerk cannot apply it either
    req = CorrectionRequest(person_id=person.id, field="phone", scope="personal", proposed_value="13987654321",
                            reason="old", agency_id=world.agencies["SSCC"].id, status="open",
                            filed_at=datetime(2026, 11, 1, tzinfo=UTC), due_on=date(2026, 11, 30))
    session.add(req)
    session.commit()
    body = problem(client.post(f"/api/corrections/{req.id}/resolution", headers=staff(world, "clerk"),
                               json={"outcome": "corrected", "reply": "ok"}), 409)
    assert body["article"] == "Art. 19"
    session.expire_all()
    assert session.get(CorrectionRequest, req.id).status == "open"
    assert session.get(Person, person.id).phone == "13812345678"


def test_application_agency_resolves_its_fields_request_only_art16_20(client, session, world, resident, staff):
    person = world.person()
    me = resident(person)
    med = _file(client, me, "medical", "insured since 2019").get_json()
    personal = _file(client, me, "address", "广州市海珠区江南大道3号").get_json()
    medical = staff(world, "medical")
    assert [r["id"] for r in client.get("/api/corrections", headers=medical).get_json()] == [med["id"]]
    problem(client.post(f"/api/corrections/{personal['id']}/resolution", headers=medical,
                        json={"outcome": "corrected", "reply": "x"}), 403)
    resp = client.post(f"/api/corrections/{med['id']}/resolution", headers=medical,
                       json={"outcome": "rejected", "reply": "Our records show 2021."})
    assert resp.status_code == 200 and resp.get_json()["applied"] is False
    # the issuing agency's clerk cannot decide the medical agency's request
    problem(client.post(f"/api/corrections/{med['id']}/resolution", headers=staff(world, "clerk"),
                        json={"outcome": "corrected", "reply": "x"}), 403)
    mine = {r["id"]: r for r in client.get("/api/me/corrections", headers=me).get_json()}
    assert mine[med["id"]]["status"] == "rejected" and mine[med["id"]]["reply"] == "Our records show 2021."
    assert mine[personal["id"]]["status"] == "open"


def test_clerk_cannot_decide_another_agencys_open_request_art16(client, session, world, resident, staff):
    person = world.person()
    med = _file(client, resident(person), "medical", "insured since 2019").get_json()
    assert client.get("/api/corrections", headers=staff(world, "clerk")).get_json() == []
    problem(client.post(f"/api/corrections/{med['id']}/resolution", headers=staff(world, "clerk"),
                        json={"outcome": "corrected", "reply": "x"}), 403)


def test_face_data_needs_an_outlet_and_a_new_card_art24(client, session, world, resident, staff):
    person = world.person()
    req = _file(client, resident(person), "name", "陈晓明").get_json()
    clerk = staff(world, "clerk")
    body = problem(client.post(f"/api/corrections/{req['id']}/resolution", headers=clerk,
                               json={"outcome": "corrected", "reply": "x"}), 409)
    assert body["article"] == "Art. 24(2)" and "outlet" in body["detail"]
    resp = client.post(f"/api/corrections/{req['id']}/resolution", headers=clerk,
                       json={"outcome": "referred", "reply": "Please bring your ID card to a bank outlet."})
    assert resp.status_code == 200 and resp.get_json()["status"] == "referred"
    session.expire_all()
    assert session.get(Person, person.id).name == "陈小明"  # unchanged here


def test_bureau_sees_all_requests_masked_and_decides_none_art16(client, session, world, resident, staff):
    person = world.person()
    me = resident(person)
    _file(client, me, "address", "广州市番禺区市桥街9号", reason="I moved")
    _file(client, me, "medical", "insured since 2019")
    bureau = staff(world, "bureau")
    rows = client.get("/api/corrections", headers=bureau).get_json()
    assert len(rows) == 2
    address = next(r for r in rows if r["field"] == "address")
    assert address["proposed_value"] != "广州市番禺区市桥街9号" and address["reason"] == "(withheld)"
    problem(client.post(f"/api/corrections/{rows[0]['id']}/resolution", headers=bureau,
                        json={"outcome": "rejected", "reply": "x"}), 403)
    problem(client.get("/api/corrections", headers=staff(world, "teller")), 403)
