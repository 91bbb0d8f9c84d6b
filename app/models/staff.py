"""Staff users and their organisation scope; revoked tokens (server-side logout)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import Role, enum_column


class StaffUser(Base):
    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    role: Mapped[Role] = mapped_column(enum_column(Role))
    bank_id: Mapped[int | None] = mapped_column(ForeignKey("banks.id"))  # bank tellers: their bank
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id"))  # and their outlet
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedToken(Base):
    """JWT ids revoked at logout; checked on every request (flask-jwt-extended blocklist)."""

    __tablename__ = "revoked_tokens"
    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]
