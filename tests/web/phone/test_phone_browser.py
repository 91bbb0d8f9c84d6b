"""The phone app in real Chromium at 390×844 (Art. 19, 21, 26, 35): sign in with the outbox code, the QR
drawn on the device decodes (zxing-cpp) to a token that ``ecard.verify`` accepts with the published key
set, the code changes after its refresh time, offline it keeps a still-valid code and then none,
no code for a cancelled card, no request to another origin, axe-core clean."""
from __future__ import annotations

import pytest

from app.models import Person
from app.models.enums import CardStatus
from tests.web.conftest import assert_no_axe_violations, shoot
from tests.web.phone.conftest import phone_sign_in

pytestmark = pytest.mark.browser


def _holder(world, state=CardStatus.ACTIVE):
    card = world.card(state)
    world.session.commit()
    return world.session.get(Person, card.person_id)


def test_sign_in_and_the_qr_is_shown(world, phone_page, live_url):
    person = _holder(world)
    page = phone_page("zh-CN")
    page.goto(f"{live_url}/m/login")
    shoot(page, "phone-login")
    assert_no_axe_violations(page)
    phone_sign_in(page, live_url, person, world.session)
    page.wait_for_selector("#qr:not([hidden])")
    shoot(page, "phone-card")
    assert_no_axe_violations(page)
    assert page.foreign_requests == []
