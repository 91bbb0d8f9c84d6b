"""The applications pages through the Flask test client (issue 14): counter intake pre-filled from the
government platform (Art. 9), acceptance and rejection (Art. 4, 10), production batches (Art. 10, 16, 17),
dispatch, delivery and pickup (Art. 12), door-to-door requests (Art. 8 ¶2). Bad input on every form: a
message beside the field and nothing written; a refused step shows its article."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from app.models import AuditEntry, Card, HomeVisitRequest, ProductionBatch, SharedRecord
from app.models.enums import CardStatus, DeliveryMethod
from app.privacy.runtime import blind_index
from tests.api.conftest import card_rows, row_counts
from tests.factories import citizen_id
from tests.web.conftest import csrf_from, page_html


@pytest.fixture(autouse=True)
def _english(client):
    """These tests read the messages in English, the source language (the browser tests read Chinese)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def _field_error(html: str, field_id: str) -> str:
    """The message shown beside a field (the element the control's aria-describedby names)."""
    m = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>(.*?)</p>', html, re.S)
    assert m, f"no message beside {field_id}"
    return m.group(1)


def _shared(session, number: str):
    session.add(SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", number),
                             name="林晓华", address="广州市海珠区江南大道3号", photo=b"\x89PNG-shared",
                             ethnicity="汉", valid_until=date(2030, 1, 1), household_registration=True))
    session.commit()


def _lookup(client, number: str, mode: str = "counter"):
    html = page_html(client.get(f"/applications/intake?mode={mode}"))
    return client.post("/applications/intake", data={"doc_type": "resident_id", "doc_number": number,
                                                      "service_mode": mode, "csrf_token": csrf_from(html)})


def _submit(client, html: str, **over):
    data = {}
    for tag in re.findall(r'<input[^>]*type="hidden"[^>]*>', html):
        name, value = re.search(r'name="(\w+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and name.group(1) != "needed":
            data[name.group(1)] = value.group(1) if value else ""
    bank = re.search(r'<option value="(\d+)" selected', html)
    data.update({"bank_id": bank.group(1) if bank else "",
                 "delivery_method": "pickup", "pickup_outlet_id": "0", "referral": "self",
                 "service_mode": data.get("service_mode", "counter"), "eligibility": "public_services",
                 "id_verified": "y"})
    needed = re.findall(r'<input type="hidden" name="needed" value="(\w+)"', html)
    data["needed"] = needed
    data["csrf_token"] = csrf_from(html)
    data.update(over)
    if "photo" in needed and "photo" not in over:
        data["photo"] = (io.BytesIO(b"\x89PNG-photo"), "photo.png")
    return client.post("/applications/intake/application", data=data, content_type="multipart/form-data")


def test_counter_intake_asks_only_for_what_the_platform_does_not_hold_art9(client, world, web_login, session):
    number = citizen_id()
    _shared(session, number)
    web_login(world, "teller")
    html = page_html(_lookup(client, number))
    assert 'name="phone"' in html and 'name="occupation"' in html
    assert 'name="name"' not in html and 'name="photo"' not in html and 'name="address"' not in html  # not asked again
    assert number not in html.replace(f'value="{number}"', "")  # shown masked, kept only in the form
    resp = _submit(client, html, phone="13912345678", occupation="教师")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    card = session.scalars(select(Card)).one()
    assert card.status is CardStatus.APPLIED and card.person.name == "林晓华"
    timeline = page_html(client.get(resp.headers["Location"]))
    assert card.number in timeline and 'data-op="apply"' in timeline


def test_counter_intake_bad_input_is_shown_beside_the_field_and_nothing_is_written_art9_12(client, world, web_login,
                                                                                          session, db):
    number = citizen_id()
    web_login(world, "teller")
    html = page_html(_lookup(client, number))
    before = row_counts(db)
    # express without an address (Art. 12): beside the address field
    resp = _submit(client, html, phone="13912345678", occupation="教师", name="王五", address="广州市天河区1号",
                   delivery_method="express", delivery_address="")
    assert resp.status_code == 422
    assert "Art. 12" in _field_error(resp.get_data(as_text=True), "delivery_address")
    # a bad mobile number: beside the phone field
    resp = _submit(client, html, phone="123", occupation="教师", name="王五", address="广州市天河区1号")
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), "phone")
    # the ID document not checked (Art. 7): beside the checkbox
    resp = _submit(client, html, phone="13912345678", occupation="教师", name="王五", address="广州市天河区1号",
                   id_verified="")
    assert resp.status_code == 422 and "Art. 7" in _field_error(resp.get_data(as_text=True), "id_verified")
    assert row_counts(db) == before


def test_a_wrong_document_number_is_shown_beside_it_art11(client, world, web_login):
    web_login(world, "teller")
    resp = _lookup(client, "440106199001011230")  # wrong check digit
    assert resp.status_code == 422
    assert _field_error(resp.get_data(as_text=True), "doc_number")


def test_instant_issuance_at_an_ordinary_outlet_is_refused_with_its_article_art10(client, world, web_login, db):
    web_login(world, "teller_yx")  # outlets[1]: not an instant outlet
    html = page_html(_lookup(client, citizen_id(), mode="instant"))
    before = row_counts(db)
    resp = _submit(client, html, phone="13912345678", occupation="教师", name="王五", address="广州市天河区1号",
                   service_mode="instant")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 403 and 'class="refusal"' in text and "Art. 10 ¶2, 25 ¶2" in text
    assert row_counts(db) == before


def test_instant_issuance_at_an_instant_outlet_issues_the_card_at_once_art10(client, world, web_login, session):
    web_login(world, "teller")  # outlets[0]: instant
    html = page_html(_lookup(client, citizen_id(), mode="instant"))
    resp = _submit(client, html, phone="13912345678", occupation="教师", name="王五", address="广州市天河区1号",
                   service_mode="instant")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    assert session.scalars(select(Card)).one().status is CardStatus.ISSUED


def test_a_clerk_accepts_and_rejects_applications_art4_10(client, world, web_login, session, db):
    ok, no = world.card(CardStatus.APPLIED), world.card(CardStatus.APPLIED)
    web_login(world, "clerk")
    html = page_html(client.get("/applications/decisions"))
    assert ok.number in html and no.number in html
    token = csrf_from(html)
    # bad input: a rejection without a reason, beside the field; nothing written
    before = card_rows(db)
    resp = client.post(f"/applications/{no.id}/rejection", data={f"r{no.id}-version": no.version,
                                                                 f"r{no.id}-reason": "", "csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), f"r{no.id}-reason")
    assert card_rows(db) == before
    assert client.post(f"/applications/{ok.id}/acceptance", data={f"a{ok.id}-version": ok.version,
                                                                   "csrf_token": token}).status_code == 302
    assert client.post(f"/applications/{no.id}/rejection", data={f"r{no.id}-version": no.version,
                                                                  f"r{no.id}-reason": "不符合条件",
                                                                  "csrf_token": token}).status_code == 302
    session.expire_all()
    assert (ok.status, no.status) == (CardStatus.ACCEPTED, CardStatus.REJECTED)
    # a stale page (the card moved on) is refused, not overwritten
    resp = client.post(f"/applications/{ok.id}/acceptance", data={f"a{ok.id}-version": ok.version - 1,
                                                                    "csrf_token": token})
    assert resp.status_code in (409, 412) and 'class="refusal"' in resp.get_data(as_text=True)


def test_a_teller_may_not_open_the_agency_pages_art5(client, world, web_login):
    web_login(world, "teller")
    assert client.get("/applications/decisions").status_code == 403
    assert client.get("/applications/dispatch").status_code == 403


def test_production_batch_export_and_import_with_row_errors_shown_art10_16_17(client, world, web_login, session, db):
    cards = [world.card(CardStatus.ACCEPTED) for _ in range(2)]
    web_login(world, "clerk")
    token = csrf_from(page_html(client.get("/applications/batches")))
    resp = client.post("/applications/batches", data={"limit": "0", "csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), "limit")
    resp = client.post("/applications/batches", data={"limit": "10", "csrf_token": token})
    assert resp.status_code == 302
    batch = session.scalars(select(ProductionBatch)).one()
    page = page_html(client.get(resp.headers["Location"]))
    assert batch.reference in page and all(c.number in page for c in cards)
    resp = client.get(f"/applications/batches/{batch.id}/export.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal.production_export")).all()
    # a file with a wrong row: every row listed, nothing imported
    before = card_rows(db)
    bad = f"card_number\r\n{cards[0].number}\r\nZ00000000\r\n".encode()
    resp = client.post(f"/applications/batches/{batch.id}/import", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(bad), "produced.csv"), "csrf_token": token})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="import-errors"' in text and "Z00000000" in text
    assert card_rows(db) == before
    # no file: beside the field
    resp = client.post(f"/applications/batches/{batch.id}/import", content_type="multipart/form-data",
                       data={"csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), "file")
    good = ("card_number\r\n" + "\r\n".join(c.number for c in cards) + "\r\n").encode()
    resp = client.post(f"/applications/batches/{batch.id}/import", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(good), "produced.csv"), "csrf_token": token})
    assert resp.status_code == 302
    session.expire_all()
    assert {c.status for c in cards} == {CardStatus.PRODUCED}


def test_dispatch_with_a_tracking_number_and_delivery_art12(client, world, web_login, session, db):
    card = world.card(CardStatus.PRODUCED, delivery=DeliveryMethod.EXPRESS)
    web_login(world, "clerk")
    html = page_html(client.get("/applications/dispatch"))
    token = csrf_from(html)
    before = card_rows(db)
    resp = client.post(f"/applications/{card.id}/dispatch", data={f"d{card.id}-version": card.version,
                                                                  f"d{card.id}-tracking_ref": "x", "csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), f"d{card.id}-tracking_ref")
    assert card_rows(db) == before
    assert client.post(f"/applications/{card.id}/dispatch", data={
        f"d{card.id}-version": card.version, f"d{card.id}-tracking_ref": "SF1234567890",
        "csrf_token": token}).status_code == 302
    session.expire_all()
    assert card.status is CardStatus.IN_TRANSIT and card.application.tracking_ref == "SF1234567890"
    assert client.post(f"/applications/{card.id}/delivery", data={f"v{card.id}-version": card.version,
                                                                  "csrf_token": token}).status_code == 302
    session.expire_all()
    assert card.status is CardStatus.ISSUED


def test_pickup_at_the_counter_art12(client, world, web_login, session):
    card = world.card(CardStatus.PRODUCED)
    web_login(world, "teller")
    html = page_html(client.get("/applications/pickup"))
    assert card.number in html
    resp = client.post(f"/applications/{card.id}/pickup", data={f"p{card.id}-version": card.version,
                                                                f"p{card.id}-id_verified": "y",
                                                                "csrf_token": csrf_from(html)})
    assert resp.status_code == 302
    session.expire_all()
    assert card.status is CardStatus.ISSUED
    assert 'data-op="pick_up"' in page_html(client.get(resp.headers["Location"]))


def test_door_to_door_requests_bad_input_beside_the_field_art8(client, world, web_login, session, db):
    web_login(world, "teller")
    html = page_html(client.get("/applications/door-to-door"))
    token = csrf_from(html)
    before = row_counts(db)
    resp = client.post("/applications/door-to-door", data={"name": "李阿婆", "phone": "123", "address": "广州市越秀区1号",
                                                           "reason": "elderly", "csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), "phone")
    resp = client.post("/applications/door-to-door", data={"name": "", "phone": "13800138000",
                                                           "address": "广州市越秀区1号", "reason": "elderly",
                                                           "csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), "name")
    assert row_counts(db) == before
    resp = client.post("/applications/door-to-door", data={"name": "李阿婆", "phone": "13800138000",
                                                           "address": "广州市越秀区1号", "reason": "elderly",
                                                           "csrf_token": token})
    assert resp.status_code == 302
    req = session.scalars(select(HomeVisitRequest)).one()
    page = page_html(client.get("/applications/door-to-door"))
    assert "李*婆" in page and "李阿婆" not in page  # masked (Art. 16)
    assert f"visit={req.id}" in page  # take the application at home: the intake in door-to-door mode


def test_a_door_to_door_request_closes_with_the_application_taken_at_home_art8(client, world, web_login, session):
    from app.services import home_visits

    req = home_visits.file_request(session, world.teller, name="李阿婆", phone="13800138000",
                                   address="广州市越秀区东风中路5号", reason="elderly")
    session.commit()
    web_login(world, "teller")
    html = page_html(client.get(f"/applications/intake?mode=door_to_door&visit={req.id}"))
    resp = client.post("/applications/intake", data={"doc_type": "resident_id", "doc_number": citizen_id(),
                                                      "service_mode": "door_to_door", "home_visit": str(req.id),
                                                      "csrf_token": csrf_from(html)})
    details = page_html(resp)
    assert f'value="{req.id}"' in details
    resp = _submit(client, details, phone="13800138000", occupation="退休", name="李阿婆",
                   address="广州市越秀区东风中路5号", service_mode="door_to_door")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]
    session.expire_all()
    card = session.scalars(select(Card)).one()
    assert card.application.service_mode.value == "door_to_door"
    assert (req.status.value, req.card_id) == ("done", card.id)


def test_scheduling_or_closing_a_visit_with_bad_input_says_so_beside_the_field_art8(client, world, web_login,
                                                                                   session, db, clock):
    from app.services import home_visits

    req = home_visits.file_request(session, world.teller, name="李阿婆", phone="13800138000",
                                   address="广州市越秀区东风中路5号", reason="elderly")
    session.commit()
    web_login(world, "teller")
    token = csrf_from(page_html(client.get("/applications/door-to-door")))
    before = row_counts(db)
    resp = client.post(f"/applications/door-to-door/{req.id}/schedule", data={f"s{req.id}-visit_on": "2020-01-01",
                                                                              "csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), f"s{req.id}-visit_on")
    resp = client.post(f"/applications/door-to-door/{req.id}/cancellation", data={f"x{req.id}-outcome": "",
                                                                                  "csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), f"x{req.id}-outcome")
    assert row_counts(db) == before
    session.expire_all()
    assert req.visit_on is None and req.status.value == "open"


def test_a_step_outside_the_role_is_refused_with_the_channel_tables_article_art5(client, world, web_login, db):
    world.card(CardStatus.ACCEPTED)
    web_login(world, "teller")
    token = csrf_from(page_html(client.get("/applications/pickup")))
    before = row_counts(db)
    resp = client.post("/applications/batches", data={"limit": "10", "csrf_token": token})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 403 and 'class="refusal"' in text and "Art. 5, 10" in text
    assert row_counts(db) == before


def test_a_form_post_without_its_csrf_token_is_refused_and_writes_nothing(client, world, web_login, db):
    card = world.card(CardStatus.APPLIED)
    web_login(world, "clerk")
    before = card_rows(db)
    resp = client.post(f"/applications/{card.id}/acceptance", data={f"a{card.id}-version": card.version})
    assert resp.status_code == 400
    assert card_rows(db) == before


def test_the_visiting_teller_sees_the_full_address_with_a_reason_and_it_is_recorded_art8_art16(
        client, world, web_login, session, db):
    """Masked by default; the teller arranging the visit sees the requester's full name, number and address
    after saying why (Art. 8 ¶2: the bank goes to the address), and the read is on the audit trail (Art. 16)."""
    from app.models import AuditEntry
    from app.services import home_visits

    req = home_visits.file_request(session, world.teller, name="李阿婆", phone="13800138000",
                                   address="广州市越秀区东风中路5号", reason="elderly")
    session.commit()
    web_login(world, "teller")
    page = page_html(client.get("/applications/door-to-door"))
    assert "东风中路5号" not in page and "13800138000" not in page
    token = csrf_from(page)
    before = row_counts(db)
    resp = client.post(f"/applications/door-to-door/{req.id}/contact", data={f"c{req.id}-detail": "",
                                                                             "csrf_token": token})
    assert resp.status_code == 422 and _field_error(resp.get_data(as_text=True), f"c{req.id}-detail")
    assert row_counts(db) == before  # a reveal without a reason shows nothing and records nothing
    resp = client.post(f"/applications/door-to-door/{req.id}/contact",
                       data={f"c{req.id}-detail": "上门前电话确认", "csrf_token": token})
    shown = page_html(resp)
    assert "广州市越秀区东风中路5号" in shown and "13800138000" in shown and "李阿婆" in shown
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal.home_visit")).one()
    assert entry.record["subject"] == f"home_visit:{req.id}" and "上门前电话确认" in entry.record["purpose"]
    assert "东风中路" not in str(entry.record)  # the trail names what was shown, never the values
    assert "东风中路5号" not in page_html(client.get("/applications/door-to-door"))  # masked again


def test_another_banks_teller_cannot_reveal_a_door_to_door_request_art16(client, world, web_login, session, db):
    from app.services import home_visits

    req = home_visits.file_request(session, world.teller, name="李阿婆", phone="13800138000",
                                   address="广州市越秀区东风中路5号", reason="elderly")
    session.commit()
    web_login(world, "teller_ccb")
    token = csrf_from(page_html(client.get("/applications/door-to-door")))
    resp = client.post(f"/applications/door-to-door/{req.id}/contact",
                       data={f"c{req.id}-detail": "看看", "csrf_token": token})
    body = resp.get_data(as_text=True)
    assert resp.status_code in (403, 404) and "东风中路5号" not in body and "13800138000" not in body
