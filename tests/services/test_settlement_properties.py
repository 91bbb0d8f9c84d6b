"""Property-based tests (hypothesis) of the posting rules and of suspension (Art. 13, 21, 22).

* Any (type, account, amount): either the balance of exactly that account moves by exactly the amount, in
  the type's direction, and the ledger reconciles; or the request is refused and nothing is written.
* Any sequence of loss registrations, deregistrations, credits and debits: a debit during a loss never
  posts (refused naming Art. 21), credits post (the default setting), and the balances follow a model.
"""
from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.models.enums import AccountKind, CardStatus
from app.models.enums import TransactionType as T
from app.services import lifecycle, settlement
from app.services.errors import DomainError
from app.services.ledger import reconcile
from app.services.settlement import RULES, Consent, Direction, SettlementRefused
from tests.ledger_helpers import fund, journal_counts, social_insurance, token

SETTINGS = settings(max_examples=30, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
AMOUNTS = st.one_of(st.integers(min_value=-10, max_value=3_000), st.sampled_from([0, 2**31, 2**63, 10**20]))


def _posters(world):
    return {T.FUND_TRANSFER_IN: world.actor("medical"), T.REIMBURSEMENT: world.actor("medical"),
            T.MEDICAL_SETTLEMENT: world.actor("medical"), T.BENEFIT_PAYMENT: social_insurance(world),
            T.PREMIUM_PAYMENT: social_insurance(world), T.DEPOSIT: world.teller, T.WITHDRAWAL: world.teller}


def test_a_posting_moves_exactly_its_amount_on_its_own_account_or_nothing_art13(session, world):
    card = world.card(CardStatus.ACTIVE)
    med, fin = fund(session, world, card.person_id, 20_000)
    accounts = {AccountKind.MEDICAL: med, AccountKind.FINANCIAL: fin}
    posters = _posters(world)

    @SETTINGS
    @given(t=st.sampled_from(sorted(posters)), kind=st.sampled_from(list(AccountKind)), amount=AMOUNTS,
           as_credit=st.booleans())
    def run(t, kind, amount, as_credit):
        before = {k: settlement.balance(session, a) for k, a in accounts.items()}
        counts = journal_counts(session)
        rule = RULES[t]
        try:
            if as_credit:
                settlement.credit(session, posters[t], t, amount, key=uuid.uuid4().hex, account_id=accounts[kind].id)
            else:
                consent = (Consent(ecard_token=token(session, card.person_id)) if t is T.MEDICAL_SETTLEMENT
                           else Consent(card_number=card.number, pin="135790"))
                settlement.debit(session, posters[t], t, amount, key=uuid.uuid4().hex, consent=consent)
        except DomainError:  # refused before anything was written
            assert journal_counts(session) == counts
            assert {k: settlement.balance(session, a) for k, a in accounts.items()} == before
            return
        # it posted: only as the rules allow
        assert rule.direction is (Direction.CREDIT if as_credit else Direction.DEBIT)
        assert 0 < amount and (not as_credit or rule.kind is kind)
        sign = 1 if as_credit else -1
        after = {k: settlement.balance(session, a) for k, a in accounts.items()}
        assert after[rule.kind] == before[rule.kind] + sign * amount
        assert all(after[k] == before[k] for k in accounts if k is not rule.kind)
        assert min(after.values()) >= 0
        assert reconcile(session).clean

    run()


OPS = st.lists(st.one_of(
    st.tuples(st.just("loss"), st.just(0)), st.tuples(st.just("found"), st.just(0)),
    st.tuples(st.just("debit"), st.integers(1, 4_000)), st.tuples(st.just("credit"), st.integers(1, 4_000)),
), min_size=1, max_size=12)


def test_a_debit_during_a_loss_never_posts_art21_22(session, world):
    card = world.card(CardStatus.ACTIVE)
    med, fin = fund(session, world, card.person_id, 5_000)
    social = social_insurance(world)

    @SETTINGS
    @given(ops=OPS)
    def run(ops):
        model = settlement.balance(session, fin)
        for op, amount in ops:
            session.refresh(card)
            lost = card.status is CardStatus.LOSS_REGISTERED
            if op == "loss" and not lost:
                lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
            elif op == "found" and lost:
                lifecycle.deregister_loss(session, world.teller, card.id, id_verified=True)
            elif op == "credit":
                settlement.credit(session, social, T.BENEFIT_PAYMENT, amount, key=uuid.uuid4().hex, account_id=fin.id)
                model += amount  # Art. 21: inflows post while suspended (the default setting)
            elif op == "debit":
                counts = journal_counts(session)
                try:
                    settlement.debit(session, social, T.PREMIUM_PAYMENT, amount, key=uuid.uuid4().hex,
                                     consent=Consent(card_number=card.number, pin="135790"))
                except SettlementRefused as e:
                    assert lost and e.article == "Art. 21"
                    assert journal_counts(session) == counts
                    continue
                except DomainError as e:  # only a balance that does not cover it
                    assert not lost and amount > model, e
                    continue
                assert not lost, "a debit posted during a loss (Art. 21)"
                model -= amount
            assert settlement.balance(session, fin) == model
            assert lifecycle.settlement_suspended(session, card.person_id) == (
                session.get(type(card), card.id).status is CardStatus.LOSS_REGISTERED)
        assert reconcile(session).clean

    run()
