"""The self-service main flows in real Chromium at 390×844 (issue 15 item 3): the overview, reporting a loss,
applying online, filing a complaint; screenshots in tests/artifacts/; axe-core: no serious or critical
violation on any page; no request to another origin."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import Card, Complaint
from app.models.enums import CardStatus
from tests.web.conftest import assert_no_axe_violations, shoot
from tests.web.selfservice.conftest import phone_sign_in

pytestmark = pytest.mark.browser


def _check(page, name: str):
    shoot(page, name)
    assert_no_axe_violations(page)


def test_overview_and_report_loss_in_chromium_art21_22(world, session, phone_page, live_url):
    card = world.card(CardStatus.ACTIVE)
    page = phone_page("zh-CN")
    phone_sign_in(page, live_url, card.person, session, next_path="/m/self/")
    assert "/m/self/" in page.url
    _check(page, "self-overview")
    assert page.locator('[data-step="deregister_loss"][data-online="no"]').count() == 1
    page.click('a[href="/m/self/loss"]')
    _check(page, "self-loss")
    page.click("form button[type=submit]:not(.m-lang button)")
    page.wait_for_load_state()
    assert page.locator('[data-status="loss_registered"]').count() >= 1
    _check(page, "self-overview-lost")
    session.expire_all()
    assert session.get(Card, card.id).status is CardStatus.LOSS_REGISTERED
    for path in ("/m/self/reissue", "/m/self/fields", "/m/self/pin", "/m/self/access-log",
                 "/m/self/corrections", "/m/self/applications"):
        page.goto(live_url + path)
        _check(page, "self" + path.replace("/m/self", "").replace("/", "-"))
    assert page.foreign_requests == []


def test_apply_online_in_chromium_art9_12(world, session, phone_page, live_url):
    from app.models import SharedRecord
    from app.privacy.runtime import blind_index

    person = world.person()
    session.add(SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", person.doc_number),
                             name=person.name, address="广州市越秀区", photo=b"p", household_registration=True))
    page = phone_page("en")
    phone_sign_in(page, live_url, person, session, next_path="/m/self/apply")
    _check(page, "self-apply")
    assert "Photo" in page.inner_text('[data-prefill="platform"]')  # not asked again (Art. 9)
    page.select_option("#bank_id", str(world.banks[2 - 1].id))
    page.check("#dm-express")
    page.fill("#delivery_address", "")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".refusal").count() == 1 and "Art. 12" in page.inner_text(".refusal")
    _check(page, "self-apply-refused")
    page.fill("#delivery_address", "广州市海珠区江南大道3号")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/m/self/applications")
    _check(page, "self-applications")
    session.expire_all()
    card = session.scalars(select(Card).where(Card.person_id == person.id)).one()
    assert card.status is CardStatus.APPLIED and card.number in page.content()
    assert page.foreign_requests == []


def test_file_a_complaint_in_chromium_art29(world, session, phone_page, live_url):
    card = world.card(CardStatus.ACTIVE)
    page = phone_page("zh-CN")
    phone_sign_in(page, live_url, card.person, session, next_path="/m/self/complaints")
    _check(page, "self-complaints")
    page.select_option("#party_kind", "bank")
    page.select_option("#party_id", str(world.banks[0].id))
    page.fill("#summary", "网点拒绝为我办理挂失，也没有说明理由。")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/m/self/complaints/*")
    _check(page, "self-complaint")
    session.expire_all()
    c = session.scalars(select(Complaint)).one()
    assert c.reference in page.content() and c.person_id == card.person_id
