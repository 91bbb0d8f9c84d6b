"""Every view declares who may call it with :func:`allow`; a test walks the URL map and fails
on any endpoint without a declared policy."""
from __future__ import annotations

from functools import wraps

from flask import g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from werkzeug.exceptions import Forbidden

from app.models.enums import Channel, Role
from app.services.actor import Actor

PUBLIC = frozenset({"public"})

# The channel a role works through unless it names another (a teller answering the bank hotline).
DEFAULT_CHANNEL = {
    Role.RESIDENT: Channel.ONLINE,
    Role.BANK_TELLER: Channel.OUTLET,
    Role.HOTLINE_OPERATOR: Channel.GOV_HOTLINE,
}


def allow(*roles: Role, public: bool = False):
    """Declare the roles allowed to call a view (or ``public=True``) and enforce it."""
    if not roles and not public:
        raise ValueError("declare at least one role, or public=True")

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not public:
                verify_jwt_in_request()
                role = get_jwt().get("role")
                if role not in roles:
                    raise Forbidden(f"This operation is not open to the role '{role}'.")
            return view(*args, **kwargs)

        wrapper.policy = PUBLIC if public else frozenset(roles)
        return wrapper

    return decorate


def current_actor(channel: str | None = None) -> Actor:
    """The :class:`Actor` for the authenticated caller of this request."""
    claims = get_jwt()
    role = Role(claims["role"])
    return Actor(
        role=role,
        channel=Channel(channel) if channel else DEFAULT_CHANNEL.get(role, Channel.AGENCY),
        user_id=claims.get("uid"),
        person_id=claims.get("pid"),
        bank_id=claims.get("bank"),
        outlet_id=claims.get("outlet"),
        agency_id=claims.get("agency"),
        request_id=getattr(g, "request_id", None),
        client_ip=request.remote_addr,
    )
