"""Test harness: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``TEST_POSTGRES_URL``. Unset on a developer machine, the PostgreSQL half is
skipped; in CI (``CI=true``) an unset or unreachable PostgreSQL is a failure, never a skip.
Each xdist worker gets its own PostgreSQL schema; tables are emptied after every test.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from tests import factories

# Fails the run if a PIN, a password, key material or a full ID number reaches any log line (Art. 16, 19).
pytest_plugins = ["tests.log_guard"]

CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("TEST_POSTGRES_URL")


def _worker() -> str:
    """A schema name of this run's own: concurrent runs (two developers, CI) never share one."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8] or str(os.getpid())
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'gw')}_{run}"


def _pg_url_for_schema(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _prepare_pg(schema: str) -> None:
    try:
        eng = create_engine(PG_URL)
        with eng.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng.dispose()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"PostgreSQL at TEST_POSTGRES_URL is unreachable: {e}", pytrace=False)


def database_url(backend: str, tmp_path_factory) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'ssc.sqlite3'}"
    if not PG_URL:
        if CI:
            pytest.fail("CI must set TEST_POSTGRES_URL: PostgreSQL tests may not be skipped in CI.", pytrace=False)
        pytest.skip("TEST_POSTGRES_URL not set (PostgreSQL half skipped on this developer machine)")
    schema = f"ssc_test_{_worker()}"
    _prepare_pg(schema)
    return _pg_url_for_schema(schema)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request):
    return request.param


@pytest.fixture(scope="session")
def app(backend, tmp_path_factory):
    from app import create_app
    from app.extensions import db
    from app.services import hashing

    hashing.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    inst = tmp_path_factory.mktemp("instance")
    app = create_app({
        "TESTING": True,
        "INSTANCE_DIR": inst,
        "SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path_factory),
        "PRIVACY_KEY_FILE": inst / "privacy-keys.json",
        "ECARD_KEY_DIR": inst / "ecard-keys",
        "RATELIMIT_ENABLED": False,
    })
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if backend == "postgres":
        eng = create_engine(PG_URL)
        with eng.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "ssc_test_{_worker()}" CASCADE'))
        eng.dispose()


@pytest.fixture
def db(app):
    """The app's SQLAlchemy extension inside an app context; every table is emptied afterwards."""
    from app.extensions import db as _db

    ctx = app.app_context()
    ctx.push()
    yield _db
    _db.session.rollback()
    _db.session.remove()
    with _db.engine.begin() as c:
        names = [t.name for t in reversed(_db.metadata.sorted_tables)]
        if _db.engine.dialect.name == "postgresql":
            c.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        else:
            for n in names:
                c.execute(text(f'DELETE FROM "{n}"'))
    ctx.pop()


@pytest.fixture
def session(db):
    return db.session


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def clock(monkeypatch):
    """A settable clock for time rules (Art. 10, 25, 27): ``clock.set(datetime)``, ``clock.advance(days=…)``."""
    from app.services import clock as service_clock

    return factories.FrozenClock(monkeypatch, service_clock, datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc))


@pytest.fixture
def world(session):
    """Banks, outlets (one instant), agencies and staff actors: see ``factories.World``."""
    return factories.World.build(session)


@pytest.fixture(scope="session")
def chromium():
    """Real Chromium for the browser tests, one per test process (tests/web/conftest.py ``launch_chromium``)."""
    from tests.web.conftest import launch_chromium

    yield from launch_chromium()
