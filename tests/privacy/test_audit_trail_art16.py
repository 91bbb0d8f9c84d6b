"""Art. 16: the audit trail in the database is append-only and hash-chained. Whoever edits, deletes or
reorders entries behind the application's back (raw SQL, a DBA) is caught by ``flask audit verify``,
which names the first bad entry; the application itself refuses to change an entry."""
from __future__ import annotations

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


def test_swapped_entries_are_named_as_reordered_art16(app, db, trail) -> None:
    swap = "UPDATE audit_log SET seq = :new WHERE seq = :old"
    _tamper(db, (text(swap), {"old": 4, "new": -4}), (text(swap), {"old": 9, "new": 4}),
            (text(swap), {"old": -4, "new": 9}))
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 4" in result.output and "reordered" in result.output


def test_swapped_neighbours_are_named_as_reordered_art16(app, db, trail) -> None:
    swap = "UPDATE audit_log SET seq = :new WHERE seq = :old"
    _tamper(db, (text(swap), {"old": 6, "new": -6}), (text(swap), {"old": 7, "new": 6}),
            (text(swap), {"old": -6, "new": 7}))
    result = _verify(app)
    assert result.exit_code != 0
    assert "entry 6" in result.output and "reordered" in result.output


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
