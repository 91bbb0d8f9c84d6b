"""JWT issue, refresh and server-side revocation (flask-jwt-extended); errors as problem+json."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import cache

from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, get_jwt
from sqlalchemy import select

from app.extensions import db
from app.models import RevokedToken, StaffUser
from app.models.enums import Role
from app.services.hashing import hash_password, verify_password



@cache
def _dummy_hash() -> str:
    """Verified against for unknown users, so response time does not reveal which usernames exist."""
    return hash_password("no such user")


def staff_claims(user: StaffUser) -> dict:
    return {"role": str(user.role), "uid": user.id, "bank": user.bank_id, "outlet": user.outlet_id,
            "agency": user.agency_id}


def resident_claims(person_id: int) -> dict:
    return {"role": str(Role.RESIDENT), "pid": person_id}


def issue(identity: str, claims: dict) -> dict:
    return {
        "access_token": create_access_token(identity=identity, additional_claims=claims),
        "refresh_token": create_refresh_token(identity=identity, additional_claims=claims),
        "token_type": "Bearer",
    }


def staff_login(username: str, password: str) -> dict | None:
    user = db.session.scalars(select(StaffUser).where(StaffUser.username == username)).one_or_none()
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return issue(f"staff:{user.id}", staff_claims(user))


def revoke_current() -> None:
    """Logout: the presented token's id goes on the blocklist until it would have expired."""
    payload = get_jwt()
    db.session.merge(RevokedToken(jti=payload["jti"],
                                  expires_at=datetime.fromtimestamp(payload["exp"], timezone.utc)))


def register(jwt: JWTManager) -> None:
    from app.problems import problem

    @jwt.token_in_blocklist_loader
    def _revoked(header, payload) -> bool:
        return db.session.get(RevokedToken, payload["jti"]) is not None

    @jwt.unauthorized_loader
    def _missing(reason):
        return problem(401, "unauthenticated", "Authentication required", reason)

    @jwt.invalid_token_loader
    def _invalid(reason):
        return problem(401, "invalid-token", "Invalid token", reason)

    @jwt.expired_token_loader
    def _expired(header, payload):
        return problem(401, "token-expired", "Token expired", "Log in again or use your refresh token.")

    @jwt.revoked_token_loader
    def _revoked_resp(header, payload):
        return problem(401, "token-revoked", "Token revoked", "This token was revoked at logout.")
