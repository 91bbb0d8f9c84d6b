"""The agencies' feed under concurrent writes on PostgreSQL (Art. 26: an agency must learn of every change):
several threads write lifecycle events, each in its own transaction that lingers after its event was
written, while a consumer pages the feed with a small page size. Every committed event reaches the
consumer exactly once, in ``seq`` order, and ``seq`` has no gaps (app.services.agency_feed: numbers are
handed out in commit order). PostgreSQL only: SQLite serialises whole-database writes by itself."""
from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AgencyEvent
from app.models.enums import Channel, Field, Role
from app.services import agency_api, agency_feed, lifecycle
from app.services.actor import Actor

WRITERS, ROUNDS, PAGE = 4, 10, 3


@pytest.fixture
def pg(backend):
    if backend == "sqlite":
        pytest.skip("concurrent transactions: PostgreSQL only")


def test_no_event_lost_or_duplicated_across_pages_under_concurrent_writes_art26(pg, app, db, world, session,
                                                                                 monkeypatch):
    cards = [world.card("active") for _ in range(WRITERS)]
    med = world.agencies["MED"].id
    teller = world.teller
    lifecycle.set_field_lock(session, teller, cards[0].id, field=Field.MEDICAL, locked=True)  # the counter row
    lifecycle.set_field_lock(session, teller, cards[0].id, field=Field.MEDICAL, locked=False)
    session.commit()
    card_ids = [c.id for c in cards]

    # Each writing transaction lingers a little after its feed event was written, before it commits: the
    # window in which a number assigned at INSERT time would be overtaken by a later one.
    real_emit = agency_feed.emit

    def slow_emit(*args, **kwargs):
        event = real_emit(*args, **kwargs)
        time.sleep(random.uniform(0, 0.02))
        return event

    monkeypatch.setattr(agency_feed, "emit", slow_emit)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()
    start = threading.Barrier(WRITERS + 1)

    def writer(card_id: int) -> None:
        try:
            with app.app_context(), Session(db.engine) as s:
                start.wait(timeout=10)
                for i in range(ROUNDS):
                    lifecycle.set_field_lock(s, teller, card_id, field=Field.MEDICAL, locked=i % 2 == 0)
                    time.sleep(random.uniform(0, 0.01))
                    s.commit()
        except BaseException as e:  # noqa: BLE001 - judged by the test
            errors.append(e)

    consumed: list[tuple[int, str]] = []
    pages = [0]

    def consumer() -> None:
        actor = Actor(role=Role.APP_AGENCY, channel=Channel.AGENCY, agency_id=med)
        cursor = 0
        try:
            with app.app_context(), Session(db.engine) as s:
                start.wait(timeout=10)
                while True:
                    done = not writing.is_set()  # read before the page: a page after the writers ended
                    page = agency_api.feed(s, actor, after=cursor, limit=PAGE)
                    s.commit()
                    pages[0] += 1
                    consumed.extend((e["seq"], e["id"]) for e in page["events"])
                    cursor = int(page["next_cursor"])
                    if done and not page["has_more"]:
                        return
                    if not page["events"]:
                        time.sleep(0.002)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(cid,)) for cid in card_ids]
    reader = threading.Thread(target=consumer)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join(timeout=120)
    writing.clear()
    reader.join(timeout=120)
    assert not any(t.is_alive() for t in [*threads, reader]), "a thread is stuck: deadlock?"
    assert errors == []

    session.expire_all()
    committed = [(e.seq, e.id) for e in session.scalars(select(AgencyEvent).order_by(AgencyEvent.seq))]
    assert len(committed) == 2 + WRITERS * ROUNDS
    assert [s for s, _ in committed] == list(range(1, len(committed) + 1))  # commit-ordered, no gaps
    assert consumed == committed  # every event once, in order: none lost, none duplicated
    assert pages[0] > len(committed) // PAGE  # it really paged while the writers wrote
