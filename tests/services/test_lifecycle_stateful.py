"""Random sequences of lifecycle operations keep the invariants (hypothesis, stateful).

Every operation of the lifecycle service is a rule, tried by random actors through random channels,
legal and illegal, on a few cardholders. After every step:

* at most one valid card (issued / active / loss_registered / replacement_pending) and at most one
  card in the making per person (Art. 23, 24: a new card replaces, it never doubles);
* both settlement accounts are suspended exactly while a loss is in force: the card in hand is
  loss-registered, or a card was reissued and no later card has been activated or cancelled (Art. 21, 23);
* a card once invalidated, replaced, cancelled or rejected never changes state again (Art. 23, 24, 26);
* a card is active only once activated (Art. 6, 19: never through a loss deregistration of a card that
  had not been), and awaits a replacement exactly while one is being made for it (Art. 22, 24);
* a refused operation changes nothing (the session is rolled back, as the API does); the one refusal
  that is committed, a wrong PIN, changes only the failure count (Art. 19);
* every card event is a row of the state table or a side effect on a predecessor; each card's
  events form a chain from creation to its current state (Art. 6: one event per change).
"""
from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from app.models import Card, CardEvent, Person, SettlementAccount
from app.models.card import PENDING_STATES, VALID_STATES
from app.models.enums import (
    AccountKind,
    AccountStatus,
    CancellationReason,
    CardStatus,
    Channel,
    DeliveryMethod,
    Field,
    ReplacementReason,
    ServiceMode,
)
from app.services import lifecycle, people
from app.services.actor import SYSTEM, Actor
from app.services.errors import DomainError, PinRefused
from app.services.lifecycle_rules import Op, event_article
from tests.factories import PIN, citizen_id, snapshot

TERMINAL = {CardStatus.INVALIDATED, CardStatus.REPLACED, CardStatus.CANCELLED, CardStatus.REJECTED}
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PINS = ["246801", "135790", "802461"]
WRONG_PIN = "975310"
ACTOR_KEYS = ["teller", "teller_yx", "teller_ccb", "teller_phone", "teller_online", "clerk", "clerk_outlet",
              "hotline", "medical", "system", "self", "other"]
_docs = itertools.count()
PERSON = st.integers(0, 2)
CARD = st.sampled_from(["fit"] * 6 + [-1, 0, 1, 2])  # mostly a card the operation fits, else any
WHO = st.sampled_from(["right"] * 24 + ACTOR_KEYS)  # two thirds the right actor, the rest anybody
MODE = st.sampled_from([ServiceMode.COUNTER] * 4 + [ServiceMode.DOOR_TO_DOOR, ServiceMode.INSTANT])
YES = st.sampled_from([True, True, True, False])
START_STATES = [None, CardStatus.APPLIED, CardStatus.PRODUCED, CardStatus.ISSUED, CardStatus.ACTIVE, CardStatus.ACTIVE,
                CardStatus.LOSS_REGISTERED, CardStatus.REPLACEMENT_PENDING, CardStatus.REPLACEMENT_PENDING,
                CardStatus.INVALIDATED, CardStatus.INVALIDATED]
SUCCESSOR = [None, "produced", "issued", "lost"]  # how far the replacement or reissued card has got at the
# start; "lost": a card issued or awaiting its replacement is registered lost at once (Art. 21, 22)


def _doc_number() -> str:
    """A fresh valid citizen ID for every person of every example (the tables are emptied only after the test)."""
    n = next(_docs)
    return citizen_id(birth=(date(1950, 1, 1) + timedelta(days=n)).strftime("%Y%m%d"), seq=n % 1000)


def _machine(session, world, clock):
    STAFF = {  # built once: the staff rows do not change
        "teller": world.teller, "teller_yx": world.actor("teller_yx"), "teller_ccb": world.actor("teller_ccb"),
        "teller_phone": world.teller.via(Channel.BANK_HOTLINE), "teller_online": world.teller.via(Channel.ONLINE),
        "clerk": world.clerk, "clerk_outlet": world.clerk.via(Channel.OUTLET), "hotline": world.actor("hotline"),
        "medical": world.actor("medical"), "system": SYSTEM,
    }

    class LifecycleMachine(RuleBasedStateMachine):
        @initialize(states=st.lists(st.tuples(st.sampled_from(START_STATES), st.sampled_from(SUCCESSOR)),
                                    min_size=3, max_size=3))
        def setup(self, states):
            """Three fresh cardholders (the tables are emptied only after the test), each with a card
            driven through the real lifecycle to a random state, or none."""
            session.rollback()  # a failed example (while shrinking) must not poison the next one
            clock.set(START)
            self.pids = []
            self.ended: dict[int, CardStatus] = {}
            self.pins: dict[int, str] = {}
            for state, successor in states:
                person = world.person(doc_number=_doc_number())
                self.pids.append(person.id)
                if state is None:
                    continue
                card = world.card(state, person)
                if card.pin_hash:
                    self.pins[card.id] = PIN
                if successor == "lost" and state in (CardStatus.ISSUED, CardStatus.REPLACEMENT_PENDING):
                    lifecycle.register_loss(session, world.resident(person.id), card.id)
                    continue
                if state in (CardStatus.REPLACEMENT_PENDING, CardStatus.INVALIDATED) and successor:
                    new = max(person.cards, key=lambda c: c.id)  # the replacement or the reissued card
                    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
                        step(session, world.clerk, new.id)
                    if successor in ("issued", "lost"):
                        lifecycle.pick_up(session, world.teller, new.id)
                    if successor == "lost":  # the reissued card, not yet activated, is lost too (Art. 21)
                        lifecycle.register_loss(session, world.resident(person.id), new.id)
            session.commit()

        # ------------------------------------------------------------ helpers

        def actor(self, key: str, p: int, cid: int | None = None, right: tuple[str, ...] = ()) -> Actor:
            """``key`` names an actor; "right" picks one of ``right``, the actors the channel table allows
            for the operation (a teller of the card's own bank for "card_teller"), so that about half the
            attempts are legal and the machine gets somewhere."""
            if key == "right":
                key = right[(cid or 0) % len(right)] if right else "teller"
                if key == "card_teller":
                    card = session.get(Card, cid) if cid else None
                    key = "teller_ccb" if card is not None and card.bank_id == world.banks[1].id else "teller"
            if key == "self":
                return world.resident(self.pids[p])
            if key == "other":
                return world.resident(self.pids[(p + 1) % len(self.pids)])
            return STAFF[key]

        def card_id(self, p: int, k: int | str, fit=()) -> int:
            """``k == "fit"``: the person's card in one of the states ``fit`` (the operation's legal source
            states), else the latest; an integer: any card of the person, whatever its state."""
            rows = session.execute(select(Card.id, Card.status).where(Card.person_id == self.pids[p])
                                   .order_by(Card.id)).all()
            if not rows:
                return 10**9  # no card: NotFound, a refusal like any other
            if k == "fit":
                return next((i for i, st_ in reversed(rows) if st_ in fit), rows[-1][0])
            return rows[k % len(rows)][0]

        def attempt(self, fn):
            before = snapshot(session, self.pids)
            try:
                result = fn()
            except PinRefused:
                session.commit()  # the API commits the failure count (Art. 19)
                after = snapshot(session, self.pids)
                changed = [(b, a) for b, a in zip(before["cards"], after["cards"]) if b != a]
                assert len(changed) == 1 and len(before["cards"]) == len(after["cards"])
                (b, a), = changed
                assert a[5] == b[5] + 1 and a[:4] == b[:4] and a[6:] == b[6:]
                assert {k: v for k, v in after.items() if k != "cards"} == \
                       {k: v for k, v in before.items() if k != "cards"}
                return None
            except DomainError:
                session.rollback()
                assert snapshot(session, self.pids) == before, "a refused operation changed something"
                return None
            session.commit()
            return result if result is not None else True

        # ------------------------------------------------------------ rules: applying and making

        @rule(p=PERSON, who=WHO, bank=st.sampled_from([0, 0, 0, 1, 2]), express=st.booleans(),
              mode=MODE, id_verified=YES)
        def apply(self, p, who, bank, express, mode, id_verified):
            delivery = lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市天河区天河路100号") if express \
                else lifecycle.Delivery(DeliveryMethod.PICKUP)
            actor = self.actor(who, p, bank, ("self", "teller_ccb" if bank == 1 else "teller"))
            self.attempt(lambda: lifecycle.apply(session, actor, self.pids[p], bank_id=world.banks[bank].id,
                                                 delivery=delivery, service_mode=mode, id_verified=id_verified))

        @rule(p=PERSON, k=CARD, who=WHO,
              op=st.sampled_from(["accept", "accept", "reject", "start_production", "finish_production",
                                  "dispatch", "deliver", "pick_up", "pick_up"]))
        def produce(self, p, k, who, op):
            cid = self.card_id(p, k, {"accept": ("applied",), "reject": ("applied",), "start_production": ("accepted",),
                                      "finish_production": ("in_production",), "dispatch": ("produced",),
                                      "deliver": ("in_transit",), "pick_up": ("produced",)}[op])
            actor = self.actor(who, p, cid, ("card_teller",) if op == "pick_up" else ("clerk",))
            call = {
                "accept": lambda: lifecycle.accept(session, actor, cid),
                "reject": lambda: lifecycle.reject(session, actor, cid, reason="not eligible"),
                "start_production": lambda: lifecycle.start_production(session, actor, cid),
                "finish_production": lambda: lifecycle.finish_production(session, actor, cid),
                "dispatch": lambda: lifecycle.dispatch(session, actor, cid, tracking_ref="SF1"),
                "deliver": lambda: lifecycle.deliver(session, actor, cid),
                "pick_up": lambda: lifecycle.pick_up(session, actor, cid),
            }[op]
            self.attempt(call)

        @rule(p=PERSON, express=st.booleans())
        def progress(self, p, express):
            self._progress(p, express)

        @rule(p=PERSON, express=st.booleans())
        def progress_again(self, p, express):  # more rules: progress is drawn three times as often
            self._progress(p, express)

        @rule(p=PERSON, express=st.booleans())
        def progress_once_more(self, p, express):
            self._progress(p, express)

        def _progress(self, p, express):
            """The next step of the latest card along its ordinary path, by the right actor (or a new
            application when there is none): keeps the machine moving towards the interesting states."""
            cid = self.card_id(p, -1)
            card = session.get(Card, cid)
            clerk, teller = STAFF["clerk"], self.actor("right", p, cid, ("card_teller",))
            if card is None or card.status in TERMINAL:
                delivery = lifecycle.Delivery(DeliveryMethod.EXPRESS, "广州市天河区天河路100号") if express \
                    else lifecycle.Delivery(DeliveryMethod.PICKUP)
                self.attempt(lambda: lifecycle.apply(session, self.actor("self", p), self.pids[p],
                                                     bank_id=world.banks[0].id, delivery=delivery))
                return
            method = card.application.delivery_method if card.application else None
            step = {
                CardStatus.APPLIED: lambda: lifecycle.accept(session, clerk, cid),
                CardStatus.ACCEPTED: lambda: lifecycle.start_production(session, clerk, cid),
                CardStatus.IN_PRODUCTION: lambda: lifecycle.finish_production(session, clerk, cid),
                CardStatus.PRODUCED: (lambda: lifecycle.dispatch(session, clerk, cid, tracking_ref="SF7"))
                if method is DeliveryMethod.EXPRESS else (lambda: lifecycle.pick_up(session, teller, cid)),
                CardStatus.IN_TRANSIT: lambda: lifecycle.deliver(session, clerk, cid),
                CardStatus.ISSUED: lambda: lifecycle.activate(session, teller, cid, pin=PIN),
            }.get(card.status)
            if step is not None and self.attempt(step) and card.status is CardStatus.ACTIVE:
                self.pins[cid] = PIN

        @rule(p=PERSON, k=CARD, who=WHO, pin=st.sampled_from(PINS * 3 + ["111111"]))
        def activate(self, p, k, who, pin):
            cid = self.card_id(p, k, ("issued",))
            actor = self.actor(who, p, cid, ("card_teller",))
            if self.attempt(lambda: lifecycle.activate(session, actor, cid, pin=pin)):
                self.pins[cid] = pin

        # ------------------------------------------------------------ rules: loss, reissue, replacement

        @rule(p=PERSON, k=CARD, who=WHO, id_verified=YES)
        def register_loss(self, p, k, who, id_verified):
            cid = self.card_id(p, k, ("issued", "active", "replacement_pending"))  # Art. 21: any card in hand
            actor = self.actor(who, p, cid, ("self", "card_teller", "hotline"))
            self.attempt(lambda: lifecycle.register_loss(session, actor, cid, id_verified=id_verified))

        @rule(p=PERSON, k=CARD, who=WHO, id_verified=YES)
        def deregister_loss(self, p, k, who, id_verified):
            self._deregister_loss(p, k, who, id_verified)

        @rule(p=PERSON, k=CARD, who=WHO, id_verified=YES)
        def found_again(self, p, k, who, id_verified):  # drawn twice as often: the Art. 22 paths are many
            self._deregister_loss(p, k, who, id_verified)

        def _deregister_loss(self, p, k, who, id_verified):
            cid = self.card_id(p, k, ("loss_registered", "invalidated"))
            actor = self.actor(who, p, cid, ("card_teller",))
            self.attempt(lambda: lifecycle.deregister_loss(session, actor, cid, id_verified=id_verified))

        @rule(p=PERSON, k=CARD, who=WHO, mode=MODE, id_verified=YES, stale=st.sampled_from([False] * 4 + [True]))
        def reissue(self, p, k, who, mode, id_verified, stale):
            cid = self.card_id(p, k, ("issued", "active", "loss_registered"))
            actor = self.actor(who, p, cid, ("self", "card_teller"))
            card = session.get(Card, cid)
            version = (card.version - 1 if stale else card.version) if card else None
            self.attempt(lambda: lifecycle.reissue(session, actor, cid,
                                                   delivery=lifecycle.Delivery(DeliveryMethod.PICKUP),
                                                   service_mode=mode, id_verified=id_verified,
                                                   expected_version=version))

        @rule(p=PERSON, k=CARD, who=WHO, reason=st.sampled_from(list(ReplacementReason)), quality_defect=st.booleans(),
              new_bank=st.sampled_from([0, 1, 1, 2]), mode=MODE)
        def replace(self, p, k, who, reason, quality_defect, new_bank, mode):
            cid = self.card_id(p, k, ("issued", "active"))
            if reason is ReplacementReason.BANK_CHANGE:  # taken at the new bank (Art. 24(3))
                actor = self.actor(who, p, cid, ("teller_ccb" if new_bank == 1 else "teller",))
            else:
                actor = self.actor(who, p, cid, ("card_teller",))
            self.attempt(lambda: lifecycle.replace(
                session, actor, cid, reason=reason, delivery=lifecycle.Delivery(DeliveryMethod.PICKUP),
                quality_defect=quality_defect, new_bank_id=world.banks[new_bank].id, service_mode=mode,
                id_verified=True))

        @rule(p=PERSON, who=WHO, bank=st.integers(0, 1))
        def confirm_unbind(self, p, who, bank):
            actor = self.actor(who, p, None, ("teller_ccb" if bank else "teller",))
            self.attempt(lambda: lifecycle.confirm_unbind(session, actor, self.pids[p]))

        @rule(p=PERSON, k=CARD, who=WHO, reason=st.sampled_from(list(CancellationReason)), rare=st.integers(0, 3),
              died=st.sampled_from([date(2026, 11, 1)] * 3 + [None]))
        def cancel(self, p, k, who, reason, rare, died):
            if rare:  # a quarter as often as the other rules: a cancellation ends the holder's story
                return
            cid = self.card_id(p, k, VALID_STATES + PENDING_STATES)
            right = ("card_teller",) if reason is CancellationReason.HOLDER_REQUEST else ("clerk", "system")
            actor = self.actor(who, p, cid, right)
            self.attempt(lambda: lifecycle.cancel(session, actor, self.pids[p], reason=reason, effective=died))

        @rule(p=PERSON, rare=st.integers(0, 7))
        def death_reported(self, p, rare):
            if rare:  # an eighth as often as the other rules: the dead apply for nothing more
                return
            person = session.get(Person, self.pids[p])
            self.attempt(lambda: people.apply_government_notice(
                session, SYSTEM, person.doc_type, person.doc_number, kind="death", effective=date(2026, 11, 1)))

        # ------------------------------------------------------------ rules: use

        @rule(p=PERSON, k=CARD, who=WHO, field=st.sampled_from([Field.MEDICAL, Field.TRANSPORT]),
              locked=st.booleans())
        def field_lock(self, p, k, who, field, locked):
            cid = self.card_id(p, k, VALID_STATES)
            actor = self.actor(who, p, cid, ("self", "card_teller") if locked else ("card_teller",))
            self.attempt(lambda: lifecycle.set_field_lock(session, actor, cid, field=field, locked=locked))

        @rule(p=PERSON, k=CARD, who=WHO)
        def inquire(self, p, k, who):
            cid = self.card_id(p, k, VALID_STATES)
            actor = self.actor(who, p, cid, ("self", "card_teller", "clerk", "medical"))
            before = snapshot(session, self.pids)
            try:
                report = lifecycle.inquire_status(session, actor, cid)
            except DomainError:
                session.rollback()
            else:
                locked = set(lifecycle.locked_fields(session, report.card.person_id))
                assert report.usable == (report.card.status in (CardStatus.ACTIVE, CardStatus.REPLACEMENT_PENDING))
                assert all(v == (report.usable and Field(f) not in locked) for f, v in report.fields.items())
                assert report.settlement_suspended == lifecycle.settlement_suspended(session, report.card.person_id)
                session.commit()
            assert snapshot(session, self.pids) == before

        @rule(p=PERSON, k=CARD, who=WHO, right_pin=st.sampled_from([True, True, False]), new=st.sampled_from(PINS))
        def change_pin(self, p, k, who, right_pin, new):
            cid = self.card_id(p, k, ("active",))
            actor = self.actor(who, p, cid, ("self", "card_teller"))
            old = self.pins.get(cid, PIN) if right_pin else WRONG_PIN
            if self.attempt(lambda: lifecycle.change_pin(session, actor, cid, old_pin=old, new_pin=new)):
                self.pins[cid] = new

        @rule(p=PERSON, k=CARD, who=WHO, id_verified=YES, new=st.sampled_from(PINS))
        def reset_pin(self, p, k, who, id_verified, new):
            cid = self.card_id(p, k, ("active",))
            actor = self.actor(who, p, cid, ("card_teller",))
            if self.attempt(lambda: lifecycle.reset_pin(session, actor, cid, new_pin=new, id_verified=id_verified)):
                self.pins[cid] = new

        @rule(p=PERSON, k=CARD, who=WHO, what=st.sampled_from(["phone", "name"]), id_verified=YES)
        def change_info(self, p, k, who, what, id_verified):
            cid = self.card_id(p, k, VALID_STATES)
            change = {"phone": "13900002222"} if what == "phone" else {"name": "陈大明"}
            actor = self.actor(who, p, cid, ("card_teller",) if what == "name" else ("self", "card_teller"))
            self.attempt(lambda: people.change_info(session, actor, self.pids[p], change, id_verified=id_verified))

        @rule(days=st.sampled_from([1, 30, 366]))
        def time_passes(self, days):
            clock.advance(days=days)

        # ------------------------------------------------------------ invariants (one read of the tables per step)

        @invariant()
        def invariants(self):
            cards = list(session.scalars(select(Card).where(Card.person_id.in_(self.pids)).order_by(Card.id)))
            accounts = list(session.scalars(select(SettlementAccount).where(SettlementAccount.person_id.in_(self.pids))))
            events = list(session.scalars(select(CardEvent).where(CardEvent.person_id.in_(self.pids))
                                          .order_by(CardEvent.id)))
            for pid in self.pids:
                mine = [c for c in cards if c.person_id == pid]
                self.one_valid_and_one_pending_card(mine)
                self.in_hand_states_follow_the_cards_facts(mine)
                self.suspended_exactly_while_a_loss_is_in_force(
                    pid, mine, [a for a in accounts if a.person_id == pid])
            self.ended_cards_never_change(cards)
            self.events_are_table_rows_forming_a_chain(cards, events)

        def one_valid_and_one_pending_card(self, cards):
            """Art. 23, 24: a new card replaces the old one, it never doubles it."""
            assert sum(c.status in VALID_STATES for c in cards) <= 1, [(c.id, c.status) for c in cards]
            assert sum(c.status in PENDING_STATES for c in cards) <= 1, [(c.id, c.status) for c in cards]

        def in_hand_states_follow_the_cards_facts(self, cards):
            """Art. 6, 19: active only once activated with a PIN (a loss deregistration gives back a card
            never activated as issued). Art. 22, 24: replacement_pending exactly while the card's
            replacement is being made (a deregistered loss gives it back awaiting it)."""
            for c in cards:
                if c.status is CardStatus.ACTIVE:
                    assert c.activated_at is not None and c.pin_hash, (c.id, c.status)
                successor_pending = any(n.predecessor_id == c.id and n.status in PENDING_STATES for n in cards)
                if c.status is CardStatus.REPLACEMENT_PENDING:
                    assert successor_pending, [(x.id, x.predecessor_id, str(x.status)) for x in cards]

        def suspended_exactly_while_a_loss_is_in_force(self, pid, cards, accounts):
            """Art. 21, 23: suspended while the card in hand is loss-registered, or a card was reissued and
            no later card has been activated (or cancelled, which closes the accounts)."""
            held = next((c for c in cards if c.status in VALID_STATES), None)
            reissued_not_yet_in_use = any(
                c.status is CardStatus.INVALIDATED and not any(
                    later.id > c.id and (later.activated_at is not None or later.status is CardStatus.CANCELLED)
                    for later in cards)
                for c in cards)
            in_force = (held is not None and held.status is CardStatus.LOSS_REGISTERED) or reissued_not_yet_in_use
            open_ = [a for a in accounts if a.status is not AccountStatus.CLOSED]
            suspended = {a.kind for a in open_ if a.status is AccountStatus.SUSPENDED}
            state = ([(c.id, str(c.status)) for c in cards], [(str(a.kind), str(a.status)) for a in accounts])
            assert bool(suspended) == in_force, state
            if in_force:  # both accounts, not just one (Art. 21)
                assert suspended == {AccountKind.MEDICAL, AccountKind.FINANCIAL}, state

        def ended_cards_never_change(self, cards):
            """Art. 23 (void for ever), 24 (replaced), 26 (cancelled), 4 (rejected)."""
            for c in cards:
                if c.id in self.ended:
                    assert c.status is self.ended[c.id], (c.id, self.ended[c.id], c.status)
                elif c.status in TERMINAL:
                    self.ended[c.id] = c.status

        def events_are_table_rows_forming_a_chain(self, cards, events):
            """Every event is a row of the state table or a side effect on a predecessor; a card's
            events chain from its creation to its current state."""
            last: dict[int, str | None] = {}
            for e in events:
                if e.card_id is None:
                    assert e.operation in (Op.CONFIRM_UNBIND, Op.CHANGE_INFO), e.operation
                    continue
                assert event_article(e.operation, e.from_status, e.to_status), (e.operation, e.from_status, e.to_status)
                if e.card_id in last:
                    assert last[e.card_id] == e.from_status, (e.card_id, last[e.card_id], e.operation, e.from_status)
                else:
                    assert (e.operation, e.from_status) == (Op.APPLY, None), (e.card_id, e.operation)
                last[e.card_id] = e.to_status
            for c in cards:
                assert last.get(c.id) == c.status, (c.id, c.status, last.get(c.id))

    return LifecycleMachine


def test_random_operation_sequences_keep_the_invariants_art6_21_26(world, session, clock, backend):
    """Art. 6, 21–26: see the module docstring. Random examples of up to 30 steps: 25 on SQLite,
    12 on PostgreSQL (slower per statement; the same service code, so fewer examples suffice)."""
    session.commit()
    run_state_machine_as_test(
        _machine(session, world, clock),
        settings=settings(max_examples=25 if backend == "sqlite" else 12, stateful_step_count=30, deadline=None,
                          database=None, suppress_health_check=list(HealthCheck)),
    )
