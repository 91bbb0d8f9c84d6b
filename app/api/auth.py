"""Staff login, token refresh and logout (server-side revocation)."""
from __future__ import annotations

from flask_jwt_extended import get_jwt, get_jwt_identity, jwt_required
from flask_smorest import Blueprint
from werkzeug.exceptions import Unauthorized

from app.api.common import commit
from app.api.schemas import Empty, LoginIn, TokensOut
from app.auth import allow, tokens
from app.extensions import limiter
from app.models.enums import STAFF_ROLES, Role

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Authentication")


@blp.route("/login", methods=["POST"])
@allow(public=True)
@limiter.limit("10/minute")
@blp.arguments(LoginIn)
@blp.response(200, TokensOut)
def login(body):
    """Staff login with username and password (argon2id); returns short-lived access and refresh tokens."""
    result = tokens.staff_login(body["username"], body["password"])
    if result is None:
        raise Unauthorized("Wrong username or password.")
    return result


@blp.route("/refresh", methods=["POST"])
@allow(*STAFF_ROLES, Role.RESIDENT)
@jwt_required(refresh=True)
@blp.response(200, TokensOut)
def refresh():
    """A new access token from a refresh token (the refresh token itself is revoked and replaced)."""
    claims = {k: v for k, v in get_jwt().items() if k in ("role", "uid", "pid", "bank", "outlet", "agency")}
    tokens.revoke_current()
    commit()
    return tokens.issue(get_jwt_identity(), claims)


@blp.route("/logout", methods=["POST"])
@allow(*STAFF_ROLES, Role.RESIDENT)
@blp.response(204, Empty)
def logout():
    """Revoke the presented token on the server."""
    tokens.revoke_current()
    commit()
    return None
