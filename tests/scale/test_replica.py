"""Read-only queries on a replica (issue 18, "beyond one machine"; app/replica.py).

The replica is simulated as the same PostgreSQL schema reached through a URL whose connections are
read-only (``default_transaction_read_only=on``): a write that reached it would fail loudly (500). Every
statement each engine runs is captured with a ``before_cursor_execute`` listener, so the tests see where
each one went. Requests run without a test-held app context: each has its own session, as in production.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select, text

from tests.conftest import PG_URL
from tests.scale.conftest import kept_data_keys, pg_url, scale_app
from tests.web.conftest import csrf_from, page_html

READ_ONLY = "%20-cdefault_transaction_read_only%3Don"  # appended to the schema's ``options=-csearch_path…``


class Statements:
    """What each engine ran since :meth:`clear`, as (bind, SQL)."""

    def __init__(self, engines: dict[str, object]):
        self.seen: list[tuple[str, str]] = []
        for key, engine in engines.items():
            event.listen(engine, "before_cursor_execute", self._listener(key))

    def _listener(self, name):
        def capture(conn, cursor, statement, parameters, context, executemany):
            self.seen.append((name, statement))
        return capture

    def clear(self) -> None:
        self.seen.clear()

    def on(self, name: str) -> list[str]:
        return [sql for bind, sql in self.seen if bind == name]


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """One instance directory (keys) for every app of this module: the data cipher is process-wide, and the
    keys in force before are put back after the module."""
    with kept_data_keys():
        yield tmp_path_factory.mktemp("replica-instance")


@pytest.fixture(scope="module")
def replicated(instance):
    """(app, statements, data) on a PostgreSQL schema of its own, with the replica set to a read-only view of it."""
    from app import replica
    from app.extensions import db
    from tests.factories import World

    primary = pg_url("replica")
    app = scale_app(primary, instance, DATABASE_REPLICA_URI=primary + READ_ONLY)
    with app.app_context():
        db.create_all()
        world = World.build(db.session)
        card = world.card()
        data = {"card_id": card.id, "person_id": card.person_id}
        db.session.commit()
        with replica.engine(app).connect() as c:  # the simulation holds: the replica refuses every write
            with pytest.raises(Exception, match="read-only transaction"):
                c.execute(text("DELETE FROM banks WHERE false"))
        statements = Statements({"primary": db.engine, "replica": replica.engine(app)})
        db.session.remove()
    yield app, statements, data
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        replica.engine(app).dispose()
    from sqlalchemy import create_engine

    eng = create_engine(PG_URL)
    with eng.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{re.search(r"search_path%3D([^%&]+)", primary).group(1)}" CASCADE'))
    eng.dispose()


def _api_login(client, username):
    resp = client.post("/api/auth/login", json={"username": username, "password": f"{username}-pw"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def _web_login(client, username):
    token = csrf_from(page_html(client.get("/login")))
    resp = client.post("/login", data={"username": username, "password": f"{username}-pw", "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


def _audit(app):
    """(head seq, the chain's report, the newest entries' actions), read on the primary."""
    from app.extensions import db
    from app.models import AuditEntry, AuditHead
    from app.services import audit

    with app.app_context():
        try:
            head = db.session.get(AuditHead, audit.HEAD_ID).seq
            actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(5)))
            return head, audit.verify(db.session), actions
        finally:
            db.session.remove()


def _only_reads(sqls: list[str]) -> bool:
    return all(re.match(r"\s*(SELECT|WITH)\b", sql, re.I) and " FOR UPDATE" not in sql.upper() for sql in sqls)


MARKED = [
    ("api", "/api/audit/?action_prefix=read.", "read.audit"),
    ("api", "/api/cards/?status=active", "read.cards"),
    ("api", "/api/applications/deadlines", None),
    ("api", "/api/bureau/banks", None),
    ("web", "/", None),  # the Bureau's dashboard
    ("web", "/bureau/banks", None),
    ("web", "/bureau/staff", None),
    ("web", "/bureau/audit?action_prefix=read.", "read.audit"),
]


@pytest.mark.parametrize("kind, url, entry", MARKED, ids=[f"{k} {u}" for k, u, _ in MARKED])
def test_marked_views_read_on_the_replica_and_record_the_read_on_the_primary(replicated, kind, url, entry):
    app, statements, _ = replicated
    client = app.test_client()
    headers = _api_login(client, "bureau") if kind == "api" else {}
    if kind == "web":
        _web_login(client, "bureau")
    head_before, _, _ = _audit(app)

    statements.clear()
    resp = client.get(url, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:800]

    on_replica = statements.on("replica")
    assert on_replica, f"no statement of {url} reached the replica"
    assert _only_reads(on_replica), on_replica  # and nothing but plain reads
    # the sign-in session's check runs before the view, on the primary: a revoked session is never
    # accepted from a lagging copy
    assert not any("auth_sessions" in sql for sql in on_replica)
    head, report, actions = _audit(app)
    assert report.ok, report
    if entry:  # the read is on record (Art. 16): written, locked and committed on the primary
        assert head > head_before and actions[0] == entry
        primary = statements.on("primary")
        assert any(" FOR UPDATE" in sql.upper() and "audit_head" in sql for sql in primary)
        assert any(sql.lstrip().upper().startswith("INSERT INTO AUDIT") for sql in primary)


def test_unmarked_write_request_never_touches_the_replica(replicated):
    """A loss registration (Art. 21): its reads, its lock, its writes and its audit entry, all on the primary."""
    app, statements, data = replicated
    client = app.test_client()
    teller = _api_login(client, "teller")
    statements.clear()
    card = client.get(f"/api/cards/{data['card_id']}", headers=teller)
    assert card.status_code == 200
    resp = client.post(f"/api/cards/{data['card_id']}/loss-registration", json={"id_verified": True},
                       headers={**teller, "If-Match": card.headers["ETag"]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["status"] == "loss_registered"
    assert statements.on("replica") == []
    assert any(sql.lstrip().upper().startswith("UPDATE CARDS") for sql in statements.on("primary"))
    _, report, actions = _audit(app)
    assert report.ok and actions[0].startswith("card.")


def test_reads_after_a_write_or_a_lock_stay_on_the_primary_within_a_marked_view(replicated):
    """Read-your-writes: once the session has locked or flushed, the rest of the request reads the primary."""
    from app.extensions import db
    from app.models import Bank
    from app.replica import replica_reads

    app, statements, _ = replicated

    @replica_reads
    def view():
        first = db.session.scalars(select(Bank).order_by(Bank.id)).first()
        where = [statements.seen[-1][0]]
        db.session.get(Bank, first.id, with_for_update=True)
        where.append(statements.seen[-1][0])
        db.session.scalars(select(Bank.code)).all()
        where.append(statements.seen[-1][0])
        db.session.rollback()
        return where

    with app.test_request_context():
        statements.clear()
        assert view() == ["replica", "primary", "primary"]
        statements.clear()
        db.session.scalars(select(Bank.code)).all()  # outside a marked view: the primary
        assert statements.on("replica") == []
        db.session.remove()


def test_without_a_replica_setting_everything_goes_to_the_one_engine(tmp_path, instance):
    """DATABASE_REPLICA_URL unset (the default, here on SQLite): one engine, the marked views answer as before."""
    from app import replica
    from app.config import Config
    from app.extensions import db
    from tests.factories import World

    assert Config.DATABASE_REPLICA_URI is None or pytest.skip("DATABASE_REPLICA_URL is set in this environment")
    app = scale_app(f"sqlite:///{tmp_path / 'one.sqlite3'}", instance)
    assert replica.engine(app) is None
    with app.app_context():
        db.create_all()
        World.build(db.session)
        db.session.commit()
        statements = Statements({"primary": db.engine})
        db.session.remove()
    client = app.test_client()
    headers = _api_login(client, "bureau")
    statements.clear()
    assert client.get("/api/audit/", headers=headers).status_code == 200
    _web_login(client, "bureau")
    assert client.get("/bureau/audit").status_code == 200
    assert statements.seen and {bind for bind, _ in statements.seen} == {"primary"}
    _, report, actions = _audit(app)
    assert report.ok and actions[:2] == ["read.audit", "read.audit"]
    with app.app_context():
        db.engine.dispose()


def test_only_read_only_views_are_marked_replica_tolerant(tmp_path, instance):
    """A view marked ``@replica_reads`` answers GET only: a view that changes something reads the primary."""
    app = scale_app(f"sqlite:///{tmp_path / 'one.sqlite3'}", instance)
    marked = {endpoint for endpoint, view in app.view_functions.items() if getattr(view, "replica_reads", False)}
    assert {"audit.list_entries", "web.dashboard.home", "web.bureau.audit_trail"} <= marked
    for rule in app.url_map.iter_rules():
        if rule.endpoint in marked:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
