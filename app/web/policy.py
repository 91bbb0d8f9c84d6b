"""Who may open a page: :func:`page`, the web twin of :func:`app.auth.policy.allow`.

The roles come from the same places as the API's: a list of :class:`Role` (as the API view of the
same task declares), or ``op=`` a lifecycle operation, whose roles are the channel table's
(``lifecycle_rules.roles_for``) and whose refusal for any other role is the channel refusal naming the
article (``lifecycle_rules.channel_refusal``). The view gets ``.policy`` and ``.operation`` like an API
view, so the URL-map walk (tests/api/test_policy_urlmap.py) fails on a page without one.

Not signed in: a GET is sent to the sign-in page (and back afterwards), anything else gets 401.
Signed in with a role outside the policy: 403 (an operation's refusal with its article).
"""
from __future__ import annotations

from functools import wraps

from flask import abort, g, redirect, request, url_for

from app.auth.policy import PUBLIC, declared_roles
from app.models.enums import STAFF_ROLES, Role
from app.services.lifecycle_rules import Op, channel_refusal

STAFF = tuple(STAFF_ROLES)  # every member of staff (the dashboard, one's own settings)


def page(*roles: Role, op: Op | None = None, public: bool = False):
    roles = declared_roles(roles, op, public)
    allowed = frozenset(roles)

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not public:
                staff = g.get("staff")
                if staff is None:
                    if request.method in ("GET", "HEAD"):
                        return redirect(url_for("web.signin.login", next=request.full_path.rstrip("?"),
                                                ended=g.get("session_ended") and "1"))
                    abort(401)
                if staff.role not in allowed:
                    if op is not None:
                        raise channel_refusal(op, staff.role)
                    abort(403)
            return view(*args, **kwargs)

        wrapper.policy = PUBLIC if public else allowed
        wrapper.operation = op
        return wrapper

    return decorate
