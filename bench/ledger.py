"""Settlement postings per second on PostgreSQL (issue 17), through the whole service path
(``app.services.settlement``: type table, holder lock, suspension rule, field locks, idempotency key, the
embedded ledger's conditional balance update, journal), each posting its own transaction and commit.

Run: ``.venv/bin/python bench/ledger.py [--url postgresql+psycopg://…] [--rounds 3] [--seconds 4]``
(default URL: ``TEST_POSTGRES_URL``, else ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; a schema of
its own is created and dropped).

Each worker is a process (its own interpreter and connection, as gunicorn workers are) that alternates a
benefit payment (credit, financial account) and a premium payment with card + PIN (debit, same account),
on a random one of ``--accounts`` holders, or all on ONE holder for the hot-account figure. PINs are hashed
with the cheap argon2 parameters the test suite uses, so the figure is the ledger's, not argon2's.

Prints per round: postings/s with 1 worker and with 8 on many accounts, their ratio (same round, so machine
noise hits both), and 8 workers on one hot account; then the medians. The last line is one JSON object
with postings_per_s_1, postings_per_s_8, scaling_ratio and hot_account_per_s (medians).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text  # noqa: E402

DEFAULT_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PIN = "135790"


def _cheap_hashing() -> None:
    from argon2 import PasswordHasher

    from app.services import hashing

    hashing.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _app(url: str, schema: str, inst: Path):
    import logging

    from app import create_app

    logging.getLogger("app").setLevel(logging.ERROR)
    sep = "&" if "?" in url else "?"
    return create_app({"TESTING": True, "INSTANCE_DIR": inst, "PRIVACY_KEY_FILE": inst / "keys.json",
                       "ECARD_KEY_DIR": inst / "ecard", "RATELIMIT_ENABLED": False,
                       "SQLALCHEMY_DATABASE_URI": f"{url}{sep}options=-csearch_path%3D{schema}"})


def seed(url: str, schema: str, inst: Path, accounts: int) -> list[tuple[str, int]]:
    """``accounts`` holders with an active card (driven through the real lifecycle) and money: [(card, account)]."""
    from app.extensions import db
    from app.models.enums import AccountKind, CardStatus
    from tests.factories import World
    from tests.ledger_helpers import account_of, fund

    app = _app(url, schema, inst)
    with app.app_context():
        db.create_all()
        world = World.build(db.session)
        holders = []
        for _ in range(accounts):
            card = world.card(CardStatus.ACTIVE)
            fund(db.session, world, card.person_id, 10**8)
            holders.append((card.number, account_of(db.session, card.person_id, AccountKind.FINANCIAL).id))
        db.session.commit()
        db.engine.dispose()
    return holders


def worker(url, schema, inst, holders, seconds, ready, go, out, seed_):
    os.setsid()  # its own session, as an independent client is: Linux autogroup would share one CPU slice
    _cheap_hashing()
    from sqlalchemy import select

    from app.extensions import db
    from app.models import StaffUser
    from app.models.enums import Channel, Role
    from app.models.enums import TransactionType as T
    from app.services import settlement
    from app.services.actor import Actor
    from app.services.errors import DomainError
    from app.services.settlement import Consent

    app = _app(url, schema, inst)
    rng = random.Random(seed_)
    with app.app_context():
        u = db.session.scalar(select(StaffUser).where(StaffUser.username == "social"))
        social = Actor(role=Role.APP_AGENCY, channel=Channel.AGENCY, user_id=u.id, agency_id=u.agency_id)
        db.session.commit()
        ready.release()
        go.wait()
        done = refused = 0
        deadline = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < deadline:
            number, account_id = holders[rng.randrange(len(holders))]
            key = uuid.uuid4().hex
            try:
                if i % 2 == 0:
                    settlement.credit(db.session, social, T.BENEFIT_PAYMENT, rng.randint(1, 999), key=key,
                                      account_id=account_id)
                else:
                    settlement.debit(db.session, social, T.PREMIUM_PAYMENT, rng.randint(1, 999), key=key,
                                     consent=Consent(card_number=number, pin=PIN))
                db.session.commit()
                done += 1
            except DomainError:
                db.session.rollback()
                refused += 1
            i += 1
        db.session.remove()
        db.engine.dispose()
    out.put((done, refused))


def measure(url, schema, inst, holders, workers: int, seconds: float) -> float:
    ctx = mp.get_context("fork")
    ready, go, out = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(url, schema, inst, holders, seconds, ready, go, out, n))
             for n in range(workers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    results = [out.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    refused = sum(r for _, r in results)
    if refused:
        print(f"  ({refused} refused)", flush=True)
    return sum(d for d, _ in results) / max(elapsed, seconds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--accounts", type=int, default=64)
    ap.add_argument("--workers", type=int, default=8)
    args = ap.parse_args(argv)
    _cheap_hashing()
    schema = f"bench_ledger_{os.getpid()}"
    engine = create_engine(args.url)
    with engine.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    inst = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    try:
        holders = seed(args.url, schema, inst, args.accounts)
        print(f"{args.accounts} holders seeded; {args.rounds} rounds of {args.seconds:g} s; cpus {os.cpu_count()}",
              flush=True)
        ones, eights, ratios, hots = [], [], [], []
        for r in range(args.rounds):
            one = measure(args.url, schema, inst, holders, 1, args.seconds)
            eight = measure(args.url, schema, inst, holders, args.workers, args.seconds)
            hot = measure(args.url, schema, inst, holders[:1], args.workers, args.seconds)
            ones.append(one), eights.append(eight), ratios.append(eight / one), hots.append(hot)
            print(f"round {r + 1}: 1 worker {one:.0f}/s, {args.workers} workers {eight:.0f}/s "
                  f"(ratio {eight / one:.2f}), hot account {hot:.0f}/s", flush=True)
        result = {"postings_per_s_1": round(statistics.median(ones), 1),
                  "postings_per_s_8": round(statistics.median(eights), 1),
                  "scaling_ratio": round(statistics.median(ratios), 2),
                  "hot_account_per_s": round(statistics.median(hots), 1),
                  "rounds": args.rounds, "seconds": args.seconds, "accounts": args.accounts,
                  "load_average": round(os.getloadavg()[0], 2)}
        print(json.dumps(result))
    finally:
        with engine.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
