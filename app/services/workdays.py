"""Working days on the official PRC calendar, for the 12-working-day issuance deadline (Art. 10, 25).

Art. 10 and Art. 25 (Chinese text, which rules): the issuing agency issues the card "在受理申请后
12个工作日内" — within 12 working days after accepting the application.

**The day of acceptance does not count.** The period runs from the day after acceptance, and the
deadline is the 12th working day after the acceptance date. Reasons: the text says *after*
(受理申请后) accepting; Chinese law counts periods that way everywhere — Civil Code Art. 201
(按照年、月、日计算期间的，开始的当日不计入，自下一日开始计算), Civil Procedure Law Art. 85
(期间开始的时和日，不计算在期间内), and administrative practice for "…日内" time limits
(期间开始之日不计算在内); and it is the reading that never shortens the agency's time, so a due date
we show can never be earlier than the one the Bureau would compute. An application accepted on a
non-working day (an outlet open on Saturday) therefore counts from the next working day, like
one accepted on the Friday before.

A working day is a Monday-Friday that is not a public holiday, or a Saturday/Sunday that the State
Council's annual holiday notice makes a working day (调休上班). Data for a year comes from, in order:

1. a :class:`YearSchedule` the Bureau loaded (stored in the database by other code; it wins, so a
   late change to the notice can be loaded without a release);
2. the ``chinesecalendar`` package (1.11.0 covers 2004-2026 and raises ``NotImplementedError``
   for any other year);
3. plain weekdays, Monday to Friday. Days counted from such a year make a due date
   **provisional**: it is recomputed when that year's schedule is loaded.

Speed: each year is turned once into a sorted tuple of the ordinals of its working days (cached per
schedule and per package year), so a due date or a count of days is a few binary searches.
"""
from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from importlib import metadata
from typing import NamedTuple

import chinese_calendar

__all__ = [
    "Calendar",
    "DayStatus",
    "DueDate",
    "ScheduleError",
    "YearSchedule",
    "package_year_schedule",
    "parse_iso_date",
    "parse_year_schedule",
    "plausibility_warnings",
]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_KEYS = {"year", "holidays", "workdays", "source"}
YEAR_MIN, YEAR_MAX = 1900, 2999


class ScheduleError(ValueError):
    """A year schedule that cannot be right (dates outside the year, a day both off and on, …).
    ``template`` and ``params``: the source message and its values, translated when shown (app.i18n)."""

    def __init__(self, message: str, params: dict | None = None):
        self.template, self.params = message, params or {}
        super().__init__(message.format(**params) if params else message)


@dataclass(frozen=True)
class YearSchedule:
    """One year of the State Council's holiday notice.

    ``holidays``: days off (放假), weekend days inside a holiday period may be listed or not;
    ``adjusted_workdays``: Saturdays and Sundays that are working days (调休上班);
    ``source``: where the data comes from (e.g. the notice's number, 国办发明电〔2026〕…).
    """

    year: int
    holidays: frozenset[date]
    adjusted_workdays: frozenset[date]
    source: str

    def __post_init__(self) -> None:
        for name in ("holidays", "adjusted_workdays"):  # accept any iterable, store a frozenset
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        if isinstance(self.year, bool) or not isinstance(self.year, int) or not YEAR_MIN <= self.year <= YEAR_MAX:
            raise ScheduleError("year must be an integer from {first} to {last}, not {year!r}",
                                params={"first": YEAR_MIN, "last": YEAR_MAX, "year": self.year})
        if not isinstance(self.source, str) or not self.source.strip():
            raise ScheduleError("source must name where the schedule comes from (e.g. the State Council notice)")
        if not self.holidays:
            raise ScheduleError("holidays: the list is empty; every year has public holidays "
                                "(at least New Year's Day {year}-01-01)", params={"year": self.year})
        for name, days in (("holidays", self.holidays), ("workdays", self.adjusted_workdays)):
            for d in days:
                if type(d) is not date:
                    raise ScheduleError("{name}: {d!r} is not a date", params={"name": name, "d": d})
            for d in sorted(days):
                if d.year != self.year:
                    raise ScheduleError("{name}: {day} is not in {year}",
                                        params={"name": name, "day": d.isoformat(), "year": self.year})
        both = sorted(self.holidays & self.adjusted_workdays)
        if both:
            raise ScheduleError("{day} is both a holiday and a working day", params={"day": both[0].isoformat()})
        for d in sorted(self.adjusted_workdays):
            if d.weekday() < 5:
                raise ScheduleError("workdays: {day} is a {weekday}; an adjusted working day "
                                    "(调休上班) must be a Saturday or a Sunday",
                                    params={"day": d.isoformat(), "weekday": d.strftime("%A")})

    def is_workday(self, d: date) -> bool:
        return d in self.adjusted_workdays or (d.weekday() < 5 and d not in self.holidays)

    def to_json(self) -> dict:
        """The JSON form read by :func:`parse_year_schedule` (dates as sorted ISO strings)."""
        return {"year": self.year,
                "holidays": sorted(d.isoformat() for d in self.holidays),
                "workdays": sorted(d.isoformat() for d in self.adjusted_workdays),
                "source": self.source}


def parse_iso_date(text: str) -> date:
    """A real date written exactly YYYY-MM-DD (no week dates, no times); ValueError otherwise."""
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date written YYYY-MM-DD")
    return date.fromisoformat(text)


def _dates(obj: Mapping, key: str) -> frozenset[date]:
    values = obj.get(key, [])
    if not isinstance(values, list):
        raise ScheduleError("{key} must be a list of dates (YYYY-MM-DD)", params={"key": key})
    seen: set[date] = set()
    for v in values:
        if isinstance(v, datetime) or not isinstance(v, (str, date)):
            raise ScheduleError("{key}: {v!r} is not a date written YYYY-MM-DD", params={"key": key, "v": v})
        if isinstance(v, str):
            try:
                d = parse_iso_date(v)
            except ValueError:
                raise ScheduleError("{key}: {v!r} is not a real date written YYYY-MM-DD",
                                    params={"key": key, "v": v}) from None
        else:
            d = v
        if d in seen:
            raise ScheduleError("{key}: {day} is listed twice", params={"key": key, "day": d.isoformat()})
        seen.add(d)
    return frozenset(seen)


def parse_year_schedule(obj: Mapping | str | bytes) -> YearSchedule:
    """Read and validate ``{"year": 2027, "holidays": ["2027-01-01", …], "workdays": ["2027-…"],
    "source": "…"}`` (a mapping or its JSON text). ``workdays`` may be omitted (none).

    Refused with :class:`ScheduleError`: unknown keys, a missing year or source, an empty or
    duplicated holiday list, a date outside the year, a day both holiday and working day, an
    adjusted working day that is not a Saturday or Sunday."""
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except ValueError:
            raise ScheduleError("the schedule is not valid JSON") from None
    if not isinstance(obj, Mapping):
        raise ScheduleError("a year schedule is a JSON object with year, holidays, workdays and source")
    unknown = sorted(set(obj) - _KEYS)
    if unknown:
        raise ScheduleError("unknown field(s) {unknown}; expected {expected}",
                            params={"unknown": ", ".join(map(str, unknown)), "expected": ", ".join(sorted(_KEYS))})
    if "year" not in obj:
        raise ScheduleError("year is missing")
    year = obj["year"]
    if isinstance(year, bool) or not isinstance(year, int):
        raise ScheduleError("year must be an integer, not {year!r}", params={"year": year})
    if "holidays" not in obj:
        raise ScheduleError("holidays is missing")
    if not isinstance(obj.get("source"), str):
        raise ScheduleError("source is missing: name the State Council notice the dates come from")
    return YearSchedule(year, _dates(obj, "holidays"), _dates(obj, "workdays"), obj["source"].strip())


# --------------------------------------------------------------------------------------------
# The chinesecalendar package
# --------------------------------------------------------------------------------------------

try:
    _PACKAGE = f"chinesecalendar {metadata.version('chinesecalendar')}"
except metadata.PackageNotFoundError:  # pragma: no cover - vendored or renamed
    _PACKAGE = "chinesecalendar"


@lru_cache(maxsize=None)
def _package_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except (NotImplementedError, ValueError, OverflowError):
        return False
    return True


@lru_cache(maxsize=None)
def package_year_schedule(year: int) -> YearSchedule | None:
    """The package's data for ``year`` as a :class:`YearSchedule`, or None if it has none.

    Scans the year: a day off that is a weekday, or a weekend day inside a named holiday period,
    is a holiday; a Saturday/Sunday that is a working day is an adjusted working day."""
    if not _package_covers(year):
        return None
    holidays, workdays = set(), set()
    d = date(year, 1, 1)
    while d.year == year:
        working = chinese_calendar.is_workday(d)
        weekend = d.weekday() >= 5
        if working and weekend:
            workdays.add(d)
        elif not working and (not weekend or chinese_calendar.get_holiday_detail(d)[1] is not None):
            holidays.add(d)
        d += timedelta(days=1)
    return YearSchedule(year, frozenset(holidays), frozenset(workdays),
                        f"{_PACKAGE} (State Council holiday notice for {year})")


@dataclass(frozen=True)
class _Published:
    first: int
    last: int
    weekday_holidays: int  # the fewest of any published year
    adjusted_workdays: int


@lru_cache(maxsize=1)
def _published() -> _Published:
    """The fewest weekday holidays and adjusted working days of any year the package holds
    (2004-2026 for chinesecalendar 1.11: 16 and 5)."""
    years = [ys for y in range(1990, 2100) if (ys := package_year_schedule(y))]
    return _Published(years[0].year, years[-1].year,
                      min(sum(d.weekday() < 5 for d in ys.holidays) for ys in years),
                      min(len(ys.adjusted_workdays) for ys in years))


def plausibility_warnings(schedule: YearSchedule) -> list[str]:
    """Why ``schedule`` looks unlike any year the State Council has published, or [] if it does not.

    A schedule is still valid when it is implausible (the notice may change), but a typo — a list
    cut short, the adjusted working days left out — would silently move every due date of the
    year, so the Bureau must confirm it (``app.services.deadlines.load_year``). Implausible: fewer
    than half the weekday holidays of the fewest published year; no adjusted working day (调休上班)
    when every published year has some."""
    ref = _published()
    span = f"{ref.first}-{ref.last}"
    warnings = []
    off = sum(d.weekday() < 5 for d in schedule.holidays)
    if off < ref.weekday_holidays / 2:
        warnings.append(f"{off} holiday{'s' if off != 1 else ''} on a weekday, far fewer than any year "
                        f"published ({span}: at least {ref.weekday_holidays}); is the list complete?")
    if not schedule.adjusted_workdays and ref.adjusted_workdays:
        warnings.append(f"no adjusted working day (调休上班), though every year published ({span}) has at "
                        f"least {ref.adjusted_workdays}; were the workdays left out?")
    return warnings


# --------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------


class DayStatus(NamedTuple):
    """Whether a day is a working day, and whether that is only a guess (no data for its year)."""

    workday: bool
    provisional: bool


@dataclass(frozen=True)
class DueDate:
    """``due``: the last day of the period; ``provisional``: some day counted lies in a year with
    no holiday data (weekdays were assumed); recompute when that year is loaded."""

    due: date
    provisional: bool


@dataclass(frozen=True)
class _Year:
    workdays: tuple[int, ...]  # ordinals of the working days, ascending
    provisional: bool


@lru_cache(maxsize=512)
def _index(schedule: YearSchedule) -> _Year:
    return _Year(_ordinals(schedule.year, schedule.is_workday), False)


@lru_cache(maxsize=256)
def _weekdays_index(year: int) -> _Year:
    return _Year(_ordinals(year, lambda d: d.weekday() < 5), True)


def _ordinals(year: int, is_workday) -> tuple[int, ...]:
    first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
    return tuple(o for o in range(first, last + 1) if is_workday(date.fromordinal(o)))


def _check_date(d: object, name: str) -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"{name} must be a date (the local date in Guangzhou), not {type(d).__name__}")
    return d


class Calendar:
    """Working days from loaded schedules, then the package, then weekdays (provisional).

    Immutable: :meth:`with_schedules` returns a new calendar, so one instance can be shared
    between threads."""

    def __init__(self, schedules: Iterable[YearSchedule] = (), *, use_package: bool = True):
        self._schedules: dict[int, YearSchedule] = {}
        for s in schedules:
            if s.year in self._schedules:
                raise ScheduleError("two schedules for {year}", params={"year": s.year})
            self._schedules[s.year] = s
        self._use_package = use_package
        self._years: dict[int, _Year] = {}

    def with_schedules(self, *schedules: YearSchedule) -> Calendar:
        """A calendar with these schedules loaded, replacing any for the same years."""
        merged = {**self._schedules, **{s.year: s for s in schedules}}
        return Calendar(merged.values(), use_package=self._use_package)

    def schedule_for(self, year: int) -> YearSchedule | None:
        """The schedule in force for ``year`` (loaded, else the package's), None if there is none."""
        if year in self._schedules:
            return self._schedules[year]
        return package_year_schedule(year) if self._use_package else None

    def basis(self, year: int) -> str:
        """Where ``year``'s working days come from: "loaded" (the Bureau), "package"
        (chinesecalendar) or "weekdays" (no data: Monday-Friday, due dates provisional)."""
        if year in self._schedules:
            return "loaded"
        return "package" if self._use_package and _package_covers(year) else "weekdays"

    def years_without_data(self, start_year: int, end_year: int) -> list[int]:
        """Years in [start_year, end_year] counted as plain weekdays: the Bureau should load them."""
        return [y for y in range(start_year, end_year + 1)
                if y not in self._schedules and not (self._use_package and _package_covers(y))]

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is None:
            schedule = self.schedule_for(year)
            found = _index(schedule) if schedule else _weekdays_index(year)
            self._years[year] = found
        return found

    def is_workday(self, d: date) -> DayStatus:
        _check_date(d, "d")
        y = self._year(d.year)
        i = bisect_right(y.workdays, d.toordinal())
        return DayStatus(i > 0 and y.workdays[i - 1] == d.toordinal(), y.provisional)

    def add_working_days(self, start: date, n: int) -> DueDate:
        """The n-th working day after ``start`` (``start`` itself never counts; Art. 10, 25).
        n = 0 gives ``start`` back."""
        _check_date(start, "start")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, not {n!r}")
        if n == 0:
            return DueDate(start, False)
        year, remaining = start.year, n
        index = bisect_right(self._year(year).workdays, start.toordinal())
        while True:
            days = self._year(year).workdays
            if remaining <= len(days) - index:
                due = date.fromordinal(days[index + remaining - 1])
                break
            remaining -= len(days) - index
            year, index = year + 1, 0
        first_counted = (start + timedelta(days=1)).year
        provisional = any(self._year(y).provisional for y in range(first_counted, due.year + 1))
        return DueDate(due, provisional)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days d with a < d <= b (so ``working_days_between(s, add_working_days(s, n).due)
        == n``); negative when b is before a. Days left until a due date, or days overdue."""
        _check_date(a, "a")
        _check_date(b, "b")
        if b < a:
            return -self.working_days_between(b, a)
        full_years = sum(len(self._year(y).workdays) for y in range(a.year, b.year))
        return full_years + self._rank(b) - self._rank(a)

    def _rank(self, d: date) -> int:
        """Working days of d's year on or before d."""
        return bisect_right(self._year(d.year).workdays, d.toordinal())
