"""The port between the card system and each account holder (Art. 13; ENGINEERING.md "Ports with a real
default").

The card carries two settlement accounts, held by two other systems: the financial account by the
cooperating bank's core, the medical-insurance personal account by the medical insurance fund. The card
system decides WHETHER money may move (``app.services.settlement``: the transaction types of Art. 13, the
suspension of Art. 21, a cancelled card, a locked field); the holder moves it, through this interface:

    authorise(session, account, amount_fen)   would a debit of this amount go through now?
    post(session, request)                    post one balanced transaction, idempotently
    reverse(session, transaction_id, request) post the mirror of an earlier transaction, once
    suspend / resume(session, account)        settlement suspended / resumed (Art. 21, 22)
    balance(session, account)                 the account's balance in fen
    statement(session, account, …)            its postings, newest first

Which implementation holds which account is configuration (``SETTLEMENT_HOLDERS``: ``"medical"``,
``"financial"`` or ``"financial:<bank code>"`` → ``"package.module:Class"``), as warehouse registers its
services. The embedded default, :class:`app.services.ledger.EmbeddedLedger`, is a real double-entry
ledger in the application's database; a bank's adapter would forward the same calls to its core system,
passing the idempotency key through.

Amounts are integer fen (1/100 yuan), never floats. A leg's amount is signed from the account's side:
positive into it, negative out of it; the legs of one transaction sum to zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import Protocol

from flask import current_app
from sqlalchemy.orm import Session

from app.models import SettlementAccount
from app.models.enums import Channel, Role, TransactionType

CURRENCY = "CNY"  # Art. 13 ¶3: an RMB debit application; the personal account is kept in RMB too


@dataclass(frozen=True)
class Leg:
    """One side of a transaction: a holder's settlement account, or a counterparty by code."""

    amount_fen: int
    account_id: int | None = None  # settlement_accounts.id
    counterparty: str | None = None  # e.g. "medical_fund", "cash:ICBC-GZ"


@dataclass(frozen=True)
class Poster:
    """Who posts: shown on the holder's statement (role and organisation)."""

    role: Role
    channel: Channel
    user_id: int | None = None
    resident_id: int | None = None
    agency_id: int | None = None
    bank_id: int | None = None
    outlet_id: int | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class PostingRequest:
    type: TransactionType
    amount_fen: int
    legs: tuple[Leg, ...]
    key_scope: str
    idempotency_key: str
    request_hash: str
    poster: Poster
    currency: str = CURRENCY
    reference: str | None = None
    consent: str | None = None
    ecard_token_id: str | None = None
    reversal_of: int | None = None


@dataclass(frozen=True)
class Posted:
    """A posted transaction, as its first answer said it; ``replayed``: this request only found it."""

    transaction_id: int
    type: TransactionType
    amount_fen: int
    currency: str
    created_at: datetime
    balances: dict[int, int]  # settlement account id → its balance after this transaction
    reference: str | None = None
    reversal_of: int | None = None
    replayed: bool = False


@dataclass(frozen=True)
class Authorisation:
    approved: bool
    reason: str | None = None  # "insufficient_funds"


@dataclass(frozen=True)
class StatementLine:
    transaction_id: int
    at: datetime
    type: TransactionType
    amount_fen: int  # signed: + into the account
    balance_after: int | None
    counterparty: str | None  # the other side: a counterparty code, or "account:<id>"
    reference: str | None
    reversal_of: int | None
    poster: Poster
    consent: str | None = None


@dataclass(frozen=True)
class Statement:
    account_id: int
    balance_fen: int
    currency: str
    lines: list[StatementLine] = field(default_factory=list)


class AccountHolder(Protocol):
    """The system that holds a settlement account's money (a bank's core, the medical insurance fund)."""

    def authorise(self, session: Session, account: SettlementAccount, amount_fen: int) -> Authorisation: ...

    def post(self, session: Session, request: PostingRequest) -> Posted: ...

    def find(self, session: Session, key_scope: str, idempotency_key: str) -> tuple[Posted, str] | None:
        """The transaction an idempotency key posted, with its request hash, or None."""

    def reverse(self, session: Session, transaction_id: int, request: PostingRequest) -> Posted: ...

    def suspend(self, session: Session, account: SettlementAccount) -> None: ...

    def resume(self, session: Session, account: SettlementAccount) -> None: ...

    def balance(self, session: Session, account: SettlementAccount) -> int: ...

    def statement(self, session: Session, account: SettlementAccount, *, before: int | None = None,
                  limit: int = 50) -> Statement: ...

    def legs(self, session: Session, transaction_id: int) -> list[Leg]:
        """The legs of a posted transaction (a reversal mirrors them)."""


def _instantiate(spec: str) -> AccountHolder:
    module, _, name = spec.partition(":")
    return getattr(import_module(module), name)()


def holder_for(account: SettlementAccount, bank_code: str | None = None, app=None) -> AccountHolder:
    """The account holder configured for ``account``: ``financial:<bank code>`` before ``financial``;
    one instance per implementation, so accounts held by the same system post in one transaction."""
    app = app or current_app
    config: dict[str, str] = app.config["SETTLEMENT_HOLDERS"]
    kind = str(account.kind)
    spec = config.get(f"{kind}:{bank_code}") if bank_code else None
    spec = spec or config[kind]
    instances = app.extensions.setdefault("ssc_account_holders", {})
    if spec not in instances:
        instances[spec] = _instantiate(spec)
    return instances[spec]
