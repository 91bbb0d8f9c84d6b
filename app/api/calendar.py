"""Holiday schedules for the working-day deadline (Art. 10, 25), loaded by the Bureau per year."""
from __future__ import annotations

from sqlalchemy import select

from app.api.common import Blueprint, commit
from app.api.schemas import CalendarOut, YearScheduleIn, YearScheduleOut
from app.auth import allow, current_actor
from app.extensions import db
from app.models import WorkdaySchedule
from app.models.enums import Role
from app.services import deadlines

blp = Blueprint("calendar", __name__, url_prefix="/api/calendar", description="Working-day calendar (Art. 10, 25)")


@blp.route("/years")
@allow(Role.BUREAU, Role.AGENCY_CLERK, Role.AUDITOR)
@blp.response(200, CalendarOut)
def years():
    """Years loaded by the Bureau, and the years whose due dates are still provisional."""
    loaded = db.session.scalars(select(WorkdaySchedule.year).order_by(WorkdaySchedule.year)).all()
    return {"loaded_years": loaded, "years_without_data": deadlines.years_without_data(db.session)}


@blp.route("/years/<int:year>", methods=["PUT"])
@allow(Role.BUREAU)
@blp.arguments(YearScheduleIn)
@blp.response(200, YearScheduleOut)
def load_year(body, year):
    """Load a year's holidays and adjusted working days; provisional due dates are recomputed."""
    actor = current_actor()
    row, changed = deadlines.load_year(db.session, {"year": year, **body}, loaded_by=f"staff:{actor.user_id}")
    commit()
    return {"year": row.year, "holidays": row.holidays, "workdays": row.workdays, "source": row.source,
            "loaded_by": row.loaded_by, "recomputed": changed}
