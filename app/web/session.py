"""Web sign-in on the API's server-side sessions (Art. 16).

The cookie (Flask's signed session, HttpOnly, SameSite=Lax, Secure over https) holds the id of an
``auth_sessions`` row (``sid``), the account's claims as at sign-in (``sessions.staff_claims``),
the time of the last request and the chosen language. Every request checks the row with
``sessions.check`` — the one query the API runs for a token — so logout, a deactivation
(``POST /api/staff/{id}/deactivation`` ends all the account's sessions), a changed role or
organisation and the absolute end (``WEB_SESSION_MAX``) end a web session exactly as they end tokens.
Idle for longer than ``WEB_IDLE_MINUTES``: the session row is ended too (reason ``idle``).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

from app.extensions import db
from app.models import StaffUser
from app.models.enums import Channel, Role
from app.services import clock, sessions
from app.services.actor import Actor


class StaffSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with ``Secure`` whenever the request came over https
    (behind a proxy: ProxyFix, so that ``request.is_secure`` is true) or SESSION_COOKIE_SECURE says so."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (bool(request) and request.is_secure)


@dataclass(frozen=True)
class WebStaff:
    """The signed-in member of staff of this request."""

    sid: str
    user_id: int
    role: Role
    bank_id: int | None
    outlet_id: int | None
    agency_id: int | None
    name: str

    def actor(self, channel: Channel | None = None) -> Actor:
        from app.auth.policy import actor_from_claims

        return actor_from_claims({"role": str(self.role), "uid": self.user_id, "bank": self.bank_id,
                                  "outlet": self.outlet_id, "agency": self.agency_id}, channel)


def sign_in(user: StaffUser) -> None:
    """Open a server-side session for ``user`` and bind the cookie to it (a fresh cookie: no
    value of an earlier one survives, against session fixation). The caller commits."""
    row = sessions.start(db.session, lifetime=current_app.config["WEB_SESSION_MAX"], staff_user_id=user.id)
    chosen = session.get("locale")  # picked on the sign-in page: kept, and remembered on the account
    session.clear()
    _forget_csrf()
    if chosen and not user.locale:
        user.locale = chosen
    session["sid"] = row.id
    session["claims"] = sessions.staff_claims(user)
    session["name"] = user.display_name
    session["seen"] = int(clock.now().timestamp())
    if user.locale:
        session["locale"] = user.locale


def sign_out(reason: str = "logout") -> None:
    sid = session.get("sid")
    if sid:
        sessions.end(db.session, sid, reason)
    _clear()


def _clear() -> None:
    """Forget the sign-in, keep the language."""
    locale = session.get("locale")
    session.clear()
    _forget_csrf()
    if locale:
        session["locale"] = locale


def _forget_csrf() -> None:
    """A new session gets a new CSRF token: drop the one Flask-WTF cached for this request."""
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def load() -> None:
    """Set ``g.staff`` (or None) and ``g.web_locale`` from the cookie, after checking its session row."""
    _forget_csrf()  # per request (tests share one app context, hence one ``g``, across requests)
    g.staff = None
    g.session_ended = None
    g.web_locale = session.get("locale")
    sid = session.get("sid")
    if not isinstance(sid, str):
        return
    claims = dict(session.get("claims") or {})
    now = int(clock.now().timestamp())
    idle = int(current_app.config["WEB_IDLE_MINUTES"]) * 60
    if now - int(session.get("seen", 0)) > idle:
        sessions.end(db.session, sid, "idle")
        db.session.commit()
        _clear()
        g.session_ended = "idle"
        return
    verdict = sessions.check(db.session, {**claims, "sid": sid, "type": "web"})
    if not verdict.ok:
        _clear()
        g.session_ended = verdict.reason
        return
    session["seen"] = now
    g.staff = WebStaff(sid=sid, user_id=claims["uid"], role=Role(claims["role"]), bank_id=claims.get("bank"),
                       outlet_id=claims.get("outlet"), agency_id=claims.get("agency"),
                       name=session.get("name", ""))


def set_locale(locale: str) -> None:
    """Remember the signed-in person's language on the account and in the cookie (caller commits)."""
    session["locale"] = locale
    g.web_locale = locale
    if g.get("staff"):
        user = db.session.get(StaffUser, g.staff.user_id)
        user.locale = locale


def after(resp):
    # Pages show personal data: never cached (app/__init__.py sets no-store), never framed (CSP).
    resp.headers.setdefault("Vary", "Cookie")
    return resp
