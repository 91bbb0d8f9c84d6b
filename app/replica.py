"""Read-only queries on a PostgreSQL replica (issue 18, "beyond one machine").

``DATABASE_REPLICA_URL`` (config ``DATABASE_REPLICA_URI``) names a hot standby. Unset, there is one engine and
every statement goes to it, exactly as before. Set, the app gets a second engine (:func:`engine`), and ONE
rule, in the session's :meth:`RoutingSession.get_bind`, decides where each statement goes:

* a plain ``SELECT`` (no ``FOR UPDATE``, not part of a flush) goes to the replica, but only inside a view
  marked :func:`replica_reads` (dashboards, lists, audit search), and only until the request has written;
* everything else goes to the primary: every INSERT, UPDATE, DELETE and flush, every ``with_for_update()``
  (the audit head's lock), every text statement, whatever runs outside a marked view (the sign-in session's
  check before the view, so a revoked session is never accepted from a lagging copy), and every read after
  the request's first write or lock (read-your-writes). A staff read's audit entry (Art. 16) is such a
  write: it is written and committed on the primary in the same request, never on the replica.

The replica's connections run in autocommit: a read there holds no transaction open between statements (a
hot standby cancels long snapshots that conflict with replay), and the request's commit has only the
primary's transaction to commit. Each statement sees the replica as of its own moment (as READ COMMITTED
does on the primary), up to the replication lag behind the primary.
"""
from __future__ import annotations

from functools import wraps

from flask import Flask, current_app
from flask_sqlalchemy.session import Session
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select

REPLICA = "replica"  # app.extensions: the replica's engine
_MARKED = "replica_reads"  # session.info: the running view tolerates the replica's lag
_WROTE = "replica_wrote"  # session.info: this request has written or locked on the primary


class RoutingSession(Session):
    """Flask-SQLAlchemy's session (binds by model), with plain reads of marked views sent to the replica."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None:
            if not self._plain_read(clause):
                self.info[_WROTE] = True
            elif self.info.get(_MARKED) and not self.info.get(_WROTE):
                replica = engine()
                if replica is not None:
                    return replica
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)

    def _plain_read(self, clause) -> bool:
        return not self._flushing and isinstance(clause, Select) and clause._for_update_arg is None


def replica_reads(view):
    """Mark a read-only view (a dashboard, a list, the audit search) whose reads tolerate the replica's lag.

    Put it directly above the view function, under the route and policy decorators: what runs before the
    view (the sign-in session's check) stays on the primary. Its writes (the audit entries) go to the
    primary whatever the mark."""

    @wraps(view)
    def marked(*args, **kwargs):
        from app.extensions import db

        info = db.session.info
        outer = info.get(_MARKED, False)
        info[_MARKED] = True
        try:
            return view(*args, **kwargs)
        finally:
            info[_MARKED] = outer

    marked.replica_reads = True
    return marked


def configure(app: Flask) -> None:
    """``DATABASE_REPLICA_URI`` becomes the replica's engine (the primary's engine options, autocommit), kept in
    ``app.extensions`` rather than in SQLALCHEMY_BINDS: a bind would take part in ``db.create_all()`` and
    ``drop_all()``, and its key would stay in the extension's metadata for every other app of the process."""
    url = app.config.get("DATABASE_REPLICA_URI")
    if url:
        options = {"echo": app.config.get("SQLALCHEMY_ECHO", False), **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
                   "isolation_level": "AUTOCOMMIT"}
        app.extensions[REPLICA] = create_engine(url, **options)

    @app.before_request
    def _new_request():
        """Read-your-writes is per request (a test's requests may share one app context, hence one session)."""
        from app.extensions import db

        if db.session.registry.has():
            db.session.info.pop(_WROTE, None)


def engine(app: Flask | None = None) -> Engine | None:
    """The replica's engine, or None when DATABASE_REPLICA_URL is unset."""
    return (app or current_app).extensions.get(REPLICA)
