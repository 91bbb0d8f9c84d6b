"""Properties every lifecycle operation shares (Art. 6, 16, 19 and ENGINEERING.md):

* the channel table is the only gate: any (channel, role) not listed is refused, naming the article;
* scope (Art. 16): a teller acts only on their bank's cards, a resident only on their own;
* a refused operation changes nothing (after the rollback the API does);
* every successful operation writes exactly one CardEvent per card it changes, in the same
  transaction, with the article and the channel;
* If-Match: a stale ``expected_version`` is refused.
"""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.models import Card, CardEvent
from app.models.enums import (
    CancellationReason,
    CardStatus,
    Channel,
    DeliveryMethod,
    Field,
    ReplacementReason,
    Role,
    ServiceMode,
)
from app.services import lifecycle, people
from app.services.actor import SYSTEM, Actor
from app.services.errors import (
    ChannelNotAllowed,
    DomainError,
    OutOfScope,
    PinLocked,
    PreconditionFailed,
)
from app.services.lifecycle_rules import (
    CHANNEL_ARTICLES,
    CHANNELS,
    TRANSITION_INDEX,
    TRANSITIONS,
    Op,
    event_article,
    markdown_table,
)
from tests.factories import DIED, PICKUP, PIN, snapshot

EXPRESS = lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市天河区天河路100号")
TERMINAL = (CardStatus.REJECTED, CardStatus.INVALIDATED, CardStatus.REPLACED, CardStatus.CANCELLED)




def _calls(session, world, card):
    """One call per operation, on ``card`` (or its holder), for any actor."""
    pid, cid = card.person_id, card.id
    return {
        Op.APPLY: lambda a: lifecycle.apply(session, a, pid, bank_id=world.banks[0].id, delivery=EXPRESS),
        Op.ACCEPT: lambda a: lifecycle.accept(session, a, cid),
        Op.REJECT: lambda a: lifecycle.reject(session, a, cid, reason="x"),
        Op.START_PRODUCTION: lambda a: lifecycle.start_production(session, a, cid),
        Op.FINISH_PRODUCTION: lambda a: lifecycle.finish_production(session, a, cid),
        Op.DISPATCH: lambda a: lifecycle.dispatch(session, a, cid, tracking_ref="SF1"),
        Op.DELIVER: lambda a: lifecycle.deliver(session, a, cid),
        Op.PICK_UP: lambda a: lifecycle.pick_up(session, a, cid),
        Op.ACTIVATE: lambda a: lifecycle.activate(session, a, cid, pin="246801"),
        Op.REGISTER_LOSS: lambda a: lifecycle.register_loss(session, a, cid),
        Op.DEREGISTER_LOSS: lambda a: lifecycle.deregister_loss(session, a, cid, id_verified=True),
        Op.REISSUE: lambda a: lifecycle.reissue(session, a, cid, delivery=EXPRESS),
        Op.REPLACE: lambda a: lifecycle.replace(session, a, cid, reason=ReplacementReason.DAMAGED, delivery=EXPRESS),
        Op.CONFIRM_UNBIND: lambda a: lifecycle.confirm_unbind(session, a, pid),
        Op.CANCEL: lambda a: lifecycle.cancel(session, a, pid, reason=CancellationReason.DEATH, effective=DIED),
        Op.LOCK_FIELD: lambda a: lifecycle.set_field_lock(session, a, cid, field=Field.MEDICAL, locked=True),
        Op.UNLOCK_FIELD: lambda a: lifecycle.set_field_lock(session, a, cid, field=Field.MEDICAL, locked=False),
        Op.INQUIRE_STATUS: lambda a: lifecycle.inquire_status(session, a, cid),
        Op.CHANGE_PIN: lambda a: lifecycle.change_pin(session, a, cid, old_pin=PIN, new_pin="246801"),
        Op.RESET_PIN: lambda a: lifecycle.reset_pin(session, a, cid, new_pin="246801", id_verified=True),
        # phone_confirmed: the code sent to the new number came back (Art. 19; app.services.otp)
        Op.CHANGE_INFO: lambda a: people.change_info(session, a, pid, {"phone": "13900002222"}, phone_confirmed=True),
    }


# ---------------------------------------------------------------- the tables themselves


def test_every_operation_has_channels_and_transitions_art6():
    assert set(CHANNELS) == set(Op)
    assert {t.op for t in TRANSITIONS} == set(Op)
    # one row per (operation, from, to); several targets from one state only where the table says so
    assert len({(t.op, t.source, t.target) for t in TRANSITIONS}) == len(TRANSITIONS)
    assert {k for k, rows in TRANSITION_INDEX.items() if len(rows) > 1} == {(Op.DEREGISTER_LOSS,
                                                                            CardStatus.LOSS_REGISTERED)}
    table = markdown_table()
    assert all(f"| {op} |" in table for op in Op)


def test_ended_cards_have_no_way_back_art23_24_26():
    """Art. 23 (void for ever), 24 (replaced), 26 (cancelled), 4 (rejected): no row leaves these states
    except the read-only status inquiry."""
    for t in TRANSITIONS:
        if t.source in TERMINAL:
            assert t.op is Op.INQUIRE_STATUS and t.target is None, t


def test_loss_deregistration_row_only_from_loss_registered_art22():
    """Art. 22: from a registered loss only, back to the state the card had in hand (恢复正常使用)."""
    rows = [t for t in TRANSITIONS if t.op is Op.DEREGISTER_LOSS]
    assert {t.source for t in rows} == {CardStatus.LOSS_REGISTERED}
    assert {t.target for t in rows} == {CardStatus.ACTIVE, CardStatus.ISSUED, CardStatus.REPLACEMENT_PENDING}
    (reissue,) = TRANSITION_INDEX[(Op.REISSUE, CardStatus.LOSS_REGISTERED)]
    assert reissue.target is CardStatus.INVALIDATED


def test_channel_table_matches_the_measures_art6_7_21_22_23_24():
    assert set(CHANNELS[Op.APPLY]) == {(Channel.ONLINE, Role.RESIDENT), (Channel.OUTLET, Role.BANK_TELLER)}
    assert {c for c, _ in CHANNELS[Op.REGISTER_LOSS]} == {
        Channel.ONLINE, Channel.GOV_HOTLINE, Channel.BANK_HOTLINE, Channel.OUTLET}
    assert CHANNELS[Op.DEREGISTER_LOSS] == ((Channel.OUTLET, Role.BANK_TELLER),)
    assert {c for c, _ in CHANNELS[Op.REISSUE]} == {Channel.ONLINE, Channel.OUTLET}
    assert {c for c, _ in CHANNELS[Op.REPLACE]} == {Channel.OUTLET}
    assert {c for c, _ in CHANNELS[Op.RESET_PIN]} == {Channel.OUTLET}


# ---------------------------------------------------------------- channel gate


@pytest.mark.parametrize("op", [op for op in Op if op is not Op.ISSUE_INSTANTLY])
def test_operation_through_unlisted_channel_refused_art6(world, session, op):
    """Every (channel, role) pair not in the channel table is refused with ChannelNotAllowed naming the
    article, before anything is read or written."""
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    before = snapshot(session, [card.person_id])
    call = _calls(session, world, card)[op]
    allowed = set(CHANNELS[op])
    article = CHANNEL_ARTICLES.get(op) or lifecycle.article_of(op)
    for role in Role:
        for channel in Channel:
            if (channel, role) in allowed:
                continue
            with pytest.raises(ChannelNotAllowed) as e:
                call(world.as_role(role, channel, card.person_id))
            assert e.value.article == article, (op, role, channel)
            session.rollback()
    assert snapshot(session, [card.person_id]) == before


# ---------------------------------------------------------------- scope (Art. 16)


@pytest.mark.parametrize("op", [Op.ACTIVATE, Op.REGISTER_LOSS, Op.DEREGISTER_LOSS, Op.REISSUE, Op.REPLACE,
                                Op.LOCK_FIELD, Op.INQUIRE_STATUS, Op.CHANGE_PIN, Op.RESET_PIN, Op.PICK_UP,
                                Op.CANCEL, Op.CHANGE_INFO])
def test_teller_of_another_bank_cannot_operate_on_card_art16(world, session, op):
    card = world.card(CardStatus.ACTIVE)
    ccb = world.actor("teller_ccb")
    assert ccb.bank_id != card.bank_id
    call = _calls(session, world, card)[op]
    if op is Op.CANCEL:
        call = lambda a: lifecycle.cancel(session, a, card.person_id,
                                          reason=CancellationReason.HOLDER_REQUEST)
    with pytest.raises(OutOfScope) as e:
        call(ccb)
    assert "Art. 16" in e.value.article


@pytest.mark.parametrize("op", [Op.APPLY, Op.REGISTER_LOSS, Op.REISSUE, Op.LOCK_FIELD, Op.INQUIRE_STATUS,
                                Op.CHANGE_PIN, Op.CHANGE_INFO])
def test_resident_cannot_operate_on_someone_elses_card_art16(world, session, op):
    card = world.card(CardStatus.ACTIVE)
    other = world.person()
    with pytest.raises(OutOfScope) as e:
        _calls(session, world, card)[op](world.resident(other.id))
    assert "Art. 16" in e.value.article


def test_resident_without_identity_cannot_operate_art16(world, session):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(OutOfScope):
        lifecycle.register_loss(session, Actor(role=Role.RESIDENT, channel=Channel.ONLINE), card.id)


# ---------------------------------------------------------------- nothing changes when refused


def _refusals(session, world):
    """(name, setup → callable) for refused operations, several of which fail only after the service
    has already touched the session (accounts added, person data changed, a field row created)."""
    def third_bank_confirm():
        old = world.card(CardStatus.ACTIVE)
        lifecycle.replace(session, world.actor("teller_ccb"), old.id, reason=ReplacementReason.BANK_CHANGE,
                          delivery=PICKUP, new_bank_id=world.banks[1].id)
        return old, lambda: lifecycle.confirm_unbind(session, world.actor("teller_ccb"), old.person_id)

    def locked_pin():
        card = world.card(CardStatus.ACTIVE)
        card.pin_failures = 5
        return card, lambda: lifecycle.change_pin(session, world.resident(card.person_id), card.id, old_pin=PIN,
                                                  new_pin="246801")

    def instant_at_plain_outlet():
        card = world.card(CardStatus.CANCELLED)
        card.person.eligible = True  # cancelled on the holder's request, say: may apply again
        return card, lambda: lifecycle.apply(session, world.actor("teller_yx"), card.person_id,
                                             bank_id=world.banks[0].id, delivery=PICKUP,
                                             service_mode=ServiceMode.INSTANT, id_verified=True)

    def with_card(state, fn, **kw):
        def build():
            card = world.card(state, **kw)
            return card, lambda: fn(card)
        return build

    t, clerk = world.teller, world.clerk
    return {
        "deregister after reissue (Art. 22)": with_card(
            CardStatus.INVALIDATED, lambda c: lifecycle.deregister_loss(session, t, c.id, id_verified=True)),
        "deregister online (Art. 22)": with_card(
            CardStatus.LOSS_REGISTERED,
            lambda c: lifecycle.deregister_loss(session, world.resident(c.person_id), c.id, id_verified=True)),
        "deregister without ID (Art. 22)": with_card(
            CardStatus.LOSS_REGISTERED, lambda c: lifecycle.deregister_loss(session, t, c.id)),
        "loss by agency (Art. 21)": with_card(
            CardStatus.ACTIVE, lambda c: lifecycle.register_loss(session, clerk, c.id)),
        "reissue invalidated (Art. 23)": with_card(
            CardStatus.INVALIDATED, lambda c: lifecycle.reissue(session, t, c.id, delivery=PICKUP, id_verified=True)),
        "instant reissue without ID (Art. 25)": with_card(
            CardStatus.LOSS_REGISTERED, lambda c: lifecycle.reissue(session, t, c.id, delivery=PICKUP,
                                                                    service_mode=ServiceMode.INSTANT)),
        "replace online (Art. 24)": with_card(
            CardStatus.ACTIVE, lambda c: lifecycle.replace(session, world.resident(c.person_id), c.id,
                                                           reason=ReplacementReason.DAMAGED, delivery=EXPRESS)),
        "bank change at former bank (Art. 24)": with_card(
            CardStatus.ACTIVE, lambda c: lifecycle.replace(session, t, c.id, reason=ReplacementReason.BANK_CHANGE,
                                                           delivery=PICKUP, new_bank_id=world.banks[1].id)),
        "confirm unbind by new bank (Art. 24 ¶2)": third_bank_confirm,
        "instant apply at non-instant outlet (Art. 10)": instant_at_plain_outlet,
        "name change without ID check (Art. 24(2))": with_card(
            CardStatus.ACTIVE, lambda c: people.change_info(session, t, c.person_id, {"name": "陈大明"})),
        "outlet loss registration without ID check (Art. 21)": with_card(
            CardStatus.ACTIVE, lambda c: lifecycle.register_loss(session, t, c.id)),
        "outlet application without ID check (Art. 7)": with_card(
            CardStatus.REJECTED, lambda c: lifecycle.apply(session, t, c.person_id, bank_id=world.banks[0].id,
                                                           delivery=PICKUP)),
        "name change online (Art. 24(2))": with_card(
            CardStatus.ACTIVE,
            lambda c: people.change_info(session, world.resident(c.person_id), c.person_id, {"name": "陈大明"})),
        "unlock a field never locked (Art. 6)": with_card(
            CardStatus.ACTIVE, lambda c: lifecycle.set_field_lock(session, t, c.id, field=Field.HEALTH,
                                                                  locked=False)),
        "cancel for death by teller (Art. 26)": with_card(
            CardStatus.ACTIVE, lambda c: lifecycle.cancel(session, t, c.person_id, reason=CancellationReason.DEATH, effective=DIED)),
        "cancel with nothing live (Art. 26)": with_card(
            CardStatus.CANCELLED, lambda c: lifecycle.cancel(session, clerk, c.person_id,
                                                             reason=CancellationReason.INELIGIBLE)),
        "dispatch pickup card (Art. 12)": with_card(
            CardStatus.PRODUCED, lambda c: lifecycle.dispatch(session, clerk, c.id, tracking_ref="SF1")),
        "pickup express card (Art. 12)": with_card(
            CardStatus.PRODUCED, lambda c: lifecycle.pick_up(session, t, c.id), delivery=DeliveryMethod.EXPRESS),
        "stale If-Match": with_card(
            CardStatus.ACTIVE, lambda c: lifecycle.register_loss(session, t, c.id, expected_version=c.version - 1, id_verified=True)),
        "another bank's teller (Art. 16)": with_card(
            CardStatus.ACTIVE, lambda c: lifecycle.reissue(session, world.actor("teller_ccb"), c.id,
                                                           delivery=PICKUP, id_verified=True)),
        "PIN locked (Art. 19)": locked_pin,
        "weak PIN at activation (Art. 19)": with_card(
            CardStatus.ISSUED, lambda c: lifecycle.activate(session, t, c.id, pin="123456")),
    }


REFUSALS = list(_refusals(None, SimpleNamespace(teller=None, clerk=None)))


@pytest.mark.parametrize("name", REFUSALS)
def test_refused_operation_changes_nothing_art6(world, session, name):
    """A refused operation, rolled back as the API does, leaves cards, versions, events, accounts and
    field locks exactly as they were."""
    card, call = _refusals(session, world)[name]()
    session.commit()
    pid = card.person_id
    before = snapshot(session, [pid])
    with pytest.raises(DomainError):
        call()
    session.rollback()
    assert snapshot(session, [pid]) == before


def test_pin_refusal_changes_only_the_failure_count_art19(world, session):
    """The one refusal that is committed (as the API does for ``commit=True``): the wrong-PIN count."""
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    before = snapshot(session, [card.person_id])
    with pytest.raises(DomainError) as e:
        lifecycle.change_pin(session, world.resident(card.person_id), card.id, old_pin="975310", new_pin="246801")
    assert e.value.extra.get("commit") is True
    session.commit()
    after = snapshot(session, [card.person_id])
    (b,), (a,) = before["cards"], after["cards"]
    assert a[5] == b[5] + 1  # pin_failures
    assert a[:4] == b[:4] and a[6:] == b[6:]  # same status; version may move
    assert {k: v for k, v in after.items() if k != "cards"} == {k: v for k, v in before.items() if k != "cards"}


def test_pin_locked_refusal_counts_nothing_more_art19(world, session):
    card = world.card(CardStatus.ACTIVE)
    card.pin_failures = 5
    session.commit()
    with pytest.raises(PinLocked):
        lifecycle.change_pin(session, world.resident(card.person_id), card.id, old_pin="975310", new_pin="246801")
    session.commit()
    assert card.pin_failures == 5


# ---------------------------------------------------------------- one event per changed card


def _new_events(session, since: int) -> list[CardEvent]:
    return list(session.scalars(select(CardEvent).where(CardEvent.id > since).order_by(CardEvent.id)))


def _max_event(session) -> int:
    return session.scalar(select(func.coalesce(func.max(CardEvent.id), 0)))


def _cases(session, world):
    """name → build() returning (actor, call, expected [(card or None, op, from, to)])."""
    t, clerk = world.teller, world.clerk

    def simple(state, op, actor, fn, to=None, **kw):
        def build():
            card = world.card(state, **kw)
            frm = card.status
            return actor(card), (lambda a: fn(a, card)), [(card, op, frm, to or frm)]
        return build

    def reissue():
        card = world.card(CardStatus.LOSS_REGISTERED)
        res = world.resident(card.person_id)
        def call(a):
            call.new = lifecycle.reissue(session, a, card.id, delivery=EXPRESS)
        return res, call, [(card, Op.REISSUE, "loss_registered", "invalidated"),
                           (lambda: call.new, Op.APPLY, None, "applied")]

    def replace():
        card = world.card(CardStatus.ACTIVE)
        def call(a):
            call.new = lifecycle.replace(session, a, card.id, reason=ReplacementReason.DAMAGED, delivery=PICKUP)
        return t, call, [(card, Op.REPLACE, "active", "replacement_pending"),
                         (lambda: call.new, Op.APPLY, None, "applied")]

    def issue_replacement():
        old = world.card(CardStatus.REPLACEMENT_PENDING)
        new = old.person.cards[-1]
        for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
            step(session, clerk, new.id)
        return t, (lambda a: lifecycle.pick_up(session, a, new.id)), [
            (old, Op.REPLACE, "replacement_pending", "replaced"), (new, Op.PICK_UP, "produced", "issued")]

    def instant_apply():
        person = world.person()
        def call(a):
            call.new = lifecycle.apply(session, a, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                                       service_mode=ServiceMode.INSTANT, id_verified=True)
        return t, call, [(lambda: call.new, Op.APPLY, None, "applied"),
                         (lambda: call.new, Op.ISSUE_INSTANTLY, "applied", "issued")]

    def apply_():
        person = world.person()
        def call(a):
            call.new = lifecycle.apply(session, a, person.id, bank_id=world.banks[0].id, delivery=PICKUP,
                                       id_verified=True)
        return t, call, [(lambda: call.new, Op.APPLY, None, "applied")]

    def cancel():
        old = world.card(CardStatus.REPLACEMENT_PENDING)
        new = old.person.cards[-1]
        return SYSTEM, (lambda a: lifecycle.cancel(session, a, old.person_id, reason=CancellationReason.DEATH, effective=DIED)), [
            (old, Op.CANCEL, "replacement_pending", "cancelled"), (new, Op.CANCEL, "applied", "cancelled")]

    def confirm_unbind():
        old = world.card(CardStatus.ACTIVE)
        lifecycle.replace(session, world.actor("teller_ccb"), old.id, reason=ReplacementReason.BANK_CHANGE,
                          delivery=PICKUP, new_bank_id=world.banks[1].id)
        return t, (lambda a: lifecycle.confirm_unbind(session, a, old.person_id)), [
            (None, Op.CONFIRM_UNBIND, None, None)]

    def unlock():
        card = world.card(CardStatus.ACTIVE)
        lifecycle.set_field_lock(session, t, card.id, field=Field.MEDICAL, locked=True)
        return t, (lambda a: lifecycle.set_field_lock(session, a, card.id, field=Field.MEDICAL, locked=False)), [
            (card, Op.UNLOCK_FIELD, "active", "active")]

    A = CardStatus
    return {
        "apply": apply_,
        "instant apply": instant_apply,
        "accept": simple(A.APPLIED, Op.ACCEPT, lambda c: clerk, lambda a, c: lifecycle.accept(session, a, c.id),
                         "accepted"),
        "reject": simple(A.APPLIED, Op.REJECT, lambda c: clerk,
                         lambda a, c: lifecycle.reject(session, a, c.id, reason="no basis"), "rejected"),
        "start production": simple(A.ACCEPTED, Op.START_PRODUCTION, lambda c: clerk,
                                   lambda a, c: lifecycle.start_production(session, a, c.id), "in_production"),
        "finish production": simple(A.IN_PRODUCTION, Op.FINISH_PRODUCTION, lambda c: clerk,
                                    lambda a, c: lifecycle.finish_production(session, a, c.id), "produced"),
        "dispatch": simple(A.PRODUCED, Op.DISPATCH, lambda c: clerk,
                           lambda a, c: lifecycle.dispatch(session, a, c.id, tracking_ref="SF9"), "in_transit",
                           delivery=DeliveryMethod.EXPRESS),
        "deliver": simple(A.IN_TRANSIT, Op.DELIVER, lambda c: clerk, lambda a, c: lifecycle.deliver(session, a, c.id),
                          "issued", delivery=DeliveryMethod.EXPRESS),
        "pick up": simple(A.PRODUCED, Op.PICK_UP, lambda c: t, lambda a, c: lifecycle.pick_up(session, a, c.id),
                          "issued"),
        "activate": simple(A.ISSUED, Op.ACTIVATE, lambda c: t,
                           lambda a, c: lifecycle.activate(session, a, c.id, pin="246801"), "active"),
        "register loss by bank hotline": simple(
            A.ACTIVE, Op.REGISTER_LOSS, lambda c: t.via(Channel.BANK_HOTLINE),
            lambda a, c: lifecycle.register_loss(session, a, c.id), "loss_registered"),
        "register loss by 12345": simple(
            A.ACTIVE, Op.REGISTER_LOSS, lambda c: world.hotline_call(c.person_id),
            lambda a, c: lifecycle.register_loss(session, a, c.id), "loss_registered"),
        "deregister loss": simple(A.LOSS_REGISTERED, Op.DEREGISTER_LOSS, lambda c: t,
                                  lambda a, c: lifecycle.deregister_loss(session, a, c.id, id_verified=True), "active"),
        "reissue": reissue,
        "replace": replace,
        "issue a replacement": issue_replacement,
        "cancel": cancel,
        "confirm unbind": confirm_unbind,
        "lock field online": simple(A.ACTIVE, Op.LOCK_FIELD, lambda c: world.resident(c.person_id),
                                    lambda a, c: lifecycle.set_field_lock(session, a, c.id, field=Field.HOUSING,
                                                                          locked=True)),
        "unlock field": unlock,
        "change PIN": simple(A.ACTIVE, Op.CHANGE_PIN, lambda c: world.resident(c.person_id),
                             lambda a, c: lifecycle.change_pin(session, a, c.id, old_pin=PIN, new_pin="246801")),
        "reset PIN": simple(A.ACTIVE, Op.RESET_PIN, lambda c: t,
                            lambda a, c: lifecycle.reset_pin(session, a, c.id, new_pin="246801", id_verified=True)),
        "change phone": simple(A.ACTIVE, Op.CHANGE_INFO, lambda c: world.resident(c.person_id),
                               lambda a, c: people.change_info(session, a, c.person_id, {"phone": "13900002222"},
                                                               phone_confirmed=True)),
    }


CASES = list(_cases(None, SimpleNamespace(teller=None, clerk=None)))


@pytest.mark.parametrize("name", CASES)
def test_each_operation_writes_one_event_per_changed_card_art6(world, session, name):
    """Every successful operation writes exactly one CardEvent per card it changes (an instant
    application writes two steps, apply and issue), carrying the article of the table row, the
    channel, the role, the user and the outlet; and the event lives in the same transaction as the
    change: a rollback removes both."""
    actor, call, expected = _cases(session, world)[name]()
    session.commit()
    since = _max_event(session)
    existing = {c.id: c.status for c, *_ in expected if c is not None and not callable(c)}
    n_cards = session.scalar(select(func.count()).select_from(Card))
    call(actor)
    session.flush()
    events = _new_events(session, since)
    resolved = [((c() if callable(c) else c), op, frm, to) for c, op, frm, to in expected]
    got = [(e.card_id, e.operation, e.from_status, e.to_status) for e in events]
    want = [(c.id if c is not None else None, str(op), frm, to) for c, op, frm, to in resolved]
    assert sorted(got, key=str) == sorted(want, key=str)
    for e in events:
        if e.operation == Op.CONFIRM_UNBIND:
            assert e.article == "Art. 24 ¶2"
        else:  # a row of the state table, or a side effect on a predecessor, with its article
            assert e.article == event_article(e.operation, e.from_status, e.to_status), (e.operation, e.from_status)
        assert (e.channel, e.actor_role, e.actor_id, e.outlet_id) == (
            actor.channel, actor.role, actor.user_id, actor.outlet_id)
    # the same transaction: the events go with the change when it is rolled back
    session.rollback()
    assert _new_events(session, since) == []
    assert session.scalar(select(func.count()).select_from(Card)) == n_cards
    assert {cid: session.get(Card, cid).status for cid in existing} == existing


def test_committed_events_agree_with_card_status_art6(world, session):
    """After a run of operations, each card's status is the to-status of its last event."""
    for state in (CardStatus.ACTIVE, CardStatus.INVALIDATED, CardStatus.CANCELLED, CardStatus.REPLACEMENT_PENDING):
        world.card(state)
    session.commit()
    for card in session.scalars(select(Card)):
        last = session.scalars(select(CardEvent).where(CardEvent.card_id == card.id)
                               .order_by(CardEvent.id.desc())).first()
        assert last.to_status == str(card.status)


# ---------------------------------------------------------------- If-Match (optimistic concurrency)


def test_stale_expected_version_refused_with_precondition_failed(world, session, clock):
    """If-Match: a counter that read the card before someone else changed it is refused (412)."""
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    read = card.version
    lifecycle.register_loss(session, world.resident(card.person_id), card.id, expected_version=read)  # online
    session.commit()
    assert card.version > read
    with pytest.raises(PreconditionFailed):  # the teller still holds the old ETag
        lifecycle.deregister_loss(session, world.teller, card.id, id_verified=True, expected_version=read)
    session.rollback()
    assert card.status is CardStatus.LOSS_REGISTERED
    lifecycle.deregister_loss(session, world.teller, card.id, id_verified=True, expected_version=card.version)
    session.commit()
    assert card.status is CardStatus.ACTIVE


def test_expected_version_checked_on_reissue_and_replace_art23_24(world, session):
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    with pytest.raises(PreconditionFailed):
        lifecycle.reissue(session, world.teller, card.id, delivery=PICKUP, expected_version=card.version + 1, id_verified=True)
    session.rollback()
    with pytest.raises(PreconditionFailed):
        lifecycle.replace(session, world.teller, card.id, reason=ReplacementReason.DAMAGED, delivery=PICKUP,
                          expected_version=card.version + 1)
    session.rollback()
    assert card.status is CardStatus.ACTIVE


def test_death_notice_is_recorded_art26(world, session):
    person = world.person()
    people.apply_government_notice(session, SYSTEM, person.doc_type, person.doc_number, kind="death",
                                   effective=date(2026, 11, 20))
    assert person.deceased_on == date(2026, 11, 20) and person.eligible is False
