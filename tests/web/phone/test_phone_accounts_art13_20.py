"""The holder's accounts and statements on the phone (issue 17; Art. 13, 20, 21): both accounts with their
balance, a statement saying who posted what ("you" for the holder's own), someone else's account not shown,
a suspended account says so (Art. 21). Chromium: the pages in both languages, axe clean."""
from __future__ import annotations

import pytest

from app.models import Person
from app.models.enums import CardStatus
from app.models.enums import TransactionType as T
from app.services import lifecycle, settlement
from tests.ledger_helpers import fund, key
from tests.web.conftest import assert_no_axe_violations, page_html, shoot
from tests.web.phone.conftest import phone_sign_in


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def holder(session, world):
    card = world.card(CardStatus.ACTIVE)
    med, fin = fund(session, world, card.person_id, 10_000)
    settlement.credit(session, world.teller, T.DEPOSIT, 5_000, key=key(), account_id=fin.id, reference="D-7")
    session.commit()
    return card, med, fin


def test_my_accounts_and_statement_show_who_posted_art13_20(client, world, session, phone_login, holder):
    card, med, fin = holder
    phone_login(session.get(Person, card.person_id))
    html = page_html(client.get("/m/accounts/"))
    assert "¥100.00" in html and "¥150.00" in html
    assert f"/m/accounts/{fin.id}" in html and f"/m/accounts/{med.id}" in html
    html = page_html(client.get(f"/m/accounts/{fin.id}"))
    assert "Cash deposit" in html and "+¥50.00" in html and "D-7" in html
    assert "Bank teller" in html and "工商银行广州分行" in html  # who posted: role and organisation
    assert "#" not in html.split('id="lines"')[1].split("</ol>")[0]  # no staff id on the holder's statement


def test_someone_elses_account_is_not_shown_art16_20(client, world, session, phone_login, holder):
    _, _, fin = holder
    other = world.card(CardStatus.ACTIVE)
    phone_login(session.get(Person, other.person_id))
    page_html(client.get(f"/m/accounts/{fin.id}"), 404)


def test_a_suspended_account_says_settlement_is_suspended_art21(client, world, session, phone_login, holder):
    card, _, _ = holder
    lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
    phone_login(session.get(Person, card.person_id))
    html = page_html(client.get("/m/accounts/"))
    assert "Settlement is suspended" in html and "Art. 21" in html


def test_a_stranger_is_sent_to_sign_in(client, holder):
    resp = client.get("/m/accounts/")
    assert resp.status_code == 302 and "/m/login" in resp.headers["Location"]


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_accounts_pages_in_the_browser(world, session, phone_page, live_url, holder, lang):
    card, _, fin = holder
    page = phone_page(lang)
    phone_sign_in(page, live_url, session.get(Person, card.person_id), session, next_path="/m/accounts/")
    shoot(page, "phone-accounts")
    assert_no_axe_violations(page)
    page.click(f"a[href='/m/accounts/{fin.id}']")
    page.wait_for_selector("#lines")
    assert page.locator("#lines li").count() == 2
    shoot(page, "phone-statement")
    assert_no_axe_violations(page)
    assert page.foreign_requests == []
