"""Settlement: money on the card's two accounts (Art. 2, 13, 21, 24, 26; Art. 6 field locks).

The card system decides here WHETHER money may move; the account's holder (the bank's core, the medical
insurance fund; ``settlement_port``) moves it. Rules, each written once:

* :data:`RULES`: each transaction type on ONE account kind, as Art. 13 lists them, with who may post it
  and whether the holder must be present (their e-card code, or the card and its PIN). Any other
  combination is refused naming Art. 13.
* Debits are refused while settlement is suspended (Art. 21: ``lifecycle.settlement_suspended``, THE
  rule), on a cancelled card or closed account (Art. 26), on a locked application field (Art. 6: the
  medical field for the personal account, the finance field for the financial account), before the card
  is activated (Art. 6). Credits to a suspended holder post as ``SUSPENDED_ACCOUNTS_ACCEPT_INFLOWS``
  says (Art. 21; default: they post).
* Every posting needs an idempotency key, unique per caller: a retried request posts once and gets the
  first answer, also when the retry races the original (the key is written first; the loser of the race
  rolls back and answers with the winner's transaction). The same key with another request is refused.
  A refused request writes nothing, so its retry is decided afresh.
* Concurrency: before deciding, the holders' rows are read ``FOR KEY SHARE`` in id order (:func:`lock_holders`),
  so a debit and a loss registration (which holds the row ``FOR UPDATE``) serialize: a debit either commits
  before the loss or sees it. Balances change by one conditional UPDATE per account in id order (``ledger``).
* Art. 24(3): a change of bank moves the balance from the former bank's account to the new one
  (:func:`move_balance`, called by ``lifecycle.confirm_unbind``) before the former account closes.

A request commits whole or not at all: the caller commits; a refusal raises before anything is written
(a wrong PIN's count excepted, Art. 19).
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from enum import StrEnum

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.i18n import N_
from app.models import Bank, Card, LedgerTransaction, Person, SettlementAccount
from app.models.enums import AccountKind, AccountStatus, CardStatus, Channel, Field, Role
from app.models.enums import TransactionType as T
from app.services import disclosure, lifecycle
from app.services.actor import Actor
from app.services.errors import (
    ChannelNotAllowed,
    DomainError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    OutOfScope,
)
from app.services.settlement_port import (
    CURRENCY,
    AccountHolder,
    Leg,
    Posted,
    Poster,
    PostingRequest,
    Statement,
    holder_for,
)


class Direction(StrEnum):
    CREDIT = "credit"  # into the holder's account
    DEBIT = "debit"  # out of it


class WrongAccount(DomainError):
    """The transaction type is not a use of this account (Art. 13)."""

    status, type, title = 422, "wrong-account", "Not a use of this account"


class SettlementRefused(DomainError):
    """The account may not move money now (suspended, cancelled, locked, not activated)."""

    status, type, title = 409, "settlement-refused", "Settlement refused"


class ConsentRefused(DomainError):
    """The holder's e-card code or card did not prove their presence."""

    status, type, title = 403, "consent-refused", "Holder's consent not proven"


class IdempotencyKeyReused(DomainError):
    status, type, title = 422, "idempotency-key-reused", "Idempotency key used for another request"


@dataclass(frozen=True)
class Rule:
    kind: AccountKind
    direction: Direction
    counterparty: str | None  # "{bank}": the account's bank code; None: another holder's account (transfer)
    posters: tuple[tuple[Role, Field | None], ...]  # role, and for an application agency its field
    consent: bool  # the holder present: e-card code, or card + PIN (Art. 19)
    article: str


_MED, _FIN = AccountKind.MEDICAL, AccountKind.FINANCIAL
_CR, _DR = Direction.CREDIT, Direction.DEBIT
_MEDICAL_AGENCY, _HRSS_AGENCY = (Role.APP_AGENCY, Field.MEDICAL), (Role.APP_AGENCY, Field.HRSS)

# Art. 13: what each account is for. ¶2 the medical-insurance personal account: medical expense settlement,
# transfers in from the social medical insurance fund. ¶3 the financial account (an RMB debit application):
# premiums, benefits, reimbursement after non-real-time medical settlement, cash deposit and withdrawal,
# transfers. Posters: the medical security agency (field medical) for the fund and hospital settlement, the
# social insurance agency (field hrss) for premiums and benefits, a teller of the account's bank for cash.
RULES: dict[T, Rule] = {
    T.FUND_TRANSFER_IN: Rule(_MED, _CR, "medical_fund", (_MEDICAL_AGENCY, (Role.SYSTEM, None)), False, "Art. 13 ¶2"),
    T.MEDICAL_SETTLEMENT: Rule(_MED, _DR, "medical_settlement", (_MEDICAL_AGENCY,), True, "Art. 13 ¶2"),
    T.PREMIUM_PAYMENT: Rule(_FIN, _DR, "social_insurance_fund", (_HRSS_AGENCY, (Role.RESIDENT, None)), True,
                            "Art. 13 ¶3"),
    T.BENEFIT_PAYMENT: Rule(_FIN, _CR, "social_insurance_fund", (_HRSS_AGENCY, (Role.SYSTEM, None)), False,
                            "Art. 13 ¶3"),
    T.REIMBURSEMENT: Rule(_FIN, _CR, "medical_fund", (_MEDICAL_AGENCY,), False, "Art. 13 ¶3"),
    T.DEPOSIT: Rule(_FIN, _CR, "cash:{bank}", ((Role.BANK_TELLER, None),), False, "Art. 13 ¶3"),
    T.WITHDRAWAL: Rule(_FIN, _DR, "cash:{bank}", ((Role.BANK_TELLER, None),), True, "Art. 13 ¶3"),
    T.TRANSFER: Rule(_FIN, _DR, None, ((Role.RESIDENT, None), (Role.BANK_TELLER, None)), True, "Art. 13 ¶3"),
}
CREDIT_TYPES = tuple(t for t, r in RULES.items() if r.direction is _CR)
DEBIT_TYPES = tuple(t for t, r in RULES.items() if r.direction is _DR)
# The application field whose lock stops an account's debits (Art. 6, 14).
ACCOUNT_FIELD = {AccountKind.MEDICAL: Field.MEDICAL, AccountKind.FINANCIAL: Field.FINANCE}
# Who may reverse a transaction: the organisation that posted it (same agency, or same bank).
REVERSERS = (Role.APP_AGENCY, Role.BANK_TELLER)
_KEY = re.compile(r"^[A-Za-z0-9._:\-]{8,64}$")
_USABLE = (CardStatus.ACTIVE, CardStatus.REPLACEMENT_PENDING)
_CARD_REFUSAL = {  # a card that cannot consent to a debit, and why
    CardStatus.CANCELLED: (N_("The card is cancelled; agencies stop using it."), "Art. 26"),
    CardStatus.LOSS_REGISTERED: (N_("The card's loss is registered: settlement is suspended."), "Art. 21"),
    CardStatus.INVALIDATED: (N_("This card was reissued and is void for ever."), "Art. 23"),
    CardStatus.REPLACED: (N_("This card was replaced; use the new card."), "Art. 24"),
    CardStatus.ISSUED: (N_("The card is not activated yet."), "Art. 6"),
}


def roles_for(direction: Direction) -> tuple[Role, ...]:
    """The roles that may post some type of this direction through the API (SYSTEM posts through feeds)."""
    return tuple(dict.fromkeys(role for r in RULES.values() if r.direction is direction
                               for role, _ in r.posters if role is not Role.SYSTEM))


# ---------------------------------------------------------------- input


@dataclass(frozen=True)
class Consent:
    """The holder present (Art. 19): their e-card code (verified here, as offline: signature, key, clock), or
    the card's number and PIN. A signed-in resident gives the PIN of their own card."""

    ecard_token: str | None = None
    card_number: str | None = None
    pin: str | None = None

    def fingerprint(self) -> str | None:
        """What identifies the consent in a request's hash: the code, or the card number; never the PIN."""
        if self.ecard_token:
            return "ecard:" + hashlib.sha256(self.ecard_token.encode()).hexdigest()
        return f"card:{self.card_number.strip().upper()}" if self.card_number else None


def check_amount(amount_fen, currency: str | None) -> None:
    """Integer fen, positive, at most ``LEDGER_MAX_AMOUNT_FEN``; RMB only (Art. 13 ¶3)."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InvalidInput("An amount is a whole number of fen (1 yuan = 100 fen).", field="amount_fen")
    if amount_fen <= 0:
        raise InvalidInput("An amount is positive.", field="amount_fen")
    if amount_fen > current_app.config["LEDGER_MAX_AMOUNT_FEN"]:
        raise InvalidInput("At most {max} fen in one transaction.", params={"max": current_app.config["LEDGER_MAX_AMOUNT_FEN"]},
                           field="amount_fen")
    if currency != CURRENCY:
        raise InvalidInput("The settlement accounts are kept in RMB (CNY).", article="Art. 13", field="currency")


def check_key(key: str | None) -> str:
    if not key or not _KEY.match(key):
        raise IdempotencyKeyMissing("Send an Idempotency-Key header: 8 to 64 letters, digits or ._:- , new for "
                                    "each transaction and the same when retrying it.")
    return key


class IdempotencyKeyMissing(DomainError):
    status, type, title = 400, "idempotency-key-required", "Idempotency key required"


def key_scope(actor: Actor) -> str:
    """Whose keys: one staff user's, one resident's, or the system's (feeds)."""
    if actor.role is Role.RESIDENT:
        return f"resident:{actor.person_id}"
    if actor.user_id is not None:
        return f"staff:{actor.user_id}"
    return str(actor.role)


def _type(value) -> T:
    try:
        return T(value)
    except ValueError:
        raise InvalidInput("Unknown transaction type '{type}'.", params={"type": value}, article="Art. 13", field="type") from None


def _request_hash(**fields) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _poster(actor: Actor) -> Poster:
    return Poster(role=actor.role, channel=actor.channel, user_id=actor.user_id,
                  resident_id=actor.person_id if actor.role is Role.RESIDENT else None, agency_id=actor.agency_id,
                  bank_id=actor.bank_id, outlet_id=actor.outlet_id, request_id=actor.request_id)


# ---------------------------------------------------------------- holders and idempotency


def _bank_code(session: Session, account: SettlementAccount) -> str | None:
    """The account's bank code (which core holds it; the name of its cash account), remembered per session."""
    if account.bank_id is None:
        return None
    codes = session.info.setdefault("ssc_bank_codes", {})
    if account.bank_id not in codes:
        codes[account.bank_id] = session.scalar(select(Bank.code).where(Bank.id == account.bank_id))
    return codes[account.bank_id]


def holder(session: Session, account: SettlementAccount) -> AccountHolder:
    return holder_for(account, _bank_code(session, account))


def _holders() -> list[AccountHolder]:
    """Every configured holder (distinct instances): where a key may have posted."""
    from app.services.settlement_port import _instantiate

    instances = current_app.extensions.setdefault("ssc_account_holders", {})
    for spec in dict.fromkeys(current_app.config["SETTLEMENT_HOLDERS"].values()):
        if spec not in instances:
            instances[spec] = _instantiate(spec)
    return list({id(h): h for h in instances.values()}.values())


def _replay(session: Session, scope: str, key: str, rhash: str) -> Posted | None:
    """The first answer for this key, if it posted; the same key with another request is refused."""
    for h in _holders():
        found = h.find(session, scope, key)
        if found is not None:
            posted, first_hash = found
            if first_hash != rhash:
                raise IdempotencyKeyReused("This Idempotency-Key was used for another request; use a new key.",
                                           field="Idempotency-Key")
            return posted
    return None


def _post(session: Session, h: AccountHolder, request: PostingRequest, *, reverse_of: int | None = None) -> Posted:
    """Post, or answer with the transaction a concurrent duplicate posted first (unique key): this request's
    work is rolled back and the winner's answer returned."""
    try:
        return h.reverse(session, reverse_of, request) if reverse_of else h.post(session, request)
    except IntegrityError:
        session.rollback()
        posted = _replay(session, request.key_scope, request.idempotency_key, request.request_hash)
        if posted is not None:
            return posted
        if request.ecard_token_id and _token_used(session, request.ecard_token_id):
            raise _token_refusal() from None
        if reverse_of and _reversal_of(session, reverse_of):
            raise IllegalTransition("This transaction has already been reversed.", article="Art. 13") from None
        raise


# ---------------------------------------------------------------- accounts and their state


def account(session: Session, account_id: int) -> SettlementAccount:
    found = session.get(SettlementAccount, account_id)
    if found is None:
        raise NotFound("No settlement account {account_id}.", params={"account_id": account_id})
    return found


def _account_of_card(session: Session, card: Card, kind: AccountKind) -> SettlementAccount:
    """The card's account of ``kind``: the personal account, or the financial account at the card's bank."""
    q = select(SettlementAccount).where(SettlementAccount.person_id == card.person_id,
                                        SettlementAccount.kind == kind).order_by(SettlementAccount.id.desc())
    if kind is AccountKind.FINANCIAL:
        q = q.where(SettlementAccount.bank_id == card.bank_id)
    found = session.scalars(q).first()
    if found is None:
        raise NotFound("The card has no {kind} account.", params={"kind": str(kind)})
    return found


def lock_holders(session: Session, person_ids) -> None:
    """Art. 21: a posting and a lifecycle step on the same holder (a loss registration, a cancellation, a bank
    change) serialize. Every lifecycle write holds the holder's row FOR UPDATE (``lifecycle.lock_person``);
    a posting holds it FOR KEY SHARE, taken FIRST and in id order: a debit either commits before the loss
    registration or sees it, and no posting can hold an account while waiting for a person (nor the other
    way round, which the journal's foreign key to the resident would otherwise make possible). Postings on
    one holder do not wait for each other here, only on the balance they change. Then the accounts are
    read afresh (their status as of the lock)."""
    ids = sorted(set(person_ids))
    session.execute(select(Person.id).where(Person.id.in_(ids)).order_by(Person.id)
                    .with_for_update(read=True, key_share=True)).all()
    # A statement of its own, so under READ COMMITTED it sees what committed while the lock was awaited (a
    # join locking only the persons would re-read them after the wait, but not the accounts).
    session.execute(select(SettlementAccount).where(SettlementAccount.person_id.in_(ids))
                    .execution_options(populate_existing=True)).all()


def _cancelled(session: Session, person_id: int) -> bool:
    person = session.get(Person, person_id)
    return bool(person.deceased_on or not person.eligible) or session.scalar(
        select(Card.id).where(Card.person_id == person_id, Card.status == CardStatus.CANCELLED).limit(1)) is not None


def check_account(session: Session, acct: SettlementAccount, direction: Direction) -> None:
    """May ``acct`` take a posting of ``direction`` now? Called after :func:`lock_holders`."""
    if acct.status is AccountStatus.CLOSED:
        if _cancelled(session, acct.person_id):
            raise SettlementRefused("The card is cancelled and its accounts are closed.", article="Art. 26")
        article = "Art. 24(3)" if acct.unbind_confirmed_by else "Art. 13"
        raise SettlementRefused("This account is closed.", article=article)
    suspended = lifecycle.settlement_suspended(session, acct.person_id)  # Art. 21: THE rule
    if direction is Direction.CREDIT:
        if suspended and not current_app.config["SUSPENDED_ACCOUNTS_ACCEPT_INFLOWS"]:
            raise SettlementRefused("Settlement is suspended after the loss registration; inflows are not "
                                    "accepted (SSC_SUSPENDED_INFLOWS=0).", article="Art. 21")
        return
    if suspended:
        raise SettlementRefused("Settlement is suspended: the card's loss is registered.", article="Art. 21")
    if acct.status is AccountStatus.PENDING:
        raise SettlementRefused("The account is usable once the card is activated.", article="Art. 6")
    if ACCOUNT_FIELD[acct.kind] in lifecycle.locked_fields(session, acct.person_id):
        raise SettlementRefused("The {field} application field is locked.", params={"field": str(ACCOUNT_FIELD[acct.kind])},
                                article="Art. 6")


def _check_role(session: Session, actor: Actor, t: T, rule: Rule) -> None:
    """Who posts a type (``RULES``): the role, and for an application agency its own field (Art. 13, 33)."""
    field = disclosure.agency_field(session, actor) if actor.role is Role.APP_AGENCY else None
    if (actor.role, field) not in rule.posters:
        allowed = ", ".join(f"{r}" + (f" ({f})" if f else "") for r, f in rule.posters)
        raise ChannelNotAllowed("A {type} is posted by: {allowed}.", params={"type": str(t), "allowed": allowed},
                                article=rule.article)
    if actor.role is Role.RESIDENT and actor.channel is not Channel.ONLINE:
        raise ChannelNotAllowed("A resident acts online.", article="Art. 19")
    if actor.role is Role.BANK_TELLER and (actor.channel is not Channel.OUTLET or actor.outlet_id is None):
        raise ChannelNotAllowed("Cash and counter transfers are done at an outlet.", article="Art. 6")


def _check_scope(actor: Actor, acct: SettlementAccount) -> None:
    """A resident moves only their own money; a teller serves only its own bank's accounts (Art. 6, 16, 19)."""
    if actor.role is Role.RESIDENT and actor.person_id != acct.person_id:
        raise OutOfScope("A resident moves money only from their own account.", article="Art. 16, 19")
    if actor.role is Role.BANK_TELLER and acct.bank_id != actor.bank_id:
        raise OutOfScope("This account is held by another bank.", article="Art. 6, 16")


def _check_type(t: T, acct: SettlementAccount, direction: Direction) -> Rule:
    rule = RULES.get(t)
    if rule is None or rule.direction is not direction:
        raise InvalidInput("'{type}' is not a {direction}.", params={"type": str(t), "direction": direction},
                           article="Art. 13", field="type")
    if rule.kind is not acct.kind:
        raise WrongAccount("A {type} is a use of the {kind} account, not of the {other} account.",
                           params={"type": str(t), "kind": str(rule.kind), "other": str(acct.kind)},
                           article=rule.article)
    return rule


# ---------------------------------------------------------------- the holder's consent (Art. 19, 21, 26, 32, 35)


def _token_refusal() -> ConsentRefused:
    return ConsentRefused("This e-card code has already paid once; ask the holder to refresh it.",
                          article="Art. 32", reason="replayed")


def _token_used(session: Session, token_id: str) -> bool:
    return session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.ecard_token_id == token_id)) is not None


def _reversal_of(session: Session, tx_id: int) -> bool:
    return session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.reversal_of_id == tx_id)) is not None


def _verifier():
    """The offline verifier over our own published key set, rebuilt when the key set changes. Its replay
    cache is off: a code pays once by the journal's unique token id, across processes."""
    from ecard.keys import jwks_etag
    from ecard.verify import Verifier

    jwks = current_app.extensions["ecard_issuer"].store.jwks()
    tag = jwks_etag(jwks)
    cached = current_app.extensions.get("ssc_settlement_verifier")
    if cached is None or cached[0] != tag:
        cached = current_app.extensions["ssc_settlement_verifier"] = (tag, Verifier(jwks, replay_cache=None))
    return cached[1]


def _card_by_ref(session: Session, ref: bytes) -> Card | None:
    """The card an e-card token's opaque reference names (``ecard.card_ref``: an HMAC of the card id), from an
    in-process map extended with the cards made since it was last extended."""
    from app.services.ecard import card_ref

    secret = current_app.extensions["ecard_issuer"].secret
    cache = current_app.extensions.setdefault("ssc_card_refs", {"upto": 0, "refs": {}})
    card_id = cache["refs"].get(ref)
    if card_id is None:
        for (cid,) in session.execute(select(Card.id).where(Card.id > cache["upto"]).order_by(Card.id)):
            cache["refs"][card_ref(secret, cid)] = cid
            cache["upto"] = cid
        card_id = cache["refs"].get(ref)
    return session.get(Card, card_id) if card_id is not None else None


def holder_card(session: Session, actor: Actor, consent: Consent) -> tuple[Card, str, str | None]:
    """(card, how the holder consented, the e-card token id) for a debit, or a refusal with the article."""
    token_id = None
    if consent.ecard_token:
        result = _verifier().verify(consent.ecard_token.strip())
        if not result.ok:
            article = "Art. 32" if result.reason in ("bad_signature", "malformed", "withdrawn_key") else "Art. 35"
            raise ConsentRefused(result.message("en"), article=article, reason=result.reason)
        card = _card_by_ref(session, result.claims.card_ref)
        if card is None:
            raise ConsentRefused("This e-card code names no card.", article="Art. 32", reason="unknown_card")
        token_id, how = result.claims.token_id.hex(), "ecard"
        if _token_used(session, token_id):  # a code pays once (and ledger_transactions.ecard_token_id is unique)
            raise _token_refusal()
    elif consent.pin:
        if consent.card_number:
            card = session.scalar(select(Card).where(Card.number == consent.card_number.strip().upper()))
        elif actor.role is Role.RESIDENT and actor.person_id is not None:
            card = lifecycle.held_card(session, actor.person_id)
        else:
            card = None
        if card is None:
            raise NotFound("No such card.")
        how = "card_pin"
    else:
        raise InvalidInput("A debit needs the holder present: their e-card code (ecard_token), or the card number "
                           "and its PIN.", article="Art. 19", field="ecard_token")
    if actor.role is Role.RESIDENT and card.person_id != actor.person_id:
        raise OutOfScope("A resident moves money only with their own card.", article="Art. 16, 19")
    if card.status not in _USABLE:
        detail, article = _CARD_REFUSAL.get(card.status, (N_("The card is not in the holder's hands yet."), "Art. 6"))
        raise SettlementRefused(detail, article=article)
    if how == "card_pin":
        lifecycle.check_pin(card, consent.pin)  # Art. 19: failures counted and kept
    return card, how, token_id


# ---------------------------------------------------------------- operations


def credit(session: Session, actor: Actor, type: T, amount_fen: int, *, key: str | None,
           account_id: int | None = None, card_number: str | None = None, currency: str | None = CURRENCY,
           reference: str | None = None) -> Posted:
    """A credit (Art. 13): fund transfer-in (personal account), benefit, reimbursement, cash deposit
    (financial account), to the account named by id or by the card's number."""
    type = _type(type)
    check_amount(amount_fen, currency)
    key = check_key(key)
    scope = key_scope(actor)
    rhash = _request_hash(op="credit", type=str(type), amount=amount_fen, account=account_id,
                          card=card_number.strip().upper() if card_number else None, reference=reference)
    if (first := _replay(session, scope, key, rhash)) is not None:
        return first
    if RULES.get(type) is None or RULES[type].direction is not Direction.CREDIT:
        raise InvalidInput("'{type}' is not a credit.", params={"type": str(type)}, article="Art. 13", field="type")
    if (account_id is None) == (card_number is None):
        raise InvalidInput("Name the account (account_id) or the card (card_number), one of the two.",
                           field="account_id")
    if account_id is not None:
        acct = account(session, account_id)
    else:
        card = session.scalar(select(Card).where(Card.number == card_number.strip().upper()))
        if card is None:
            raise NotFound("No such card.")
        acct = _account_of_card(session, card, RULES[type].kind)
    rule = _check_type(type, acct, Direction.CREDIT)
    _check_role(session, actor, type, rule)
    _check_scope(actor, acct)
    lock_holders(session, [acct.person_id])
    check_account(session, acct, Direction.CREDIT)
    other = rule.counterparty.format(bank=_bank_code(session, acct))
    request = PostingRequest(type=type, amount_fen=amount_fen, currency=CURRENCY, key_scope=scope,
                             idempotency_key=key, request_hash=rhash, poster=_poster(actor), reference=reference,
                             legs=(Leg(amount_fen, account_id=acct.id), Leg(-amount_fen, counterparty=other)))
    return _post(session, holder(session, acct), request)


def debit(session: Session, actor: Actor, type: T, amount_fen: int, *, key: str | None, consent: Consent,
          to_account_id: int | None = None, currency: str | None = CURRENCY, reference: str | None = None) -> Posted:
    """A debit (Art. 13): medical settlement (personal account) by a hospital's medical-insurance desk,
    premium payment, cash withdrawal, transfer (financial account), each with the holder present
    (e-card code, or card + PIN). Refused while settlement is suspended (Art. 21), on a cancelled card
    (Art. 26), on a locked field or before activation (Art. 6)."""
    type = _type(type)
    check_amount(amount_fen, currency)
    key = check_key(key)
    scope = key_scope(actor)
    rhash = _request_hash(op="debit", type=str(type), amount=amount_fen, consent=consent.fingerprint(),
                          to=to_account_id, reference=reference)
    if (first := _replay(session, scope, key, rhash)) is not None:
        return first
    rule = RULES.get(type)
    if rule is None or rule.direction is not Direction.DEBIT:
        raise InvalidInput("'{type}' is not a debit.", params={"type": str(type)}, article="Art. 13", field="type")
    if (type is T.TRANSFER) != (to_account_id is not None):
        raise InvalidInput("A transfer, and only a transfer, names the account it goes to (to_account_id).",
                           field="to_account_id")
    _check_role(session, actor, type, rule)  # before the PIN is tried
    card, how, token_id = holder_card(session, actor, consent)
    acct = _account_of_card(session, card, rule.kind)
    _check_type(type, acct, Direction.DEBIT)
    _check_scope(actor, acct)
    target = None
    if to_account_id is not None:
        target = account(session, to_account_id)
        if target.kind is not AccountKind.FINANCIAL:
            raise WrongAccount("A transfer goes to a financial account.", article="Art. 13 ¶3", field="to_account_id")
        if target.id == acct.id:
            raise InvalidInput("A transfer goes to another account.", field="to_account_id")
    lock_holders(session, [acct.person_id] + ([target.person_id] if target else []))
    check_account(session, acct, Direction.DEBIT)
    if target is not None:
        check_account(session, target, Direction.CREDIT)
    h = holder(session, acct)  # funds: the holder's post refuses what the balance does not cover
    other = (Leg(amount_fen, account_id=target.id) if target is not None
             else Leg(amount_fen, counterparty=rule.counterparty.format(bank=_bank_code(session, acct))))
    request = PostingRequest(type=type, amount_fen=amount_fen, currency=CURRENCY, key_scope=scope,
                             idempotency_key=key, request_hash=rhash, poster=_poster(actor), reference=reference,
                             consent=how, ecard_token_id=token_id,
                             legs=(Leg(-amount_fen, account_id=acct.id), other))
    if target is not None and holder(session, target) is not h:
        return _cross_holder_transfer(session, h, holder(session, target), request, acct, target)
    return _post(session, h, request)


def _cross_holder_transfer(session, source: AccountHolder, target_holder: AccountHolder, request: PostingRequest,
                           acct: SettlementAccount, target: SettlementAccount) -> Posted:
    """A transfer between accounts held by two systems (two banks' cores): out through the source's clearing
    account, in through the target's, each leg idempotent under the request's key."""
    from dataclasses import replace

    amount = request.amount_fen
    out = _post(session, source, replace(request, legs=(Leg(-amount, account_id=acct.id),
                                                        Leg(amount, counterparty="interbank_clearing"))))
    _post(session, target_holder, replace(request, idempotency_key=request.idempotency_key + ":in",
                                          ecard_token_id=None,
                                          legs=(Leg(amount, account_id=target.id),
                                                Leg(-amount, counterparty="interbank_clearing"))))
    return out


def reverse(session: Session, actor: Actor, transaction_id: int, *, key: str | None, reason: str) -> Posted:
    """Undo one transaction, once, by the organisation that posted it (its agency, or its bank). A reversed
    debit is money back in (it posts while suspended, as credits do); a reversed credit is money out, refused
    while suspended or short of funds, as any debit (Art. 13, 21)."""
    key = check_key(key)
    scope = key_scope(actor)
    rhash = _request_hash(op="reverse", tx=transaction_id, reason=reason)
    if (first := _replay(session, scope, key, rhash)) is not None:
        return first
    if actor.role not in REVERSERS:
        raise ChannelNotAllowed("A transaction is reversed by the agency or bank that posted it.", article="Art. 13")
    tx = session.get(LedgerTransaction, transaction_id)
    if tx is None:
        raise NotFound(f"No transaction {transaction_id}.")
    if tx.type in (T.REVERSAL, T.BANK_CHANGE_MOVE):
        raise IllegalTransition(f"A {tx.type} is not reversed.", article="Art. 13")
    same_org = (tx.agency_id is not None and tx.agency_id == actor.agency_id) or (
        actor.role is Role.BANK_TELLER and tx.bank_id is not None and tx.bank_id == actor.bank_id)
    if not same_org:
        raise OutOfScope("Only the organisation that posted a transaction reverses it.", article="Art. 13, 16")
    if _reversal_of(session, transaction_id):
        raise IllegalTransition("This transaction has already been reversed.", article="Art. 13")
    first_holder = None
    legs = []
    for h in _holders():
        legs = h.legs(session, transaction_id)
        if legs:
            first_holder = h
            break
    holder_legs = [(session.get(SettlementAccount, leg.account_id), leg) for leg in legs if leg.account_id]
    lock_holders(session, [a.person_id for a, _ in holder_legs])
    for acct, leg in holder_legs:  # the mirror takes out what came in
        check_account(session, acct, Direction.DEBIT if leg.amount_fen > 0 else Direction.CREDIT)
    request = PostingRequest(type=T.REVERSAL, amount_fen=tx.amount_fen, currency=tx.currency, key_scope=scope,
                             idempotency_key=key, request_hash=rhash, poster=_poster(actor), reference=reason[:64],
                             legs=())
    return _post(session, first_holder, request, reverse_of=transaction_id)


def move_balance(session: Session, actor: Actor, frm: SettlementAccount, to: SettlementAccount | None, *,
                 key: str, article: str = "Art. 24(3)") -> Posted | None:
    """Move the whole balance of ``frm`` to ``to`` (Art. 24(3): the holder's money changes bank; it is not
    spent, so it moves suspended or not). Called by the lifecycle with the holder locked, before ``frm``
    closes: ``frm`` is empty afterwards, or this raises and nothing closes. None: nothing to move."""
    source = holder(session, frm)
    amount = source.balance(session, frm)
    if amount == 0:
        return None
    if to is None:
        raise IllegalTransition("There is no other financial account for the balance to move to.", article=article)
    request = PostingRequest(type=T.BANK_CHANGE_MOVE, amount_fen=amount, currency=CURRENCY, key_scope="system",
                             idempotency_key=key, request_hash=_request_hash(op="move", frm=frm.id, to=to.id),
                             poster=_poster(actor), reference=f"account {frm.id} -> {to.id}",
                             legs=(Leg(-amount, account_id=frm.id), Leg(amount, account_id=to.id)))
    target_holder = holder(session, to)
    posted = (_cross_holder_transfer(session, source, target_holder, request, frm, to) if target_holder is not source
              else source.post(session, request))
    if source.balance(session, frm) != 0:
        raise IllegalTransition("The former account's balance did not move in full.", article=article)
    return posted


# ---------------------------------------------------------------- reads


def balance(session: Session, acct: SettlementAccount) -> int:
    return holder(session, acct).balance(session, acct)


def statement(session: Session, acct: SettlementAccount, *, before: int | None = None, limit: int = 50) -> Statement:
    """The account's postings, newest first, each with who posted it. The caller checks the remit and logs a
    staff read (Art. 16); the holder reads their own (Art. 20)."""
    return holder(session, acct).statement(session, acct, before=before, limit=limit)


def authorise(session: Session, acct: SettlementAccount, amount_fen: int) -> bool:
    """Would a debit of this amount go through now (status, suspension, field, funds)?"""
    try:
        check_account(session, acct, Direction.DEBIT)
    except DomainError:
        return False
    return holder(session, acct).authorise(session, acct, amount_fen).approved


# ---------------------------------------------------------------- telling the holders (Art. 21, 22)


def _tell_holders(session: Session, flush_context) -> None:
    """After every flush that moved a settlement account into or out of ``suspended`` (a loss registered or
    deregistered, a reissue activated: the lifecycle's writes), tell the account's holder: a bank core
    freezes or unfreezes the account. The embedded ledger needs nothing (it reads the status itself)."""
    from flask import has_app_context
    from sqlalchemy import inspect as sa_inspect

    if not has_app_context():
        return
    for obj in list(session.dirty):
        if not isinstance(obj, SettlementAccount):
            continue
        history = sa_inspect(obj).attrs.status.history
        if not history.has_changes():
            continue
        was = history.deleted[0] if history.deleted else None
        now = obj.status
        if now is AccountStatus.SUSPENDED and was is not AccountStatus.SUSPENDED:
            holder(session, obj).suspend(session, obj)
        elif was is AccountStatus.SUSPENDED and now is not AccountStatus.SUSPENDED:
            holder(session, obj).resume(session, obj)


def _listen() -> None:
    from sqlalchemy import event

    if not event.contains(Session, "after_flush", _tell_holders):
        event.listen(Session, "after_flush", _tell_holders)


_listen()
