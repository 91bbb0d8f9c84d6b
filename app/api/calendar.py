"""Holiday schedules for the working-day deadline (Art. 10, 25), loaded by the Bureau per year."""
from __future__ import annotations

from app.api.common import Blueprint, commit
from app.api.schemas import (
    CalendarOut,
    DayOut,
    YearInForceOut,
    YearPlanOut,
    YearScheduleIn,
    YearScheduleOut,
    YearSchedulePreviewIn,
)
from app.auth import allow, current_actor
from app.extensions import db
from app.models.enums import Role
from app.services import deadlines
from app.services.errors import InvalidInput
from app.services.workdays import parse_iso_date

blp = Blueprint("calendar", __name__, url_prefix="/api/calendar", description="Working-day calendar (Art. 10, 25)")

READERS = (Role.BUREAU, Role.AGENCY_CLERK, Role.AUDITOR)
NO_DATA = "no data: Monday to Friday assumed; due dates provisional until the year is loaded"


@blp.route("/years")
@allow(*READERS)
@blp.response(200, CalendarOut)
def years():
    """Years loaded by the Bureau, and the years whose due dates are still provisional."""
    return {"loaded_years": deadlines.loaded_years(db.session), "years_without_data": deadlines.years_without_data(db.session)}


@blp.route("/years/<int:year>")
@allow(*READERS)
@blp.response(200, YearInForceOut)
def year_in_force(year):
    """The schedule in force for a year and where it comes from: loaded by the Bureau, the
    chinesecalendar package, or none (weekdays, due dates provisional)."""
    y = deadlines.year_in_force(db.session, year)
    out = {"year": y.year, "basis": y.basis, "provisional": y.provisional, "holidays": [], "workdays": [],
           "source": NO_DATA, "loaded_by": y.row.loaded_by if y.row else None,
           "loaded_at": y.row.loaded_at if y.row else None}
    if y.schedule:
        out.update({k: v for k, v in y.schedule.to_json().items() if k != "year"})
    return out


@blp.route("/days/<day>")
@allow(*READERS, Role.BANK_TELLER, Role.HOTLINE_OPERATOR)
@blp.response(200, DayOut)
def day(day):
    """Is the day (YYYY-MM-DD) a working day, and when is an application accepted that day due
    (12 working days, the day itself not counted; Art. 10, 25)."""
    try:
        d = parse_iso_date(day)
    except ValueError:
        raise InvalidInput("date: {day!r} is not a real date written YYYY-MM-DD", field="date",
                           params={"day": day}) from None
    info = deadlines.day_info(db.session, d)
    return {"date": d.isoformat(), "working_day": info.status.workday, "provisional": info.status.provisional,
            "basis": info.basis,
            "due_if_accepted": {"due_on": info.due_if_accepted.due.isoformat(),
                                "provisional": info.due_if_accepted.provisional,
                                "working_days": deadlines.ISSUANCE_WORKING_DAYS}}


@blp.route("/years/<int:year>/preview", methods=["POST"])
@allow(Role.BUREAU)
@blp.arguments(YearSchedulePreviewIn)
@blp.response(200, YearPlanOut)
def preview_year(body, year):
    """What loading this schedule would do, without doing it: warnings if it looks unlike any
    published year, and the due dates it would change."""
    plan = deadlines.plan_year(db.session, {"year": year, **body})
    return {"year": year, "plausible": not plan.warnings, "warnings": plan.warnings,
            "changed": len(plan.changes), "changes": plan.changes_json()}


@blp.route("/years/<int:year>", methods=["PUT"])
@allow(Role.BUREAU)
@blp.arguments(YearScheduleIn)
@blp.response(200, YearScheduleOut)
def load_year(body, year):
    """Load a year's holidays and adjusted working days; open due dates are recomputed. A schedule
    unlike any published year is answered 409 with the warnings and the due dates it would change,
    and is loaded only with ``"confirm": true``."""
    actor = current_actor()
    confirm = body.pop("confirm")
    row, plan = deadlines.load_year(db.session, {"year": year, **body}, loaded_by=f"staff:{actor.user_id}",
                                    confirm=confirm)
    commit()
    return {"year": row.year, "holidays": row.holidays, "workdays": row.workdays, "source": row.source,
            "loaded_by": row.loaded_by, "recomputed": len(plan.changes), "warnings": plan.warnings}
