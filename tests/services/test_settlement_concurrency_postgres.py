"""Money under concurrency on PostgreSQL (Art. 13, 21, 24(3)): 8 workers × 1,000 random operations on a few
holders' accounts, each worker in its own session and transaction per operation as API requests are, with
retries of earlier requests (same caller, same idempotency key, same body) that race their originals, while
one worker also registers and deregisters a loss and carries a bank change through to the former bank's
confirmation. Afterwards: the ledger reconciles, no balance is negative, no key posted twice, every posting a
worker was told of is in the journal and nothing else is, no debit posted inside a loss it started after,
and nothing deadlocked (a deadlock is an error, not a refusal)."""
from __future__ import annotations

import logging
import random
import threading
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

    pool: list[tuple] = []  # (actor, kind, args) of requests sent, retried by anyone
    pool_lock = threading.Lock()
    outcomes: dict[tuple[str, str], list[int]] = defaultdict(list)  # (scope, key) -> transaction ids answered
    debits: list[tuple[int, float, float]] = []  # (holder, started, finished) of successful debits
    loss_windows: list[tuple[float, float]] = []  # (loss committed, deregistration started) on LOSS_HOLDER
    errors: list[BaseException] = []
    refusals: dict[str, int] = defaultdict(int)

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
        return world.resident(persons[h]), "debit", dict(type=T.TRANSFER, amount_fen=amount, key=k,
                                                         consent=Consent(pin=PIN), to_account_id=target), h

    def send(s: Session, actor, kind: str, kwargs: dict, h: int) -> None:
        started = time.monotonic()
        try:
            fn = settlement.credit if kind == "credit" else settlement.debit
            args = dict(kwargs)
            posted = fn(s, actor, args.pop("type"), args.pop("amount_fen"), **args)
            s.commit()
        except DomainError as e:
            s.rollback()
            refusals[f"{type(e).__name__} {e.article}"] += 1
            return
        outcomes[(settlement.key_scope(actor), kwargs["key"])].append(posted.transaction_id)
        if kind == "debit" and not posted.replayed:
            debits.append((h, started, time.monotonic()))

    def lifecycle_step(s: Session, i: int) -> None:
        """Worker 0 races a loss registration and a bank change against everyone's money."""
        if i == 150:
            lifecycle.register_loss(s, actors["teller"], card_ids[LOSS_HOLDER], id_verified=True)
            s.commit()
            loss_windows.append((time.monotonic(), float("inf")))
        elif i == 450:
            loss_windows[-1] = (loss_windows[-1][0], time.monotonic())
            lifecycle.deregister_loss(s, actors["teller"], card_ids[LOSS_HOLDER], id_verified=True)
            s.commit()
        elif i == 300:
            lifecycle.replace(s, actors["new_teller"], card_ids[BANK_CHANGE_HOLDER], delivery=PICKUP,
                              reason=ReplacementReason.BANK_CHANGE, new_bank_id=world.banks[1].id)
            s.commit()
        elif i == 700:
            lifecycle.confirm_unbind(s, actors["teller"], persons[BANK_CHANGE_HOLDER])
            s.commit()

    barrier = threading.Barrier(WORKERS)

    def worker(n: int) -> None:
        rng = random.Random(1_000 + n)
        with app.app_context(), Session(db.engine) as s:
            try:
                barrier.wait(timeout=30)
                for i in range(OPS):
                    if n == 0:
                        lifecycle_step(s, i)
                    with pool_lock:
                        retry = pool[rng.randrange(len(pool))] if pool and rng.random() < 0.15 else None
                    if retry is None:
                        retry = request(s, rng)
                        with pool_lock:
                            pool.append(retry)  # before it is sent: a retry may race the original
                    send(s, *retry)
            except BaseException as e:  # noqa: BLE001 - judged below, not lost in the thread
                s.rollback()
                errors.append(e)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in threads), "a worker is stuck"
    assert not errors, errors[:3]  # no deadlock, no unhandled conflict: only refusals with an article

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
    (loss_at, dereg_at), = loss_windows
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
