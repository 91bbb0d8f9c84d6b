"""Money under concurrency on PostgreSQL (Art. 13, 21, 24(3)): 8 workers × 1,000 random operations on a few
holders' accounts, each worker a process with its own connection (as gunicorn workers are) and one
transaction per operation as API requests are, with
retries of earlier requests (same caller, same idempotency key, same body) that race their originals, while
one worker also registers and deregisters a loss and carries a bank change through to the former bank's
confirmation. Afterwards: the ledger reconciles, no balance is negative, no key posted twice, every posting a
worker was told of is in the journal and nothing else is, no debit posted inside a loss it started after,
and nothing deadlocked (a deadlock is an error, not a refusal)."""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import random
import time
import uuid
from collections import defaultdict

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Card, LedgerTransaction, SettlementAccount
from app.models.enums import AccountKind, AccountStatus, CardStatus, ReplacementReason
from app.models.enums import TransactionType as T
from app.services import lifecycle, settlement
from app.services.errors import DomainError
from app.services.ledger import reconcile
from app.services.settlement import Consent
from tests.factories import PICKUP, PIN
from tests.ledger_helpers import account_of, fund, social_insurance

WORKERS, OPS, HOLDERS = 8, 1_000, 4
LOSS_HOLDER, BANK_CHANGE_HOLDER = 1, 0


@pytest.fixture
def pg(backend):
    if backend == "sqlite":
        pytest.skip("concurrent transactions with row locks: PostgreSQL only (SQLite serializes every writer)")


@pytest.fixture
def quiet_sql():
    """SQL statements are not logged during the run: the log guard formats every record, and 8,000 operations'
    statements would cost minutes. Money operations log no PIN and no ID number anyway (the rest of the
    suite, with the same code paths, runs under the guard)."""
    logger = logging.getLogger("sqlalchemy")
    level = logger.level
    logger.setLevel(logging.WARNING)
    yield
    logger.setLevel(level)


def test_eight_workers_thousand_operations_reconcile_art13_21_24(app, db, session, world, pg, quiet_sql):
    cards = [world.card(CardStatus.ACTIVE) for _ in range(HOLDERS)]
    for c in cards:
        fund(session, world, c.person_id, 50_000)
    actors = {"teller": world.teller, "medical": world.actor("medical"), "social": social_insurance(world),
              "new_teller": world.actor("teller_ccb")}
    session.commit()
    numbers = [c.number for c in cards]
    persons = [c.person_id for c in cards]
    card_ids = [c.id for c in cards]
    issuer = app.extensions["ecard_issuer"]

    ctx = mp.get_context("fork")
    manager = ctx.Manager()
    pool = manager.list()  # (actor, kind, kwargs, holder) of requests sent, retried by any worker
    loss_windows = manager.list()  # (loss committed, deregistration started) on LOSS_HOLDER
    out = ctx.Queue()

    def request(s: Session, rng: random.Random):
        """A random money operation: (actor, 'credit'|'debit', kwargs, holder)."""
        h = rng.randrange(HOLDERS)
        amount = rng.randint(1, 5_000)
        k = f"w-{uuid.uuid4().hex}"
        op = rng.choice(["deposit", "benefit", "fund", "settle", "withdraw", "transfer", "premium"])
        if op == "deposit":
            return actors["teller"], "credit", dict(type=T.DEPOSIT, amount_fen=amount, key=k, card_number=numbers[h]), h
        if op == "benefit":
            return actors["social"], "credit", dict(type=T.BENEFIT_PAYMENT, amount_fen=amount, key=k,
                                                    card_number=numbers[h]), h
        if op == "fund":
            return actors["medical"], "credit", dict(type=T.FUND_TRANSFER_IN, amount_fen=amount, key=k,
                                                     card_number=numbers[h]), h
        if op == "settle":
            code = issuer.issue(s, persons[h])[0].token
            return actors["medical"], "debit", dict(type=T.MEDICAL_SETTLEMENT, amount_fen=amount, key=k,
                                                    consent=Consent(ecard_token=code)), h
        if op == "withdraw":
            return actors["teller"], "debit", dict(type=T.WITHDRAWAL, amount_fen=amount, key=k,
                                                   consent=Consent(card_number=numbers[h], pin=PIN)), h
        if op == "premium":
            return actors["social"], "debit", dict(type=T.PREMIUM_PAYMENT, amount_fen=amount, key=k,
                                                   consent=Consent(card_number=numbers[h], pin=PIN)), h
        to = (h + 1 + rng.randrange(HOLDERS - 1)) % HOLDERS
        target = account_of(s, persons[to], AccountKind.FINANCIAL).id
        return residents[h], "debit", dict(type=T.TRANSFER, amount_fen=amount, key=k,
                                           consent=Consent(pin=PIN), to_account_id=target), h

    def lifecycle_step(s: Session, i: int) -> None:
        """Worker 0 races a loss registration and a bank change against everyone's money."""
        if i == 150:
            lifecycle.register_loss(s, actors["teller"], card_ids[LOSS_HOLDER], id_verified=True)
            s.commit()
            loss_windows.append((time.monotonic(), float("inf")))
        elif i == 450:
            loss_windows[0] = (loss_windows[0][0], time.monotonic())
            lifecycle.deregister_loss(s, actors["teller"], card_ids[LOSS_HOLDER], id_verified=True)
            s.commit()
        elif i == 300:
            lifecycle.replace(s, actors["new_teller"], card_ids[BANK_CHANGE_HOLDER], delivery=PICKUP,
                              reason=ReplacementReason.BANK_CHANGE, new_bank_id=bank_ids[1])
            s.commit()
        elif i == 700:
            lifecycle.confirm_unbind(s, actors["teller"], persons[BANK_CHANGE_HOLDER])
            s.commit()

    def worker(n: int, ready, go) -> None:
        """One worker process (no shared interpreter lock: as gunicorn workers), its own connection."""
        os.setsid()  # its own scheduling group (Linux autogroup), as an independent server process
        db.engine.dispose(close=False)  # never reuse the parent's connections
        rng = random.Random(1_000 + n)
        outcomes, debits, refusals, errors = [], [], defaultdict(int), []
        with Session(db.engine) as s:
            ready.release()
            go.wait()
            for i in range(OPS):
                try:
                    if n == 0:
                        lifecycle_step(s, i)
                    size = len(pool)
                    retry = pool[rng.randrange(size)] if size and rng.random() < 0.15 else None
                    if retry is None:
                        retry = request(s, rng)
                        pool.append(retry)  # before it is sent: a retry may race the original
                    actor, kind, kwargs, h = retry
                    started = time.monotonic()
                    fn = settlement.credit if kind == "credit" else settlement.debit
                    args = dict(kwargs)
                    try:
                        posted = fn(s, actor, args.pop("type"), args.pop("amount_fen"), **args)
                        s.commit()
                    except DomainError as e:
                        s.rollback()
                        refusals[f"{type(e).__name__} {e.article}"] += 1
                        continue
                    outcomes.append((settlement.key_scope(actor), kwargs["key"], posted.transaction_id))
                    if kind == "debit" and not posted.replayed:
                        debits.append((h, started, time.monotonic()))
                except BaseException as e:  # noqa: BLE001 - judged by the parent, not lost in the process
                    s.rollback()
                    errors.append(repr(e)[:500])
        out.put((outcomes, debits, dict(refusals), errors))

    residents = [world.resident(p) for p in persons]
    bank_ids = [b.id for b in world.banks]
    db.session.remove()
    db.engine.dispose()
    ready, go = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=worker, args=(n, ready, go)) for n in range(WORKERS)]
    for p in procs:
        p.start()
    for _ in procs:
        assert ready.acquire(timeout=60), "a worker did not start"
    started = time.monotonic()
    go.set()
    results = [out.get(timeout=900) for _ in procs]
    elapsed = time.monotonic() - started
    for p in procs:
        p.join(timeout=60)
    outcomes_by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    debits, refusals, errors = [], defaultdict(int), []
    for o, d, r, e in results:
        for scope, k, tx in o:
            outcomes_by_key[(scope, k)].append(tx)
        debits += d
        errors += e
        for name, n in r.items():
            refusals[name] += n
    windows = list(loss_windows)
    manager.shutdown()
    assert not errors, errors[:3]  # no deadlock, no unhandled conflict: only refusals with an article
    outcomes = outcomes_by_key

    session.expire_all()
    r = reconcile(session)
    assert r.clean, r.problems
    # no key posted twice, and every answer for one key named the same transaction
    assert all(len(set(ids)) == 1 for ids in outcomes.values()), [v for v in outcomes.values() if len(set(v)) > 1]
    per_key = session.execute(select(LedgerTransaction.key_scope, LedgerTransaction.idempotency_key,
                                     func.count()).group_by(LedgerTransaction.key_scope,
                                                            LedgerTransaction.idempotency_key)).all()
    assert all(n == 1 for _, _, n in per_key)
    # every posting a worker was told of is in the journal, and the journal holds nothing else
    told = {ids[0] for ids in outcomes.values()}
    journal = set(session.scalars(select(LedgerTransaction.id).where(
        LedgerTransaction.key_scope != "system",
        LedgerTransaction.idempotency_key.like("w-%"))))
    assert told == journal
    # Art. 21: no debit on the lost card's holder that started after the loss and ended before its deregistration
    (loss_at, dereg_at), = windows
    inside = [d for d in debits if d[0] == LOSS_HOLDER and d[1] > loss_at and d[2] < dereg_at]
    assert inside == []
    assert refusals.get("SettlementRefused Art. 21", 0) > 0
    # Art. 24(3): the former account closed empty; its balance is at the new bank; the personal account stayed
    accts = {(a.kind, a.status): a for a in session.scalars(select(SettlementAccount).where(
        SettlementAccount.person_id == persons[BANK_CHANGE_HOLDER]))}
    old = accts[(AccountKind.FINANCIAL, AccountStatus.CLOSED)]
    assert settlement.balance(session, old) == 0
    assert any(t.type is T.BANK_CHANGE_MOVE for t in session.scalars(select(LedgerTransaction)))
    assert session.get(Card, card_ids[BANK_CHANGE_HOLDER]).status is CardStatus.REPLACEMENT_PENDING
    print(f"\n{WORKERS}×{OPS} operations in {elapsed:.1f} s; {len(journal)} postings; refusals {dict(refusals)}")
