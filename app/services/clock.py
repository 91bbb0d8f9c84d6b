"""The one source of 'now' for the services; tests replace ``clock.now``."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(timezone.utc)


def today() -> date:
    """Today's date in Guangzhou: working days and the Art. 27 year are local dates."""
    return now().astimezone(CHINA).date()
