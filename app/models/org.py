"""Organisations: cooperating banks and their outlets (Art. 6, 9, 10), agencies (Art. 5, 33)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, utcnow
from app.models.enums import AgencyKind, Field, enum_column


class Bank(Base):
    """A cooperating bank. Only banks ``published`` by the Bureau may be chosen (Art. 6 ¶2, Art. 9 ¶3)."""

    __tablename__ = "banks"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    published: Mapped[bool] = mapped_column(default=True)
    outlets: Mapped[list[Outlet]] = relationship(back_populates="bank", order_by="Outlet.code")


class Outlet(Base):
    """A bank outlet; ``instant`` marks an instant card-making outlet (Art. 10 ¶2, Art. 25 ¶2)."""

    __tablename__ = "outlets"
    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    district: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    instant: Mapped[bool] = mapped_column(default=False)
    bank: Mapped[Bank] = relationship(back_populates="outlets")


class Agency(Base):
    """The Bureau, the issuing agency, the 12345 hotline, and application agencies (Art. 5, 33).

    An application agency's ``field`` is its remit: it reads and pushes only that field's data (Art. 15, 16).
    """

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(24), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AgencyKind] = mapped_column(enum_column(AgencyKind))
    field: Mapped[Field | None] = mapped_column(enum_column(Field))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
