"""Real Chromium on the running app: the Bureau's pages, the service guides (public and the editor), the
complaint pages (public intake and follow-up, the authority's case page) and the old-certificate section, in
both languages: a screenshot of each in tests/artifacts/, axe-core with no serious or critical violation, no
console error (CSP holds)."""
from __future__ import annotations

import re

import pytest

from app.models.complaint import ComplainantType, ComplaintKind, IntakeChannel, PartyKind
from app.models.legacy import LegacyKind
from app.services import complaints, guides, legacy
from tests.web.conftest import assert_no_axe_violations, shoot, sign_in

pytestmark = pytest.mark.browser

LANGS = ["zh-CN", "en"]


def _look(page, name: str) -> None:
    shoot(page, name)
    assert_no_axe_violations(page)


def _seed(world):
    s = world.session
    guides.publish(s, world.clerk, world.agencies["SSCC"].id, {
        "title": "广州市社会保障卡服务指南", "service_items": "申领、启用、挂失、解挂、补卡、换卡、注销",
        "scope": "人力资源和社会保障、医疗保障、交通出行等公共服务", "usage": "持卡到合作银行网点办理，或出示电子社保卡",
        "contact": "12345"})
    guides.publish(s, world.actor("medical"), world.agencies["MED"].id, {
        "title": "医保就医结算", "service_items": "定点医疗机构门诊、住院费用直接结算", "conditions": "已参加基本医疗保险",
        "procedure": "出示社会保障卡刷卡结算", "time_limit": "即时结算"})
    filed = complaints.file(s, complaints.Intake(
        kind=ComplaintKind.COMPLAINT, complainant_type=ComplainantType.NATURAL_PERSON, complainant_name="李四光",
        complainant_phone="13912345678", party_kind=PartyKind.BANK, party_bank_id=world.banks[0].id,
        summary="网点以系统故障为由两次拒绝受理补卡申请。"), channel=IntakeChannel.HOTLINE, actor=world.actor("hotline"))
    person = world.person()
    legacy.link(s, world.clerk, person.id, legacy.LegacyIn(LegacyKind.SOCIAL_INSURANCE_CARD, "GZ12345678",
                                                          "广州市社会保险基金管理中心", __import__("datetime").date(2012, 3, 1)))
    s.commit()
    return filed, person


@pytest.mark.parametrize("lang", LANGS)
def test_bureau_pages_in_both_languages(world, browser_page, live_url, lang):
    filed, person = _seed(world)
    page = browser_page(lang)
    sign_in(page, live_url, "bureau")
    for path, name in (("/bureau/banks", "bureau-banks"), (f"/bureau/banks/{world.banks[0].id}", "bureau-bank-edit"),
                       ("/bureau/staff", "bureau-staff"), ("/complaints/", "complaints-list")):
        page.goto(live_url + path)
        _look(page, name)
    # the calendar: a preview of the due dates a load would change, nothing written
    page.goto(f"{live_url}/bureau/calendar")
    page.fill("#year", "2027")
    page.fill("#holidays", "2027-01-01\n2027-02-06\n2027-02-07")
    page.fill("#source", "国务院办公厅关于2027年部分节假日安排的通知")
    page.click("button[value=preview]")
    page.wait_for_load_state()
    assert page.locator("#preview").is_visible()
    _look(page, "bureau-calendar-preview")
    # the audit trail: filters, then the chain verification button
    page.goto(f"{live_url}/bureau/audit?action_prefix=complaint.")
    assert page.locator("tbody tr").count() >= 1
    _look(page, "bureau-audit")
    page.click("form[action$='/audit/verify'] button")
    page.wait_for_load_state()
    assert page.locator("#chain-report.success").is_visible()
    _look(page, "bureau-audit-verified")
    # a complaint's case page: assign it to myself, then the investigation form appears
    page.goto(f"{live_url}/complaints/{filed.complaint.id}")
    page.select_option("#assignee_id", str(world.staff["bureau"].id))
    page.click("form[action$='/assign'] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("form[action$='/investigate']").is_visible()
    _look(page, "complaint-case")


@pytest.mark.parametrize("lang", LANGS)
def test_public_guides_and_complaints_without_sign_in(world, browser_page, live_url, lang):
    filed, _ = _seed(world)
    page = browser_page(lang)
    page.goto(f"{live_url}/guides/")
    assert "/login" not in page.url
    _look(page, "guides-public")
    page.goto(f"{live_url}/guides/{world.agencies['SSCC'].id}")
    _look(page, "guide-public")
    # file a complaint: bad input first (a complaint without a phone), shown beside the field
    page.goto(f"{live_url}/complaints/new")
    _look(page, "complaint-new")
    page.fill("#complainant_name", "王小红")
    page.select_option("#party_kind", "issuing")
    page.fill("#summary", "服务大厅窗口工作人员拒绝告知补卡所需材料。")
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#complainant_phone-error").is_visible()
    _look(page, "complaint-new-error")
    page.fill("#complainant_phone", "13800138000")
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    ref, code = page.inner_text("#reference"), page.inner_text("#code")
    assert re.match(r"TS-\d{4}-\d{6}$", ref)
    _look(page, "complaint-filed")
    page.goto(f"{live_url}/complaints/follow")
    page.fill("#reference", ref)
    page.fill("#code", code)
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#case").is_visible()
    _look(page, "complaint-follow")


@pytest.mark.parametrize("lang", LANGS)
def test_agency_pages_guide_editor_certificates_and_hotline_intake(world, browser_page, live_url, lang):
    _, person = _seed(world)
    page = browser_page(lang)
    sign_in(page, live_url, "clerk")
    page.goto(f"{live_url}/guides/{world.agencies['SSCC'].id}/edit")
    _look(page, "guide-edit")
    page.goto(f"{live_url}/legacy-certificates/persons/{person.id}")
    page.select_option("#kind", "elderly_card")
    page.fill("#number", "LN2023001")
    page.fill("#issuer", "某区民政局")
    page.fill("#issued_on", "2023-03-01")
    page.click("form[action*='/legacy-certificates/persons/'] button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#legal_basis-error").is_visible()
    _look(page, "legacy-certificates")
    hotline = browser_page(lang)
    sign_in(hotline, live_url, "hotline")
    hotline.goto(f"{live_url}/complaints/hotline")
    _look(hotline, "complaint-hotline")


def test_follow_up_by_keyboard_only_and_the_complaint_form_on_a_tablet(world, browser_page, live_url):
    filed, _ = _seed(world)
    page = browser_page("zh-CN")
    page.goto(f"{live_url}/complaints/follow")
    page.focus("#reference")
    page.keyboard.type(filed.complaint.reference)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "code"
    page.keyboard.type(filed.code)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#case").is_visible()
    tablet = browser_page("zh-CN", viewport={"width": 768, "height": 1024})
    tablet.goto(f"{live_url}/complaints/new")
    assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    tablet.lang = "zh-CN-tablet"
    _look(tablet, "complaint-new")
