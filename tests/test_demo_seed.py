"""``flask demo seed``: every card state, through the real lifecycle, idempotent, passwords never logged."""
from __future__ import annotations

import logging
from collections import defaultdict

import pytest
from sqlalchemy import func, select

from app.models import Card, CardEvent, Person, StaffUser
from app.models.enums import CardStatus
from app.services import clock, deadlines
from app.services.hashing import verify_password
from app.services.lifecycle_rules import Op, event_article

RESIDENTS = 40


def seed(app, *args):
    return app.test_cli_runner().invoke(args=["demo", "seed", "--residents", str(RESIDENTS), *args])


def passwords_in(output: str, usernames: list[str]) -> dict[str, str]:
    """The password column of the printed staff table."""
    found = {}
    for line in output.splitlines():
        words = line.split()
        if words and words[0] in usernames:
            found[words[0]] = words[-1]
    return found


def check_history(card: Card, events: list[CardEvent]) -> None:
    """The card's events chain from ``applied`` to its state, each step allowed by TRANSITIONS."""
    assert events and events[0].operation == Op.APPLY and events[0].to_status == CardStatus.APPLIED, card.number
    state = None
    for ev in events:
        # Every step is a row of TRANSITIONS or a side effect on a predecessor (SIDE_EFFECTS).
        assert (ev.from_status or None) == (state and str(state)), (card.number, ev.operation, ev.from_status, state)
        assert event_article(ev.operation, ev.from_status, ev.to_status), \
            f"card {card.number}: {ev.operation} {ev.from_status}->{ev.to_status} is not in the rules"
        state = CardStatus(ev.to_status)
    assert state == card.status, (card.number, state, card.status)


def test_demo_seed(app, db, session, caplog):
    caplog.set_level(logging.INFO)
    real_now = clock.now
    result = seed(app)
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert clock.now is real_now  # the seeder's virtual clock is restored

    # Every lifecycle state, reached only through the services: each card's events tell its whole story.
    statuses = set(session.scalars(select(Card.status)))
    assert statuses == set(CardStatus)
    events = defaultdict(list)
    for ev in session.scalars(select(CardEvent).where(CardEvent.card_id.is_not(None)).order_by(CardEvent.id)):
        events[ev.card_id].append(ev)
    cards = session.scalars(select(Card)).all()
    for card in cards:
        check_history(card, events[card.id])
    assert session.scalar(select(func.count()).select_from(Person)) == RESIDENTS
    # Events in time order, as if the histories had happened (the audit chain follows the same order).
    times = list(session.scalars(select(CardEvent.created_at).order_by(CardEvent.id)))
    assert times == sorted(times) and times[-1] <= clock.now()
    # Some applications are overdue (Art. 10, 25): they show on the watch list today.
    assert any(row.overdue for row in deadlines.watch_list(session))

    # The staff logins are printed (and work), never logged.
    usernames = list(session.scalars(select(StaffUser.username)))
    printed = passwords_in(result.output, usernames)
    assert set(printed) == set(usernames)
    for user in session.scalars(select(StaffUser)):
        assert verify_password(user.password_hash, printed[user.username])
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert all(pw not in logged for pw in printed.values())
    assert "demo data seeded" in caplog.text

    # A second run changes nothing.
    before = {c.id: (c.status, c.version) for c in cards}
    again = seed(app)
    assert again.exit_code == 0, again.output
    assert "already has demo data" in again.output
    session.expire_all()
    assert {c.id: (c.status, c.version) for c in session.scalars(select(Card))} == before
    assert not set(printed.values()) & set(again.output.split())

    # --reset drops everything and seeds afresh: on SQLite at once, elsewhere only with --yes.
    if db.engine.dialect.name != "sqlite":
        refused = seed(app, "--reset")
        assert refused.exit_code == 2 and "--yes" in refused.output
        return
    hashes = set(session.scalars(select(StaffUser.password_hash)))
    session.remove()
    fresh = seed(app, "--reset")
    assert fresh.exit_code == 0, fresh.output
    assert "Dropped and recreated" in fresh.output and "already has demo data" not in fresh.output
    assert set(db.session.scalars(select(StaffUser.password_hash))).isdisjoint(hashes)  # new random passwords


def test_demo_seed_refuses_other_data(app, db, session, world):
    session.commit()
    result = seed(app)
    assert result.exit_code == 1 and "not demo data" in result.output


@pytest.mark.parametrize("residents", ["5"])
def test_demo_seed_needs_enough_residents(app, db, residents):
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--residents", residents])
    assert result.exit_code == 2


def test_demo_passwords_resets_and_prints_the_staff_passwords(app, db, session, caplog):
    """`flask demo seed` prints the passwords once; `flask demo passwords` sets new ones and prints
    them again (all accounts, or the ones named), never logging them."""
    caplog.set_level(logging.INFO)
    assert seed(app).exit_code == 0
    usernames = list(session.scalars(select(StaffUser.username)))
    old = {u.username: u.password_hash for u in session.scalars(select(StaffUser))}
    session.remove()
    result = app.test_cli_runner().invoke(args=["demo", "passwords"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    printed = passwords_in(result.output, usernames)
    assert set(printed) == set(usernames)
    users = {u.username: u for u in db.session.scalars(select(StaffUser))}
    for name, password in printed.items():
        assert verify_password(users[name].password_hash, password)
        assert users[name].password_hash != old[name]
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert all(pw not in logged for pw in printed.values())

    db.session.remove()
    one = app.test_cli_runner().invoke(args=["demo", "passwords", "hrss.admin"])
    assert one.exit_code == 0, one.output
    assert set(passwords_in(one.output, usernames)) == {"hrss.admin"}
    after = {u.username: u.password_hash for u in db.session.scalars(select(StaffUser))}
    assert after["hrss.admin"] != users["hrss.admin"].password_hash
    assert all(after[n] == users[n].password_hash for n in usernames if n != "hrss.admin")

    unknown = app.test_cli_runner().invoke(args=["demo", "passwords", "nobody"])
    assert unknown.exit_code == 1 and "nobody" in unknown.output


def test_demo_passwords_refused_on_data_that_is_not_demo(app, db, session, world):
    session.commit()
    result = app.test_cli_runner().invoke(args=["demo", "passwords"])
    assert result.exit_code == 1 and "not demo data" in result.output


def test_demo_passwords_ends_the_sessions_of_the_old_password(app, db, session, client):
    """A reset password is a new credential: sign-ins made with the old one stop working at once."""
    result = seed(app)
    assert result.exit_code == 0, result.output
    usernames = list(session.scalars(select(StaffUser.username)))
    old_password = passwords_in(result.output, usernames)["hrss.admin"]
    login = client.post("/api/auth/login", json={"username": "hrss.admin", "password": old_password})
    assert login.status_code == 200, login.get_json()
    refresh = {"Authorization": f"Bearer {login.get_json()['refresh_token']}"}
    session.remove()
    assert app.test_cli_runner().invoke(args=["demo", "passwords", "hrss.admin"]).exit_code == 0
    assert client.post("/api/auth/refresh", headers=refresh).status_code == 401
