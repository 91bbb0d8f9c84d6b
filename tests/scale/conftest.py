"""A PostgreSQL database of a few thousand synthetic cardholders loaded by bench/seed.py (issue 18).

PostgreSQL only: the questions asked here (query plans, connections cut, workers killed) are about it.
Unset TEST_POSTGRES_URL skips on a developer machine and fails in CI, as everywhere (tests/conftest.py).
"""
from __future__ import annotations

from contextlib import contextmanager

import pytest
from argon2 import PasswordHasher

from tests.conftest import CI, PG_URL, _pg_url_for_schema, _prepare_pg, _worker

SMALL_N = 2_000


def pg_url(tag: str) -> str:
    if not PG_URL:
        if CI:
            pytest.fail("CI must set TEST_POSTGRES_URL: PostgreSQL tests may not be skipped in CI.", pytrace=False)
        pytest.skip("TEST_POSTGRES_URL not set (PostgreSQL tests skipped on this developer machine)")
    schema = f"ssc_scale_{tag}_{_worker()}"
    _prepare_pg(schema)
    return _pg_url_for_schema(schema)


@contextmanager
def kept_data_keys():
    """Starting an app installs its data keys process-wide (app.privacy): put back the ones in force, so
    the tests that follow in this process still read what they wrote."""
    from app.privacy import runtime, types

    cipher, indexer = types._cipher, runtime._indexer
    try:
        yield
    finally:
        types.set_cipher(cipher)
        runtime._indexer = indexer


def scale_app(url: str, instance, **config):
    from app import create_app

    return create_app({"TESTING": True, "INSTANCE_DIR": instance, "SQLALCHEMY_DATABASE_URI": url,
                       "PRIVACY_KEY_FILE": instance / "privacy-keys.json", "ECARD_KEY_DIR": instance / "ecard-keys",
                       "RATELIMIT_ENABLED": False, **config})


@pytest.fixture(scope="session")
def seeded(tmp_path_factory):
    """(app, staff credentials) over a schema holding SMALL_N cardholders, analysed."""
    import json

    from app.extensions import db
    from app.services import hashing
    from bench import seed

    hashing.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    inst = tmp_path_factory.mktemp("scale-instance")
    app = scale_app(pg_url("q"), inst)
    with app.app_context():
        db.create_all()
    seed.load(app, SMALL_N, batch=1_000, staff_file=inst / "staff.json", echo=lambda m: None)
    yield app, {u["username"]: u for u in json.loads((inst / "staff.json").read_text())}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

