"""Service guides (Art. 18): what the issuing agency and each application agency publish about the card.

Art. 18: the issuing agency announces the card's **service items, scope and method of use** (服务事项、使用范围和
使用方法) in its service places or on its website and gives service guidance free of charge. REQUIREMENTS.md (Art. 18)
asks the same of each application agency: what it offers with the card, the conditions, the procedure and the
time limit. A guide is **versioned**: publishing writes a new row, older versions stay as they were (what was
announced on a given day can always be shown), and every publication is in the audit trail.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow


class ServiceGuide(Base):
    __tablename__ = "service_guides"
    __table_args__ = (UniqueConstraint("agency_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    version: Mapped[int]  # 1, 2, … per agency; the highest is in force
    title: Mapped[str] = mapped_column(String(120))
    service_items: Mapped[str] = mapped_column(Text)  # 服务事项 / what the agency offers with the card
    scope: Mapped[str | None] = mapped_column(Text)  # 使用范围 (issuing agency)
    usage: Mapped[str | None] = mapped_column(Text)  # 使用方法 (issuing agency)
    conditions: Mapped[str | None] = mapped_column(Text)  # 办理条件 (application agency)
    procedure: Mapped[str | None] = mapped_column(Text)  # 办理流程 (application agency)
    time_limit: Mapped[str | None] = mapped_column(String(200))  # 办理时限 (application agency)
    contact: Mapped[str | None] = mapped_column(String(200))  # where to ask (a service place, a phone line)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
