"""Every view declares who may call it with :func:`allow`; a test walks the URL map and fails
on any endpoint without a declared policy. The view of a lifecycle operation declares the
operation instead of roles: its roles, and its refusal with the article, come from the channel
table (``lifecycle_rules.CHANNELS``), so who may do what is written once."""
from __future__ import annotations

import time
from functools import wraps

from flask import g, request
from flask_jwt_extended import decode_token, get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import WrongTokenError
from werkzeug.exceptions import Forbidden

from app.auth.tokens import require_exp
from app.i18n import N_
from app.models.enums import Channel, Role
from app.services.actor import Actor
from app.services.lifecycle_rules import Op, channel_refusal, roles_for

PUBLIC = frozenset({"public"})


class RoleForbidden(Forbidden):
    """403 for a role outside a view's policy; its detail is translated when rendered (app.problems)."""

    message = N_("This operation is not open to the role '{role}'.")

    def __init__(self, role):
        self.params = {"role": role}
        super().__init__(self.message.format(**self.params))

# The channel a role works through unless it names another (a teller answering the bank hotline).
DEFAULT_CHANNEL = {
    Role.RESIDENT: Channel.ONLINE,
    Role.BANK_TELLER: Channel.OUTLET,
    Role.HOTLINE_OPERATOR: Channel.GOV_HOTLINE,
}


def declared_roles(roles: tuple[Role, ...], op: Op | None, public: bool) -> tuple[Role, ...]:
    """The roles a view (API or page) admits: those listed, or for a lifecycle operation the channel
    table's; a view declares one or the other, or is public."""
    if op is not None:
        if roles or public:
            raise ValueError("a lifecycle operation takes its roles from the channel table")
        roles = tuple(roles_for(op))
    if not roles and not public:
        raise ValueError("declare at least one role, or public=True")
    return roles


def allow(*roles: Role, op: Op | None = None, public: bool = False, refresh: bool = False, cached: bool = False,
          any_token: bool = False, credential: str | None = None):
    """Declare the roles allowed to call a view (or ``public=True``) and enforce it.
    ``op``: the view is that lifecycle operation; the roles are the channel table's for it, and
    any other role gets the channel refusal naming the article (403), as from the service.
    ``refresh=True``: the view takes a refresh token instead of an access token;
    ``any_token=True``: either (logout).
    ``cached=True``: hot paths (e-card issuance) verify an access token's signature once and
    then reuse it until it expires; the VIEW must then check that the token's session is still open
    itself (see ``app.services.ecard``, which does it in its one query: no cache between a logout and
    its effect). The absolute end of the session needs no check there: no token outlives it.
    ``credential``: the view also takes an application agency's machine credential (an API key, or an
    access token of the OAuth token endpoint) carrying this scope (``app.services.agency_api``)."""
    roles = declared_roles(roles, op, public)

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if credential is not None and _agency_credential(credential):
                pass
            elif cached:
                _cached_access_claims()
            elif not public:
                verify_jwt_in_request(refresh=refresh, verify_type=not any_token)
            if not public:
                role = get_jwt().get("role")
                if role not in roles:
                    if op is not None:
                        raise channel_refusal(op, role)
                    raise RoleForbidden(role)
            return view(*args, **kwargs)

        wrapper.policy = PUBLIC if public else frozenset(roles)
        wrapper.operation = op
        return wrapper

    return decorate


def _agency_credential(scope: str) -> bool:
    """Authenticate an agency's machine credential if the request carries one (else False): its claims
    are then where ``get_jwt()`` reads them, so ``current_actor()`` works as for a staff token."""
    from app.services import agency_api

    claims = agency_api.request_claims(scope)
    if claims is None:
        return False
    g._jwt_extended_jwt = claims
    g._jwt_extended_jwt_header = {}
    return True


_verified: dict[str, dict] = {}  # raw access token -> its verified claims
_VERIFIED_MAX = 50_000


def _cached_access_claims() -> dict:
    """Verify the bearer access token, or reuse an earlier verification of the very same token
    while it has not expired. Sets the claims where ``get_jwt()`` reads them."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        verify_jwt_in_request()  # raises the usual 401 for a missing or malformed header
    raw = header[7:]
    claims = _verified.get(raw)
    if claims is None or claims["exp"] <= time.time():
        claims = decode_token(raw)  # signature, algorithm, expiry
        require_exp(claims)
        if claims.get("type") != "access":
            raise WrongTokenError("Only access tokens are allowed")
        if len(_verified) >= _VERIFIED_MAX:
            _verified.clear()
        _verified[raw] = claims
    g._jwt_extended_jwt = claims
    g._jwt_extended_jwt_header = {}
    return claims


def current_actor(channel: str | None = None) -> Actor:
    """The :class:`Actor` for the authenticated caller of this request."""
    return actor_from_claims(get_jwt(), channel)


def actor_from_claims(claims: dict, channel: str | None = None) -> Actor:
    """The :class:`Actor` a token's (or a web session's) claims describe, in this request."""
    role = Role(claims["role"])
    return Actor(
        role=role,
        channel=Channel(channel) if channel else DEFAULT_CHANNEL.get(role, Channel.AGENCY),
        user_id=claims.get("uid"),
        person_id=claims.get("pid"),
        bank_id=claims.get("bank"),
        outlet_id=claims.get("outlet"),
        agency_id=claims.get("agency"),
        credential_id=claims.get("credential"),
        request_id=getattr(g, "request_id", None),
        client_ip=request.remote_addr,
    )
