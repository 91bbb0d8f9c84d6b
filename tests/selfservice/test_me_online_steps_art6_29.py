"""The resident's self-service over /api/me (issue 15 item 3): the steps open online and where the others
are done (Art. 19, 22, 24), the application form with pre-fill (Art. 9), the application's progress
(Art. 10, 12), and complaints filed and followed signed in (Art. 29)."""
from __future__ import annotations

from app.models import Complaint, SharedRecord
from app.models.enums import CardStatus, DeliveryMethod
from app.privacy.runtime import blind_index
from app.services import lifecycle, lifecycle_rules
from app.services.lifecycle_rules import CHANNELS, Op
from tests.selfservice.conftest import problem


def _steps(client, headers) -> dict:
    return {s["op"]: s for s in client.get("/api/me/steps", headers=headers).get_json()}


def test_steps_open_online_follow_the_channel_table_art6_21_23(client, session, world, resident):
    card = world.card(CardStatus.ACTIVE)
    steps = _steps(client, resident(card.person))
    for op, s in steps.items():
        assert s["online"] is ((lifecycle_rules.C.ONLINE, lifecycle_rules.R.RESIDENT) in CHANNELS[Op(op)]), op
    assert steps["register_loss"]["online"] and steps["register_loss"]["possible_now"]
    assert steps["reissue"]["online"] and steps["change_pin"]["online"] and steps["lock_field"]["online"]
    assert steps["apply"]["possible_now"] is False  # already holds a card (Art. 23, 24)


def test_steps_not_online_say_where_and_why_art19_22_24(client, session, world, resident):
    card = world.card(CardStatus.LOSS_REGISTERED)
    steps = _steps(client, resident(card.person))
    for op, article in (("deregister_loss", "Art. 22"), ("replace", "Art. 24"), ("reset_pin", "Art. 19")):
        assert steps[op]["online"] is False and steps[op]["where"] == ["outlet"], steps[op]
        assert steps[op]["article"] == article
    assert steps["deregister_loss"]["possible_now"] is True  # the card is loss-registered
    assert steps["deregister_loss"]["id_document"] == "Art. 22"
    assert steps["unlock_field"]["online"] is False and steps["unlock_field"]["where"] == ["outlet"]


def test_application_form_asks_only_what_the_platform_lacks_art9(client, session, world, resident):
    person = world.person()
    session.add(SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", person.doc_number),
                             name=person.name, address="广州市越秀区", photo=b"p", household_registration=True))
    form = client.get("/api/me/application-form", headers=resident(person)).get_json()
    assert set(form["from_platform"]) == {"name", "address", "photo"}
    assert "name" not in form["on_record"] and "phone" in form["on_record"] and form["needed"] == []
    assert [b["code"] for b in form["banks"]] == ["CCB-GZ", "ICBC-GZ"]  # the unpublished bank is not offered
    assert {o["name"] for o in form["outlets"]} == {"天河即时制卡网点", "越秀网点", "海珠网点"}


def test_apply_online_then_follow_due_date_and_tracking_art7_10_12(client, session, world, resident):
    person = world.person()
    headers = resident(person)
    resp = client.post("/api/applications/", headers=headers, json={
        "bank_id": world.banks[0].id, "delivery_method": "express", "delivery_address": "广州市越秀区中山五路2号"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    card_id = resp.get_json()["id"]
    lifecycle.accept(session, world.clerk, card_id)
    lifecycle.start_production(session, world.clerk, card_id)
    lifecycle.finish_production(session, world.clerk, card_id)
    lifecycle.dispatch(session, world.clerk, card_id, tracking_ref="SF998877")
    session.commit()
    [t] = client.get("/api/me/applications", headers=headers).get_json()
    assert t["card_id"] == card_id and t["status"] == "in_transit" and t["tracking_ref"] == "SF998877"
    assert t["due_on"] and t["delivery_method"] == "express"
    reached = [m["status"] for m in t["milestones"] if m["at"]]
    assert reached == ["applied", "accepted", "in_production", "produced", "in_transit"]


def test_apply_online_refused_from_unpublished_bank_art9(client, session, world, resident):
    person = world.person()
    body = problem(client.post("/api/applications/", headers=resident(person), json={
        "bank_id": world.banks[2].id, "delivery_method": "pickup"}), 422)
    assert "Art. 6" in body.get("article", "")
    assert client.get("/api/me/applications", headers=resident(person)).get_json() == []


def test_complaint_filed_signed_in_is_followed_in_the_app_art29(client, session, world, resident):
    card = world.card(CardStatus.ACTIVE)
    headers = resident(card.person)
    resp = client.post("/api/me/complaints", headers=headers, json={
        "kind": "complaint", "party_kind": "bank", "party_bank_id": world.banks[0].id,
        "summary": "The outlet kept me waiting two hours without a reason."})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    ref = resp.get_json()["reference"]
    c = session.query(Complaint).filter_by(reference=ref).one()
    assert c.person_id == card.person_id and c.complainant_name == card.person.name  # from the record
    [mine] = client.get("/api/me/complaints", headers=headers).get_json()
    assert mine["reference"] == ref and mine["status"] == "received"
    detail = client.get(f"/api/me/complaints/{mine['id']}", headers=headers).get_json()
    assert detail["authority"] == "bureau" and detail["steps"][0]["step"] == "file"


def test_anonymous_report_is_not_linked_to_the_holder_art29(client, session, world, resident):
    card = world.card(CardStatus.ACTIVE)
    headers = resident(card.person)
    resp = client.post("/api/me/complaints", headers=headers, json={
        "kind": "report", "anonymous": True, "party_kind": "issuing", "summary": "A clerk sells data to brokers."})
    assert resp.status_code == 201 and resp.get_json()["code"]
    c = session.query(Complaint).filter_by(reference=resp.get_json()["reference"]).one()
    assert c.person_id is None and c.complainant_name is None and c.complainant_phone is None
    assert client.get("/api/me/complaints", headers=headers).get_json() == []


def test_anonymous_complaint_refused_art29(client, session, world, resident):
    card = world.card(CardStatus.ACTIVE)
    body = problem(client.post("/api/me/complaints", headers=resident(card.person), json={
        "kind": "complaint", "anonymous": True, "party_kind": "issuing", "summary": "Something went wrong here."}),
        422)
    assert body["article"] == "Art. 29"
    assert session.query(Complaint).count() == 0
