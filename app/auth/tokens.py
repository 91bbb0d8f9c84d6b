"""JWT issue, refresh and logout over server-side sessions (flask-jwt-extended); errors as problem+json.

Every token belongs to a session (claim ``sid``, ``app.services.sessions``), checked on every
request in one query: logout ends the session from either token, a deactivated or changed staff
account ends it at its next request, and it has an absolute end (``JWT_SESSION_MAX_HOURS``) that
no token outlives."""
from __future__ import annotations

from functools import cache

from flask import current_app
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, decode_token, get_jwt
from jwt.exceptions import MissingRequiredClaimError

from app.extensions import db
from app.i18n import N_
from app.models import AuthSession, StaffUser
from app.models.enums import Role
from app.services import clock, sessions
from app.services.hashing import hash_password, verify_password

staff_claims = sessions.staff_claims


@cache
def _dummy_hash() -> str:
    """Verified against for unknown users, so response time does not reveal which usernames exist."""
    return hash_password("no such user")


def resident_claims(person_id: int) -> dict:
    return {"role": str(Role.RESIDENT), "pid": person_id}


def _mint(identity: str, claims: dict, row: AuthSession) -> dict:
    """An access and a refresh token of the session ``row``, neither outliving its absolute end."""
    left = row.expires_at - clock.now()
    config = current_app.config
    claims = {**claims, "sid": row.id}
    access = create_access_token(identity=identity, additional_claims=claims,
                                 expires_delta=min(config["JWT_ACCESS_TOKEN_EXPIRES"], left))
    refresh = create_refresh_token(identity=identity, additional_claims=claims,
                                   expires_delta=min(config["JWT_REFRESH_TOKEN_EXPIRES"], left))
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer"}


def issue(identity: str, claims: dict, *, staff_user_id: int | None = None, person_id: int | None = None) -> dict:
    """Open a session and mint its first tokens (the caller commits)."""
    from flask import has_request_context, request

    row = sessions.start(db.session, lifetime=current_app.config["JWT_SESSION_MAX"],
                         staff_user_id=staff_user_id, person_id=person_id,
                         client=request.headers.get("User-Agent") if has_request_context() else None)
    tokens = _mint(identity, claims, row)
    sessions.set_refresh(db.session, row.id, decode_token(tokens["refresh_token"])["jti"], old_jti=None)
    return tokens


def issue_staff(user: StaffUser) -> dict:
    return issue(f"staff:{user.id}", staff_claims(user), staff_user_id=user.id)


def issue_resident(person_id: int) -> dict:
    return issue(f"resident:{person_id}", resident_claims(person_id), person_id=person_id)


def staff_login(username: str, password: str) -> dict | None:
    user = sessions.find_staff(db.session, username)
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return issue_staff(user)


def rotate() -> dict | None:
    """Refresh: new tokens of the same session, claims from the account (staff) or the holder
    (resident); the presented refresh token is replaced. None when it was replaced meanwhile."""
    claims = get_jwt()
    row = db.session.get(AuthSession, claims["sid"])
    if row.staff_user_id is not None:
        user = db.session.get(StaffUser, row.staff_user_id)
        identity, fresh = f"staff:{user.id}", staff_claims(user)
    else:
        identity, fresh = claims["sub"], resident_claims(row.person_id) if row.person_id else {"role": claims["role"]}
    tokens = _mint(identity, fresh, row)
    if not sessions.set_refresh(db.session, row.id, decode_token(tokens["refresh_token"])["jti"],
                                old_jti=claims["jti"]):
        return None
    return tokens


def end_current(reason: str = "logout") -> None:
    """Logout from either token: the whole session (every token of this sign-in) ends."""
    sessions.end(db.session, get_jwt()["sid"], reason)


def require_exp(payload: dict) -> None:
    """Every token must expire; one without ``exp`` is invalid, whoever signed it."""
    if not isinstance(payload.get("exp"), (int, float)):
        raise MissingRequiredClaimError("exp")


INVALID = N_("The token is invalid. Log in again.")


def register(jwt: JWTManager) -> None:
    from app.problems import problem

    @jwt.token_in_blocklist_loader
    def _revoked(header, payload) -> bool:
        require_exp(payload)
        verdict = sessions.check(db.session, payload)
        if verdict.reuse:  # a replaced refresh token came back: a copy is in other hands
            sessions.end(db.session, payload["sid"], "refresh_reuse")
            db.session.commit()  # the authentication check runs before the view: nothing else is pending
        return not verdict.ok

    @jwt.unauthorized_loader
    def _missing(reason):
        return problem(401, "unauthenticated", N_("Authentication required"), reason)

    @jwt.invalid_token_loader
    def _invalid(reason):
        # The decoder's own reason (which check failed, where) helps an attacker more than a user.
        return problem(401, "invalid-token", N_("Invalid token"), INVALID)

    @jwt.expired_token_loader
    def _expired(header, payload):
        return problem(401, "token-expired", N_("Token expired"), N_("Log in again or use your refresh token."))

    @jwt.revoked_token_loader
    def _revoked_resp(header, payload):
        return problem(401, "token-revoked", N_("Session ended"),
                       N_("This session has ended (logout, account change or its time limit). Log in again."))
