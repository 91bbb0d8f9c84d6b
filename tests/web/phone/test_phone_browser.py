"""The phone app in real Chromium at 390×844 (Art. 19, 21, 26, 35): sign in with the outbox code; the QR
drawn on the device decodes (zxing-cpp, from a screenshot) to a token that ``ecard.verify`` accepts with the
published key set; the code changes after its refresh time; offline it keeps a still-valid code with a
notice, then none once the batch has expired; no code for a cancelled card; no request to another origin;
axe-core finds no serious or critical violation."""
from __future__ import annotations

import io
import time

import pytest
import zxingcpp
from PIL import Image

from app.models import Person
from app.models.enums import CancellationReason, CardStatus
from app.services import ecard as ecard_service
from app.services import lifecycle
from ecard.qr import qr_version
from ecard.token import CardStatus as T
from ecard.verify import Verifier
from tests.web.conftest import assert_no_axe_violations, shoot
from tests.web.phone.conftest import phone_sign_in

pytestmark = pytest.mark.browser

SHOWN = "#qr:not([hidden])"


def _holder(world, state=CardStatus.ACTIVE):
    card = world.card(state)
    world.session.commit()
    return world.session.get(Person, card.person_id), card


def _decode(page) -> str:
    """The QR on the screen as a scanner reads it: a screenshot of the page, decoded by zxing-cpp."""
    png = page.screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, f"{len(found)} QR codes on the screen"
    return found[0].text


def _verify(app, text: str):
    """``ecard.verify`` with the key set exactly as published (GET /.well-known/jwks.json)."""
    jwks = app.test_client().get("/.well-known/jwks.json").get_json()
    return Verifier(jwks).verify(text)


def _wait_for_next_code(page, expires: int, timeout: int) -> None:
    page.wait_for_function("(e) => Number(document.querySelector('#qr').getAttribute('data-expires')) > e",
                           arg=expires, timeout=timeout)


@pytest.fixture
def short_tokens(app, monkeypatch):
    """``short_tokens(lifetime, count)``: the issuer's tokens live ``lifetime`` s, batches hold ``count``."""
    issuer = app.extensions["ecard_issuer"]

    def _set(lifetime: int, count: int):
        monkeypatch.setattr(issuer, "lifetime", lifetime)
        monkeypatch.setattr(issuer, "horizon", lifetime * count)

    return _set


def test_sign_in_and_the_qr_decodes_to_a_valid_token_of_the_holders_card_art35(app, world, phone_page, live_url):
    person, card = _holder(world)
    page = phone_page("zh-CN")
    page.goto(f"{live_url}/m/login")
    shoot(page, "phone-login")
    assert_no_axe_violations(page)
    page.fill("#doc_number", person.doc_number)
    page.click("form[action$='/m/login/code'] button[type=submit]")
    page.wait_for_selector("#code")
    shoot(page, "phone-code")
    assert_no_axe_violations(page)
    phone_sign_in(page, live_url, person, world.session)
    page.wait_for_selector(SHOWN)
    text = _decode(page)
    result = _verify(app, text)
    assert result.ok, result.reason
    claims = result.claims
    assert claims.card_ref == ecard_service.card_ref(app.extensions["ecard_issuer"].secret, card.id)
    assert claims.name == person.name and claims.status is T.ACTIVE and not claims.settlement_suspended
    # drawn on the device in alphanumeric mode at level M, in the version the server would make
    assert page.get_attribute("#qr", "data-version") == str(qr_version(text))
    assert "正常" in page.inner_text(".m-face")
    assert page.is_visible("#valid-for") and "秒内有效" in page.inner_text("#valid-for")
    shoot(page, "phone-card")
    assert_no_axe_violations(page)
    assert page.foreign_requests == []


def test_the_code_changes_after_its_refresh_time_art35(app, world, phone_page, live_url, short_tokens):
    short_tokens(8, 3)  # refresh_after = expiry - 2 s
    person, _ = _holder(world)
    page = phone_page("en")
    phone_sign_in(page, live_url, person, world.session)
    page.wait_for_selector(SHOWN)
    first, expires = _decode(page), int(page.get_attribute("#qr", "data-expires"))
    _wait_for_next_code(page, expires, 15_000)
    second = _decode(page)
    assert second != first
    assert _verify(app, second).ok
    assert time.time() < expires  # renewed before the first code expired


def test_offline_keeps_a_valid_code_then_shows_none_art35(app, world, phone_page, live_url, short_tokens):
    short_tokens(5, 3)  # a batch of 3 codes, 15 s in all
    person, _ = _holder(world)
    page = phone_page("zh-CN")
    context = page.context
    phone_sign_in(page, live_url, person, world.session)
    page.wait_for_selector(SHOWN)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15_000)
    page.reload()  # through the service worker: the page is kept for offline use
    page.wait_for_selector(SHOWN)
    context.set_offline(True)
    batch_end = float(page.evaluate(
        "() => new Promise(r => { const req = indexedDB.open('ssc-phone', 1); req.onsuccess = () => {"
        " const s = req.result.transaction('codes').objectStore('codes'); const g = s.getAll();"
        " g.onsuccess = () => r(Math.max(...g.result[0].tokens.map(t => t.expires_at))); }; })"))
    # the next code of the batch, shown while the network is cut, with a notice
    first_expiry = int(page.get_attribute("#qr", "data-expires"))
    _wait_for_next_code(page, first_expiry, 10_000)
    assert page.is_visible("#offline") and "离线" in page.inner_text("#offline")
    text = _decode(page)
    assert _verify(app, text).ok
    shoot(page, "phone-offline")
    # a reload without network: the kept page and the kept codes
    page.reload()
    page.wait_for_selector(SHOWN)
    assert _verify(app, _decode(page)).ok
    # the batch runs out: no code at all, never an expired one
    page.wait_for_selector("#qr", state="hidden", timeout=20_000)
    assert time.time() >= batch_end - 2  # not before the batch ended (its last code's expiry, less the margin)
    assert page.get_attribute("#qr", "data-expires") is None
    assert "没有有效的二维码" in page.inner_text("#offline")
    shoot(page, "phone-offline-none")
    assert_no_axe_violations(page)
    context.set_offline(False)
    page.wait_for_selector(SHOWN, timeout=15_000)  # back online: a fresh code
    assert page.is_hidden("#offline")
    assert page.foreign_requests == []


def test_a_cancelled_holder_sees_no_code_and_why_art26(app, world, phone_page, live_url):
    person, _ = _holder(world)
    page = phone_page("zh-CN")
    phone_sign_in(page, live_url, person, world.session)
    page.wait_for_selector(SHOWN)
    lifecycle.cancel(world.session, world.teller, person.id, reason=CancellationReason.HOLDER_REQUEST)
    world.session.commit()
    page.reload()
    page.wait_for_selector("[data-no-token='Art. 26']")
    assert page.locator("#qr").count() == 0
    assert "已注销" in page.inner_text("main") and "第26条" in page.inner_text("main")
    stored = page.evaluate(
        "() => new Promise(r => { const req = indexedDB.open('ssc-phone', 1); req.onsuccess = () => {"
        " const g = req.result.transaction('codes').objectStore('codes').count(); g.onsuccess = () => r(g.result); }; })")
    assert stored == 0  # the codes kept for offline use are gone too
    shoot(page, "phone-cancelled")
    assert_no_axe_violations(page)


def test_a_lost_card_shows_settlement_suspended_art21(app, world, phone_page, live_url):
    person, card = _holder(world)
    lifecycle.register_loss(world.session, world.teller, card.id, id_verified=True)
    world.session.commit()
    page = phone_page("en")
    phone_sign_in(page, live_url, person, world.session)
    page.wait_for_selector(SHOWN)
    assert "Reported lost" in page.inner_text(".m-face")
    assert "Payments suspended" in page.inner_text("main")
    result = _verify(app, _decode(page))
    assert result.ok and result.claims.settlement_suspended and result.claims.status is T.LOSS_REGISTERED
    shoot(page, "phone-card-lost")
    assert_no_axe_violations(page)


def test_devices_page_signs_another_device_out(app, world, phone_page, live_url):
    person, _ = _holder(world)
    one, two = phone_page("zh-CN"), phone_page("zh-CN")
    phone_sign_in(one, live_url, person, world.session)
    phone_sign_in(two, live_url, person, world.session)
    one.goto(f"{live_url}/m/account")
    assert one.locator("li.m-device").count() == 2
    shoot(one, "phone-account")
    assert_no_axe_violations(one)
    assert "m-this" in (one.get_attribute("li.m-device >> nth=0", "class") or "")
    one.click("li.m-device:not(.m-this) button")
    one.wait_for_load_state()
    assert one.locator("li.m-device").count() == 1
    two.goto(f"{live_url}/m/")
    assert "/m/login" in two.url
