"""Sign-in sessions (Art. 16: only an authorised, current member of staff acts within their remit;
Art. 19: only the holder uses the card).

Every login opens one :class:`~app.models.AuthSession`; every access and refresh token minted from
it carries its id (claim ``sid``). A token is accepted only while:

* its session is open (not ended by logout, from either token, nor by a deactivation),
* the session's absolute end has not passed (no refresh goes past it, however often it rotates),
* for staff: the account is active and its role and organisation are still what the token says
  (a changed account must sign in again and gets its claims from the account),
* for a resident: the person is alive (Art. 26),
* for a refresh token: it is the session's current one (``refresh_jti``). An older refresh token
  presented again is a copy (RFC 9700 §4.14: refresh token reuse) and ends the whole session.

The check is one indexed query per request (``check``), the query that used to look up the token
blocklist; the e-card hot path folds "session open" into its own single query instead
(``app.services.ecard``). So there is no cache between a deactivation and its effect.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import AuthSession, Person, StaffUser
from app.models.enums import Role
from app.services import audit, clock
from app.services.actor import Actor
from app.services.errors import DomainError, NotFound

# The claims a staff token carries, and the account's attribute each must equal.
STAFF_CLAIMS = {"role": "role", "uid": "id", "bank": "bank_id", "outlet": "outlet_id", "agency": "agency_id"}


class SessionEnded(DomainError):
    status, type, title = 401, "token-revoked", "Session ended"


class SelfDeactivation(DomainError):
    status, type, title = 409, "self-deactivation", "Cannot deactivate your own account"


def staff_claims(user: StaffUser) -> dict:
    """A staff token's claims, always taken from the account."""
    return {claim: (str(getattr(user, attr)) if claim == "role" else getattr(user, attr))
            for claim, attr in STAFF_CLAIMS.items()}


def start(session: Session, *, lifetime: timedelta, staff_user_id: int | None = None,
          person_id: int | None = None, client: str | None = None) -> AuthSession:
    """Open a session that ends, whatever happens, ``lifetime`` from now. ``client``: the User-Agent of
    the sign-in, kept only as :func:`describe_client` summarises it."""
    now = clock.now()
    row = AuthSession(id=secrets.token_hex(16), staff_user_id=staff_user_id, person_id=person_id,
                      created_at=now, expires_at=now + lifetime, client=describe_client(client))
    session.add(row)
    session.flush()
    return row


def set_refresh(session: Session, sid: str, new_jti: str, *, old_jti: str | None) -> bool:
    """Make ``new_jti`` the session's one usable refresh token, if ``old_jti`` still is (a conditional
    UPDATE: two concurrent refreshes with one token cannot both succeed)."""
    q = update(AuthSession).where(AuthSession.id == sid, AuthSession.ended_at.is_(None))
    q = q.where(AuthSession.refresh_jti.is_(None) if old_jti is None else AuthSession.refresh_jti == old_jti)
    return session.execute(q.values(refresh_jti=new_jti)).rowcount == 1


def end(session: Session, sid: str, reason: str) -> None:
    session.execute(update(AuthSession).where(AuthSession.id == sid, AuthSession.ended_at.is_(None))
                    .values(ended_at=clock.now(), ended_reason=reason))


def end_all_of_staff(session: Session, user_id: int, reason: str) -> int:
    return session.execute(update(AuthSession).where(AuthSession.staff_user_id == user_id,
                                                     AuthSession.ended_at.is_(None))
                           .values(ended_at=clock.now(), ended_reason=reason)).rowcount


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    reuse: bool = False  # an old refresh token came back: the caller ends the session
    expires_at: datetime | None = None


_CHECK = (
    select(AuthSession.ended_at, AuthSession.expires_at, AuthSession.refresh_jti, AuthSession.staff_user_id,
           AuthSession.person_id, StaffUser.active, StaffUser.role, StaffUser.id, StaffUser.bank_id,
           StaffUser.outlet_id, StaffUser.agency_id, Person.deceased_on)
    .outerjoin(StaffUser, StaffUser.id == AuthSession.staff_user_id)
    .outerjoin(Person, Person.id == AuthSession.person_id)
)


def check(session: Session, claims: dict) -> Verdict:
    """Whether a verified token's session still stands (one query; see the module docstring)."""
    sid = claims.get("sid")
    if not isinstance(sid, str):
        return Verdict(False, "token without a session")
    row = session.execute(_CHECK.where(AuthSession.id == sid)).one_or_none()
    if row is None:
        return Verdict(False, "unknown session")
    if row.ended_at is not None:
        return Verdict(False, "session ended")
    if row.expires_at <= clock.now():
        return Verdict(False, "session past its absolute end")
    if claims.get("type") == "refresh" and claims.get("jti") != row.refresh_jti:
        return Verdict(False, "refresh token used twice", reuse=True)
    if row.staff_user_id is not None:
        account = {"role": str(row.role), "uid": row.id, "bank": row.bank_id, "outlet": row.outlet_id,
                   "agency": row.agency_id}
        if not row.active:
            return Verdict(False, "account deactivated")
        if any(claims.get(k) != v for k, v in account.items()):
            return Verdict(False, "account changed")
    elif row.person_id is not None:
        if claims.get("pid") != row.person_id or row.deceased_on is not None:
            return Verdict(False, "holder changed")
    return Verdict(True, expires_at=row.expires_at)


# ---------------------------------------------------------------- a holder's signed-in devices (Art. 19)

_BROWSERS = (("MicroMessenger", "WeChat"), ("EdgA?/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser", "Samsung Internet"),
             ("UCBrowser", "UC Browser"), ("Firefox/", "Firefox"), ("FxiOS", "Firefox"), ("CriOS", "Chrome"),
             ("Chrome/", "Chrome"), ("Chromium/", "Chromium"), ("Safari/", "Safari"), ("curl/", "curl"))
_SYSTEMS = (("HarmonyOS", "HarmonyOS"), ("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def describe_client(user_agent: str | None) -> str | None:
    """"Chrome · Android" from a User-Agent: enough for a holder to recognise a device, nothing more kept."""
    if not user_agent:
        return None
    browser = next((name for key, name in _BROWSERS if key in user_agent), None)
    system = next((name for key, name in _SYSTEMS if key in user_agent), None)
    return " · ".join(filter(None, (browser, system))) or user_agent.split("/", 1)[0][:40] or None


def open_of_person(session: Session, person_id: int) -> list[AuthSession]:
    """The holder's sessions that still stand (pages and API sign-ins), newest first."""
    return list(session.scalars(
        select(AuthSession).where(AuthSession.person_id == person_id, AuthSession.ended_at.is_(None),
                                  AuthSession.expires_at > clock.now())
        .order_by(AuthSession.created_at.desc(), AuthSession.id)))


def end_of_person(session: Session, actor: Actor, sid: str, reason: str = "signed_out_elsewhere") -> bool:
    """"Sign out there": end one of the acting holder's own sessions (another holder's id ends nothing:
    the condition names both). Audited; True if a session was ended."""
    ended = session.execute(update(AuthSession).where(
        AuthSession.id == sid, AuthSession.person_id == actor.person_id, AuthSession.ended_at.is_(None))
        .values(ended_at=clock.now(), ended_reason=reason)).rowcount == 1
    if ended:
        audit.record(session, actor, "auth.session_end", person_id=actor.person_id, subject=f"session:{sid[:8]}",
                     purpose="the holder signed a device out (Art. 19)")
    return ended


# ---------------------------------------------------------------- staff accounts


def deactivate_staff(session: Session, actor: Actor, user_id: int, reason: str) -> StaffUser:
    """Deactivate a staff account and end its sessions at once (Art. 16). Idempotent."""
    user = session.get(StaffUser, user_id, with_for_update=True)
    if user is None:
        raise NotFound("No staff account {user_id}.", params={"user_id": user_id})
    if actor.user_id == user.id:
        raise SelfDeactivation("Another administrator deactivates your account.", article="Art. 16")
    was = user.active
    user.active = False
    ended = end_all_of_staff(session, user.id, "deactivated")
    audit.record(session, actor, "staff.deactivate", subject=f"staff:{user.id}",
                 purpose=reason, changes={"active": [was, False], "sessions_ended": ended})
    session.flush()
    return user


def find_staff(session: Session, username: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()


ADMINS = (Role.BUREAU,)  # who may deactivate staff accounts through the API
