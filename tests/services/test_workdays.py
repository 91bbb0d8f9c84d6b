"""The 12-working-day issuance deadline on the official PRC calendar (Art. 10, 25).

Art. 10 / 25: 在受理申请后12个工作日内 … 发放. The day of acceptance does not count; holidays and
adjusted working days (调休上班) come from the Bureau's loaded schedules, then chinesecalendar,
then plain weekdays (provisional).
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.workdays import (
    Calendar,
    DayStatus,
    DueDate,
    ScheduleError,
    YearSchedule,
    package_year_schedule,
    parse_year_schedule,
    plausibility_warnings,
)

ISSUANCE = 12  # Art. 10, 25

# A plausible 2027 schedule for the tests (NOT the State Council's notice): New Year's Day off on
# Friday 1 January, Spring Festival 6-12 February with Sunday 31 January and Saturday
# 20 February as adjusted working days.
SCHEDULE_2027 = {
    "year": 2027,
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03",
                 "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11",
                 "2027-02-12"],
    "workdays": ["2027-01-31", "2027-02-20"],
    "source": "test fixture modelled on a State Council notice (国办发明电)",
}


@pytest.fixture(scope="module")
def cal() -> Calendar:
    return Calendar()


def test_chinesecalendar_1_11_has_no_data_for_2027_art10():
    """Art. 10, 25: the pinned package stops at 2026. If this fails, chinesecalendar was upgraded:
    move the "no data" tests below to the first year it does not cover."""
    assert chinese_calendar.is_workday(date(2026, 12, 31)) is True
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 1))


def test_day_of_acceptance_not_counted_art10(cal):
    """Art. 10: "within 12 working days after accepting": the day of acceptance does not count
    (期间开始之日不计算在内). Accepted Monday 23 Nov 2026 -> due Wednesday 9 Dec 2026 (12 working days:
    24-27 Nov, 30 Nov-4 Dec, 7-9 Dec; no holiday in between)."""
    due = cal.add_working_days(date(2026, 11, 23), ISSUANCE)
    assert due == DueDate(date(2026, 12, 9), provisional=False)
    assert cal.working_days_between(date(2026, 11, 23), date(2026, 12, 9)) == 12


def test_accepted_on_friday_weekend_skipped_art10(cal):
    """Art. 10: accepted Friday 20 Nov 2026; Saturdays and Sundays are not working days."""
    assert cal.add_working_days(date(2026, 11, 20), 1).due == date(2026, 11, 23)
    assert cal.add_working_days(date(2026, 11, 20), ISSUANCE) == DueDate(date(2026, 12, 8), False)


def test_accepted_on_weekend_counts_from_next_working_day_art10(cal):
    """Art. 10: an application accepted on a Saturday (an outlet open at weekends) is due 12
    working days after it, the same as one accepted on the Friday before."""
    assert cal.add_working_days(date(2026, 11, 21), ISSUANCE) == cal.add_working_days(date(2026, 11, 20), ISSUANCE)


def test_national_day_2026_holidays_and_adjusted_workdays_art25(cal):
    """Art. 25: accepted Wednesday 30 Sep 2026, just before National Day (1-7 Oct off in the 2026
    notice); Saturday 10 Oct is an adjusted working day and counts: Oct 8, 9, 10, 12-16, 19-22."""
    assert cal.is_workday(date(2026, 10, 7)) == DayStatus(False, False)
    assert cal.is_workday(date(2026, 10, 10)) == DayStatus(True, False)
    assert cal.add_working_days(date(2026, 9, 30), ISSUANCE) == DueDate(date(2026, 10, 22), False)


def test_mid_autumn_and_national_day_2026_both_adjusted_workdays_art10(cal):
    """Art. 10: accepted Friday 18 Sep 2026: Sunday 20 Sep (adjusted working day) counts, Friday
    25 Sep (Mid-Autumn) and 1-7 Oct do not, Saturday 10 Oct counts: due Monday 12 Oct."""
    assert cal.add_working_days(date(2026, 9, 18), ISSUANCE).due == date(2026, 10, 12)


def test_spring_festival_2026_art10(cal):
    """Art. 10: accepted Friday 13 Feb 2026: Saturday 14 Feb works, 15-23 Feb off, Saturday 28 Feb
    works: Feb 14, 24-28, Mar 2-6, Mar 9 -> due Monday 9 Mar 2026."""
    assert cal.add_working_days(date(2026, 2, 13), ISSUANCE) == DueDate(date(2026, 3, 9), False)


def test_due_in_year_without_data_is_provisional_art10(cal):
    """Art. 10, 25: accepted Sunday 20 Dec 2026, due in January 2027, for which nobody has data
    yet: weekdays are counted (1 Jan 2027 too) and the due date is marked provisional."""
    due = cal.add_working_days(date(2026, 12, 20), ISSUANCE)
    assert due == DueDate(date(2027, 1, 5), provisional=True)
    assert cal.is_workday(date(2027, 1, 1)) == DayStatus(True, True)
    assert cal.years_without_data(2025, 2028) == [2027, 2028]


def test_loading_2027_schedule_makes_due_date_final_art10(cal):
    """Art. 10, 25: once the Bureau loads 2027, New Year's Day is a holiday, the due date moves to
    6 Jan 2027 and is no longer provisional."""
    loaded = cal.with_schedules(parse_year_schedule(SCHEDULE_2027))
    assert loaded.add_working_days(date(2026, 12, 20), ISSUANCE) == DueDate(date(2027, 1, 6), provisional=False)
    assert loaded.is_workday(date(2027, 1, 1)) == DayStatus(False, False)
    assert loaded.is_workday(date(2027, 1, 31)) == DayStatus(True, False)
    assert loaded.years_without_data(2025, 2028) == [2028]
    assert Calendar([parse_year_schedule(SCHEDULE_2027)]).years_without_data(2026, 2027) == []
    # the original calendar is unchanged
    assert cal.add_working_days(date(2026, 12, 20), ISSUANCE).provisional


def test_due_date_before_year_without_data_is_final_art10(cal):
    """Art. 10: a due date inside 2026 is final even though 2027 has no data."""
    assert cal.add_working_days(date(2026, 12, 14), ISSUANCE) == DueDate(date(2026, 12, 30), False)
    assert cal.add_working_days(date(2026, 12, 15), ISSUANCE) == DueDate(date(2026, 12, 31), False)
    assert cal.add_working_days(date(2026, 12, 16), ISSUANCE).provisional


def test_loaded_schedule_overrides_package_art10():
    """Art. 10: the Bureau's loaded schedule wins over the package (e.g. a late change by the
    State Council): 2026 loaded with only New Year's Day off."""
    only_new_year = YearSchedule(2026, frozenset({date(2026, 1, 1)}), frozenset(), "test override")
    cal = Calendar([only_new_year])
    assert cal.is_workday(date(2026, 10, 5)) == DayStatus(True, False)
    assert cal.is_workday(date(2026, 10, 10)) == DayStatus(False, False)
    assert cal.schedule_for(2026) is only_new_year


def test_years_without_package_fall_back_to_weekdays_art10():
    """Art. 10: with the package switched off every year without a loaded schedule is provisional."""
    cal = Calendar(use_package=False)
    assert cal.add_working_days(date(2026, 9, 30), ISSUANCE) == DueDate(date(2026, 10, 16), True)
    assert cal.years_without_data(2026, 2026) == [2026]


def test_working_days_between_for_days_left_and_overdue_art25(cal):
    """Art. 25: working days left until the due date (positive) or past it (negative)."""
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1
    assert cal.working_days_between(date(2026, 10, 8), date(2026, 9, 30)) == -1
    assert cal.working_days_between(date(2026, 10, 1), date(2026, 10, 7)) == 0
    assert cal.working_days_between(date(2026, 5, 5), date(2026, 5, 5)) == 0
    # across the year end into a year without data: 28 Dec 2026 - 8 Jan 2027 (weekdays)
    assert cal.working_days_between(date(2026, 12, 25), date(2027, 1, 8)) == 4 + 6  # 1 Jan counted


def test_add_working_days_refuses_datetime_and_negative_art10(cal):
    """Art. 10: the acceptance date is a Guangzhou calendar date; a datetime (UTC or not) is
    refused rather than silently truncated; n is not negative."""
    with pytest.raises(TypeError):
        cal.add_working_days(datetime(2026, 11, 23, 1, 0), ISSUANCE)
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 11, 23), -1)
    assert cal.add_working_days(date(2026, 11, 23), 0) == DueDate(date(2026, 11, 23), False)


def test_package_year_schedule_matches_chinesecalendar_art10():
    """Art. 10: the package's data as a YearSchedule agrees with chinesecalendar day by day."""
    ys = package_year_schedule(2026)
    assert date(2026, 10, 1) in ys.holidays and date(2026, 10, 7) in ys.holidays
    assert date(2026, 10, 8) not in ys.holidays
    assert ys.adjusted_workdays == frozenset({date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28),
                                              date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)})
    own = Calendar([ys], use_package=False)
    d = date(2026, 1, 1)
    while d.year == 2026:
        assert own.is_workday(d).workday == chinese_calendar.is_workday(d), d
        d += timedelta(days=1)
    assert package_year_schedule(2027) is None


def test_every_package_year_round_trips_through_json_art10():
    """Art. 10: every year 2004-2026 of the package passes the schedule validation and survives
    the JSON round trip the Bureau's loader uses."""
    for year in range(2004, 2027):
        ys = package_year_schedule(year)
        assert parse_year_schedule(json.loads(json.dumps(ys.to_json()))) == ys


# ---------------------------------------------------------------------------------------------
# Schedule format and validation
# ---------------------------------------------------------------------------------------------


def test_year_schedule_json_round_trip_art10():
    """Art. 10: the JSON format loaded by the Bureau: year, holidays, workdays, source."""
    ys = parse_year_schedule(SCHEDULE_2027)
    assert ys.year == 2027 and date(2027, 1, 1) in ys.holidays and date(2027, 2, 20) in ys.adjusted_workdays
    out = ys.to_json()
    assert out == {**SCHEDULE_2027, "holidays": sorted(SCHEDULE_2027["holidays"]),
                   "workdays": sorted(SCHEDULE_2027["workdays"])}
    assert parse_year_schedule(json.dumps(out)) == ys


def bad(**changes):
    obj = {**SCHEDULE_2027, **changes}
    return {k: v for k, v in obj.items() if v is not ...}


@pytest.mark.parametrize("obj,words", [
    (bad(holidays=["2026-12-31", "2027-01-01"]), "not in 2027"),
    (bad(workdays=["2028-01-01"]), "not in 2027"),
    (bad(workdays=["2027-01-01", "2027-01-31"]), "both a holiday and a working day"),
    (bad(workdays=["2027-02-01"]), "Saturday or a Sunday"),
    (bad(holidays=[]), "empty"),
    (bad(holidays=["2027-01-01", "2027-01-01"]), "twice"),
    (bad(workdays=["2027-01-31", "2027-01-31"]), "twice"),
    (bad(holidays=["2027-1-1"]), "YYYY-MM-DD"),
    (bad(holidays=["2027-02-30"]), "YYYY-MM-DD"),
    (bad(holidays=[20270101]), "YYYY-MM-DD"),
    (bad(holidays="2027-01-01"), "list"),
    (bad(year="2027"), "year"),
    (bad(year=True), "year"),
    (bad(year=...), "year"),
    (bad(source=""), "source"),
    (bad(source=...), "source"),
    (bad(holiday=["2027-01-01"]), "unknown"),
    ([], "object"),
    ("not json", "JSON"),
])
def test_bad_year_schedule_refused_art10(obj, words):
    """Art. 10, 25: a schedule that cannot be right is refused with a message saying why."""
    with pytest.raises(ScheduleError, match=words):
        parse_year_schedule(obj)


def test_schedule_error_is_a_value_error_art10():
    """Art. 10: the API maps ScheduleError like any invalid input."""
    assert issubclass(ScheduleError, ValueError)


def test_year_schedule_constructor_validates_art10():
    """Art. 10: a YearSchedule cannot be built with dates that contradict each other."""
    with pytest.raises(ScheduleError):
        YearSchedule(2027, frozenset({date(2027, 1, 1)}), frozenset({date(2027, 1, 1)}), "x")
    with pytest.raises(ScheduleError):
        YearSchedule(2027, frozenset(), frozenset(), "x")
    with pytest.raises(ScheduleError, match="not a date"):
        YearSchedule(2027, {date(2027, 1, 1), "2027-01-02"}, (), "x")
    ys = YearSchedule(2027, [date(2027, 1, 1)], [], "x")  # any iterable, stored as frozensets
    assert ys.holidays == frozenset({date(2027, 1, 1)})
    assert hash(ys) == hash(YearSchedule(2027, {date(2027, 1, 1)}, set(), "x"))


def test_two_schedules_for_one_year_refused_art10():
    """Art. 10: a calendar holds one schedule per year; two for the same year are ambiguous."""
    ys = parse_year_schedule(SCHEDULE_2027)
    with pytest.raises(ScheduleError):
        Calendar([ys, ys])
    other = parse_year_schedule({**SCHEDULE_2027, "workdays": []})
    assert Calendar([ys]).with_schedules(other).schedule_for(2027) is other


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------

CAL = Calendar([parse_year_schedule(SCHEDULE_2027)])
starts = st.dates(min_value=date(2004, 1, 1), max_value=date(2029, 12, 31))
counts = st.integers(min_value=1, max_value=60)


@settings(max_examples=300)
@given(starts, counts)
def test_due_date_strictly_after_start_and_a_working_day_art10(start, n):
    """Art. 10, 25: the due date is after the day of acceptance and is itself a working day,
    exactly n working days later."""
    due = CAL.add_working_days(start, n)
    assert due.due > start
    assert CAL.is_workday(due.due).workday
    assert CAL.working_days_between(start, due.due) == n
    assert CAL.working_days_between(start, due.due - timedelta(days=1)) == n - 1


@settings(max_examples=300)
@given(starts, st.integers(min_value=0, max_value=60))
def test_adding_n_then_one_is_adding_n_plus_one_art10(start, n):
    """Art. 10: counting is additive: (start + n) + 1 == start + (n + 1)."""
    step = CAL.add_working_days(CAL.add_working_days(start, n).due, 1)
    assert step.due == CAL.add_working_days(start, n + 1).due


@given(starts, counts)
def test_provisional_exactly_when_a_counted_day_lacks_data_art10(start, n):
    """Art. 10: provisional iff some day after acceptance up to the due date lies in a year with
    no data (2028 onward here)."""
    due = CAL.add_working_days(start, n)
    assert due.provisional == (due.due.year >= 2028)


@given(starts, starts)
def test_working_days_between_is_antisymmetric_art25(a, b):
    """Art. 25: days left and days overdue are the same count with opposite signs."""
    assert CAL.working_days_between(a, b) == -CAL.working_days_between(b, a)


def test_add_working_days_is_fast_art10():
    """Art. 10, 25: due dates for thousands of applications (overdue lists) take milliseconds."""
    import time

    cal = Calendar([parse_year_schedule(SCHEDULE_2027)])
    t0 = time.perf_counter()
    start = date(2024, 1, 1)
    for i in range(5000):
        cal.add_working_days(start + timedelta(days=i % 1400), ISSUANCE)
        cal.working_days_between(start + timedelta(days=i % 1400), date(2027, 6, 1))
    assert time.perf_counter() - t0 < 2.0


def test_every_published_year_is_plausible_art10():
    """Art. 10, 25: each year of the State Council's notices 2004-2026 (as the package holds them)
    passes the plausibility check the Bureau's loads go through."""
    for year in range(2004, 2027):
        assert plausibility_warnings(package_year_schedule(year)) == [], year


def test_year_with_far_fewer_holidays_and_no_adjusted_workdays_is_implausible_art10():
    """Art. 10, 25: a schedule with only New Year's Day off and no adjusted working day (调休上班) is
    far from any year ever published (at least 16 weekday holidays and 5 adjusted working days in
    each of 2004-2026): both are named, so that the Bureau confirms before it counts."""
    warnings = plausibility_warnings(YearSchedule(2027, {date(2027, 1, 1)}, (), "typo"))
    assert len(warnings) == 2
    assert "1 holiday" in warnings[0] and "16" in warnings[0]
    assert "no adjusted working day" in warnings[1]
    only_no_workdays = parse_year_schedule({**SCHEDULE_2027, "workdays": []})
    assert [w for w in plausibility_warnings(only_no_workdays) if "adjusted" in w]
