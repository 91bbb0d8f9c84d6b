"""Staff users and their organisation scope; sign-in sessions (server-side logout, Art. 16, 19)."""
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
    # The language of the back office pages this person chose (zh_CN, en); None: the browser's.
    locale: Mapped[str | None] = mapped_column(String(8))


class AuthSession(Base):
    """One sign-in: the family of every access and refresh token minted from one login (claim ``sid``).

    Checked on every request (``app.services.sessions``): a token is good only while its session is
    open, before its absolute end, and (staff) while the account is active with the role and
    organisation the token names. Logout, from either token, ends the session; a refresh rotates
    ``refresh_jti``, so an older refresh token presented again (a stolen copy) ends it too."""

    __tablename__ = "auth_sessions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, the tokens' ``sid``
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(index=True)  # a resident's (no FK: persons are never deleted)
    refresh_jti: Mapped[str | None] = mapped_column(String(64))  # the one refresh token that may be used
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # absolute end: no refresh goes past it
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(32))  # logout | refresh_reuse | deactivated | …
    # What signed in, for the holder's list of signed-in devices ("Chrome · Android"; no full User-Agent).
    client: Mapped[str | None] = mapped_column(String(80))
