"""Named counters (card-number serials, assigned social security numbers), safe under concurrency."""
from __future__ import annotations

from sqlalchemy import String, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.models.base import Base


class Counter(Base):
    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


def next_value(session: Session, name: str) -> int:
    """Increment and return a counter in the caller's transaction (row-locked by the UPDATE)."""
    result = session.execute(
        update(Counter).where(Counter.name == name).values(value=Counter.value + 1).returning(Counter.value)
    ).scalar()
    if result is None:
        session.add(Counter(name=name, value=1))
        session.flush()
        return 1
    return result


__all__ = ["Counter", "next_value"]
