"""The 12-working-day issuance duty in the lifecycle (Art. 10, 25).

Art. 10 / 25: 受理申请后12个工作日内 … 发放: the clock starts at acceptance (the day of acceptance
not counted), runs on the official PRC calendar, and stops when the card is produced and available
or handed to the courier. Years nobody has holiday data for are counted on weekdays, marked
provisional, and recomputed when the Bureau loads the year's schedule.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest

from app.models.enums import CardStatus
from app.services import deadlines, lifecycle
from app.models import WorkdaySchedule
from app.services.errors import ConfirmationRequired, InvalidInput
from tests.factories import PICKUP

# A plausible 2027 schedule for the tests (not the State Council's notice): a whole year's
# holidays (Qingming, Labour Day, Dragon Boat, Mid-Autumn, National Day) and adjusted working days.
SCHEDULE_2027 = {
    "year": 2027,
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03",
                 "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11",
                 "2027-02-12", "2027-04-05", "2027-05-01", "2027-05-03", "2027-05-04", "2027-05-05",
                 "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-04", "2027-10-05", "2027-10-06",
                 "2027-10-07"],
    "workdays": ["2027-01-31", "2027-02-20", "2027-04-25", "2027-09-26", "2027-10-09"],
    "source": "test fixture modelled on a State Council notice",
}
# One typo away from a real year: only New Year's Day, no adjusted working day.
IMPLAUSIBLE_2026 = {"year": 2026, "holidays": ["2026-01-01"], "workdays": [], "source": "typo"}


def _at(d: date) -> datetime:
    """10:00 in Guangzhou on ``d``."""
    return datetime(d.year, d.month, d.day, 2, 0, tzinfo=UTC)


def _nth_workday_after(start: date, n: int) -> date:
    d = start
    while n:
        d += timedelta(days=1)
        if chinese_calendar.is_workday(d):
            n -= 1
    return d


def _accepted(world, session, clock, on: date):
    clock.set(_at(on))
    return world.card(CardStatus.ACCEPTED)


@pytest.mark.parametrize("accepted", [
    date(2026, 11, 23),  # Monday
    date(2026, 11, 27),  # Friday
    date(2026, 11, 28),  # Saturday: counting starts on Monday
    date(2026, 9, 30),   # the eve of National Day / Mid-Autumn 2026
    date(2026, 2, 13),   # before the Spring Festival 2026
    date(2026, 4, 30),   # before Labour Day 2026
])
def test_due_date_is_twelfth_official_working_day_after_acceptance_art10(world, session, clock, accepted):
    card = _accepted(world, session, clock, accepted)
    app_ = card.application
    assert app_.accepted_on == accepted
    assert app_.due_on == _nth_workday_after(accepted, deadlines.ISSUANCE_WORKING_DAYS)
    assert app_.due_provisional is False
    assert deadlines.calendar(session).working_days_between(accepted, app_.due_on) == 12


def test_day_of_acceptance_not_counted_art10(world, session, clock):
    card = _accepted(world, session, clock, date(2026, 11, 23))
    assert card.application.due_on == date(2026, 12, 9)  # not 8 December


def test_replacement_has_the_same_deadline_art25(world, session, clock):
    old = world.card(CardStatus.ACTIVE)
    new = lifecycle.replace(session, world.teller, old.id, reason=lifecycle.ReplacementReason.DAMAGED,
                            delivery=PICKUP)
    lifecycle.accept(session, world.clerk, new.id)
    assert new.application.due_on == date(2026, 12, 9)


def test_due_date_in_year_without_data_is_provisional_art10(world, session, clock):
    """Accepted Sunday 20 Dec 2026; January 2027 has no data (chinesecalendar 1.11 stops at 2026):
    weekdays are counted and the due date is marked provisional."""
    card = _accepted(world, session, clock, date(2026, 12, 20))
    assert (card.application.due_on, card.application.due_provisional) == (date(2027, 1, 5), True)


def test_loading_the_year_recomputes_provisional_due_dates_art10(world, session, clock):
    card = _accepted(world, session, clock, date(2026, 12, 20))
    final = _accepted(world, session, clock, date(2026, 11, 23))
    row, plan = deadlines.load_year(session, SCHEDULE_2027, loaded_by="bureau")
    assert row.year == 2027 and len(plan.changes) == 1
    session.refresh(card.application)
    assert (card.application.due_on, card.application.due_provisional) == (date(2027, 1, 6), False)
    assert final.application.due_on == date(2026, 12, 9)
    assert deadlines.years_without_data(session, today=date(2026, 12, 20)) == []


def test_accepting_after_the_year_is_loaded_is_final_art10(world, session, clock):
    deadlines.load_year(session, SCHEDULE_2027)
    card = _accepted(world, session, clock, date(2027, 1, 29))  # Friday; Sunday 31 Jan is a working day
    # 31 Jan (adjusted workday), 1-5 Feb, 8-12 Feb are holidays … : counted on the loaded schedule
    assert card.application.due_provisional is False
    cal = deadlines.calendar(session)
    assert cal.working_days_between(date(2027, 1, 29), card.application.due_on) == 12
    assert cal.is_workday(date(2027, 1, 31)).workday


def test_bad_schedule_refused(world, session):
    with pytest.raises(InvalidInput):
        deadlines.load_year(session, {"year": 2027, "holidays": ["2026-01-01"], "workdays": [], "source": "x"})


def test_years_without_data_art10(world, session):
    assert deadlines.years_without_data(session, today=date(2026, 11, 23)) == [2027]
    assert deadlines.years_without_data(session, today=date(2025, 6, 1)) == []


def test_watch_list_overdue_and_due_soon_art10(world, session, clock):
    """The overdue list: applications whose card the agency still owes, most urgent first."""
    overdue = _accepted(world, session, clock, date(2026, 11, 2))   # due 18 Nov
    soon = _accepted(world, session, clock, date(2026, 11, 9))      # due 25 Nov
    later = _accepted(world, session, clock, date(2026, 11, 20))    # due 8 Dec
    produced = _accepted(world, session, clock, date(2026, 11, 2))
    lifecycle.start_production(session, world.clerk, produced.id)
    lifecycle.finish_production(session, world.clerk, produced.id)  # the clock stops: available for pickup
    in_production = _accepted(world, session, clock, date(2026, 11, 3))
    lifecycle.start_production(session, world.clerk, in_production.id)
    clock.set(_at(date(2026, 11, 23)))
    rows = deadlines.watch_list(session)
    assert [r.card.id for r in rows] == [overdue.id, in_production.id, soon.id]
    by_id = {r.card.id: r for r in rows}
    assert by_id[overdue.id].overdue and by_id[overdue.id].working_days_left == -3  # 19, 20, 23 Nov
    assert by_id[in_production.id].overdue
    assert not by_id[soon.id].overdue and by_id[soon.id].working_days_left == 2
    assert later.id not in by_id and produced.id not in by_id
    assert deadlines.watch_list(session, soon=20)[-1].card.id == later.id


def test_instant_issuance_has_no_pending_deadline_art10(world, session, clock):
    person = world.person()
    card = lifecycle.apply(session, world.teller, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                           service_mode=lifecycle.ServiceMode.INSTANT, id_verified=True)
    assert card.application.due_on == date(2026, 11, 23)
    assert card.id not in {r.card.id for r in deadlines.watch_list(session, soon=100)}


def test_implausible_year_needs_confirmation_and_previews_the_due_dates_art10(world, session, clock):
    """Art. 10, 25: a schedule far from any published year (only New Year's Day off, no adjusted
    working day) is not applied without an explicit confirmation; the refusal previews the due dates
    it would change, and nothing is written."""
    running = _accepted(world, session, clock, date(2026, 9, 30))  # due 22 Oct 2026 on the package's 2026
    assert running.application.due_on == date(2026, 10, 22)
    with pytest.raises(ConfirmationRequired) as refused:
        deadlines.load_year(session, IMPLAUSIBLE_2026, loaded_by="bureau")
    assert "confirm" in refused.value.detail and len(refused.value.extra["warnings"]) == 2
    change = {"application_id": running.application.id, "card_id": running.id, "accepted_on": "2026-09-30",
              "due_on": "2026-10-22", "new_due_on": "2026-10-16", "provisional": False, "new_provisional": False}
    assert refused.value.extra["changes"] == [change]
    assert session.get(WorkdaySchedule, 2026) is None
    session.refresh(running.application)
    assert running.application.due_on == date(2026, 10, 22)

    plan = deadlines.plan_year(session, IMPLAUSIBLE_2026)
    assert plan.warnings == refused.value.extra["warnings"] and plan.changes_json() == [change]
    row, done = deadlines.load_year(session, IMPLAUSIBLE_2026, loaded_by="bureau", confirm=True)
    assert (row.year, done.changes_json()) == (2026, [change])
    assert running.application.due_on == date(2026, 10, 16)


def test_corrected_schedule_moves_running_due_dates_only_art10_25(world, session, clock):
    """Art. 10, 25: a schedule loaded over the package's (a late change to the notice) moves the due
    dates the agency still owes; a card already produced keeps the due date it was held to."""
    running = _accepted(world, session, clock, date(2026, 9, 30))
    clock.set(_at(date(2026, 9, 30)))
    produced = world.card(CardStatus.PRODUCED)
    assert produced.application.due_on == date(2026, 10, 22)
    deadlines.load_year(session, IMPLAUSIBLE_2026, confirm=True)
    assert running.application.due_on == date(2026, 10, 16)
    session.refresh(produced.application)
    assert produced.application.due_on == date(2026, 10, 22)


def test_plausible_year_applies_without_confirmation_art10(world, session):
    plan = deadlines.plan_year(session, SCHEDULE_2027)
    assert plan.warnings == []
    row, _ = deadlines.load_year(session, SCHEDULE_2027)
    assert row.year == 2027


def test_cli_load_of_an_implausible_year_asks_after_the_preview_art10(app, world, session, clock, tmp_path):
    """Art. 10, 25: `flask calendar load` shows the warnings and the due dates it would move, and
    loads only when confirmed (or with --yes)."""
    import json

    running = _accepted(world, session, clock, date(2026, 9, 30))
    session.commit()
    path = tmp_path / "2026.json"
    path.write_text(json.dumps(IMPLAUSIBLE_2026))
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["calendar", "load", str(path)], input="n\n")
    assert refused.exit_code == 1 and "Not loaded" in refused.output
    assert "2026-10-22 -> 2026-10-16" in refused.output and "adjusted working day" in refused.output
    assert session.get(WorkdaySchedule, 2026) is None
    done = runner.invoke(args=["calendar", "load", "--yes", str(path)])
    assert done.exit_code == 0, done.output
    assert "1 due dates recomputed" in done.output
    session.expire_all()
    assert session.get(WorkdaySchedule, 2026) is not None
    assert running.application.due_on == date(2026, 10, 16)


def test_the_deadline_runs_exactly_while_the_card_is_accepted_or_in_production_art10_25(world, session, clock):
    """Art. 10, 25: the 12 working days run from acceptance until the card is produced. The overdue list
    reads that from ``card_applications.running``, which the lifecycle keeps: for a card in every state it
    says exactly whether the card is accepted or in production, and the count agrees with the list."""
    from sqlalchemy import select

    from app.models import Card, CardApplication

    for status in (CardStatus.APPLIED, CardStatus.ACCEPTED, CardStatus.IN_PRODUCTION, CardStatus.PRODUCED,
                   CardStatus.REJECTED, CardStatus.ISSUED, CardStatus.ACTIVE, CardStatus.LOSS_REGISTERED,
                   CardStatus.REPLACEMENT_PENDING, CardStatus.CANCELLED):
        world.card(status)
    session.commit()
    pairs = session.execute(select(Card.status, CardApplication.running)
                            .join(CardApplication, CardApplication.card_id == Card.id)).all()
    assert {s for s, _ in pairs} >= set(deadlines.RUNNING) | {CardStatus.PRODUCED, CardStatus.REJECTED}
    assert all(running == (status in deadlines.RUNNING) for status, running in pairs), pairs
    assert deadlines.watch_count(session, soon=100) == len(deadlines.watch_list(session, soon=100)) == \
        sum(running for _, running in pairs)
