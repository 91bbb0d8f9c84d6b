"""The Bureau's pages, service guides (Art. 18), complaints (Art. 29) and old certificates (Art. 34, 36) in the
browser's terms, through the test client: each page renders for its roles in both languages, bad input is
answered beside the field with nothing written, and every step calls the same service as the API."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, Bank, Complaint, LegacyCertificate, ServiceGuide, StaffUser
from tests.api.conftest import row_counts
from tests.web.conftest import csrf_from, page_html

GUIDE = {"title": "社会保障卡服务指南", "service_items": "申领、挂失、补卡", "scope": "全市公共服务",
         "usage": "到网点办理或使用电子社保卡"}


def _error_beside(html: str, field_id: str) -> str:
    m = re.search(rf'id="{field_id}-error">(.*?)</p>', html, re.S)
    assert m, f"no error beside #{field_id}"
    return m.group(1)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_bureau_pages_render_for_the_bureau_art5_6_16(client, world, web_login, lang):
    web_login(world, "bureau", lang=lang)
    h = {"Accept-Language": lang}
    for path in ("/bureau/banks", f"/bureau/banks/{world.banks[0].id}", f"/bureau/banks/{world.banks[0].id}/outlets/new",
                 "/bureau/calendar", "/bureau/calendar?year=2026", "/bureau/staff", "/bureau/staff?role=bank_teller",
                 "/bureau/audit", "/bureau/audit?action_prefix=auth.", "/complaints/", "/guides/",
                 f"/legacy-certificates/persons/{world.person().id}"):
        world.session.commit()
        html = page_html(client.get(path, headers=h))
        assert ("<html lang=\"zh-CN\"" in html) == (lang == "zh-CN"), path
    banks = page_html(client.get("/bureau/banks", headers=h))
    # the catalogue is really loaded: Chinese words on a Chinese page, none on an English one
    assert ("合作银行和网点" in banks) == (lang == "zh-CN") and ("Cooperating banks" in banks) == (lang == "en")
    assert ("《办法》第6条第2款" in banks) == (lang == "zh-CN")


def test_unpublishing_a_bank_in_the_page_writes_it_and_bad_codes_stay_beside_the_field_art6(client, db, world, web_login):
    web_login(world, "bureau")
    icbc = world.banks[0]
    url = f"/bureau/banks/{icbc.id}"
    token = csrf_from(page_html(client.get(url)))
    before = row_counts(db)
    resp = client.post(url, data={"code": "CCB-GZ", "name": icbc.name, "csrf_token": token})
    html = page_html(resp, 422)
    assert "CCB-GZ" in _error_beside(html, "code") and row_counts(db) == before
    resp = client.post(url, data={"code": icbc.code, "name": icbc.name, "csrf_token": token})  # box unticked
    assert resp.status_code == 302
    assert db.session.get(Bank, icbc.id).published is False
    resp = client.post(url, data={"code": icbc.code, "name": icbc.name, "published": "y"})  # no CSRF token
    assert resp.status_code == 400 and db.session.get(Bank, icbc.id).published is False


def test_calendar_preview_shows_due_dates_and_writes_nothing_art10_25(client, db, world, web_login, clock):
    from datetime import datetime, timezone

    from app.models.enums import CardStatus

    clock.set(datetime(2026, 12, 28, 2, 0, tzinfo=timezone.utc))
    card = world.card(CardStatus.ACCEPTED)  # due in January 2027: provisional, no 2027 data yet
    web_login(world, "bureau")
    token = csrf_from(page_html(client.get("/bureau/calendar")))
    before = row_counts(db)
    data = {"year": "2027", "holidays": "2027-01-01\n2027-01-04\n2027-01-05", "workdays": "",
            "source": "国务院办公厅通知", "action": "preview", "csrf_token": token}
    html = page_html(client.post("/bureau/calendar", data=data))
    assert 'id="preview"' in html and row_counts(db) == before
    row = re.search(r"<tr><td>(\d+)</td><td>(\d+)</td>", html)
    assert row and int(row.group(2)) == card.id  # the card whose due date the load would move
    bad = page_html(client.post("/bureau/calendar", data={**data, "holidays": "2027-13-01"}), 422)
    assert _error_beside(bad, "holidays") and row_counts(db) == before


def test_staff_deactivation_page_needs_a_reason_and_ends_the_account_art16(client, db, world, web_login):
    web_login(world, "bureau")
    teller = world.staff["teller"]
    url = f"/bureau/staff/{teller.id}/deactivate"
    token = csrf_from(page_html(client.get(url)))
    html = page_html(client.post(url, data={"reason": "", "csrf_token": token}), 422)
    assert _error_beside(html, "reason") and db.session.get(StaffUser, teller.id).active
    assert client.post(url, data={"reason": "员工已离职", "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(StaffUser, teller.id).active is False


def test_audit_page_filters_and_verifies_the_chain_art16(client, db, world, web_login):
    person = world.person()
    web_login(world, "auditor")
    html = page_html(client.get(f"/bureau/audit?person_id={person.id}"))
    assert "person.register" in html or "read." in html
    bad = page_html(client.get("/bureau/audit?person_id=abc"), 422)
    assert _error_beside(bad, "person_id")
    token = csrf_from(html)
    report = page_html(client.post("/bureau/audit/verify", data={"csrf_token": token}))
    assert 'id="chain-report"' in report and "success" in report
    assert db.session.scalar(select(func.count()).where(AuditEntry.action == "audit.verify")) == 1


def test_guides_are_public_pages_and_edited_by_the_agency_itself_art18(client, db, world, web_login):
    sscc = world.agencies["SSCC"].id
    world.session.commit()
    assert page_html(client.get("/guides/"))  # no sign-in
    assert page_html(client.get(f"/guides/{sscc}"))
    web_login(world, "clerk")
    url = f"/guides/{sscc}/edit"
    token = csrf_from(page_html(client.get(url)))
    html = page_html(client.post(url, data={**GUIDE, "scope": "", "csrf_token": token}), 422)
    assert _error_beside(html, "scope") and db.session.scalar(select(func.count()).select_from(ServiceGuide)) == 0
    assert client.post(url, data={**GUIDE, "csrf_token": token}).status_code == 302
    shown = page_html(client.get(f"/guides/{sscc}"))
    assert GUIDE["scope"] in shown and GUIDE["usage"] in shown
    assert client.get(f"/guides/{world.agencies['MED'].id}/edit").status_code == 403  # another agency's guide


def _complaint_form(world, **kw):
    data = {"kind": "complaint", "complainant_type": "natural_person", "complainant_name": "李四光",
            "complainant_phone": "13912345678", "party_kind": "bank", "party_bank_id": str(world.banks[0].id),
            "party_agency_id": "", "summary": "网点拒绝受理补卡申请，没有说明理由。"}
    data.update(kw)
    return data


def test_public_complaint_and_follow_up_by_reference_and_code_art29(client, db, world):
    world.session.commit()
    token = csrf_from(page_html(client.get("/complaints/new")))
    before = row_counts(db)
    bad = page_html(client.post("/complaints/new", data={**_complaint_form(world, complainant_phone=""),
                                                         "csrf_token": token}), 422)
    assert _error_beside(bad, "complainant_phone") and row_counts(db) == before
    done = page_html(client.post("/complaints/new", data={**_complaint_form(world), "csrf_token": token}), 201)
    ref = re.search(r'id="reference">([^<]+)<', done).group(1)
    code = re.search(r'id="code">([^<]+)<', done).group(1)
    c = db.session.scalars(select(Complaint)).one()
    assert c.reference == ref and c.channel == "web"
    wrong = page_html(client.post("/complaints/follow", data={"reference": ref, "code": "XXXXXXXXXX",
                                                              "csrf_token": token}), 404)
    assert _error_beside(wrong, "code") and 'id="case"' not in wrong
    shown = page_html(client.post("/complaints/follow", data={"reference": ref, "code": code, "csrf_token": token}))
    assert 'id="case"' in shown and "李四光" not in shown and "13912345678" not in shown


def test_hotline_records_and_the_bureau_assigns_investigates_and_closes_art29(client, db, world, web_login):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    web_login(world, "hotline")
    token = csrf_from(page_html(client.get("/complaints/hotline")))
    assert client.post("/complaints/hotline", data={**_complaint_form(world), "csrf_token": token}).status_code == 201
    c = db.session.scalars(select(Complaint)).one()
    assert c.channel == "hotline" and c.taken_by == world.staff["hotline"].id
    client.post("/logout", data={"csrf_token": token})
    web_login(world, "bureau")
    listed = page_html(client.get("/complaints/"))
    assert c.reference in listed and "李四光" not in listed
    case = page_html(client.get(f"/complaints/{c.id}"))
    assert "李*光" in case and "13912345678" not in case
    token = csrf_from(case)
    me = world.staff["bureau"].id
    # closing before the investigation: refused with the article, nothing changes
    bad = page_html(client.post(f"/complaints/{c.id}/close", data={"outcome": "upheld", "reply": "已处理",
                                                                  "version": "1", "csrf_token": token}), 409)
    assert "Art. 29" in bad or "《办法》第29条" in bad
    assert client.post(f"/complaints/{c.id}/assign", data={"assignee_id": str(me), "version": "1",
                                                           "csrf_token": token}).status_code == 302
    stale = page_html(client.post(f"/complaints/{c.id}/investigate", data={"note": "调取记录", "version": "1",
                                                                          "csrf_token": token}), 412)
    assert "reload" in stale.lower()
    empty = page_html(client.post(f"/complaints/{c.id}/investigate", data={"note": "", "version": "2",
                                                                          "csrf_token": token}), 422)
    assert _error_beside(empty, "note")
    assert client.post(f"/complaints/{c.id}/investigate", data={"note": "调取记录", "version": "2",
                                                                "csrf_token": token}).status_code == 302
    assert client.post(f"/complaints/{c.id}/close", data={"outcome": "partly_upheld", "reply": "已责令整改",
                                                          "version": "3", "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Complaint, c.id).status == "closed"


def test_old_certificate_after_2022_02_01_needs_a_legal_basis_beside_the_field_art34_36(client, db, world, web_login):
    person = world.person()
    web_login(world, "clerk")
    url = f"/legacy-certificates/persons/{person.id}"
    token = csrf_from(page_html(client.get(url)))
    data = {"kind": "social_insurance_card", "number": "GZ12345678", "issuer": "广州市社保中心",
            "issued_on": "2023-03-01", "legal_basis": "", "csrf_token": token}
    html = page_html(client.post(url, data=data), 409)
    assert _error_beside(html, "legal_basis")
    assert db.session.scalar(select(func.count()).select_from(LegacyCertificate)) == 0
    assert client.post(url, data={**data, "issued_on": "2015-06-01"}).status_code == 302
    shown = page_html(client.get(url))
    assert "GZ12345678" not in shown and "GZ" in shown
    found = client.post("/legacy-certificates/lookup", data={"kind": "social_insurance_card",
                                                             "number": "GZ12345678", "csrf_token": token})
    assert found.status_code == 302 and found.headers["Location"].endswith(url)


def test_the_cardholder_page_links_to_the_old_certificates_for_roles_that_may_open_them_art34(client, world, web_login):
    person = world.person()
    web_login(world, "clerk")
    html = page_html(client.get(f"/desk/holders/{person.id}"))
    assert f'href="/legacy-certificates/persons/{person.id}"' in html
    back = page_html(client.get(f"/legacy-certificates/persons/{person.id}"))
    assert f'href="/desk/holders/{person.id}"' in back
