"""Real Chromium on the running app: sign-in, the language switch, screenshots in both languages,
axe-core (no serious or critical violation), no console error (CSP holds: no inline script)."""
from __future__ import annotations

import pytest

from tests.web.conftest import assert_no_axe_violations, shoot, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_sign_in_page_and_start_page_in_both_languages(world, browser_page, live_url, lang):
    world.session.commit()
    page = browser_page(lang)
    page.goto(f"{live_url}/")
    assert "/login" in page.url
    assert page.get_attribute("html", "lang") == lang
    shoot(page, "login")
    assert_no_axe_violations(page)
    # wrong password: the refusal is shown, the focus goes to it
    page.fill("#username", "clerk")
    page.fill("#password", "wrong")
    page.click("form.card button[type=submit]")
    assert page.locator(".refusal").is_visible()
    shoot(page, "login-refused")
    sign_in(page, live_url, "clerk")
    assert page.get_attribute("html", "lang") == lang
    shoot(page, "start")
    assert_no_axe_violations(page)


def test_keyboard_only_sign_in(world, browser_page, live_url):
    world.session.commit()
    page = browser_page("zh-CN")
    page.goto(f"{live_url}/login")
    assert page.evaluate("document.activeElement.id") == "username"  # autofocus
    page.keyboard.type("clerk")
    page.keyboard.press("Tab")
    page.keyboard.type("clerk-pw")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_url}/")
    assert page.locator("h1").is_visible()


def test_language_switch_is_remembered(world, browser_page, live_url):
    world.session.commit()
    page = browser_page("zh-CN")
    sign_in(page, live_url, "clerk")
    page.click("button[name=locale][value=en]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    page.reload()
    assert page.get_attribute("html", "lang") == "en"
