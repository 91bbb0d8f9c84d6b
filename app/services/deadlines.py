"""The 12-working-day issuance deadline (Art. 10, 25) on the official PRC calendar.

Holiday data: schedules the Bureau loaded (``WorkdaySchedule``), then the ``chinesecalendar``
package, then — for a year nobody has data for yet — plain weekdays, with the due date marked
provisional and recomputed when that year's schedule is loaded. The day of acceptance does not
count (see ``app.services.workdays``). The clock stops when the card is produced and available
(pickup) or handed to the courier: that is when it is "issued" (发放) to the applicant.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Card, CardApplication, WorkdaySchedule
from app.models.enums import CardStatus
from app.services import clock
from app.services.errors import InvalidInput
from app.services.workdays import Calendar, DueDate, ScheduleError, YearSchedule, parse_year_schedule

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


def load_year(session: Session, data: dict, *, loaded_by: str | None = None) -> tuple[WorkdaySchedule, int]:
    """Load (or replace) a year's holidays and adjusted working days, then recompute the due dates
    that depended on it. Returns the row and how many due dates changed."""
    try:
        ys = parse_year_schedule(data)
    except ScheduleError as e:
        raise InvalidInput(str(e), field="schedule") from None
    row = session.get(WorkdaySchedule, ys.year) or WorkdaySchedule(year=ys.year)
    row.holidays = sorted(d.isoformat() for d in ys.holidays)
    row.workdays = sorted(d.isoformat() for d in ys.adjusted_workdays)
    row.source, row.loaded_by, row.loaded_at = ys.source, loaded_by, clock.now()
    session.add(row)
    session.flush()
    return row, recompute_provisional(session)


def recompute_provisional(session: Session) -> int:
    cal = calendar(session)
    changed = 0
    for app_ in session.scalars(select(CardApplication).where(CardApplication.due_provisional.is_(True))):
        due = due_date(session, app_.accepted_on, cal)
        if (due.due, due.provisional) != (app_.due_on, app_.due_provisional):
            app_.due_on, app_.due_provisional = due.due, due.provisional
            changed += 1
    session.flush()
    return changed


@dataclass(frozen=True)
class DeadlineRow:
    application: CardApplication
    card: Card
    working_days_left: int  # negative when overdue
    overdue: bool


def watch_list(session: Session, *, soon: int = 3, today: date | None = None) -> list[DeadlineRow]:
    """Applications overdue or due within ``soon`` working days, most urgent first."""
    today = today or clock.today()
    cal = calendar(session)
    rows = []
    q = (select(CardApplication, Card).join(Card, Card.id == CardApplication.card_id)
         .where(Card.status.in_(RUNNING), CardApplication.due_on.is_not(None))
         .order_by(CardApplication.due_on, CardApplication.id))
    for app_, card in session.execute(q):
        if app_.due_on < today:
            left = -cal.working_days_between(app_.due_on, today)
        else:
            left = cal.working_days_between(today, app_.due_on)
        if app_.due_on < today or left <= soon:
            rows.append(DeadlineRow(app_, card, left, app_.due_on < today))
    return rows


def years_without_data(session: Session, today: date | None = None) -> list[int]:
    """Years (this one and the next) for which due dates would be provisional: the Bureau should load them."""
    year = (today or clock.today()).year
    return calendar(session).years_without_data(year, year + 1)
