"""Family e-cards in real Chromium at 390×844 (Art. 19, 20, 26, 35): a guardian adds a child and sees
the child's code; the screenshot decodes (zxing-cpp) to a token that ``ecard.verify`` accepts with the
published key set and that names the CHILD's card; an adult member agrees with the code sent to their
own mobile; removing the link stops the code; axe-core clean on every family page; no foreign request."""
from __future__ import annotations

import io

import pytest
import zxingcpp
from flask import current_app
from PIL import Image

from app.models import Person
from app.models.enums import CardStatus
from app.services.ecard import card_ref
from ecard.verify import Verifier
from tests.factories import citizen_id
from tests.web.conftest import assert_no_axe_violations, shoot
from tests.web.phone.conftest import outbox_code, phone_sign_in

pytestmark = pytest.mark.browser


def _people(world):
    g = world.card(CardStatus.ACTIVE, world.person(name="陈大文", phone="13900000001"))
    c = world.card(CardStatus.ACTIVE, world.person(name="陈小宝", doc_number=citizen_id(birth="20150601"),
                                                   phone="13900000001"))
    e = world.card(CardStatus.ACTIVE, world.person(name="李秀英", doc_number=citizen_id(birth="19450304"),
                                                   phone="13900000002"))
    world.session.commit()
    return g, c, e


def _decode(page) -> str:
    png = page.locator("#qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert found, "no QR code found in the screenshot"
    return found[0].text


def _add(page, live_url, person, relation):
    page.goto(f"{live_url}/m/family/add")
    page.select_option("#relation", relation)
    page.fill("#name", person.name)
    page.select_option("#doc_type", str(person.doc_type))
    page.fill("#doc_number", person.doc_number)
    page.click("form[action$='/m/family/add'] button[type=submit]")
    page.wait_for_load_state()


def _agree(page, world):
    """The consent step: the code sent to the member's registered mobile (for a child, the parent's)."""
    page.wait_for_selector("#code")
    page.fill("#code", outbox_code(world.session))
    page.click("form[action$='/consent'] button[type=submit]")
    page.wait_for_load_state()


def test_guardian_sees_the_childs_code_and_removal_stops_it_art19_35(world, phone_page, live_url, client):
    g, child, elderly = _people(world)
    page = phone_page("zh-CN")
    phone_sign_in(page, live_url, world.session.get(Person, g.person_id), world.session, next_path="/m/family/")
    shoot(page, "family-index-empty")
    assert_no_axe_violations(page)

    page.goto(f"{live_url}/m/family/add")
    shoot(page, "family-add")
    assert_no_axe_violations(page)
    _add(page, live_url, world.session.get(Person, child.person_id), "child")
    _agree(page, world)
    page.wait_for_selector("#qr:not([hidden])")
    shoot(page, "family-member-card")
    assert_no_axe_violations(page)

    jwks = client.get("/.well-known/jwks.json").get_json()
    result = Verifier(jwks).verify(_decode(page))
    assert result.ok, result
    secret = current_app.extensions["ecard_issuer"].secret
    assert result.claims.card_ref == card_ref(secret, child.id) != card_ref(secret, g.id)
    assert result.claims.name == "陈小宝"
    member_url = page.url

    # An adult: pending until the code sent to HER mobile comes back.
    _add(page, live_url, world.session.get(Person, elderly.person_id), "elderly")
    page.wait_for_selector("#code")
    shoot(page, "family-consent")
    assert_no_axe_violations(page)
    page.fill("#code", outbox_code(world.session))
    page.click("form[action$='/consent'] button[type=submit]")
    page.wait_for_selector("#qr:not([hidden])")
    assert Verifier(jwks).verify(_decode(page)).claims.card_ref == card_ref(secret, elderly.id)

    page.goto(f"{live_url}/m/family/")
    shoot(page, "family-index")
    assert_no_axe_violations(page)

    # Removing the child's link: the page no longer shows her code, the tokens URL refuses.
    page.click(f"form[action$='/m/family/{member_url.rstrip('/').rsplit('/', 1)[1]}/remove'] button")
    page.wait_for_load_state()
    assert "陈*宝" not in page.locator("#fam-members").locator("..").inner_text()
    shoot(page, "family-removed")
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    assert page.request.get(member_url).status == 404  # (page.request: no console noise for the 404)
    refused = page.request.post(member_url + "ecard/tokens", data="{}",
                                headers={"X-CSRFToken": csrf, "Content-Type": "application/json"})
    assert refused.status == 404 and "token" not in refused.json()
    assert page.foreign_requests == []


def test_member_sees_who_showed_their_code_art20(world, phone_page, live_url):
    g, child, elderly = _people(world)
    page = phone_page("zh-CN")
    phone_sign_in(page, live_url, world.session.get(Person, g.person_id), world.session, next_path="/m/family/")
    _add(page, live_url, world.session.get(Person, child.person_id), "child")
    _agree(page, world)
    page.wait_for_selector("#qr:not([hidden])")
    other = phone_page("en")  # the member reads it in English
    phone_sign_in(other, live_url, world.session.get(Person, child.person_id), world.session,
                  next_path="/m/family/views")
    assert "陈*文" in other.locator("table").inner_text()
    shoot(other, "family-views")
    assert_no_axe_violations(other)
