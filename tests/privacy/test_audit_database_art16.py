"""Art. 16: the audit trail in a database built by the migrations, as it runs in production.

* A trail written before the chain was keyed (SHA-256, no key) still verifies after ``flask db upgrade``,
  new entries are keyed, and the old entries cannot be rewritten any more than the new ones.
* On PostgreSQL the application connects as a member of ``ssc_app``, which owns nothing: it can read and
  append to the trail but not change, delete or truncate it, nor drop or disable the triggers; the owner
  (migrations) cannot UPDATE, DELETE or TRUNCATE it either without switching the triggers off.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from flask_migrate import upgrade
from sqlalchemy import column, create_engine, insert, table, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.extensions import db
from app.models import AuditEntry, AuditHead
from app.models.enums import CardStatus, Channel, Role
from app.privacy import GENESIS, canonical, entry_hash
from app.services import audit
from app.services.actor import Actor
from tests import factories
from tests.conftest import PG_URL, _prepare_pg, _worker

BEFORE_KEYING = "8cc265985fc4"  # the last revision whose chain was unkeyed
# audit_log as it was then: one chain, numbered by seq
OLD_AUDIT_LOG = table("audit_log", *map(column, ("seq", "prev_hash", "hash", "at", "action", "actor_role",
                                                 "actor_id", "person_id", "record")))


def _fresh(backend: str, tmp_path, name: str) -> tuple[str, str | None]:
    """(URL of an empty database, its schema on PostgreSQL)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.sqlite3'}", None
    schema = f"ssc_{name}_{_worker()}"
    _prepare_pg(schema)
    return _with_options(PG_URL, f"-csearch_path={schema}"), schema


def _with_options(url: str, options: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options={quote(options)}"


def _drop(schema: str | None) -> None:
    if schema:
        eng = create_engine(PG_URL)
        with eng.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        eng.dispose()


def _old_hash(prev: str, seq: int, record: dict) -> str:
    """How entries were hashed before the key (migration 0243de3b7468), written out here on purpose."""
    return hashlib.sha256(f"{prev}|{seq}|".encode() + canonical(record)).hexdigest()


def _bypassing_triggers(conn) -> None:
    if conn.dialect.name == "postgresql":  # a superuser can; the application's role cannot
        conn.execute(text("SET LOCAL session_replication_role = replica"))


def test_a_trail_written_before_the_key_still_verifies_after_the_upgrade_art16(app, backend, tmp_path) -> None:
    url, schema = _fresh(backend, tmp_path, "audit_upgrade")
    old = create_app({"TESTING": True, "INSTANCE_DIR": tmp_path, "SQLALCHEMY_DATABASE_URI": url,
                      "PRIVACY_KEY_FILE": tmp_path / "keys.json"})
    try:
        with old.app_context():
            upgrade(revision=BEFORE_KEYING)
            t0, prev, rows = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc), GENESIS, []
            for seq in range(1, 6):
                at = t0 + timedelta(minutes=seq, microseconds=seq)
                rec = json.loads(canonical({"at": at, "action": "person.view", "actor_role": "clerk",
                                            "actor_id": 7, "person_id": 40 + seq, "channel": "outlet"}))
                digest = _old_hash(prev, seq, rec)
                rows.append({"seq": seq, "prev_hash": prev, "hash": digest, "at": at, "action": "person.view",
                             "actor_role": "clerk", "actor_id": 7, "person_id": 40 + seq, "record": rec})
                prev = digest
            with db.engine.begin() as conn:
                conn.execute(insert(OLD_AUDIT_LOG), [{**r, "record": json.dumps(r["record"])} for r in rows])
                conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 5, :h)"), {"h": prev})

            upgrade()
            report = audit.verify(db.session)
            assert report.ok and report.checked == 5, report

            audit.record(db.session, Actor(role=Role.SYSTEM, channel=Channel.AGENCY), "audit.test", person_id=41)
            db.session.commit()
            head = db.session.get(AuditHead, 1)
            new = db.session.get(AuditEntry, 6)
            assert (head.keyed_from, head.seq) == (6, 6)
            assert new.hash == entry_hash(old.config["AUDIT_KEY"].encode(), prev, 6, new.record) != \
                _old_hash(prev, 6, new.record)
            assert audit.verify(db.session).ok

            # entry 2's purpose changed and entries 2..5 rehashed the old way, consistently
            with db.engine.begin() as conn:
                _bypassing_triggers(conn)
                prev = rows[0]["hash"]
                for row in rows[1:]:
                    rec = {**row["record"], "purpose": "forged"} if row["seq"] == 2 else row["record"]
                    digest = _old_hash(prev, row["seq"], rec)
                    conn.execute(text("UPDATE audit_log SET prev_hash = :p, hash = :h, record = :r WHERE seq = :s"),
                                 {"p": prev, "h": digest, "r": json.dumps(rec), "s": row["seq"]})
                    prev = digest
                conn.execute(text("UPDATE audit_log SET prev_hash = :p WHERE seq = 6"), {"p": prev})
            result = old.test_cli_runner().invoke(args=["audit", "verify"])
            assert result.exit_code == 1 and "entry 5" in result.output and "rewritten" in result.output, \
                result.output
            db.session.remove()
            db.engine.dispose()
    finally:
        _drop(schema)


@pytest.fixture(scope="module")
def production(app, backend, tmp_path_factory):
    """A PostgreSQL schema built by `flask db upgrade` as its owner, with the application connected as a
    member of ssc_app and some real work done: ``(the application, an engine connected as the owner)``."""
    if backend != "postgres":
        pytest.skip("database roles and triggers: PostgreSQL only (SQLite has neither)")
    tmp_path = tmp_path_factory.mktemp("production")
    owner_url, schema = _fresh(backend, tmp_path, "audit_roles")
    options = f"-csearch_path={schema} -clock_timeout=10s"
    prod = create_app({"TESTING": True, "INSTANCE_DIR": tmp_path, "PRIVACY_KEY_FILE": tmp_path / "keys.json",
                       "SQLALCHEMY_DATABASE_URI": _with_options(PG_URL, f"{options} -crole=ssc_app"),
                       "MIGRATION_DATABASE_URI": owner_url})
    owner = create_engine(owner_url, connect_args={"options": options})
    try:
        with prod.app_context():
            upgrade()  # as the owner: the application's role could not create a table
            with db.engine.connect() as conn:
                assert conn.scalar(text("SELECT current_user")) == "ssc_app"
            world = factories.World.build(db.session)  # the application does its work as ssc_app
            world.card(CardStatus.ACTIVE)
            db.session.commit()
            assert db.session.scalar(text("SELECT count(*) FROM audit_log")) >= 5 and audit.verify(db.session).ok
            db.session.rollback()  # its read locks would hold the owner's TRUNCATE
            yield prod, owner
            db.session.remove()
            db.engine.dispose()
    finally:
        owner.dispose()
        _drop(schema)


def _refused(engine, statement: str) -> DBAPIError:
    with engine.connect() as conn, pytest.raises(DBAPIError) as refused:
        conn.execute(text(statement))
    return refused.value


def _count() -> int:
    """Entries in the trail, read in a transaction of its own (its locks would hold an owner's TRUNCATE)."""
    try:
        return db.session.scalar(text("SELECT count(*) FROM audit_log"))
    finally:
        db.session.rollback()


def _unchanged(count_before: int) -> None:
    assert _count() == count_before
    assert audit.verify(db.session).ok
    db.session.rollback()


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET action = 'forged' WHERE seq = 2",
    "DELETE FROM audit_log WHERE seq = 2",
    "TRUNCATE audit_log",
    "DROP TRIGGER audit_log_append_only ON audit_log",
    "DROP TRIGGER audit_log_no_truncate ON audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "DROP TABLE audit_log",
    "SET session_replication_role = replica",
    "UPDATE audit_head SET seal = 'forged'",
    "DELETE FROM audit_head",
    "TRUNCATE audit_head",
])
def test_the_application_role_cannot_change_or_unprotect_the_trail_art16(production, statement) -> None:
    before = _count()
    assert _refused(db.engine, statement).orig.sqlstate == "42501"  # insufficient privilege
    _unchanged(before)


@pytest.mark.parametrize("statement", ["TRUNCATE audit_log", "TRUNCATE audit_log, audit_head CASCADE",
                                       "TRUNCATE audit_head"])
def test_truncating_the_trail_is_refused_even_to_its_owner_on_postgresql_art16(production, statement) -> None:
    _, owner = production
    before = _count()
    assert "append-only" in str(_refused(owner, statement))
    _unchanged(before)


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET at = at - interval '1 day' WHERE seq = 2",
                                       "DELETE FROM audit_log WHERE seq = 2",
                                       "UPDATE audit_head SET seq = seq - 1", "DELETE FROM audit_head"])
def test_the_owner_cannot_change_the_trail_with_the_triggers_on_art16(production, statement) -> None:
    _, owner = production
    before = _count()
    assert re.search("append-only|only moves forward", str(_refused(owner, statement)))
    _unchanged(before)
