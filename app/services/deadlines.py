"""The 12-working-day issuance deadline (Art. 10, 25) on the official PRC calendar.

Holiday data: schedules the Bureau loaded (``WorkdaySchedule``), then the ``chinesecalendar``
package, then — for a year nobody has data for yet — plain weekdays, with the due date marked
provisional and recomputed when that year's schedule is loaded (so is every due date the agency
still owes: a late change to the notice moves them; a schedule unlike any published year must be
confirmed, after a preview of the due dates it moves). The day of acceptance does not
count (see ``app.services.workdays``). The clock stops when the card is produced and available
(pickup) or handed to the courier: that is when it is "issued" (发放) to the applicant.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.models import Card, CardApplication, WorkdaySchedule
from app.models.enums import CardStatus
from app.services import clock
from app.services.errors import ConfirmationRequired, InvalidInput
from app.services.workdays import (
    YEAR_MAX,
    YEAR_MIN,
    Calendar,
    DayStatus,
    DueDate,
    ScheduleError,
    YearSchedule,
    parse_year_schedule,
    plausibility_warnings,
)

ISSUANCE_WORKING_DAYS = 12  # Art. 10, 25
# States in which the issuing agency still owes the card (the clock runs).
RUNNING = (CardStatus.ACCEPTED, CardStatus.IN_PRODUCTION)


def _year_schedule(row: WorkdaySchedule) -> YearSchedule:
    return parse_year_schedule({"year": row.year, "holidays": row.holidays, "workdays": row.workdays,
                                "source": row.source})


def calendar(session: Session) -> Calendar:
    return Calendar([_year_schedule(r) for r in session.scalars(select(WorkdaySchedule))])


def due_date(session: Session, accepted_on: date, cal: Calendar | None = None) -> DueDate:
    return (cal or calendar(session)).add_working_days(accepted_on, ISSUANCE_WORKING_DAYS)


@dataclass(frozen=True)
class DueDateChange:
    application: CardApplication
    old: DueDate
    new: DueDate

    def to_json(self) -> dict:
        a = self.application
        return {"application_id": a.id, "card_id": a.card_id, "accepted_on": a.accepted_on.isoformat(),
                "due_on": self.old.due.isoformat(), "new_due_on": self.new.due.isoformat(),
                "provisional": self.old.provisional, "new_provisional": self.new.provisional}


@dataclass(frozen=True)
class YearPlan:
    """What loading a schedule would do: why it looks wrong (if it does) and the due dates it moves."""

    schedule: YearSchedule
    warnings: list[str]
    changes: list[DueDateChange]

    def changes_json(self) -> list[dict]:
        return [c.to_json() for c in self.changes]


def _open_due_dates(session: Session):
    """Due dates a new schedule may move: provisional ones, and those the agency still owes (the card
    not yet produced). A card already produced keeps the due date it was held to."""
    q = (select(CardApplication).join(Card, Card.id == CardApplication.card_id)
         .where(CardApplication.due_on.is_not(None))
         .where(CardApplication.due_provisional.is_(True) | Card.status.in_(RUNNING))
         .order_by(CardApplication.id))
    return session.scalars(q)


def _changes(session: Session, cal: Calendar) -> list[DueDateChange]:
    changes = []
    for app_ in _open_due_dates(session):
        old, due = DueDate(app_.due_on, app_.due_provisional), due_date(session, app_.accepted_on, cal)
        if due != old:
            changes.append(DueDateChange(app_, old, due))
    return changes


def plan_year(session: Session, data: dict) -> YearPlan:
    """Validate a year's schedule and preview it: plausibility warnings and the due dates it would
    change. Writes nothing."""
    try:
        ys = parse_year_schedule(data)
    except ScheduleError as e:
        raise InvalidInput(e.template, field="schedule", params=e.params) from None
    return YearPlan(ys, plausibility_warnings(ys), _changes(session, calendar(session).with_schedules(ys)))


def load_year(session: Session, data: dict, *, loaded_by: str | None = None,
              confirm: bool = False) -> tuple[WorkdaySchedule, YearPlan]:
    """Load (or replace) a year's holidays and adjusted working days, then move the due dates that
    depended on it (see :func:`plan_year`). A schedule unlike any published year needs
    ``confirm=True``; without it, :class:`ConfirmationRequired` carries the warnings and the preview
    and nothing is written. Returns the row and the plan it carried out."""
    plan = plan_year(session, data)
    if plan.warnings and not confirm:
        raise ConfirmationRequired(
            "The {year} schedule looks unlike any published year: {warnings} It would change {count} due date(s). "
            "Send it again with confirm to load it.", warnings=plan.warnings, changes=plan.changes_json(),
            params={"year": plan.schedule.year, "warnings": "; ".join(plan.warnings), "count": len(plan.changes)})
    ys = plan.schedule
    row = session.get(WorkdaySchedule, ys.year) or WorkdaySchedule(year=ys.year)
    row.holidays = sorted(d.isoformat() for d in ys.holidays)
    row.workdays = sorted(d.isoformat() for d in ys.adjusted_workdays)
    row.source, row.loaded_by, row.loaded_at = ys.source, loaded_by, clock.now()
    session.add(row)
    for change in plan.changes:
        change.application.due_on, change.application.due_provisional = change.new.due, change.new.provisional
    session.flush()
    return row, plan


@dataclass(frozen=True)
class YearInForce:
    year: int
    basis: str  # loaded | package | weekdays
    schedule: YearSchedule | None
    row: WorkdaySchedule | None

    @property
    def provisional(self) -> bool:
        return self.basis == "weekdays"


def _check_year(year: int) -> None:
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise InvalidInput("year must be from {first} to {last}, not {year}", field="year",
                           params={"first": YEAR_MIN, "last": YEAR_MAX, "year": year})


def year_in_force(session: Session, year: int) -> YearInForce:
    """The schedule that counts for ``year`` and where it comes from (Art. 10, 25)."""
    _check_year(year)
    cal = calendar(session)
    return YearInForce(year, cal.basis(year), cal.schedule_for(year), session.get(WorkdaySchedule, year))


@dataclass(frozen=True)
class DayInfo:
    day: date
    status: DayStatus
    basis: str
    due_if_accepted: DueDate


def day_info(session: Session, d: date) -> DayInfo:
    """Whether ``d`` is a working day, and when an application accepted on ``d`` is due (Art. 10, 25)."""
    _check_year(d.year)
    cal = calendar(session)
    return DayInfo(d, cal.is_workday(d), cal.basis(d.year), due_date(session, d, cal))


@dataclass(frozen=True)
class DeadlineRow:
    application: CardApplication
    card: Card
    working_days_left: int  # negative when overdue
    overdue: bool


def _watched(cal: Calendar, soon: int, today: date):
    """Running applications due before the (soon + 1)-th working day after ``today``: exactly those overdue
    or with at most ``soon`` working days left. One range of the partial index on running applications'
    due dates, so the list costs what it shows, however many cards were ever issued."""
    horizon = cal.add_working_days(today, soon + 1).due
    return CardApplication.running & (CardApplication.due_on < horizon)


def watch_list(session: Session, *, soon: int = 3, today: date | None = None, limit: int | None = None,
               offset: int = 0) -> list[DeadlineRow]:
    """Applications overdue or due within ``soon`` working days, most urgent first (``limit``/``offset``:
    one page of them)."""
    today = today or clock.today()
    cal = calendar(session)
    q = (select(CardApplication, Card).join(Card, Card.id == CardApplication.card_id)
         .where(_watched(cal, soon, today)).order_by(CardApplication.due_on, CardApplication.id))
    if limit is not None:
        q = q.limit(limit).offset(offset)
    rows = []
    for app_, card in session.execute(q):
        set_committed_value(card, "application", app_)  # loaded already: no query per row when shown
        if app_.due_on < today:
            left = -cal.working_days_between(app_.due_on, today)
        else:
            left = cal.working_days_between(today, app_.due_on)
        rows.append(DeadlineRow(app_, card, left, app_.due_on < today))
    return rows


def watch_count(session: Session, *, soon: int = 3, today: date | None = None) -> int:
    """How many rows :func:`watch_list` holds in all."""
    return session.scalar(select(func.count()).select_from(CardApplication)
                          .where(_watched(calendar(session), soon, today or clock.today()))) or 0


def years_without_data(session: Session, today: date | None = None) -> list[int]:
    """Years (this one and the next) for which due dates would be provisional: the Bureau should load them."""
    year = (today or clock.today()).year
    return calendar(session).years_without_data(year, year + 1)


def loaded_years(session: Session) -> list[int]:
    """The years whose holiday schedule the Bureau loaded (Art. 10, 25)."""
    return list(session.scalars(select(WorkdaySchedule.year).order_by(WorkdaySchedule.year)))
