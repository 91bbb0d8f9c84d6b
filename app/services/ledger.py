"""The embedded account holder: a double-entry ledger in the application's database (Art. 2, 13).

The default of ``SETTLEMENT_HOLDERS`` for both accounts (``app.services.settlement_port``). What it
guarantees, on PostgreSQL and SQLite alike:

* amounts are integer fen; every transaction's legs sum to zero (checked before anything is written);
* a holder account's balance is kept in ``ledger_accounts`` and changed in the same transaction as its
  postings, by a conditional statement (``balance + d >= 0``): no lost update, never negative (also a
  CHECK constraint);
* counterparties (the medical insurance fund, a bank's cash…) keep no running balance: their position is
  the sum of their postings, so no posting waits on a counterparty's row;
* the holder accounts are locked (FOR UPDATE, ascending ids) and the funds checked before anything is written,
  so a refusal leaves the caller's transaction untouched; the idempotency key is unique per caller: a
  concurrent duplicate waits on the lock, then fails on the unique constraint, and the caller answers with
  the transaction that won (``app.services.settlement``);
* :func:`reconcile` recomputes everything from the journal.

``suspend`` and ``resume`` do nothing here: this holder shares the card system's database, where the
account's status (``app.services.lifecycle``) is the one rule the settlement service reads, under a lock,
before every posting. A bank core's adapter would freeze and unfreeze the account there.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.models import LedgerAccount, LedgerPosting, LedgerTransaction, SettlementAccount
from app.services import clock
from app.services.errors import DomainError
from app.services.settlement_port import (
    Authorisation,
    Leg,
    Posted,
    Poster,
    PostingRequest,
    Statement,
    StatementLine,
)


class InsufficientFunds(DomainError):
    status, type, title = 409, "insufficient-funds", "Insufficient funds"


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _ledger_account(session: Session, leg: Leg, currency: str) -> int:
    """The ledger account of a leg, opened on first use (concurrent first uses open it once)."""
    column, value = ((LedgerAccount.settlement_account_id, leg.account_id) if leg.account_id is not None
                     else (LedgerAccount.code, leg.counterparty))
    found = session.scalar(select(LedgerAccount.id).where(column == value))
    if found is not None:
        return found
    values = {"settlement_account_id": leg.account_id, "code": leg.counterparty, "currency": currency,
              "balance_fen": 0, "opened_at": clock.now()}
    session.execute(_insert(session)(LedgerAccount).values(**values).on_conflict_do_nothing(
        index_elements=[column.key]))
    return session.scalar(select(LedgerAccount.id).where(column == value))


def _ledger_accounts(session: Session, legs, currency: str) -> list[int]:
    """The ledger accounts of the legs, in one query when they all exist (the usual case)."""
    holders = [leg.account_id for leg in legs if leg.account_id is not None]
    codes = [leg.counterparty for leg in legs if leg.account_id is None]
    found = session.execute(select(LedgerAccount.id, LedgerAccount.settlement_account_id, LedgerAccount.code)
                            .where(or_(LedgerAccount.settlement_account_id.in_(holders),
                                       LedgerAccount.code.in_(codes)))).all()
    by_holder = {r[1]: r[0] for r in found if r[1] is not None}
    by_code = {r[2]: r[0] for r in found if r[2] is not None}
    if any(leg.account_id is not None and leg.amount_fen < 0 and leg.account_id not in by_holder for leg in legs):
        raise InsufficientFunds("The account's balance does not cover this amount.", article="Art. 13")
    return [(by_holder.get(leg.account_id) if leg.account_id is not None else by_code.get(leg.counterparty))
            or _ledger_account(session, leg, currency) for leg in legs]


def _posted(session: Session, tx: LedgerTransaction, *, replayed: bool) -> Posted:
    rows = session.execute(
        select(LedgerAccount.settlement_account_id, LedgerPosting.balance_after)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(LedgerPosting.transaction_id == tx.id, LedgerAccount.settlement_account_id.is_not(None))
    ).all()
    return Posted(transaction_id=tx.id, type=tx.type, amount_fen=tx.amount_fen, currency=tx.currency,
                  created_at=tx.created_at, balances={r[0]: r[1] for r in rows}, reference=tx.reference,
                  reversal_of=tx.reversal_of_id, replayed=replayed)


def _poster(tx: LedgerTransaction) -> Poster:
    return Poster(role=tx.actor_role, channel=tx.channel, user_id=tx.actor_id, resident_id=tx.resident_id,
                  agency_id=tx.agency_id, bank_id=tx.bank_id, outlet_id=tx.outlet_id, request_id=tx.request_id)


class EmbeddedLedger:
    """:class:`app.services.settlement_port.AccountHolder` on the application's own database."""

    def authorise(self, session: Session, account: SettlementAccount, amount_fen: int) -> Authorisation:
        if self.balance(session, account) < amount_fen:
            return Authorisation(False, "insufficient_funds")
        return Authorisation(True)

    def balance(self, session: Session, account: SettlementAccount) -> int:
        return session.scalar(select(LedgerAccount.balance_fen)
                              .where(LedgerAccount.settlement_account_id == account.id)) or 0

    def suspend(self, session: Session, account: SettlementAccount) -> None:
        """Nothing to do: the account's status in this database is the rule (module docstring)."""

    def resume(self, session: Session, account: SettlementAccount) -> None:
        """Nothing to do: the account's status in this database is the rule (module docstring)."""

    def find(self, session: Session, key_scope: str, idempotency_key: str) -> tuple[Posted, str] | None:
        tx = session.scalar(select(LedgerTransaction).where(
            LedgerTransaction.key_scope == key_scope, LedgerTransaction.idempotency_key == idempotency_key))
        return (_posted(session, tx, replayed=True), tx.request_hash) if tx is not None else None

    def legs(self, session: Session, transaction_id: int) -> list[Leg]:
        rows = session.execute(
            select(LedgerPosting.amount_fen, LedgerAccount.settlement_account_id, LedgerAccount.code)
            .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
            .where(LedgerPosting.transaction_id == transaction_id).order_by(LedgerPosting.id)).all()
        return [Leg(amount_fen=r[0], account_id=r[1], counterparty=r[2]) for r in rows]

    def post(self, session: Session, request: PostingRequest) -> Posted:
        legs = request.legs
        if (len(legs) < 2 or sum(leg.amount_fen for leg in legs) != 0 or any(leg.amount_fen == 0 for leg in legs)
                or sum(leg.amount_fen for leg in legs if leg.amount_fen > 0) != request.amount_fen):
            raise ValueError(f"unbalanced transaction: {legs}")  # a programming error, never the caller's input
        ids = _ledger_accounts(session, legs, request.currency)
        # Lock the holder accounts (ascending ids: no circular wait) and refuse what the balance does not cover
        # BEFORE writing anything: a refusal leaves the caller's transaction as it was.
        holder = sorted((lid, leg) for lid, leg in zip(ids, legs) if leg.account_id is not None)
        locked = dict(session.execute(
            select(LedgerAccount.id, LedgerAccount.balance_fen).where(LedgerAccount.id.in_([lid for lid, _ in holder]))
            .order_by(LedgerAccount.id).with_for_update()).all())
        if any(locked[lid] + leg.amount_fen < 0 for lid, leg in holder):
            raise InsufficientFunds("The account's balance does not cover this amount.", article="Art. 13")
        p = request.poster
        tx = LedgerTransaction(
            type=request.type, amount_fen=request.amount_fen, currency=request.currency,
            key_scope=request.key_scope, idempotency_key=request.idempotency_key,
            request_hash=request.request_hash, reversal_of_id=request.reversal_of,
            ecard_token_id=request.ecard_token_id, reference=request.reference, consent=request.consent,
            actor_role=p.role, actor_id=p.user_id, resident_id=p.resident_id, agency_id=p.agency_id,
            bank_id=p.bank_id, outlet_id=p.outlet_id, channel=p.channel, request_id=p.request_id,
            created_at=clock.now())
        session.add(tx)
        session.flush()  # the key: a concurrent duplicate that got past the locks fails on the unique constraint
        after: dict[int, int] = {}
        for lid, leg in holder:
            new = session.execute(  # conditional as well: never negative, even where FOR UPDATE is a no-op (SQLite)
                update(LedgerAccount)
                .where(LedgerAccount.id == lid, LedgerAccount.balance_fen + leg.amount_fen >= 0)
                .values(balance_fen=LedgerAccount.balance_fen + leg.amount_fen)
                .returning(LedgerAccount.balance_fen)
                .execution_options(synchronize_session=False)
            ).scalar()
            if new is None:
                raise InsufficientFunds("The account's balance does not cover this amount.", article="Art. 13")
            after[lid] = new
        session.add_all([LedgerPosting(transaction_id=tx.id, account_id=lid, amount_fen=leg.amount_fen,
                                       balance_after=after.get(lid)) for lid, leg in zip(ids, legs)])
        session.flush()
        return Posted(transaction_id=tx.id, type=tx.type, amount_fen=tx.amount_fen, currency=tx.currency,
                      created_at=tx.created_at, reference=tx.reference, reversal_of=tx.reversal_of_id,
                      balances={leg.account_id: after[lid] for lid, leg in holder})

    def reverse(self, session: Session, transaction_id: int, request: PostingRequest) -> Posted:
        mirrored = tuple(replace(leg, amount_fen=-leg.amount_fen) for leg in self.legs(session, transaction_id))
        return self.post(session, replace(request, legs=mirrored, reversal_of=transaction_id))

    def statement(self, session: Session, account: SettlementAccount, *, before: int | None = None,
                  limit: int = 50) -> Statement:
        mine = session.scalar(select(LedgerAccount).where(LedgerAccount.settlement_account_id == account.id))
        if mine is None:
            return Statement(account.id, 0, "CNY", [])
        q = (select(LedgerPosting, LedgerTransaction)
             .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
             .where(LedgerPosting.account_id == mine.id).order_by(LedgerPosting.id.desc()).limit(limit))
        if before is not None:
            q = q.where(LedgerPosting.transaction_id < before)
        rows = session.execute(q).all()
        others: dict[int, str] = {}
        if rows:
            for tx_id, sa_id, code in session.execute(
                    select(LedgerPosting.transaction_id, LedgerAccount.settlement_account_id, LedgerAccount.code)
                    .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
                    .where(LedgerPosting.transaction_id.in_([t.id for _, t in rows]),
                           LedgerPosting.account_id != mine.id)):
                others.setdefault(tx_id, code or f"account:{sa_id}")
        lines = [StatementLine(transaction_id=t.id, at=t.created_at, type=t.type, amount_fen=p.amount_fen,
                               balance_after=p.balance_after, counterparty=others.get(t.id), reference=t.reference,
                               reversal_of=t.reversal_of_id, poster=_poster(t), consent=t.consent)
                 for p, t in rows]
        return Statement(account.id, mine.balance_fen, mine.currency, lines)


# ---------------------------------------------------------------- reconciliation


@dataclass(frozen=True)
class Reconciliation:
    problems: list[str]
    transactions: int
    money_in: int  # into the card's accounts from counterparties
    money_out: int  # from the card's accounts to counterparties
    balances: int  # the holder accounts' balances, summed

    @property
    def clean(self) -> bool:
        return not self.problems


def reconcile(session: Session) -> Reconciliation:
    """Recompute everything from the journal: every holder balance equals the sum of its postings and is not
    negative; every transaction has two legs or more that sum to zero, its amount the sum of its inflows; a
    reversal reverses a transaction that exists; money in = money out + balances."""
    problems: list[str] = []
    sums = dict(session.execute(select(LedgerPosting.account_id, func.sum(LedgerPosting.amount_fen))
                                .group_by(LedgerPosting.account_id)).all())
    holders = session.execute(select(LedgerAccount.id, LedgerAccount.settlement_account_id, LedgerAccount.code,
                                     LedgerAccount.balance_fen).order_by(LedgerAccount.id)).all()
    balances = 0
    for lid, sa_id, code, balance in holders:
        journal = int(sums.get(lid) or 0)
        if sa_id is None:
            continue
        balances += balance
        if balance != journal:
            problems.append(f"account {sa_id}: balance {balance} fen, journal {journal} fen "
                            f"(differs by {balance - journal})")
        if balance < 0:
            problems.append(f"account {sa_id}: negative balance {balance} fen")
    legs = session.execute(
        select(LedgerTransaction.id, LedgerTransaction.amount_fen, func.count(LedgerPosting.id),
               func.coalesce(func.sum(LedgerPosting.amount_fen), 0),
               func.coalesce(func.sum(func.abs(LedgerPosting.amount_fen)), 0))
        .outerjoin(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .group_by(LedgerTransaction.id, LedgerTransaction.amount_fen)).all()
    for tx_id, amount, n, total, absolute in legs:
        if n < 2:
            problems.append(f"transaction {tx_id}: {n} leg(s)")
        if total != 0:
            problems.append(f"transaction {tx_id}: legs sum to {total} fen, not 0")
        if absolute != 2 * amount:
            problems.append(f"transaction {tx_id}: amount {amount} fen, legs move {absolute // 2}")
    counterparty = {lid for lid, sa_id, _, _ in holders if sa_id is None}
    money_in = -sum(int(v) for k, v in _signed_sums(session, counterparty, negative=True).items())
    money_out = sum(int(v) for v in _signed_sums(session, counterparty, negative=False).values())
    if money_in != money_out + balances:
        problems.append(f"money in {money_in} fen ≠ money out {money_out} fen + balances {balances} fen")
    return Reconciliation(problems, len(legs), money_in, money_out, balances)


def _signed_sums(session: Session, accounts: set[int], *, negative: bool) -> dict[int, int]:
    if not accounts:
        return {}
    cond = LedgerPosting.amount_fen < 0 if negative else LedgerPosting.amount_fen > 0
    return dict(session.execute(select(LedgerPosting.account_id, func.sum(LedgerPosting.amount_fen))
                                .where(LedgerPosting.account_id.in_(accounts), cond)
                                .group_by(LedgerPosting.account_id)).all())

