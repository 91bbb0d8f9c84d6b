"""Real Chromium through the teller's settlement flow (issue 17; Art. 13, 16, 19, 21): find the holder, the
accounts, a deposit (double-clicked: posted once), a withdrawal with the PIN typed by the holder, the
statement showing who posted what, a withdrawal refused after the loss is registered (Art. 21).
Screenshots in both languages (tests/artifacts/settlement-*), axe-core: no serious or critical violation."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.models.enums import CardStatus
from app.services import lifecycle, settlement
from tests.factories import PIN
from tests.ledger_helpers import fund, journal_counts
from tests.web.conftest import assert_no_axe_violations, shoot, sign_in

pytestmark = pytest.mark.browser


def _continue(page):
    page.click("form.card button[type=submit]")
    page.wait_for_selector("form.confirm")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_teller_deposit_withdrawal_and_statement_art13_19_21(world, session, browser_page, live_url, lang):
    card = world.card(CardStatus.ACTIVE)
    med, fin = fund(session, world, card.person_id, 10_000)
    session.commit()
    page = browser_page(lang)
    sign_in(page, live_url, "teller")

    page.click("nav.mainnav a[href='/settlement/']")
    shoot(page, "settlement-search")
    assert_no_axe_violations(page)
    page.check("input[name=by][value=card_number]")
    page.fill("#value", card.number)
    page.select_option("#purpose", "counter_service")
    page.fill("#detail", "柜台存取款" if lang == "zh-CN" else "cash at the counter")
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{live_url}/settlement/holders/{card.person_id}")
    shoot(page, "settlement-holder")
    assert_no_axe_violations(page)
    assert "¥100.00" in page.content()

    # a deposit, the confirmation double-clicked: one posting
    page.goto(f"{live_url}/settlement/credit?account_id={fin.id}")
    page.select_option("#type", "deposit")
    page.fill("#amount", "500")
    page.fill("#reference", "D-001")
    shoot(page, "settlement-credit")
    assert_no_axe_violations(page)
    _continue(page)
    shoot(page, "settlement-credit-confirm")
    assert_no_axe_violations(page)
    before = journal_counts(session)[0]
    page.dblclick("form.confirm button[type=submit]")
    # the second click aborts the first navigation (net::ERR_ABORTED), so wait for where the page lands,
    # not for one navigation
    expect(page).to_have_url(f"{live_url}/settlement/accounts/{fin.id}")
    page.wait_for_load_state()
    assert journal_counts(session)[0] == before + 1
    session.expire_all()
    assert settlement.balance(session, fin) == 60_000

    # a withdrawal: the holder types the PIN on the confirmation step
    page.goto(f"{live_url}/settlement/debit?account_id={fin.id}")
    page.select_option("#type", "withdrawal")
    page.fill("#amount", "123.45")
    _continue(page)
    page.fill("#pin", PIN)
    shoot(page, "settlement-debit-confirm")
    assert_no_axe_violations(page)
    page.click("form.confirm button[type=submit]")
    page.wait_for_url(f"{live_url}/settlement/accounts/{fin.id}")
    rows = page.locator("#statement tbody tr")
    assert rows.count() == 3  # withdrawal, deposit, benefit: newest first
    assert "123.45" in rows.nth(0).inner_text()
    shoot(page, "settlement-statement")
    assert_no_axe_violations(page)

    # the loss is registered: the next withdrawal is refused naming Art. 21, nothing posted
    page.goto(f"{live_url}/settlement/debit?account_id={fin.id}")
    page.select_option("#type", "withdrawal")
    page.fill("#amount", "10")
    _continue(page)
    lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
    session.commit()
    page.fill("#pin", PIN)
    before = journal_counts(session)[0]
    page.click("form.confirm button[type=submit]")
    refusal = page.locator(".refusal")
    refusal.wait_for()
    assert ("第21条" if lang == "zh-CN" else "Art. 21") in refusal.inner_text()
    assert journal_counts(session)[0] == before
    shoot(page, "settlement-refused")
    assert_no_axe_violations(page)
