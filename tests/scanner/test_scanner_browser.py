"""The offline scanner page in real Chromium (issue 16 #1; Art. 32: forged or altered codes refused,
Art. 26: a withdrawn key's tokens refused, Art. 35: the e-card verified offline).

Opened once online, it keeps the key set; with the network cut (``context.set_offline(True)``) it still
loads (service worker) and verifies QR images, typed text and the camera (a fake video device)."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.scanner.helpers import qr_png, tampered, token, y4m
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, assert_no_axe_violations, shoot

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _key_signing_for_an_hour(app):
    """A key whose window opened an hour ago, so that a token signed minutes ago is inside it (an expired
    token of a key created a second ago would rightly be ``unknown_key``: outside the key's window)."""
    app.extensions["ecard_issuer"].store.rotate(now=int(time.time()) - 3600)


def _open(page, live_url):
    page.goto(f"{live_url}/scanner/")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def _feed_image(page, text: str, name: str = "qr.png") -> str:
    count = int(page.get_attribute("#result", "data-count") or 0)
    page.set_input_files("#image", files=[{"name": name, "mimeType": "image/png", "buffer": qr_png(text)}])
    page.wait_for_function(f"() => Number(document.querySelector('#result').dataset.count) > {count}")
    return page.get_attribute("#result", "data-reason")


def test_scanner_offline_verdicts_from_qr_images_art32_art35(app, browser_page, live_url):
    page = browser_page("zh-CN")
    _open(page, live_url)
    expect(page.locator("#keyset-age")).to_contain_text("公钥于")
    page.context.set_offline(True)
    page.reload()  # the page itself comes from the service worker's cache now
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#net")).to_have_text("离线")

    fresh = token(app)
    assert _feed_image(page, fresh) == "ok"
    expect(page.locator("#verdict")).to_have_text("有效")
    expect(page.locator("#c-name")).to_have_text("欧阳娜娜")
    expect(page.locator("#c-masked")).to_have_text("440104********1234")
    expect(page.locator("#c-status")).to_have_text("正常")
    expect(page.locator("#c-locked")).to_have_text("医疗保障、交通运输")
    assert 50 <= int(page.inner_text("#c-left").split()[0]) <= 60
    shoot(page, "scanner-valid-offline")
    assert_no_axe_violations(page)

    assert _feed_image(page, fresh) == "replayed"  # the same token twice
    expect(page.locator("#verdict")).to_have_text("已被使用：不予受理")
    shoot(page, "scanner-replayed")

    assert _feed_image(page, tampered(token(app))) == "bad_signature"
    expect(page.locator("#message")).to_have_text("签名无效：此码是伪造或被篡改的，不予受理。")
    expect(page.locator("#claims")).to_be_hidden()
    shoot(page, "scanner-bad-signature")

    assert _feed_image(page, token(app, issued_at=int(time.time()) - 300)) == "expired"
    expect(page.locator("#message")).to_have_text("此码已过期：请持卡人刷新后重新出示。")

    page.fill("#paste", "not a card")  # a handheld scanner types the text
    page.press("#paste", "Enter")
    expect(page.locator("#result")).to_have_attribute("data-reason", "malformed")


def test_scanner_refuses_a_withdrawn_key_after_refresh_art26_art32(app, browser_page, live_url):
    store = app.extensions["ecard_issuer"].store
    page = browser_page("en")
    _open(page, live_url)
    page.context.set_offline(True)
    old = token(app)
    assert _feed_image(page, old) == "ok"
    page.context.set_offline(False)
    store.withdraw(store.ensure_key().kid)  # compromised: out of the key set at once
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    checked = page.evaluate("() => window.scanner.keysetChecked")
    page.click("#refresh")
    page.wait_for_function(f"() => window.scanner.keysetChecked > {checked}")
    page.context.set_offline(True)
    again = token(app, issued_at=int(time.time()) - 1)  # signed by the new key: still valid
    assert _feed_image(page, again) == "ok"
    assert _feed_image(page, old) == "withdrawn_key"
    expect(page.locator("#verdict")).to_have_text("Refused")
    expect(page.locator("#message")).to_have_text(
        "This code was signed with a withdrawn key. Do not accept it; ask the holder to refresh the e-card.")
    shoot(page, "scanner-withdrawn-key")
    assert_no_axe_violations(page)


def test_scanner_key_set_refresh_uses_etag_and_warns_when_old(app, browser_page, live_url):
    page = browser_page("en")
    requests = []
    page.on("request", lambda r: r.url.endswith("/.well-known/jwks.json") and requests.append(r))
    _open(page, live_url)
    etag = page.evaluate("() => JSON.parse(localStorage.getItem('ecard-scanner.jwks')).etag")
    assert etag and etag.startswith('"')
    page.click("#refresh")
    page.wait_for_function("() => window.scanner.keysetChecked >= 2")
    assert requests[-1].headers.get("if-none-match") == etag
    assert requests[-1].response().status == 304
    expect(page.locator("#keyset-warning")).to_be_hidden()
    # a key set fetched two days ago (the default limit is one day): the scanner warns
    page.evaluate("""() => { const e = JSON.parse(localStorage.getItem('ecard-scanner.jwks'));
        e.fetched_at = Date.now() - 2 * 86400 * 1000; localStorage.setItem('ecard-scanner.jwks', JSON.stringify(e)); }""")
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#keyset-warning")).to_be_visible()
    expect(page.locator("#keyset-warning")).to_contain_text("older than 24 hours")
    expect(page.locator("#keyset-age")).to_contain_text("2 days")
    shoot(page, "scanner-old-keyset")


def test_scanner_camera_path_with_a_fake_video_device_art35(app, chromium, live_url, tmp_path):
    fresh = token(app)
    video = tmp_path / "qr.y4m"
    video.write_bytes(y4m(fresh))
    args = CHROMIUM_ARGS + ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                            f"--use-file-for-fake-video-capture={video}"]
    # a browser of its own (the camera flags are launch flags), from the session's Playwright
    browser = chromium.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        context = browser.new_context(locale="zh-CN", permissions=["camera"])
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        _open(page, live_url)
        context.set_offline(True)
        page.click("#camera")
        expect(page.locator("#result")).to_have_attribute("data-reason", "ok", timeout=20_000)
        expect(page.locator("#c-name")).to_have_text("欧阳娜娜")
        page.lang = "zh-CN"
        shoot(page, "scanner-camera")
        assert errors == []
    finally:
        browser.close()
