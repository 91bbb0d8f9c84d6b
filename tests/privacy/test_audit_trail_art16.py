"""Art. 16: the audit trail in the database is append-only and hash-chained. Whoever edits, deletes or
reorders entries behind the application's back (raw SQL, a DBA) is caught by ``flask audit verify``,
which names the first bad entry; the application itself refuses to change an entry."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text, update

from app.models import AuditEntry
from app.models.audit import AppendOnly
from app.models.enums import CardStatus
from app.services import audit
from tests.privacy.art16_helpers import app_keys_fixture, count, entries  # noqa: F401


@pytest.fixture
def trail(world, session):
    """A real trail: registrations and every lifecycle step of two cards (well over a dozen entries)."""
    world.card(CardStatus.ACTIVE)
    world.card(CardStatus.LOSS_REGISTERED)
    session.commit()
    n = count(session)
    assert n >= 12
    return n


def _tamper(db, *statements) -> None:
    """Change the table behind the application's back, as a DBA could. On PostgreSQL the migration's
    append-only trigger is bypassed the way a superuser can (replica mode disables triggers)."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for stmt, params in statements:
            conn.execute(stmt, params)


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_an_intact_trail_verifies_art16(app, db, trail) -> None:
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert f"{trail} entries" in result.output


def test_an_edited_record_is_named_art16(app, db, session, trail) -> None:
    victim = entries(session)[4]
    changed = {**victim.record, "purpose": "nothing to see"}
    _tamper(db, (update(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == 5).values(record=changed), {}))
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 5" in result.output and "edited" in result.output


def test_an_edited_query_column_is_named_art16(app, db, trail) -> None:
    """Hiding an entry from a person's access history by changing its person_id column."""
    _tamper(db, (text("UPDATE audit_log SET person_id = 999999 WHERE seq = 3"), {}))
    result = _verify(app)
    assert result.exit_code != 0 and "entry 3" in result.output and "edited" in result.output


def test_a_deleted_entry_is_named_art16(app, db, trail) -> None:
    _tamper(db, (text("DELETE FROM audit_log WHERE seq = 7"), {}))
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 7" in result.output and "deleted" in result.output


def test_a_deleted_last_entry_is_caught_by_the_head_art16(app, db, trail) -> None:
    _tamper(db, (text("DELETE FROM audit_log WHERE seq = :s"), {"s": trail}))
    result = _verify(app)
    assert result.exit_code != 0 and "deleted" in result.output and f"entry {trail}" in result.output


@pytest.mark.parametrize("column, first, second", [
    ("pos", 4, 9),  # two entries swapped in their chain
    ("pos", 6, 7),  # neighbours swapped
    ("seq", 4, 9),  # swapped in the written order, which orders every list of the trail
])
def test_swapped_entries_are_named_as_reordered_art16(app, db, trail, column, first, second) -> None:
    swap = f"UPDATE audit_log SET {column} = :new WHERE {column} = :old"
    _tamper(db, (text(swap), {"old": first, "new": -first}), (text(swap), {"old": second, "new": first}),
            (text(swap), {"old": -first, "new": second}))
    result = _verify(app)
    assert result.exit_code != 0
    assert f"entry {first}" in result.output and "reordered" in result.output


def test_an_entry_moved_into_another_chain_is_missed_from_its_own_art16(app, db, trail) -> None:
    """Each chain has a key of its own (audit_chain.chain_key): an entry moved to another chain is missing
    from its own and does not verify in the other."""
    _tamper(db, (text("UPDATE audit_log SET chain = 2 WHERE seq = 5"), {}))
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 5" in result.output and "deleted" in result.output


def test_the_application_refuses_to_update_or_delete_an_entry_art16(session, trail) -> None:
    entry = session.get(AuditEntry, 2)
    entry.action = "forged"
    with pytest.raises(AppendOnly):
        session.flush()
    session.rollback()
    session.delete(session.get(AuditEntry, 2))
    with pytest.raises(AppendOnly):
        session.flush()
    session.rollback()
    assert audit.verify(session).ok


def test_entries_record_who_where_and_what_changed_masked_art16(session, world, trail) -> None:
    """Lifecycle writes are on record with the actor's organisation and, for changes, old and new values."""
    from app.services import people

    card = world.card(CardStatus.ACTIVE, person=world.person(phone="13800001111"))
    people.change_info(session, world.teller, card.person_id, {"phone": "13922223333"})
    session.commit()
    entry = entries(session, action="card.change_info")[-1]
    teller = world.staff["teller"]
    assert entry.record["actor_role"] == "bank_teller"
    assert (entry.record["bank_id"], entry.record["outlet_id"]) == (teller.bank_id, teller.outlet_id)
    assert entry.record["changes"]["changed"]["phone"] == ["138****1111", "139****3333"]
    assert audit.verify(session).ok


def test_an_edited_time_is_named_art16(app, db, session, trail) -> None:
    """The entry's time drives the resident's access log and the agency lookup window: moving it is an edit."""
    moved = entries(session)[4].at - timedelta(days=1)
    _tamper(db, (update(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == 5).values(at=moved), {}))
    result = _verify(app)
    assert result.exit_code == 1, result.output
    assert "entry 5" in result.output and "edited" in result.output


# A changed value for every column of the table: a column missing here (one added later) fails the test.
CHANGED = {
    "seq": None,  # moving entries: the swap tests above
    "chain": None,  # moving an entry into another chain: the test above
    "pos": None,  # swapping positions: the swap tests above
    "prev_hash": lambda e: "e" * 64,
    "hash": lambda e: "e" * 64,
    "at": lambda e: e.at + timedelta(microseconds=1),
    "action": lambda e: "card.view",
    "actor_role": lambda e: "auditor",
    "actor_id": lambda e: (e.actor_id or 0) + 1,
    "person_id": lambda e: None,
    "record": lambda e: {**e.record, "subject": "other"},
}


@pytest.mark.parametrize("column", [c for c in CHANGED if CHANGED[c]])
def test_every_column_of_an_entry_is_covered_by_the_chain_art16(app, db, session, trail, column) -> None:
    assert set(CHANGED) == set(AuditEntry.__table__.columns.keys())
    victim = next(e for e in entries(session) if e.person_id is not None and e.seq > 1)
    table = AuditEntry.__table__
    _tamper(db, (update(table).where(table.c.seq == victim.seq).values({column: CHANGED[column](victim)}), {}))
    result = _verify(app)
    assert result.exit_code == 1, result.output
    assert f"entry {victim.seq}" in result.output and "edited" in result.output


def test_a_consistently_rewritten_trail_without_the_key_is_detected_art16(app, db, session, trail) -> None:
    """Someone who can write the tables (a DBA, a stolen database password) edits entry 3 and rebuilds
    every hash after it, and the head, in the old unkeyed format or with a key of their own."""
    from app.privacy import canonical, entry_hash, legacy_entry_hash

    rows = entries(session)
    for rehash in (legacy_entry_hash, lambda *a: entry_hash(b"a guessed key" * 3, *a)):
        statements, prev = [], rows[1].hash
        for e in rows[2:]:
            rec = {**e.record, "purpose": "nothing to see"} if e.seq == 3 else e.record
            rec = json.loads(canonical(rec))
            digest = rehash(prev, e.seq, rec)
            statements.append((update(AuditEntry.__table__).where(AuditEntry.__table__.c.seq == e.seq)
                               .values(prev_hash=prev, hash=digest, record=rec), {}))
            prev = digest
        statements.append((text("UPDATE audit_head SET hash = :h"), {"h": prev}))
        _tamper(db, *statements)
        result = _verify(app)
        assert result.exit_code == 1, result.output
        assert "entry 3" in result.output and "edited" in result.output


def _not_json_objects(backend: str) -> list[str]:
    stored = ["[1, 2]", '"a string"', "null", "12"]
    return stored + (["{broken", "", "\x00"] if backend == "sqlite" else [])  # PostgreSQL's json type parses


def test_a_record_that_is_not_a_json_object_is_named_art16(app, db, backend, trail) -> None:
    for raw in _not_json_objects(backend):
        cast = "CAST(:r AS json)" if backend == "postgres" else ":r"
        _tamper(db, (text(f"UPDATE audit_log SET record = {cast} WHERE seq = 4"), {"r": raw}))
        result = _verify(app)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (raw, result.output)
        assert "entry 4" in result.output and "not a JSON object" in result.output, raw
        assert "Traceback" not in result.output


def test_an_unreadable_record_is_listed_as_such_not_a_500_art16(app, db, session, client, world, backend) -> None:
    """The audit query and the holder's access log (Art. 20) list an entry whose record was made unreadable
    as unreadable, and go on; `flask audit verify` is what names it (above)."""
    from tests.privacy.art16_helpers import Staff, resident_headers

    card = world.card(CardStatus.ACTIVE)
    session.commit()
    victim = entries(session, person_id=card.person_id)[1]
    auditor = Staff(client)("auditor")
    for raw in _not_json_objects(backend):
        cast = "CAST(:r AS json)" if backend == "postgres" else ":r"
        _tamper(db, (text(f"UPDATE audit_log SET record = {cast} WHERE seq = :s"), {"r": raw, "s": victim.seq}))
        session.expire_all()  # as a new request would: nothing of the entry cached from before
        listed = client.get("/api/audit/", query_string={"person_id": card.person_id, "page_size": 100},
                            headers=auditor)
        assert listed.status_code == 200, (raw, listed.get_data(as_text=True)[:300])
        shown = {e["seq"]: e for e in listed.get_json()}[victim.seq]
        assert "unreadable" in shown["record"], raw
        log = client.get("/api/me/access-log", headers=resident_headers(app, card.person_id))
        assert log.status_code == 200, (raw, log.get_data(as_text=True)[:300])
        assert victim.seq in {row["ref"] for row in log.get_json()}


def test_a_head_recorded_outside_the_database_catches_a_cut_back_chain_art16(app, db, session, trail) -> None:
    """A superuser who deletes the newest entries and moves the head back leaves a consistent chain; the
    head printed by an earlier `flask audit verify` (kept elsewhere) is what shows it."""
    first = _verify(app)
    assert first.exit_code == 0
    recorded = first.output.split("head ")[-1].strip()
    assert _verify_expecting(app, recorded).exit_code == 0
    entry = entries(session)[trail - 3]
    _tamper(db, (text("DELETE FROM audit_log WHERE seq > :s"), {"s": entry.seq}),
            (text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": entry.seq, "h": entry.hash}))
    assert _verify(app).exit_code == 0  # consistent in itself
    result = _verify_expecting(app, recorded)
    assert result.exit_code == 1 and f"entry {trail}" in result.output and "deleted" in result.output
    assert _verify_expecting(app, "12:" + "a" * 64).exit_code == 1
    assert _verify_expecting(app, "not-a-head").exit_code == 2


def _verify_expecting(app, head: str):
    return app.test_cli_runner().invoke(args=["audit", "verify", "--expect", head])
