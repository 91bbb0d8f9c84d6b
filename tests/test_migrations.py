"""Models and migrations agree: `flask db upgrade` builds the schema and autogenerate finds nothing
to add, on SQLite and on PostgreSQL."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from app import create_app
from app.extensions import db
from tests.conftest import PG_URL, _pg_url_for_schema, _prepare_pg


def _fresh_url(backend: str, tmp_path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    _prepare_pg("ssc_migrations")
    return _pg_url_for_schema("ssc_migrations")


def test_migrations_build_the_schema_the_models_describe(backend, app, tmp_path):
    url = _fresh_url(backend, tmp_path)
    fresh = create_app({"TESTING": True, "INSTANCE_DIR": tmp_path, "SQLALCHEMY_DATABASE_URI": url,
                        "PRIVACY_KEY_FILE": tmp_path / "keys.json"})
    with fresh.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        tables = set(inspect(db.engine).get_table_names())
        assert {"persons", "cards", "card_events", "settlement_accounts"} <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()
    if backend == "postgres":
        eng = create_engine(PG_URL)
        with eng.begin() as c:
            c.execute(text('DROP SCHEMA IF EXISTS "ssc_migrations" CASCADE'))
        eng.dispose()
