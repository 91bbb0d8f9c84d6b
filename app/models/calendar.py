"""Holiday schedules loaded by the Bureau for years the calendar package does not cover (Art. 10, 25)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class WorkdaySchedule(Base):
    __tablename__ = "workday_schedules"
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    holidays: Mapped[list] = mapped_column(JSON)  # ISO dates
    workdays: Mapped[list] = mapped_column(JSON)  # adjusted working days (调休上班), ISO dates
    source: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    loaded_by: Mapped[str | None] = mapped_column(String(60))
