"""The dashboard by role (issue 14): the counter's queue of today, due soon and overdue against the
12-working-day limit with the working days left (Art. 10, 25), cards waiting for pickup (Art. 12),
applications waiting for acceptance, correction requests open (Art. 20); each list read is on record."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.models import AuditEntry, CardApplication
from app.models.enums import CardStatus
from tests.web.conftest import page_html


def test_teller_sees_todays_counter_and_pickups(client, world, web_login):
    card = world.card(CardStatus.PRODUCED)
    web_login(world, "teller")
    html = page_html(client.get("/", headers={"Accept-Language": "en"}))
    assert "Today at your counter" in html and "Cards waiting for pickup" in html
    assert card.number in html
    assert "Due soon and overdue" not in html  # the API's watch list is not the teller's (applications.watch_list)
    world.session.expire_all()
    reads = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "read.cards")).all()
    assert any(e.record["subject"] == "dashboard:pickup" and e.person_id == card.person_id for e in reads)  # Art. 16


def test_clerk_sees_overdue_with_working_days_art10_25(client, world, web_login, clock):
    card = world.card(CardStatus.ACCEPTED)
    app_ = world.session.scalars(select(CardApplication).where(CardApplication.card_id == card.id)).one()
    due = app_.due_on
    clock.advance(days=(due - clock.current.date()).days + 3)  # three calendar days past the due date
    web_login(world, "clerk")
    html = page_html(client.get("/", headers={"Accept-Language": "en"}))
    assert "Due soon and overdue" in html and card.number in html
    assert "overdue by" in html
    html_zh = page_html(client.get("/", headers={"Accept-Language": "zh-CN"}))
    assert "已超期" in html_zh and "即将到期和已超期" in html_zh


def test_due_soon_shows_working_days_left(client, world, web_login, clock):
    card = world.card(CardStatus.IN_PRODUCTION)
    app_ = world.session.scalars(select(CardApplication).where(CardApplication.card_id == card.id)).one()
    clock.set(clock.current + timedelta(days=(app_.due_on - clock.current.date()).days - 1))
    web_login(world, "clerk")
    html = page_html(client.get("/", headers={"Accept-Language": "en"}))
    assert card.number in html and 'class="badge badge-warn"' in html


def test_clerk_sees_applications_waiting_for_acceptance(client, world, web_login):
    card = world.card(CardStatus.APPLIED)
    web_login(world, "clerk")
    html = page_html(client.get("/", headers={"Accept-Language": "en"}))
    assert "Waiting for acceptance" in html and card.number in html
    assert "Correction requests open" in html


def test_auditor_gets_no_card_lists(client, world, web_login):
    world.card(CardStatus.PRODUCED)
    web_login(world, "auditor")
    html = page_html(client.get("/", headers={"Accept-Language": "en"}))
    assert "Cards waiting for pickup" not in html and "Nothing is waiting for you here" in html
