"""Background work: the webhook deliveries of the agencies' feed (``app.services.webhooks``).

``WEBHOOK_RUNNER`` decides who sends them:

* ``procrastinate`` (PostgreSQL): a real task queue in the same database. ``flask agency worker`` runs a
  procrastinate worker; the task ``webhooks.deliver_due`` sends what is due and schedules itself again
  (``schedule_in``) for the next retry of the backoff; a periodic job (every minute) picks up anything
  written outside a request (CLI, government feed). Its tables: ``flask agency queue-schema``.
* ``inline`` (``make run``, SQLite): a thread of this process, started after a request that wrote
  deliveries committed, sends them and sleeps until the next retry is due, then stops when nothing is
  pending.
* ``manual`` (tests): nobody; the caller runs ``webhooks.run_due``.

The same worker anchors the audit trail's chains once a minute (``audit.anchor``, ``app.services.audit``).

The deliveries themselves are rows written in the lifecycle transaction: the queue only says *when* to
look, so a lost job loses nothing (the next run, or the periodic job, finds the row)."""
from __future__ import annotations

import logging
import math
import threading

from flask import Flask, current_app
from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued

log = logging.getLogger("app.tasks")

_flask: dict[str, Flask] = {}
_queues: dict[str, App] = {}
LOCK = "webhooks-deliver-due"


def conninfo(url: str) -> str:
    """A libpq connection string from the SQLAlchemy URL (procrastinate speaks psycopg directly)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _drain() -> float | None:
    """Send everything due once; seconds until the next retry (None: nothing pending)."""
    from app.extensions import db
    from app.services import webhooks

    with _flask["app"].app_context():
        try:
            webhooks.run_due(db.session)
            return webhooks.next_due_in(db.session)
        finally:
            db.session.remove()


def _deliver(context) -> None:
    wait = _drain()
    if wait is not None:  # the backoff: come back when the next retry is due
        try:
            context.app.configure_task("webhooks.deliver_due", schedule_in={"seconds": math.ceil(wait)},
                                       queueing_lock=LOCK).defer()
        except AlreadyEnqueued:
            pass


def build_queue(connector) -> App:
    """A procrastinate App on ``connector`` with the webhook tasks: ``webhooks.deliver_due`` (deferred
    after a request wrote deliveries, and by itself for the next retry) and the periodic sweep."""
    queue = App(connector=connector)

    @queue.task(name="webhooks.deliver_due", queue="webhooks", pass_context=True)
    def deliver_due(context) -> None:
        _deliver(context)

    @queue.periodic(cron="* * * * *", periodic_id="webhooks")
    @queue.task(name="webhooks.sweep", queue="webhooks", pass_context=True)
    def sweep(context, timestamp: int) -> None:
        _deliver(context)

    @queue.periodic(cron="* * * * *", periodic_id="audit-anchor")
    @queue.task(name="audit.anchor", queue="audit", pass_context=True)
    def anchor_audit(context, timestamp: int) -> None:
        anchor_chains()

    return queue


def anchor_chains() -> None:
    """Anchor every audit chain's head in chain 1 (``audit.anchor``), committed."""
    from app.extensions import db
    from app.services import audit

    with _flask["app"].app_context():
        try:
            audit.anchor(db.session)
            db.session.commit()
        finally:
            db.session.remove()


def queue_for(flask_app: Flask) -> App:
    """The app's queue on its PostgreSQL database (one per process)."""
    _flask["app"] = flask_app
    info = conninfo(flask_app.config["SQLALCHEMY_DATABASE_URI"])
    if info not in _queues:
        _queues[info] = build_queue(PsycopgConnector(conninfo=info))
    return _queues[info]


def run_worker(flask_app: Flask, *, wait: bool = True) -> None:
    """``flask agency worker``: a procrastinate worker on the app's PostgreSQL database."""
    queue = queue_for(flask_app)
    with queue.open():
        queue.run_worker(queues=["webhooks", "audit"], wait=wait, install_signal_handlers=wait)


def apply_schema(flask_app: Flask) -> None:
    queue = queue_for(flask_app)
    with queue.open():
        queue.schema_manager.apply_schema()


# ---------------------------------------------------------------- after a request


_inline_lock = threading.Lock()
_inline_running: list[bool] = [False]


def _inline_loop() -> None:
    import time

    try:
        while True:
            wait = _drain()
            if wait is None:
                return
            time.sleep(min(max(wait, 0.5), 60))
    except Exception:  # noqa: BLE001 - a background thread must say why it stopped
        log.exception("inline webhook runner stopped")
    finally:
        with _inline_lock:
            _inline_running[0] = False


def kick(flask_app: Flask) -> None:
    """Deliveries were committed: have them sent, as ``WEBHOOK_RUNNER`` says."""
    runner = flask_app.config["WEBHOOK_RUNNER"]
    _flask["app"] = flask_app
    if runner == "inline":
        with _inline_lock:
            if _inline_running[0]:
                return
            _inline_running[0] = True
        threading.Thread(target=_inline_loop, name="webhooks-inline", daemon=True).start()
    elif runner == "procrastinate":
        queue = queue_for(flask_app)
        try:
            with queue.open():
                queue.configure_task("webhooks.deliver_due", queueing_lock=LOCK).defer()
        except AlreadyEnqueued:
            pass
        except Exception:  # noqa: BLE001 - the periodic job picks it up; the request has committed
            log.warning("could not defer webhooks.deliver_due; the periodic sweep will send it")


def register(flask_app: Flask) -> None:
    @flask_app.after_request
    def _kick_webhooks(resp):
        from app.extensions import db

        if db.session.info.pop("webhooks_enqueued", False) and resp.status_code < 400:
            kick(current_app._get_current_object())
        return resp
