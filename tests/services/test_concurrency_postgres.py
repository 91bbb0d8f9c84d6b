"""Concurrent operations on one card serialize (ENGINEERING.md; Art. 22, 23, 21).

Two counters act on the same card at the same moment, each in its own database session and
transaction, as two API requests would (both sending the If-Match they read). Exactly one wins and
commits; the other is refused (IllegalTransition or PreconditionFailed from the state machine after
the person-row lock, or StaleDataError from the version column) and rolls back; the events table
agrees with the final state. PostgreSQL only: SQLite serializes whole-database writes by itself.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.models import Card, CardEvent
from app.models.enums import CardStatus, Channel
from app.services import lifecycle
from app.services.errors import DomainError, IllegalTransition, PreconditionFailed
from tests.factories import PICKUP

ROUNDS = 4  # fresh cards per scenario: the two threads race a few times, in either order


@pytest.fixture
def pg(backend):
    if backend == "sqlite":
        pytest.skip("row locks and concurrent transactions: PostgreSQL only")


def race(app, engine, ops: dict[str, Callable[[Session], object]]) -> dict[str, object]:
    """Run each op in its own thread and Session; all pass a barrier first. Returns name → "ok" or the exception."""
    barrier = threading.Barrier(len(ops))
    results: dict[str, object] = {}

    def worker(name, op):
        with app.app_context(), Session(engine) as s:  # lifecycle reads current_app.config
            try:
                barrier.wait(timeout=10)
                op(s)
                s.commit()
                results[name] = "ok"
            except BaseException as e:  # noqa: BLE001 - judged by the test, not lost in the thread
                s.rollback()
                results[name] = e

    threads = [threading.Thread(target=worker, args=item) for item in ops.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread is stuck: deadlock?"
    return results


def _one_winner(results: dict[str, object]) -> tuple[str, DomainError | StaleDataError]:
    """Exactly one op committed; the other was refused by the service or by the version check."""
    winners = [n for n, r in results.items() if r == "ok"]
    assert len(winners) == 1, results
    (loser,) = set(results) - set(winners)
    assert isinstance(results[loser], (IllegalTransition, PreconditionFailed, StaleDataError)), results
    return winners[0], results[loser]


def _events(session, card_id, *ops: str) -> list[CardEvent]:
    return list(session.scalars(select(CardEvent).where(CardEvent.card_id == card_id, CardEvent.operation.in_(ops))))


def _last_status(session, card_id) -> str:
    return session.scalars(select(CardEvent.to_status).where(CardEvent.card_id == card_id)
                           .order_by(CardEvent.id.desc())).first()


def _committed_card(world, session, state: CardStatus) -> tuple[int, int, int]:
    card = world.card(state)
    session.commit()
    return card.id, card.version, card.person_id


# ---------------------------------------------------------------- (a) loss deregistration vs reissue


def _deregister_vs_reissue(app, db, session, world) -> str:
    cid, version, pid = _committed_card(world, session, CardStatus.LOSS_REGISTERED)
    teller, resident = world.teller, world.resident(pid)
    winner, error = _one_winner(race(app, db.engine, {
        "deregister": lambda s: lifecycle.deregister_loss(s, teller, cid, id_verified=True,
                                                          expected_version=version),
        "reissue": lambda s: lifecycle.reissue(s, resident, cid, delivery=PICKUP, expected_version=version),
    }))
    session.expire_all()
    card = session.get(Card, cid)
    cards = list(session.scalars(select(Card).where(Card.person_id == pid)))
    assert len(_events(session, cid, "deregister_loss", "reissue")) == 1
    assert _last_status(session, cid) == str(card.status)
    if winner == "deregister":
        # the reissue came second: the card it read had changed (If-Match)
        assert card.status is CardStatus.ACTIVE and len(cards) == 1
        assert not lifecycle.settlement_suspended(session, pid)
    else:
        # the deregistration came second: the card is void (Art. 22), refused by the state table
        assert card.status is CardStatus.INVALIDATED and len(cards) == 2
        if isinstance(error, IllegalTransition):
            assert error.article == "Art. 22"
        assert lifecycle.settlement_suspended(session, pid)
    return winner


def test_loss_deregistration_vs_reissue_one_wins_art22_23(app, db, session, world, pg):
    """Art. 22: deregistration only before a reissue was applied for. A counter deregistering and the
    holder reissuing online at the same moment: one of the two, never both, never a deregistered
    card that was also reissued. Which one wins is up to the scheduler."""
    for _ in range(ROUNDS):
        assert _deregister_vs_reissue(app, db, session, world) in ("deregister", "reissue")


# ---------------------------------------------------------------- (b) two reissues


def _two_reissues(app, db, session, world) -> None:
    cid, version, pid = _committed_card(world, session, CardStatus.LOSS_REGISTERED)
    teller, resident = world.actor("teller_yx"), world.resident(pid)
    winner, error = _one_winner(race(app, db.engine, {
        "outlet": lambda s: lifecycle.reissue(s, teller, cid, delivery=PICKUP, expected_version=version, id_verified=True),
        "online": lambda s: lifecycle.reissue(s, resident, cid, delivery=PICKUP, expected_version=version),
    }))
    if isinstance(error, IllegalTransition):
        assert error.extra.get("state") == "invalidated"
    session.expire_all()
    cards = list(session.scalars(select(Card).where(Card.person_id == pid).order_by(Card.id)))
    assert [c.status for c in cards] == [CardStatus.INVALIDATED, CardStatus.APPLIED]
    new = cards[1]
    assert new.predecessor_id == cid
    (ev,) = _events(session, cid, "reissue")
    assert ev.channel is (Channel.OUTLET if winner == "outlet" else Channel.ONLINE)
    assert len(_events(session, new.id, "apply")) == 1
    assert session.scalar(select(func.count()).select_from(Card).where(Card.predecessor_id == cid)) == 1


def test_two_reissues_of_one_card_make_one_new_card_art23(app, db, session, world, pg):
    """Two counters (an outlet and the holder online) reissue the same lost card at once: one new card."""
    for _ in range(ROUNDS):
        _two_reissues(app, db, session, world)


# ---------------------------------------------------------------- (c) two loss registrations


def _two_loss_registrations(app, db, session, world) -> None:
    cid, version, pid = _committed_card(world, session, CardStatus.ACTIVE)
    hotline, resident = world.teller.via(Channel.BANK_HOTLINE), world.resident(pid)
    winner, _error = _one_winner(race(app, db.engine, {
        "bank_hotline": lambda s: lifecycle.register_loss(s, hotline, cid, expected_version=version),
        "online": lambda s: lifecycle.register_loss(s, resident, cid, expected_version=version),
    }))
    session.expire_all()
    assert session.get(Card, cid).status is CardStatus.LOSS_REGISTERED
    (ev,) = _events(session, cid, "register_loss")
    assert ev.channel is Channel(winner)
    assert _last_status(session, cid) == "loss_registered"
    assert {a.status for a in lifecycle.accounts(session, pid)} == {lifecycle.AccountStatus.SUSPENDED}


def test_two_loss_registrations_one_event_art21(app, db, session, world, pg):
    """The holder online and the bank's hotline register the same loss at once: one registration."""
    for _ in range(ROUNDS):
        _two_loss_registrations(app, db, session, world)


# ---------------------------------------------------------------- without If-Match


def _deregister_and_reissue_without_if_match(app, db, session, world) -> None:
    cid, _version, pid = _committed_card(world, session, CardStatus.LOSS_REGISTERED)
    teller, resident = world.teller, world.resident(pid)
    results = race(app, db.engine, {
        "deregister": lambda s: lifecycle.deregister_loss(s, teller, cid, id_verified=True),
        "reissue": lambda s: lifecycle.reissue(s, resident, cid, delivery=PICKUP),
    })
    assert results["reissue"] == "ok", results  # a reissue is legal from either state
    session.expire_all()
    assert session.get(Card, cid).status is CardStatus.INVALIDATED
    dereg = _events(session, cid, "deregister_loss")
    if results["deregister"] == "ok":
        (ev,) = dereg
        (reissue_ev,) = _events(session, cid, "reissue")
        assert ev.id < reissue_ev.id and reissue_ev.from_status == "active"
    else:
        assert isinstance(results["deregister"], IllegalTransition), results
        assert dereg == []
    assert _last_status(session, cid) == "invalidated"
    assert len(list(session.scalars(select(Card).where(Card.person_id == pid)))) == 2


def test_concurrent_operations_without_if_match_serialize_art22_23(app, db, session, world, pg):
    """Without If-Match the person-row lock still serializes the two: the second sees the first's
    result. Deregistration then reissue is a legal sequence (both succeed); reissue then
    deregistration is not (Art. 22). Either way the events replay to the final state."""
    for _ in range(ROUNDS):
        _deregister_and_reissue_without_if_match(app, db, session, world)


def test_second_counter_waits_for_the_first_and_sees_its_result_art21(app, db, session, world, pg):
    """Deterministic interleaving: the first transaction registers the loss and holds the cardholder's
    row lock without committing; the second blocks on that lock (it does not read the old state and
    go ahead), then, once the first commits, sees the loss and is refused."""
    cid, _version, pid = _committed_card(world, session, CardStatus.ACTIVE)
    first_done, second_finished = threading.Event(), threading.Event()
    out: dict[str, object] = {}

    def second():
        with app.app_context(), Session(db.engine) as s:
            first_done.wait(timeout=10)
            try:
                lifecycle.register_loss(s, world.resident(pid), cid)
                s.commit()
                out["second"] = "ok"
            except DomainError as e:
                s.rollback()
                out["second"] = e
            second_finished.set()

    t = threading.Thread(target=second)
    t.start()
    with Session(db.engine) as s1:
        lifecycle.register_loss(s1, world.teller, cid, id_verified=True)  # holds SELECT … FOR UPDATE on the person
        first_done.set()
        assert not second_finished.wait(timeout=0.5), "the second transaction did not wait for the row lock"
        s1.commit()
    t.join(timeout=10)
    assert second_finished.is_set()
    assert isinstance(out["second"], IllegalTransition), out
    session.expire_all()
    assert len(_events(session, cid, "register_loss")) == 1
