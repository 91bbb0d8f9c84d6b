"""Real Chromium through the card desk (issue 14): sign in, find the holder, register the loss, reissue,
see both on the timeline; a refused step shows its article. Screenshots of every main page in both
languages (tests/artifacts/), axe-core on each: no serious or critical violation."""
from __future__ import annotations

import pytest

from app.models.enums import CardStatus
from tests.web.conftest import assert_no_axe_violations, shoot, sign_in

pytestmark = pytest.mark.browser


def _confirm(page):
    page.click("form.card button[type=submit]")  # Continue → the confirmation step
    page.wait_for_selector("form.confirm")
    return page


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_card_desk_journey_loss_then_reissue_art21_23(world, browser_page, live_url, lang):
    card = world.card(CardStatus.ACTIVE)
    world.card(CardStatus.PRODUCED)  # something on the dashboard: a card waiting for pickup
    world.session.commit()
    page = browser_page(lang)
    sign_in(page, live_url, "teller")
    shoot(page, "dashboard-teller")
    assert_no_axe_violations(page)

    # find the holder by card number, with a purpose
    page.click("nav.mainnav a[href='/desk/']")
    shoot(page, "desk-search")
    assert_no_axe_violations(page)
    page.check("input[name=by][value=card_number]")
    page.fill("#value", card.number)
    page.select_option("#purpose", "counter_service")
    page.fill("#detail", "柜台办理挂失" if lang == "zh-CN" else "loss at the counter")
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{live_url}/desk/holders/{card.person_id}")
    shoot(page, "holder")
    assert_no_axe_violations(page)
    assert "陈小明" not in page.content()  # masked

    # a refused step: deregistering a loss of a card that is not lost is not in the state table
    page.goto(f"{live_url}/desk/cards/{card.id}/loss-deregistration")
    page.check("#id_verified")
    _confirm(page).click("form.confirm button[type=submit]")
    refusal = page.locator(".refusal")
    assert refusal.is_visible()
    assert ("第22条" if lang == "zh-CN" else "Art. 22") in refusal.inner_text()
    shoot(page, "refused")
    assert_no_axe_violations(page)

    # register the loss (ID checked at the outlet)
    page.goto(f"{live_url}/desk/cards/{card.id}/loss-registration")
    shoot(page, "action-form")
    assert_no_axe_violations(page)
    page.check("#id_verified")
    _confirm(page)
    shoot(page, "action-confirm")
    assert_no_axe_violations(page)
    page.click("form.confirm button[type=submit]")
    page.wait_for_url(f"{live_url}/desk/holders/{card.person_id}")

    # reissue: the confirmation shows the fee (Art. 27: never waived for a reissue)
    page.goto(f"{live_url}/desk/cards/{card.id}/reissue")
    page.check("#id_verified")
    _confirm(page)
    assert "20.00" in page.locator(".fee").inner_text()
    shoot(page, "reissue-confirm")
    page.click("form.confirm button[type=submit]")
    page.wait_for_url(f"{live_url}/desk/holders/{card.person_id}")
    timeline = page.locator("#timeline")
    assert timeline.locator("li[data-operation=register_loss]").count() == 1
    assert timeline.locator("li[data-operation=reissue]").count() == 1
    shoot(page, "holder-after")
    assert_no_axe_violations(page)


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_clerk_dashboard_and_tablet_width(world, browser_page, live_url, lang):
    world.card(CardStatus.ACCEPTED)
    world.card(CardStatus.APPLIED)
    world.session.commit()
    page = browser_page(lang)
    sign_in(page, live_url, "clerk")
    shoot(page, "dashboard-clerk")
    assert_no_axe_violations(page)
    tablet = browser_page(lang, viewport={"width": 820, "height": 1180})
    sign_in(tablet, live_url, "clerk")
    shoot(tablet, "dashboard-clerk-tablet")
    assert tablet.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_reveal_through_htmx_sends_the_csrf_header_art16(world, browser_page, live_url):
    """Progressive enhancement: the reveal form posts through htmx (no page load), with the CSRF token
    in its header (static/js/app.js); the full value appears, the reveal is on record."""
    card = world.card(CardStatus.ACTIVE)
    world.session.commit()
    page = browser_page("en")
    sign_in(page, live_url, "teller")
    page.goto(f"{live_url}/desk/holders/{card.person_id}")
    page.check("#reveal-form input[value=name]")
    page.select_option("#purpose", "counter_service")
    page.fill("#reveal-form #detail", "holder asks to check the name")
    with page.expect_request(lambda r: r.url.endswith("/reveal") and r.method == "POST") as req:
        page.click("#reveal-form button[type=submit]")
    headers = req.value.all_headers()
    assert headers.get("hx-request") == "true" and headers.get("x-csrftoken")
    page.wait_for_selector("text=陈小明")
    shoot(page, "holder-revealed")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_hotline_operator_checks_the_caller_and_registers_the_loss_in_the_browser_art21(
        world, browser_page, live_url, lang):
    person = world.person(phone="13900003333", name="林小红")
    card = world.card(CardStatus.ACTIVE, person=person)
    world.session.commit()
    page = browser_page(lang)
    sign_in(page, live_url, "hotline")
    page.click("nav.mainnav a[href='/desk/hotline']")
    shoot(page, "hotline-check")
    assert_no_axe_violations(page)
    page.fill("#doc_number", person.doc_number)
    page.fill("#name", "林小红")
    page.fill("#phone", "13900003333")
    page.click("form.card button[type=submit]")
    page.wait_for_selector(f"a[href='/desk/cards/{card.id}/loss-registration']")
    shoot(page, "hotline-caller")
    assert_no_axe_violations(page)
    page.click(f"a[href='/desk/cards/{card.id}/loss-registration']")
    _confirm(page)
    page.click("form.confirm button[type=submit]")
    page.wait_for_load_state()
    world.session.expire_all()
    assert world.session.get(type(card), card.id).status is CardStatus.LOSS_REGISTERED


def test_door_to_door_contact_shown_in_full_with_a_reason_in_the_browser_art8(world, browser_page, live_url):
    from app.services import home_visits

    home_visits.file_request(world.session, world.teller, name="李阿婆", phone="13800138000",
                             address="广州市越秀区东风中路5号", reason="elderly")
    world.session.commit()
    page = browser_page("zh-CN")
    sign_in(page, live_url, "teller")
    page.goto(f"{live_url}/applications/door-to-door")
    assert "东风中路5号" not in page.content()
    page.click("details summary")
    page.fill("input[name$='-detail']", "上门前电话确认")
    page.click("details form button[type=submit]")
    page.wait_for_selector("tr.revealed")
    assert "广州市越秀区东风中路5号" in page.content()
    shoot(page, "door-to-door-revealed")
    assert_no_axe_violations(page)
