"""The card lifecycle service: every operation the Measures name, one function each.

Each function takes the session and an :class:`Actor`, checks the channel table and the
state machine (``lifecycle_rules``), the actor's scope, then changes state and writes a
:class:`CardEvent` in the caller's transaction. A refused operation raises a
:class:`DomainError` naming the article before anything is changed; the caller commits or
rolls back the whole request.

Concurrency: every write first locks the cardholder's row (``SELECT … FOR UPDATE`` on
PostgreSQL), so operations on one person serialize; ``Card.version`` is checked in every
UPDATE (optimistic lock, also the API's ETag) which covers SQLite.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import ColumnElement, exists, literal_column, select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import flag_modified

from app.models import (
    Bank,
    Card,
    CardApplication,
    CardEvent,
    FieldStatus,
    Outlet,
    Person,
    SettlementAccount,
    next_value,
)
from app.models.card import PENDING_STATES, VALID_STATES
from app.models.enums import (
    AccountKind,
    AccountStatus,
    CancellationReason,
    CardKind,
    CardStatus,
    Channel,
    DeliveryMethod,
    Field,
    Referral,
    ReplacementReason,
    Role,
    ServiceMode,
)
from app.services import agency_feed, audit, clock, deadlines
from app.services.hashing import hash_password, verify_password
from app.services.actor import Actor
from app.services.documents import new_card_number
from app.services.errors import (
    ChannelNotAllowed,
    IllegalTransition,
    Ineligible,
    InvalidInput,
    NotFound,
    OutOfScope,
    PinLocked,
    PinRefused,
    PreconditionFailed,
)
from app.services.fees import card_fee
from app.services.lifecycle_rules import (
    CHANNELS,
    ID_CHECK_REQUIRED,
    REFUSAL_ARTICLES,
    SIDE_EFFECTS,
    TRANSITION_INDEX,
    Op,
    Transition,
    article_of,
    channel_refusal,
)

def _cfg(key: str):
    return current_app.config[key]


# ---------------------------------------------------------------- loading and checks


def lock_person(session: Session, person_id: int) -> Person:
    """Load and lock the cardholder row: all lifecycle writes for one person serialize on it."""
    person = session.execute(
        select(Person).where(Person.id == person_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if person is None:
        raise NotFound("No cardholder {person_id}.", params={"person_id": person_id})
    return person


def load_card(session: Session, card_id: int, *, lock: bool = True) -> Card:
    # a read takes the card's application in the same statement: every answer about a card shows it
    card = session.get(Card, card_id, options=() if lock else (joinedload(Card.application),))
    if card is None:
        raise NotFound("No card {card_id}.", params={"card_id": card_id})
    if lock:
        lock_person(session, card.person_id)
        session.refresh(card)  # the state as of the lock, not as first read
    return card


def _check_version(card: Card, expected_version: int | None) -> None:
    if expected_version is not None and card.version != expected_version:
        raise PreconditionFailed(
            "Card {number} is at version {version}, not {expected_version}: reload it and retry.",
            params={"number": card.number, "version": card.version, "expected_version": expected_version}
        )


def check_channel(op: Op, actor: Actor) -> None:
    if (actor.channel, actor.role) not in CHANNELS[op]:
        raise channel_refusal(op, actor.role, actor.channel)
    if actor.channel is Channel.OUTLET and actor.outlet_id is None:
        raise ChannelNotAllowed("'{op}' at an outlet needs the teller's outlet.", article="Art. 6", params={"op": op})


def _transition(op: Op, source: CardStatus | None, target: CardStatus | None = None) -> Transition:
    """The row of the state table for ``op`` from ``source``: the ordinary one, or the one leading to
    ``target`` where the operation has several (the caller derives ``target`` from the card's facts)."""
    rows = TRANSITION_INDEX.get((op, source), ())
    t = next((t for t in rows if target is None or t.target is target), None)
    if t is None:
        raise IllegalTransition(
            "'{op}' is not allowed for a card that is {state} to become {target}." if target and rows else
            "'{op}' is not allowed for a card that is {state}.",
            params={"op": op, "state": source or "absent", "target": target},
            article=REFUSAL_ARTICLES.get(op) or article_of(op),
            state=str(source) if source else None,
        )
    return t


def check_scope(session: Session, actor: Actor, person_id: int, bank_id: int | None) -> None:
    """Least privilege (Art. 16): residents act only on themselves, tellers on their bank's cards, and a
    role whose remit opens per call (the hotline's verified caller) only within that call."""
    if actor.role is Role.RESIDENT and actor.person_id != person_id:
        raise OutOfScope("A resident may act only on their own card.", article="Art. 16, 19")
    if actor.role is Role.BANK_TELLER and bank_id is not None and actor.bank_id != bank_id:
        raise OutOfScope("This card belongs to another bank's customers.", article="Art. 16")
    from app.services import disclosure  # disclosure reads lifecycle's rules: imported here, not at the top

    disclosure.check_call_remit(session, actor, person_id)


def check_id(op: Op, actor: Actor, id_verified: bool) -> dict:
    """持本人有效身份证件: an in-person step of ``ID_CHECK_REQUIRED`` needs the holder's own valid ID
    document checked. Returns what the step's event records (``id_verified``), or nothing where the
    channel shows no document (online, by telephone)."""
    article = ID_CHECK_REQUIRED.get((op, actor.channel))
    if article is None:
        return {}
    if not id_verified:
        raise InvalidInput("'{op}' at {channel} needs the holder's own valid ID document checked in person "
                           "(id_verified).", article=article, field="id_verified",
                           params={"op": op, "channel": actor.channel})
    return {"id_verified": True}


def _check_ids(op: Op, actor: Actor, id_verified: bool, service_mode: ServiceMode) -> dict:
    """:func:`check_id` for a step that makes a new card: an urgent issuance's own check first
    (Art. 10 ¶2, 25 ¶2), then the step's (Art. 7, 23). Returns what the step's event records."""
    if service_mode is ServiceMode.INSTANT:
        check_id(Op.ISSUE_INSTANTLY, actor, id_verified)
    return check_id(op, actor, id_verified)


def _begin(
    session: Session, op: Op, actor: Actor, card_id: int, expected_version: int | None,
    *, scope_bank: bool = True,
) -> tuple[Card, Transition]:
    check_channel(op, actor)
    card = load_card(session, card_id)
    check_scope(session, actor, card.person_id, card.bank_id if scope_bank else None)
    t = _transition(op, card.status)
    _check_version(card, expected_version)
    return card, t


def record_event(
    session: Session, actor: Actor, op: Op, *, person_id: int, card: Card | None, article: str,
    source: CardStatus | None = None, reason: str | None = None, **details,
) -> CardEvent:
    ev = CardEvent(
        person_id=person_id, card_id=card.id if card else None, operation=str(op),
        from_status=str(source) if source else None, to_status=str(card.status) if card else None,
        article=article, channel=actor.channel, actor_id=actor.user_id, actor_role=actor.role,
        outlet_id=actor.outlet_id, agency_id=actor.agency_id, reason=reason,
        details={k: v for k, v in details.items() if v is not None}, request_id=actor.request_id,
        created_at=clock.now(),
    )
    session.add(ev)
    audit.record(session, actor, f"card.{op}", person_id=person_id,
                 subject=f"card:{card.id}" if card else None,
                 changes={"status": [ev.from_status, ev.to_status], **ev.details} if card else ev.details)
    agency_feed.on_card_event(session, ev, card)  # the agencies' feed, in this same transaction (Art. 26)
    return ev


def _move(session: Session, actor: Actor, card: Card, t: Transition, **details) -> Card:
    """Apply a transition (or just record it, when the state does not change) and write its event."""
    source = card.status
    if t.target is not None:
        card.status = t.target
        if (source in deadlines.RUNNING) != (t.target in deadlines.RUNNING) and card.application is not None:
            card.application.running = t.target in deadlines.RUNNING  # the Art. 10/25 deadline starts or ends
    card.updated_at = clock.now()
    flag_modified(card, "updated_at")  # an UPDATE, so the version (ETag) moves even when nothing else does
    record_event(session, actor, t.op, person_id=card.person_id, card=card, article=t.article,
           source=source, **details)
    session.flush()
    return card


# ---------------------------------------------------------------- accounts (Art. 13, 21, 24)


def accounts(session: Session, person_id: int, *, open_only: bool = True) -> list[SettlementAccount]:
    q = select(SettlementAccount).where(SettlementAccount.person_id == person_id)
    if open_only:
        q = q.where(SettlementAccount.status != AccountStatus.CLOSED)
    return list(session.scalars(q.order_by(SettlementAccount.id)))


def _ensure_accounts(session: Session, person_id: int, bank_id: int) -> None:
    have = {a.kind for a in accounts(session, person_id) if a.status is not AccountStatus.UNBINDING}
    if AccountKind.MEDICAL not in have:
        session.add(SettlementAccount(person_id=person_id, kind=AccountKind.MEDICAL, status=AccountStatus.PENDING,
                                      opened_at=clock.now()))
    if AccountKind.FINANCIAL not in have:
        session.add(SettlementAccount(person_id=person_id, kind=AccountKind.FINANCIAL, bank_id=bank_id,
                                      status=AccountStatus.PENDING, opened_at=clock.now()))


def _set_accounts(session: Session, person_id: int, frm: Iterable[AccountStatus], to: AccountStatus) -> None:
    frm = set(frm)
    for a in accounts(session, person_id):
        if a.status in frm:
            a.status = to
            a.suspended_at = clock.now() if to is AccountStatus.SUSPENDED else None


def settlement_suspended_sql(person_id) -> ColumnElement[bool]:
    """Art. 21: settlement is suspended while a loss is in force (registered, or a reissue not yet
    activated), i.e. while one of the holder's accounts is suspended. THE rule, as SQL: every view (the
    holder's, the counter's, the agency's, the e-card token) reads it here."""
    return exists().where(SettlementAccount.person_id == person_id,
                          SettlementAccount.status == literal_column(f"'{AccountStatus.SUSPENDED.value}'"))


def settlement_suspended(session: Session, person_id: int) -> bool:
    """:func:`settlement_suspended_sql` for one holder."""
    return bool(session.scalar(select(settlement_suspended_sql(person_id))))


# ---------------------------------------------------------------- creating cards (Art. 7–12, 23–25, 27)


@dataclass(frozen=True)
class Delivery:
    method: DeliveryMethod
    address: str | None = None  # express only (Art. 12)
    outlet_id: int | None = None  # pickup only: the outlet of the card's bank chosen for pickup (Art. 12)


def _published_bank(session: Session, bank_id: int) -> Bank:
    bank = session.get(Bank, bank_id)
    if bank is None or not bank.published:
        raise InvalidInput("Bank {bank_id} is not on the Bureau's published list of cooperating banks.",
                           article="Art. 6 ¶2, 9 ¶3", field="bank_id", params={"bank_id": bank_id})
    return bank


def _outlet(session: Session, actor: Actor) -> Outlet | None:
    return session.get(Outlet, actor.outlet_id) if actor.outlet_id else None


def _check_delivery(session: Session, delivery: Delivery, bank_id: int) -> None:
    if delivery.method is DeliveryMethod.EXPRESS and not (delivery.address or "").strip():
        raise InvalidInput("Express delivery needs a mailing address.", article="Art. 12",
                           field="delivery_address")
    if delivery.outlet_id is not None:
        if delivery.method is not DeliveryMethod.PICKUP:
            raise InvalidInput("A pickup outlet is chosen for pickup, not for express delivery.", article="Art. 12",
                               field="pickup_outlet_id")
        outlet = session.get(Outlet, delivery.outlet_id)
        if outlet is None or outlet.bank_id != bank_id:
            raise InvalidInput("The pickup outlet must be an outlet of the card's bank.", article="Art. 12",
                               field="pickup_outlet_id")


def _fee(kind: CardKind, predecessor: Card | None, replacement_reason: ReplacementReason | None = None,
         quality_defect: bool = False):
    return card_fee(kind, fee_fen=_cfg("CARD_FEE_FEN"), today=clock.today(), replacement_reason=replacement_reason,
                    quality_defect=quality_defect, previous_received_on=predecessor.received_on if predecessor else None)


def reissue_fee(card: Card):
    """(fee in fen, waiver) a reissue of lost ``card`` would cost today (Art. 27: never waived)."""
    return _fee(CardKind.REISSUE, card)


def replacement_fee(card: Card, reason: ReplacementReason, quality_defect: bool = False):
    """(fee in fen, waiver) a replacement of ``card`` would cost today (Art. 27)."""
    return _fee(CardKind.REPLACEMENT, card, reason, quality_defect)


def _new_card(
    session: Session, actor: Actor, person: Person, *, kind: CardKind, bank_id: int, delivery: Delivery,
    service_mode: ServiceMode, referral: Referral = Referral.SELF, predecessor: Card | None = None,
    replacement_reason: ReplacementReason | None = None, quality_defect: bool = False, id_verified: bool = False,
    recorded: dict | None = None,
) -> Card:
    """A new card and its application; instant issuance at once (Art. 10 ¶2, 25 ¶2), ID checked.
    ``recorded``: what the application's event records besides (the ID check of Art. 7)."""
    _check_delivery(session, delivery, bank_id)
    outlet = _outlet(session, actor)
    if service_mode is not ServiceMode.COUNTER and actor.channel is not Channel.OUTLET:
        raise ChannelNotAllowed("'{service_mode}' service is given by a bank outlet.", article="Art. 8, 10 ¶2",
                                params={"service_mode": service_mode})
    if service_mode is ServiceMode.INSTANT and not (outlet and outlet.instant):
        raise ChannelNotAllowed("Instant issuance needs an instant card-making outlet.", article="Art. 10 ¶2, 25 ¶2")
    instant = check_id(Op.ISSUE_INSTANTLY, actor, id_verified) if service_mode is ServiceMode.INSTANT else {}
    fee, waiver = _fee(kind, predecessor, replacement_reason, quality_defect)
    card = Card(
        number=new_card_number(lambda: next_value(session, "card_number")), person_id=person.id,
        status=CardStatus.APPLIED, kind=kind, bank_id=bank_id,
        predecessor_id=predecessor.id if predecessor else None, created_at=clock.now(), updated_at=clock.now(),
    )
    session.add(card)
    session.flush()
    session.add(CardApplication(
        card_id=card.id, person_id=person.id, kind=kind, channel=actor.channel, service_mode=service_mode,
        referral=referral, outlet_id=actor.outlet_id, replacement_reason=replacement_reason,
        quality_defect=quality_defect, submitted_at=clock.now(), delivery_method=delivery.method,
        delivery_address=delivery.address if delivery.method is DeliveryMethod.EXPRESS else None,
        pickup_outlet_id=delivery.outlet_id if delivery.method is DeliveryMethod.PICKUP else None,
        fee_fen=fee, fee_waiver=waiver,
    ))
    t = _transition(Op.APPLY, None)
    record_event(session, actor, Op.APPLY, person_id=person.id, card=card, article=t.article,
           kind=str(kind), service_mode=str(service_mode), referral=str(referral), fee_fen=fee,
           fee_waiver=str(waiver) if waiver else None,
           replacement_reason=str(replacement_reason) if replacement_reason else None, **(recorded or {}))
    session.flush()
    if service_mode is ServiceMode.INSTANT:
        _issue(session, actor, card, _transition(Op.ISSUE_INSTANTLY, CardStatus.APPLIED), **instant)
    return card


def apply(
    session: Session, actor: Actor, person_id: int, *, bank_id: int, delivery: Delivery,
    service_mode: ServiceMode = ServiceMode.COUNTER, referral: Referral = Referral.SELF, id_verified: bool = False,
) -> Card:
    """Apply for a card (Art. 7, 9): online or at an outlet of a published bank (door-to-door and
    instant issuance are ways an outlet serves, Art. 8 ¶2, 10 ¶2)."""
    check_channel(Op.APPLY, actor)
    person = lock_person(session, person_id)
    check_scope(session, actor, person.id, None)
    if actor.role is Role.BANK_TELLER and actor.bank_id != bank_id:
        raise OutOfScope("A teller takes applications for their own bank only.", article="Art. 9 ¶3")
    _published_bank(session, bank_id)
    if person.deceased_on or not person.eligible:
        raise Ineligible("The applicant does not hold Guangzhou household registration or lawfully enjoy its "
                         "social security or other public services.", article="Art. 4")
    checked = _check_ids(Op.APPLY, actor, id_verified, service_mode)
    held = [c for c in person.cards if c.status in VALID_STATES or c.status in PENDING_STATES]
    if held:
        raise IllegalTransition(
            "The applicant already has a card ({status}); apply for a reissue (Art. 23) or a replacement (Art. 24) "
            "instead.", article="Art. 23, 24", state=str(held[0].status), params={"status": held[0].status})
    # Art. 27(1): a rejected application made no card, so the next one is still the first card.
    kind = CardKind.RENEWED if any(c.status is not CardStatus.REJECTED for c in person.cards) else CardKind.FIRST
    _ensure_accounts(session, person.id, bank_id)
    return _new_card(session, actor, person, kind=kind, bank_id=bank_id, delivery=delivery,
                     service_mode=service_mode, referral=referral, id_verified=id_verified, recorded=checked)


def reissue(
    session: Session, actor: Actor, card_id: int, *, delivery: Delivery,
    service_mode: ServiceMode = ServiceMode.COUNTER, expected_version: int | None = None, id_verified: bool = False,
) -> Card:
    """Reissue a lost card (Art. 23, 25): the old card is void for ever and a new card with a new
    number is made. Applying ends any chance of loss deregistration (Art. 22). Both settlement
    accounts stay suspended until the new card is activated (Art. 21)."""
    old, t = _begin(session, Op.REISSUE, actor, card_id, expected_version)
    if _pending_successor(session, old):
        raise IllegalTransition("A replacement for this card is already being made; it ends the lost card.",
                                article="Art. 23, 24", state=str(old.status))
    checked = _check_ids(Op.REISSUE, actor, id_verified, service_mode)
    old.ended_at = clock.now()
    _move(session, actor, old, t, **checked)
    _set_accounts(session, old.person_id, {AccountStatus.ACTIVE, AccountStatus.PENDING}, AccountStatus.SUSPENDED)
    return _new_card(session, actor, old.person, kind=CardKind.REISSUE, bank_id=old.bank_id, delivery=delivery,
                     service_mode=service_mode, predecessor=old, id_verified=id_verified)


def replace(
    session: Session, actor: Actor, card_id: int, *, reason: ReplacementReason, delivery: Delivery,
    quality_defect: bool = False, new_bank_id: int | None = None, service_mode: ServiceMode = ServiceMode.COUNTER,
    expected_version: int | None = None, id_verified: bool = False,
) -> Card:
    """Replace a card (Art. 24, 25): damaged (24(1)), basic data changed (24(2), normally through
    :func:`change_info`), or a change of bank (24(3)). The old card stays usable until the new one
    is issued. For a bank change the teller of the NEW bank takes it; the former bank confirms the
    unbinding of its financial account (:func:`confirm_unbind`); the medical account stays."""
    bank_change = reason is ReplacementReason.BANK_CHANGE
    old, t = _begin(session, Op.REPLACE, actor, card_id, expected_version, scope_bank=not bank_change)
    if quality_defect and reason is not ReplacementReason.DAMAGED:
        raise InvalidInput("A quality defect is a reason only for a damaged card.", article="Art. 27(2)")
    bank_id = old.bank_id
    if bank_change:
        if new_bank_id is None or new_bank_id == old.bank_id:
            raise InvalidInput("A change of bank needs a different new bank.", article="Art. 24(3)", field="new_bank_id")
        _published_bank(session, new_bank_id)
        if actor.bank_id != new_bank_id:
            raise OutOfScope("A change of bank is taken at an outlet of the new bank.", article="Art. 24(3)")
        bank_id = new_bank_id
        # A loss still in force (a reissue not yet activated, Art. 21, 23) suspends the new account too.
        opens = AccountStatus.SUSPENDED if settlement_suspended(session, old.person_id) else AccountStatus.PENDING
        for a in accounts(session, old.person_id):
            if a.kind is AccountKind.FINANCIAL and a.status is not AccountStatus.UNBINDING:
                a.status = AccountStatus.UNBINDING
        session.add(SettlementAccount(person_id=old.person_id, kind=AccountKind.FINANCIAL, bank_id=bank_id,
                                      status=opens, opened_at=clock.now(),
                                      suspended_at=clock.now() if opens is AccountStatus.SUSPENDED else None))
    _move(session, actor, old, t, reason=str(reason))
    return _new_card(session, actor, old.person, kind=CardKind.REPLACEMENT, bank_id=bank_id, delivery=delivery,
                     service_mode=service_mode, predecessor=old, replacement_reason=reason,
                     quality_defect=quality_defect, id_verified=id_verified)


def confirm_unbind(session: Session, actor: Actor, person_id: int) -> SettlementAccount:
    """The former bank confirms the unbinding of its financial account after a bank change (Art. 24 ¶2)."""
    check_channel(Op.CONFIRM_UNBIND, actor)
    lock_person(session, person_id)
    account = next((a for a in accounts(session, person_id) if a.status is AccountStatus.UNBINDING), None)
    if account is None:
        raise IllegalTransition("No financial account is waiting to be unbound.", article="Art. 24 ¶2")
    if actor.bank_id != account.bank_id:
        raise OutOfScope("Only the former bank confirms the unbinding of its account.", article="Art. 24 ¶2")
    # Art. 24(3): the former account closes only once its balance is in the new bank's account (postings on
    # this holder wait for the lock on the person, settlement.lock_holders).
    from app.services import settlement

    new = next((a for a in accounts(session, person_id) if a.kind is AccountKind.FINANCIAL
                and a.status is not AccountStatus.UNBINDING), None)
    moved = settlement.move_balance(session, actor, account, new, key=f"bank-change:{account.id}")
    account.status, account.closed_at, account.unbind_confirmed_by = AccountStatus.CLOSED, clock.now(), actor.user_id
    record_event(session, actor, Op.CONFIRM_UNBIND, person_id=person_id, card=None, article="Art. 24 ¶2",
           account_id=account.id, moved_fen=moved.amount_fen if moved else None,
           to_account_id=new.id if moved else None)
    session.flush()
    return account


# ---------------------------------------------------------------- production and distribution (Art. 10, 12, 25)


def accept(session: Session, actor: Actor, card_id: int, *, expected_version: int | None = None) -> Card:
    """Accept an application: the 12-working-day clock starts (Art. 10, 25)."""
    card, t = _begin(session, Op.ACCEPT, actor, card_id, expected_version)
    app_ = card.application
    app_.accepted_on = clock.today()
    due = deadlines.due_date(session, app_.accepted_on)
    app_.due_on, app_.due_provisional = due.due, due.provisional
    return _move(session, actor, card, t, due_on=due.due.isoformat(), provisional=due.provisional or None)


def reject(session: Session, actor: Actor, card_id: int, *, reason: str, expected_version: int | None = None) -> Card:
    """Refuse an application (Art. 4). A refused replacement gives the holder back the card awaiting
    replacement as it was, and undoes a bank change's account moves (Art. 24, 25)."""
    card, t = _begin(session, Op.REJECT, actor, card_id, expected_version)
    card.application.rejection_reason = reason
    card.ended_at = clock.now()
    _move(session, actor, card, t, reason=reason)
    old = session.get(Card, card.predecessor_id) if card.predecessor_id else None
    if card.kind is not CardKind.REPLACEMENT or old is None:
        return card
    if old.status is CardStatus.REPLACEMENT_PENDING:  # (a card lost meanwhile stays loss-registered)
        _side_effect(session, actor, Op.REJECT, old, _in_hand_state(session, old), rejected=card.number)
    if card.application.replacement_reason is ReplacementReason.BANK_CHANGE:
        from app.services import settlement  # money that reached the new account goes back (Art. 24(3))

        held = accounts(session, card.person_id)
        former = next((a for a in held if a.status is AccountStatus.UNBINDING), None)
        for a in held:  # first close the new bank's account (one open account per kind) …
            if a.kind is AccountKind.FINANCIAL and a.status is not AccountStatus.UNBINDING and a.bank_id == card.bank_id:
                settlement.move_balance(session, actor, a, former, key=f"bank-change-refused:{a.id}")
                a.status, a.closed_at = AccountStatus.CLOSED, clock.now()
        session.flush()
        lost = settlement_suspended(session, card.person_id)  # the card lost, or a reissue not yet in use
        for a in held:  # … then the former bank's account is bound again, suspended while a loss is in force
            if a.status is AccountStatus.UNBINDING:
                a.status = (AccountStatus.SUSPENDED if lost else
                            AccountStatus.ACTIVE if old.activated_at else AccountStatus.PENDING)
        session.flush()
    return card


def _pending_successor(session: Session, card: Card) -> Card | None:
    return session.scalars(select(Card).where(Card.predecessor_id == card.id,
                                              Card.status.in_(PENDING_STATES))).first()


def _in_hand_state(session: Session, card: Card) -> CardStatus:
    """The state of a card in the holder's hands as its own facts make it, once a loss or a refused
    replacement no longer holds it: awaiting the replacement still being made for it (Art. 24), else
    active once activated, else issued."""
    if _pending_successor(session, card):
        return CardStatus.REPLACEMENT_PENDING
    return CardStatus.ACTIVE if card.activated_at else CardStatus.ISSUED


def _side_effect(session: Session, actor: Actor, op: Op, card: Card, target: CardStatus, **details) -> None:
    """A predecessor card's change caused by an operation on its successor (``SIDE_EFFECTS``)."""
    src = card.status
    article = SIDE_EFFECTS[(op, src, target)]
    card.status, card.updated_at = target, clock.now()
    if target in (CardStatus.REPLACED, CardStatus.INVALIDATED):
        card.ended_at = clock.now()
    record_event(session, actor, op, person_id=card.person_id, card=card, article=article, source=src, **details)
    session.flush()


def start_production(session: Session, actor: Actor, card_id: int, *, expected_version: int | None = None) -> Card:
    card, t = _begin(session, Op.START_PRODUCTION, actor, card_id, expected_version)
    return _move(session, actor, card, t)


def finish_production(session: Session, actor: Actor, card_id: int, *, expected_version: int | None = None) -> Card:
    card, t = _begin(session, Op.FINISH_PRODUCTION, actor, card_id, expected_version)
    return _move(session, actor, card, t)


def dispatch(
    session: Session, actor: Actor, card_id: int, *, tracking_ref: str, expected_version: int | None = None,
) -> Card:
    card, t = _begin(session, Op.DISPATCH, actor, card_id, expected_version)
    if card.application.delivery_method is not DeliveryMethod.EXPRESS:
        raise IllegalTransition("The holder chose pickup at an outlet, not express delivery.", article="Art. 12")
    card.application.tracking_ref = tracking_ref
    return _move(session, actor, card, t, tracking_ref=tracking_ref)


def deliver(session: Session, actor: Actor, card_id: int, *, expected_version: int | None = None) -> Card:
    card, t = _begin(session, Op.DELIVER, actor, card_id, expected_version)
    return _issue(session, actor, card, t)


def pick_up(
    session: Session, actor: Actor, card_id: int, *, expected_version: int | None = None, id_verified: bool = False,
) -> Card:
    card, t = _begin(session, Op.PICK_UP, actor, card_id, expected_version)
    if card.application.delivery_method is not DeliveryMethod.PICKUP:
        raise IllegalTransition("This card is being delivered by express.", article="Art. 12")
    chosen = card.application.pickup_outlet_id
    if chosen is not None and actor.outlet_id != chosen:
        outlet = session.get(Outlet, chosen)
        raise ChannelNotAllowed("The holder chose to pick this card up at {outlet} ({code}).",
                                params={"outlet": outlet.name, "code": outlet.code}, article="Art. 12")
    return _issue(session, actor, card, t, id_verified=id_verified or None)


def _issue(session: Session, actor: Actor, card: Card, t: Transition, **details) -> Card:
    """The card reaches the holder: receipt date (Art. 27(2)); a replaced card ends (Art. 24)."""
    card.received_on = clock.today()
    if t.op is Op.ISSUE_INSTANTLY:
        card.application.accepted_on = card.application.due_on = clock.today()
    # The replaced card ends first: at most one valid card per person (uq_cards_one_valid_per_person).
    if card.kind is CardKind.REPLACEMENT and card.predecessor_id:
        old = session.get(Card, card.predecessor_id)
        ends = {CardStatus.REPLACEMENT_PENDING: CardStatus.REPLACED, CardStatus.LOSS_REGISTERED: CardStatus.INVALIDATED}
        if old.status in ends:
            _side_effect(session, actor, Op.REPLACE, old, ends[old.status], replaced_by=card.number)
    _move(session, actor, card, t, **details)
    return card


# ---------------------------------------------------------------- use (Art. 6, 19, 21, 22)


def _set_pin(card: Card, pin: str) -> None:
    if not (pin.isdigit() and len(pin) == 6):
        raise InvalidInput("A PIN is six digits.", field="pin")
    if len(set(pin)) == 1 or pin in "0123456789" or pin in "9876543210":
        raise InvalidInput("That PIN is too easy to guess.", article="Art. 19", field="pin")
    card.pin_hash = hash_password(pin)
    card.pin_failures = 0


def activate(
    session: Session, actor: Actor, card_id: int, *, pin: str, expected_version: int | None = None,
) -> Card:
    """Activate a card in the holder's hands, setting its PIN (Art. 6, 19). Activation ends a loss
    in force for a reissued card, so both accounts resume (Art. 21)."""
    card, t = _begin(session, Op.ACTIVATE, actor, card_id, expected_version)
    _set_pin(card, pin)
    card.activated_at = clock.now()
    _set_accounts(session, card.person_id, {AccountStatus.PENDING, AccountStatus.SUSPENDED}, AccountStatus.ACTIVE)
    return _move(session, actor, card, t)


def register_loss(
    session: Session, actor: Actor, card_id: int, *, expected_version: int | None = None, id_verified: bool = False,
) -> Card:
    """Register the loss of a card in the holder's hands, activated or not (Art. 21), online, by 12345,
    the bank's hotline or at an outlet (there with the holder's ID document checked); both
    settlement accounts are suspended."""
    card, t = _begin(session, Op.REGISTER_LOSS, actor, card_id, expected_version)
    checked = check_id(Op.REGISTER_LOSS, actor, id_verified)
    _set_accounts(session, card.person_id, {AccountStatus.ACTIVE, AccountStatus.PENDING}, AccountStatus.SUSPENDED)
    return _move(session, actor, card, t, **checked)


def deregister_loss(
    session: Session, actor: Actor, card_id: int, *, id_verified: bool = False, expected_version: int | None = None,
) -> Card:
    """Deregister a loss (Art. 22): only a registered loss, only before a reissue was applied for
    (a reissued card is ``invalidated``, so the state machine refuses it), only in person at an
    outlet with the holder's valid ID document checked. The card resumes as it was before the loss
    (恢复正常使用): in use, not yet activated, or awaiting the replacement still being made for it
    (Art. 22 bars a reissue, 补领, not a replacement, 换领); so do the accounts: in use if the card
    was activated, else pending, a new bank's account pending until the replacement is activated,
    and all still suspended while an earlier loss is in force (a reissued card not yet activated)."""
    card, t = _begin(session, Op.DEREGISTER_LOSS, actor, card_id, expected_version)
    checked = check_id(Op.DEREGISTER_LOSS, actor, id_verified)
    t = _transition(Op.DEREGISTER_LOSS, card.status, _in_hand_state(session, card))
    if not _earlier_loss_in_force(session, card):
        for a in accounts(session, card.person_id):
            if a.status is AccountStatus.SUSPENDED:
                of_this_card = a.kind is AccountKind.MEDICAL or a.bank_id == card.bank_id
                a.status = AccountStatus.ACTIVE if card.activated_at and of_this_card else AccountStatus.PENDING
                a.suspended_at = None
    return _move(session, actor, card, t, **checked)


def _earlier_loss_in_force(session: Session, card: Card) -> bool:
    """Art. 21, 23: a card void after its loss (reissued, or lost while its replacement was made) keeps
    both accounts suspended until a later card of the holder is activated."""
    cards = list(session.scalars(select(Card).where(Card.person_id == card.person_id)))
    return any(c.status is CardStatus.INVALIDATED and not any(n.id > c.id and n.activated_at for n in cards)
               for c in cards)


def cancel(
    session: Session, actor: Actor, person_id: int, *, reason: CancellationReason, effective: date | None = None,
) -> list[Card]:
    """Cancel the holder's cards (Art. 26: death or loss of eligibility, by the issuing agency or a
    government feed; Art. 6: at the bank on the holder's request). Every live card, made or in
    the making, ends; both accounts close; no e-card token is issued again. For death or lost
    eligibility the person is marked by :func:`end_entitlement` (``effective``: the date of death,
    required, or the date the entitlement ended), the same rule the government notice follows."""
    check_channel(Op.CANCEL, actor)
    person = lock_person(session, person_id)
    live = [c for c in person.cards if (Op.CANCEL, c.status) in TRANSITION_INDEX]
    # Scope (Art. 16): the bank of the card in hand, else of the card being made.
    held = next((c for c in live if c.status in VALID_STATES), None) or next(iter(live), None)
    check_scope(session, actor, person.id, held.bank_id if held else None)
    if reason is CancellationReason.HOLDER_REQUEST and actor.role is not Role.BANK_TELLER:
        raise ChannelNotAllowed("A holder asks for cancellation at the bank.", article="Art. 6")
    if reason is not CancellationReason.HOLDER_REQUEST and actor.role is Role.BANK_TELLER:
        raise ChannelNotAllowed("Cancellation for death or lost eligibility is the issuing agency's duty.",
                                article="Art. 26")
    _check_effective(reason, effective)
    if not live:
        raise IllegalTransition("The holder has no live card to cancel.", article="Art. 26")
    end_entitlement(session, actor, person, reason, effective)
    for card in live:
        card.ended_at = clock.now()
        _move(session, actor, card, _transition(Op.CANCEL, card.status), reason=str(reason))
    close_accounts(session, person.id)
    return live


def _check_effective(reason: CancellationReason, effective: date | None) -> None:
    if reason is CancellationReason.DEATH and effective is None:
        raise InvalidInput("A cancellation for death needs the date of death (effective).", article="Art. 26",
                           field="effective")
    if effective is not None and effective > clock.today():
        raise InvalidInput("The effective date lies in the future.", article="Art. 26", field="effective")


def end_entitlement(
    session: Session, actor: Actor, person: Person, reason: CancellationReason, effective: date | None,
) -> None:
    """The one rule for a holder whose entitlement ended (Art. 4, 26), whoever records it: the issuing
    agency's clerk cancelling the card, or public security's notice through the government feed. On
    death (因死亡被公安机关注销户籍) the person is deceased on the date of death; either way they are no
    longer eligible, so no new card is made in their name (and a deceased holder gets no sign-in
    code). Audited with the old and new values. A holder's own request (Art. 6) changes nothing here."""
    if reason is CancellationReason.HOLDER_REQUEST:
        return
    _check_effective(reason, effective)
    old = {"deceased_on": person.deceased_on.isoformat() if person.deceased_on else None, "eligible": person.eligible}
    if reason is CancellationReason.DEATH:
        person.deceased_on = effective
    person.eligible = False
    new = {"deceased_on": person.deceased_on.isoformat() if person.deceased_on else None, "eligible": False}
    audit.record(session, actor, "person.deceased" if reason is CancellationReason.DEATH else "person.ineligible",
                 person_id=person.id, changes={"effective": effective.isoformat() if effective else None,
                                               **{k: [old[k], new[k]] for k in old if old[k] != new[k]}})


def close_accounts(session: Session, person_id: int) -> None:
    """Close both settlement accounts for good (Art. 26)."""
    _set_accounts(session, person_id, set(AccountStatus) - {AccountStatus.CLOSED}, AccountStatus.CLOSED)
    for a in accounts(session, person_id, open_only=False):
        a.closed_at = a.closed_at or clock.now()
    session.flush()


def held_card(session: Session, person_id: int) -> Card | None:
    return session.scalars(
        select(Card).where(Card.person_id == person_id, Card.status.in_(VALID_STATES))
    ).one_or_none()


def set_field_lock(
    session: Session, actor: Actor, card_id: int, *, field: Field, locked: bool, reason: str | None = None,
    expected_version: int | None = None,
) -> FieldStatus:
    """Lock or unlock one application field (Art. 6, 14). The lock belongs to the holder, so it
    survives a reissue or replacement."""
    op = Op.LOCK_FIELD if locked else Op.UNLOCK_FIELD
    card, t = _begin(session, op, actor, card_id, expected_version)
    status = session.get(FieldStatus, (card.person_id, field))
    if status is None:
        status = FieldStatus(person_id=card.person_id, field=field)
        session.add(status)
    if bool(status.locked) == locked:
        raise IllegalTransition("The {field} field is already locked." if locked else
                                "The {field} field is already unlocked.", article="Art. 6", params={"field": field})
    status.locked, status.reason, status.updated_at = locked, reason, clock.now()
    _move(session, actor, card, t, field=str(field), reason=reason)
    return status


def locked_fields(session: Session, person_id: int) -> list[Field]:
    return list(session.scalars(
        select(FieldStatus.field).where(FieldStatus.person_id == person_id, FieldStatus.locked.is_(True))
        .order_by(FieldStatus.field)
    ))


@dataclass(frozen=True)
class StatusReport:
    """Application status inquiry (Art. 6, 20): the card and which fields are usable."""

    card: Card
    usable: bool
    settlement_suspended: bool
    fields: dict[str, bool]  # field → usable


def inquire_status(session: Session, actor: Actor, card_id: int) -> StatusReport:
    check_channel(Op.INQUIRE_STATUS, actor)
    card = load_card(session, card_id, lock=False)
    check_scope(session, actor, card.person_id, card.bank_id)
    _transition(Op.INQUIRE_STATUS, card.status)
    usable = card.status in (CardStatus.ACTIVE, CardStatus.REPLACEMENT_PENDING)
    suspended = settlement_suspended(session, card.person_id)
    locked = set(locked_fields(session, card.person_id))
    return StatusReport(card=card, usable=usable, settlement_suspended=suspended,
                        fields={str(f): usable and f not in locked for f in Field})


def change_pin(
    session: Session, actor: Actor, card_id: int, *, old_pin: str, new_pin: str, expected_version: int | None = None,
) -> Card:
    """Change the PIN knowing the old one (Art. 6, 19). After PIN_MAX_FAILURES wrong PINs the card's
    PIN is locked; only a reset at an outlet with an ID check unlocks it."""
    card, t = _begin(session, Op.CHANGE_PIN, actor, card_id, expected_version)
    check_pin(card, old_pin)
    _set_pin(card, new_pin)
    return _move(session, actor, card, t)


def check_pin(card: Card, pin: str) -> None:
    """Verify a PIN, counting failures (Art. 19). A wrong PIN raises after the failure is counted;
    the caller must commit the count (the API does, see ``commit_on``)."""
    limit = _cfg("PIN_MAX_FAILURES")
    if card.pin_failures >= limit:
        raise PinLocked("The PIN is locked after too many wrong tries; reset it at an outlet with your ID.",
                        article="Art. 19")
    if not verify_password(card.pin_hash or "", pin):
        card.pin_failures += 1
        card.updated_at = clock.now()
        left = limit - card.pin_failures
        raise PinRefused("Wrong PIN; {left} tries left." if left else "Wrong PIN; the PIN is now locked.",
                         article="Art. 19", tries_left=left, commit=True, params={"left": left}) from None
    card.pin_failures = 0


def reset_pin(
    session: Session, actor: Actor, card_id: int, *, new_pin: str, id_verified: bool = False,
    expected_version: int | None = None,
) -> Card:
    """Reset a forgotten or locked PIN: only at an outlet, identity checked in person (Art. 19)."""
    card, t = _begin(session, Op.RESET_PIN, actor, card_id, expected_version)
    checked = check_id(Op.RESET_PIN, actor, id_verified)
    _set_pin(card, new_pin)
    return _move(session, actor, card, t, **checked)


def find_cards(actor: Actor, *, number: str | None = None, person_id: int | None = None,
               status: CardStatus | None = None):
    """A query of the cards ``actor`` may see: a teller only its own bank's (Art. 16)."""
    q = select(Card).order_by(Card.id)
    if number is not None:
        q = q.where(Card.number == number.strip().upper())
    if person_id is not None:
        q = q.where(Card.person_id == person_id)
    if status is not None:
        q = q.where(Card.status == status)
    if actor.role is Role.BANK_TELLER:
        q = q.where(Card.bank_id == actor.bank_id)
    return q


def current_card(session: Session, person_id: int) -> Card | None:
    """The holder's card that counts now: the valid one, else the one being made (for the e-card, Art. 28)."""
    cards = list(session.scalars(select(Card).where(Card.person_id == person_id).order_by(Card.id.desc())))
    return (next((c for c in cards if c.status in VALID_STATES), None)
            or next((c for c in cards if c.status in PENDING_STATES), None)
            or (cards[0] if cards else None))
