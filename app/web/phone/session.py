"""The resident's web sign-in on the API's server-side sessions (Art. 16, 19).

The same ``auth_sessions`` rows as the API's resident tokens and the staff web session
(``app.services.sessions``): a sign-in opens a row with ``person_id`` (``sessions.start``) and every
request checks it with ``sessions.check`` — the one query the API runs for a token — so "sign out
there" (the devices list), the holder's death (Art. 26) and the absolute end (``PHONE_SESSION_MAX``)
end a phone session exactly as they end tokens. Idle for longer than ``PHONE_IDLE_HOURS``: the row is
ended too (reason ``idle``).

The cookie is Flask's signed session cookie (HttpOnly, SameSite=Lax, Secure over https; the app's one
session interface), made persistent so that a phone stays signed in after the browser or the installed
app is closed. The resident's keys are ``m_*``, apart from the staff sign-in's (``sid``, ``claims``):
a browser may be signed in as both without one being taken for the other. No bearer token reaches the
page's JavaScript: the cookie is the credential, the row its revocation.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g, request, session

from app.extensions import db
from app.models import Person
from app.models.enums import Channel, Role
from app.services import clock, sessions
from app.services.actor import Actor

KEYS = ("m_sid", "m_pid", "m_seen")
SEEN_EVERY = 60  # seconds: the idle clock is rewritten (a new cookie) at most once a minute


@dataclass(frozen=True)
class WebResident:
    """The signed-in cardholder of this request."""

    sid: str
    person_id: int

    def actor(self) -> Actor:
        """The services' :class:`Actor`: the role ``resident`` through the online channel (Art. 6, 21, 23),
        with this request's id and address, as the API's ``current_actor()`` gives for a resident token."""
        return Actor(role=Role.RESIDENT, channel=Channel.ONLINE, person_id=self.person_id,
                     request_id=g.get("request_id"), client_ip=request.remote_addr)

    def person(self) -> Person:
        return db.session.get(Person, self.person_id)


def sign_in(person_id: int, client: str | None = None) -> None:
    """Open a server-side session for the holder and bind the cookie to it; a new CSRF token too.
    ``client``: the User-Agent, for the list of signed-in devices. The caller commits."""
    row = sessions.start(db.session, lifetime=current_app.config["PHONE_SESSION_MAX"], person_id=person_id,
                         client=client)
    _clear()
    session["m_sid"] = row.id
    session["m_pid"] = person_id
    session["m_seen"] = int(clock.now().timestamp())
    session.permanent = True


def sign_out(reason: str = "logout") -> None:
    sid = session.get("m_sid")
    if isinstance(sid, str):
        sessions.end(db.session, sid, reason)
    _clear()


def _clear(keep_csrf: bool = False) -> None:
    """Forget the resident's sign-in and (unless ``keep_csrf``: a session that ended elsewhere, so that
    the page's next call is told "signed out" rather than "form expired") the CSRF token; keep the
    language (and a staff sign-in)."""
    for key in KEYS:
        session.pop(key, None)
    if not keep_csrf:
        session.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
        _forget_csrf()


def _forget_csrf() -> None:
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def load() -> None:
    """Set ``g.resident`` (or None), ``g.session_ended`` and ``g.web_locale`` from the cookie, after
    checking its session row."""
    _forget_csrf()  # per request (tests share one app context, hence one ``g``, across requests)
    g.resident = None
    g.session_ended = None
    g.web_locale = session.get("locale")
    sid, pid = session.get("m_sid"), session.get("m_pid")
    if not isinstance(sid, str) or not isinstance(pid, int):
        return
    now = int(clock.now().timestamp())
    seen = int(session.get("m_seen", 0))
    if now - seen > int(current_app.config["PHONE_IDLE"].total_seconds()):
        sessions.end(db.session, sid, "idle")
        db.session.commit()
        _clear(keep_csrf=True)
        g.session_ended = "idle"
        return
    verdict = sessions.check(db.session, {"sid": sid, "pid": pid, "type": "web"})
    if not verdict.ok:
        _clear(keep_csrf=True)
        g.session_ended = verdict.reason
        return
    if now - seen >= SEEN_EVERY:
        session["m_seen"] = now
    g.resident = WebResident(sid=sid, person_id=pid)


def set_locale(locale: str) -> None:
    session["locale"] = locale
    g.web_locale = locale
