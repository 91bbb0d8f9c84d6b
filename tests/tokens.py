"""Tokens minted the way the app mints them: each belongs to a real sign-in session (``sid``,
``app.services.sessions``), committed through the test's ``db.session`` (which the test client's
requests share; a refused request rolls back, so a merely flushed session would vanish). Use inside
the ``db`` fixture's app context: it commits whatever the test had pending, as a real sign-in would."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token


def mint(identity: str, claims: dict, *, refresh: bool = False, expires_delta: timedelta | None = None,
         staff_user_id: int | None = None, person_id: int | None = None) -> str:
    """One token of a fresh session. A ``resident:<id>`` identity binds the session to that person,
    a ``staff:<id>`` one to that account (their checks then apply)."""
    from app.extensions import db
    from app.services import sessions

    kind, _, ident = identity.partition(":")
    if kind == "resident" and person_id is None:
        person_id = int(ident)
    if kind == "staff" and staff_user_id is None:
        staff_user_id = int(ident)
    row = sessions.start(db.session, lifetime=current_app.config["JWT_SESSION_MAX"],
                         staff_user_id=staff_user_id, person_id=person_id)
    make = create_refresh_token if refresh else create_access_token
    kwargs = {} if expires_delta is None else {"expires_delta": expires_delta}
    token = make(identity=identity, additional_claims={**claims, "sid": row.id}, **kwargs)
    if refresh:
        from flask_jwt_extended import decode_token

        sessions.set_refresh(db.session, row.id, decode_token(token)["jti"], old_jti=None)
    db.session.commit()
    return token
