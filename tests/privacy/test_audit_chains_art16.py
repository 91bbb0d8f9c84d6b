"""Art. 16 at Guangzhou's scale (issue 18): the audit trail is several hash chains side by side, so that
concurrent audited transactions do not queue on one head row, and no less tamper-evident than one chain.

* A transaction that finds chain 1 held by another appends to the next free chain (SKIP LOCKED) instead
  of waiting; all of one transaction's entries go to one chain; every chain verifies.
* Each chain has its own key: an entry moved between chains fails (test_audit_trail_art16).
* Chain 1's anchors record every other chain's head: a chain cut back below its last anchor, or wiped
  together with its head, is found; ``flask audit verify`` anchors before it checks, so chain 1's head,
  kept outside the database, vouches for every chain.
Row locks: PostgreSQL only (SQLite has one writer at a time and keeps to chain 1)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.models import AuditEntry, AuditHead
from app.models.enums import Channel, Role
from app.services import audit
from app.services.actor import Actor
from tests.privacy.art16_helpers import app_keys_fixture  # noqa: F401

CLERK = Actor(role=Role.AGENCY_CLERK, channel=Channel.AGENCY, user_id=7)


@pytest.fixture
def pg(backend):
    if backend == "sqlite":
        pytest.skip("row locks and concurrent transactions: PostgreSQL only")


def _held_open(app, engine, n: int, ready: threading.Barrier, done: threading.Event, chains: dict) -> list:
    """``n`` threads, each appending in its own transaction and keeping it open until ``done``."""
    def worker(i):
        with app.app_context(), Session(engine) as s:
            entry = audit.record(s, CLERK, "person.view", person_id=100 + i)
            chains[i] = entry.chain
            audit.record(s, CLERK, "card.view", person_id=100 + i)  # a second append, same transaction
            ready.wait(timeout=20)
            done.wait(timeout=20)
            s.commit()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def _concurrently(app, db, n: int) -> dict:
    """``n`` transactions that all append while the others hold theirs open; {thread: chain}."""
    ready, done, chains = threading.Barrier(n + 1), threading.Event(), {}
    threads = _held_open(app, db.engine, n, ready, done, chains)
    ready.wait(timeout=20)  # all appended while the others held their chains: nobody queued
    done.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return chains


def test_concurrent_audited_transactions_append_to_chains_of_their_own_art16(app, db, pg) -> None:
    """Four transactions hold their appends open at once: none waits for another (each got its own chain
    while the others were held), each transaction's two entries are in one chain, and the trail verifies."""
    chains = _concurrently(app, db, 4)
    assert sorted(chains.values()) == [1, 2, 3, 4], chains
    for i, chain in chains.items():
        assert set(db.session.scalars(select(AuditEntry.chain).where(AuditEntry.person_id == 100 + i))) == {chain}
    report = audit.verify(db.session)
    assert report.ok and report.checked == 8, report


def test_a_transaction_waits_only_when_every_chain_is_held_art16(app, db, pg) -> None:
    """With AUDIT_CHAINS = 2 and both held, a third transaction waits for one of them, then appends."""
    app.config["AUDIT_CHAINS"] = 2
    try:
        ready, done, chains = threading.Barrier(3), threading.Event(), {}
        threads = _held_open(app, db.engine, 2, ready, done, chains)
        ready.wait(timeout=20)
        third: dict = {}

        def late():
            with app.app_context(), Session(db.engine) as s:
                third["chain"] = audit.record(s, CLERK, "person.view", person_id=999).chain
                s.commit()
        t3 = threading.Thread(target=late)
        t3.start()
        t3.join(timeout=1.5)
        assert t3.is_alive() and not third  # it waits: both chains are held
        done.set()
        for t in (*threads, t3):
            t.join(timeout=30)
        assert third["chain"] in (1, 2)
        assert db.session.scalar(select(func.count()).select_from(AuditHead)) == 2
        assert audit.verify(db.session).ok
    finally:
        app.config["AUDIT_CHAINS"] = 16


def _two_chains(app, db) -> None:
    """Entries in chains 1 and 2 (chain 2 taken while chain 1 was held), then an anchor."""
    assert sorted(_concurrently(app, db, 2).values()) == [1, 2]
    anchor = audit.anchor(db.session)
    db.session.commit()
    assert anchor.chain == 1 and anchor.record["changes"]["heads"] == {"2": [2, db.session.get(AuditHead, 2).hash]}


def _as_dba(db, *statements: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off, as a superuser can
        for statement in statements:
            conn.execute(text(statement))


def test_an_anchor_is_written_only_when_another_chain_moved_art16(app, db, pg) -> None:
    _two_chains(app, db)
    assert audit.anchor(db.session) is None  # nothing moved since
    db.session.rollback()


def test_a_chain_cut_back_below_its_anchor_is_found_art16(app, db, pg) -> None:
    """A DBA deletes chain 2's last entry and moves its head back to match: chain 2 alone looks intact,
    but chain 1's anchor recorded its entry 2."""
    _two_chains(app, db)
    tip = db.session.execute(select(AuditEntry.prev_hash).where(AuditEntry.chain == 2, AuditEntry.pos == 2)).scalar()
    db.session.rollback()
    _as_dba(db, "DELETE FROM audit_log WHERE chain = 2 AND pos = 2",
            f"UPDATE audit_head SET seq = 1, hash = '{tip}' WHERE id = 2")
    report = audit.verify(db.session)
    assert (report.ok, report.chain, report.seq, report.reason) == (False, 2, 2, "deleted"), report
    assert "anchor" in report.detail
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "chain 2, entry 2: deleted" in result.output, result.output


def test_a_chain_wiped_with_its_head_is_found_art16(app, db, pg) -> None:
    _two_chains(app, db)
    db.session.rollback()
    _as_dba(db, "DELETE FROM audit_log WHERE chain = 2", "DELETE FROM audit_head WHERE id = 2")
    report = audit.verify(db.session)
    assert (report.ok, report.chain, report.reason) == (False, 2, "deleted"), report


def test_verify_anchors_first_so_chain_1s_head_vouches_for_every_chain_art16(app, db, pg) -> None:
    """`flask audit verify` prints chain 1's head after anchoring: a later `--expect` of it catches a cut
    of any chain made before that anchor."""
    _two_chains(app, db)
    assert sorted(_concurrently(app, db, 2).values()) == [1, 2]  # chain 2 moves on past the anchor
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "in 2 chain(s)" in result.output
    last = db.session.scalars(select(AuditEntry).where(AuditEntry.chain == 1).order_by(AuditEntry.pos.desc())).first()
    assert last.action == audit.ANCHOR and last.record["changes"]["heads"]["2"][0] == 4
    assert f"head {last.pos}:{last.hash}" in result.output
