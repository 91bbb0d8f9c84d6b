"""Settlement rules (Art. 13, 21, 24, 26; Art. 6 field locks; Art. 19 PIN; Art. 32 one code pays once).

Cards are driven through the real lifecycle; money moves through ``app.services.settlement`` and the embedded
ledger, and ``ledger.reconcile`` must stay clean after every scenario."""
from __future__ import annotations

import pytest
from flask import current_app

from app.models.enums import AccountKind, AccountStatus, CardStatus, CancellationReason, Field, ReplacementReason
from app.models.enums import TransactionType as T
from app.services import lifecycle, settlement
from app.services.errors import ChannelNotAllowed, InvalidInput, OutOfScope, PinRefused
from app.services.ledger import InsufficientFunds, reconcile
from app.services.settlement import (
    RULES,
    Consent,
    ConsentRefused,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    SettlementRefused,
    WrongAccount,
)
from tests.factories import DIED, PICKUP
from tests.ledger_helpers import account_of, by_card, fund, journal_counts, key, social_insurance, token


@pytest.fixture
def holder(session, world):
    card = world.card(CardStatus.ACTIVE)
    med, fin = fund(session, world, card.person_id, 10_000)
    return card, med, fin


def _clean(session):
    r = reconcile(session)
    assert r.clean, r.problems
    return r


def test_each_transaction_type_posts_on_its_own_account_only_art13(session, world, holder):
    card, med, fin = holder
    credit_posters = {T.FUND_TRANSFER_IN: world.actor("medical"), T.REIMBURSEMENT: world.actor("medical"),
                      T.BENEFIT_PAYMENT: social_insurance(world), T.DEPOSIT: world.teller}
    for t, actor in credit_posters.items():
        wrong = fin if RULES[t].kind is AccountKind.MEDICAL else med
        with pytest.raises(WrongAccount) as e:
            settlement.credit(session, actor, t, 100, key=key(), account_id=wrong.id)
        assert e.value.article == RULES[t].article
        right = med if wrong is fin else fin
        settlement.credit(session, actor, t, 100, key=key(), account_id=right.id)
    with pytest.raises(WrongAccount) as e:  # a transfer goes to a financial account, never the personal one
        settlement.debit(session, world.resident(card.person_id), T.TRANSFER, 100, key=key(),
                         consent=Consent(pin="135790"), to_account_id=med.id)
    assert e.value.article == "Art. 13 ¶3"
    _clean(session)


def test_a_debit_type_is_not_a_credit_art13(session, world, holder):
    _, med, _ = holder
    with pytest.raises(InvalidInput) as e:
        settlement.credit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 100, key=key(), account_id=med.id)
    assert e.value.article == "Art. 13"


def test_medical_settlement_by_ecard_code_debits_the_personal_account_art13(session, world, holder):
    card, med, fin = holder
    posted = settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 3_000, key=key(),
                              consent=Consent(ecard_token=token(session, card.person_id)), reference="HIS-1")
    assert posted.balances == {med.id: 7_000}
    assert settlement.balance(session, med) == 7_000 and settlement.balance(session, fin) == 10_000
    line = settlement.statement(session, med).lines[0]
    assert (line.amount_fen, line.balance_after, line.consent, line.reference) == (-3_000, 7_000, "ecard", "HIS-1")
    assert line.poster.agency_id == world.agencies["MED"].id and line.counterparty == "medical_settlement"
    r = _clean(session)
    assert r.money_in == 20_000 and r.money_out == 3_000 and r.balances == 17_000


def test_withdrawal_and_transfer_with_card_and_pin_art13_19(session, world, holder):
    card, _, fin = holder
    other = world.card(CardStatus.ACTIVE)
    other_fin = account_of(session, other.person_id, AccountKind.FINANCIAL)
    settlement.debit(session, world.teller, T.WITHDRAWAL, 2_000, key=key(), consent=by_card(card))
    posted = settlement.debit(session, world.resident(card.person_id), T.TRANSFER, 500, key=key(),
                              consent=Consent(pin="135790"), to_account_id=other_fin.id)
    assert posted.balances == {fin.id: 7_500, other_fin.id: 500}
    with pytest.raises(PinRefused):
        settlement.debit(session, world.teller, T.WITHDRAWAL, 1, key=key(), consent=by_card(card, "246801"))
    assert card.pin_failures == 1  # Art. 19: counted (the API commits the count with the refusal)
    _clean(session)


def test_no_negative_balance_art13(session, world, holder):
    card, med, _ = holder
    session.commit()
    before = journal_counts(session)
    with pytest.raises(InsufficientFunds):
        settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 10_001, key=key(),
                         consent=Consent(ecard_token=token(session, card.person_id)))
    session.rollback()
    assert journal_counts(session) == before
    assert settlement.balance(session, account_of(session, card.person_id, AccountKind.MEDICAL)) == 10_000


def test_debit_refused_while_loss_registered_art21(session, world, holder):
    card, med, fin = holder
    code = token(session, card.person_id)  # shown before the loss
    lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
    before = journal_counts(session)
    for actor, t, consent in [(world.actor("medical"), T.MEDICAL_SETTLEMENT, Consent(ecard_token=code)),
                              (world.teller, T.WITHDRAWAL, by_card(card)),
                              (social_insurance(world), T.PREMIUM_PAYMENT, Consent(ecard_token=code))]:
        with pytest.raises(SettlementRefused) as e:
            settlement.debit(session, actor, t, 100, key=key(), consent=consent)
        assert e.value.article == "Art. 21"
    assert journal_counts(session) == before
    # Art. 22: after deregistration the same holder pays again
    lifecycle.deregister_loss(session, world.teller, card.id, id_verified=True)
    settlement.debit(session, world.teller, T.WITHDRAWAL, 100, key=key(), consent=by_card(card))


def test_credits_while_suspended_follow_the_setting_art21(session, world, holder):
    card, med, fin = holder
    lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
    settlement.credit(session, social_insurance(world), T.BENEFIT_PAYMENT, 100, key=key(), account_id=fin.id)
    assert settlement.balance(session, fin) == 10_100  # default: inflows post
    current_app.config["SUSPENDED_ACCOUNTS_ACCEPT_INFLOWS"] = False
    try:
        with pytest.raises(SettlementRefused) as e:
            settlement.credit(session, world.actor("medical"), T.FUND_TRANSFER_IN, 100, key=key(), account_id=med.id)
        assert e.value.article == "Art. 21"
    finally:
        current_app.config["SUSPENDED_ACCOUNTS_ACCEPT_INFLOWS"] = True


def test_reissued_card_keeps_settlement_suspended_until_activated_art21_23(session, world, holder):
    card, med, _ = holder
    new = lifecycle.reissue(session, world.teller, card.id, delivery=PICKUP, id_verified=True)
    with pytest.raises(SettlementRefused) as e:  # the old card is void for ever
        settlement.debit(session, world.teller, T.WITHDRAWAL, 100, key=key(), consent=by_card(card))
    assert e.value.article == "Art. 23"
    with pytest.raises(SettlementRefused) as e:  # the holder's code names the card being made: suspended
        settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 100, key=key(),
                         consent=Consent(ecard_token=token(session, card.person_id)))
    assert e.value.article in ("Art. 21", "Art. 6")
    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
        step(session, world.clerk, new.id)
    lifecycle.pick_up(session, world.teller, new.id)
    lifecycle.activate(session, world.teller, new.id, pin="135790")
    settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 100, key=key(),
                     consent=Consent(ecard_token=token(session, card.person_id)))
    assert settlement.balance(session, med) == 9_900


def test_debit_and_credit_refused_on_a_cancelled_card_art26(session, world, holder):
    card, med, fin = holder
    code = token(session, card.person_id)  # shown just before the cancellation
    lifecycle.cancel(session, world.clerk, card.person_id, reason=CancellationReason.DEATH, effective=DIED)
    with pytest.raises(SettlementRefused) as e:
        settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 100, key=key(),
                         consent=Consent(ecard_token=code))
    assert e.value.article == "Art. 26"
    with pytest.raises(SettlementRefused) as e:
        settlement.credit(session, social_insurance(world), T.BENEFIT_PAYMENT, 100, key=key(), account_id=fin.id)
    assert e.value.article == "Art. 26"
    assert settlement.balance(session, fin) == 10_000  # the money stays on record for the heirs
    _clean(session)


def test_debit_refused_on_a_locked_field_art6(session, world, holder):
    card, med, fin = holder
    lifecycle.set_field_lock(session, world.teller, card.id, field=Field.MEDICAL, locked=True)
    with pytest.raises(SettlementRefused) as e:
        settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 100, key=key(),
                         consent=Consent(ecard_token=token(session, card.person_id)))
    assert e.value.article == "Art. 6"
    settlement.debit(session, world.teller, T.WITHDRAWAL, 100, key=key(), consent=by_card(card))  # finance: open
    lifecycle.set_field_lock(session, world.teller, card.id, field=Field.FINANCE, locked=True)
    with pytest.raises(SettlementRefused) as e:
        settlement.debit(session, world.teller, T.WITHDRAWAL, 100, key=key(), consent=by_card(card))
    assert e.value.article == "Art. 6"


def test_retry_with_the_same_key_posts_once_and_returns_the_first_answer(session, world, holder):
    card, med, _ = holder
    k, code = key(), token(session, card.person_id)
    first = settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 1_000, key=k,
                             consent=Consent(ecard_token=code))
    lifecycle.register_loss(session, world.teller, card.id, id_verified=True)  # the world changed since
    again = settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 1_000, key=k,
                             consent=Consent(ecard_token=code))
    assert again.replayed and not first.replayed
    assert (again.transaction_id, again.balances, again.amount_fen) == (first.transaction_id, first.balances, 1_000)
    assert settlement.balance(session, med) == 9_000
    with pytest.raises(IdempotencyKeyReused):
        settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 2_000, key=k,
                         consent=Consent(ecard_token=code))
    # keys are per caller: another agency user's same key is its own transaction
    with pytest.raises(IdempotencyKeyMissing):
        settlement.credit(session, world.actor("medical"), T.FUND_TRANSFER_IN, 1, key=None, account_id=med.id)


def test_an_ecard_code_pays_once_art32(session, world, holder):
    card, _, _ = holder
    code = token(session, card.person_id)
    settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 100, key=key(),
                     consent=Consent(ecard_token=code))
    with pytest.raises(ConsentRefused) as e:
        settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 100, key=key(),
                         consent=Consent(ecard_token=code))
    assert e.value.article == "Art. 32"
    with pytest.raises(ConsentRefused) as e:  # altered
        settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 100, key=key(),
                         consent=Consent(ecard_token=code[:-3] + ("AAA" if code[-3:] != "AAA" else "BBB")))
    assert e.value.article == "Art. 32"


def test_who_may_post_what_art13_16(session, world, holder):
    card, med, fin = holder
    with pytest.raises(ChannelNotAllowed):  # a hospital pays no benefits
        settlement.credit(session, world.actor("medical"), T.BENEFIT_PAYMENT, 100, key=key(), account_id=fin.id)
    with pytest.raises(ChannelNotAllowed):  # the transport agency settles no medical bills
        settlement.debit(session, world.actor("teller"), T.MEDICAL_SETTLEMENT, 100, key=key(),
                         consent=by_card(card))
    with pytest.raises(OutOfScope):  # another bank's teller handles no cash on this account
        settlement.credit(session, world.actor("teller_ccb"), T.DEPOSIT, 100, key=key(), account_id=fin.id)
    other = world.card(CardStatus.ACTIVE)
    with pytest.raises(OutOfScope):  # a resident pays only with their own card
        settlement.debit(session, world.resident(other.person_id), T.PREMIUM_PAYMENT, 100, key=key(),
                         consent=by_card(card))


def test_reversal_undoes_once(session, world, holder):
    card, med, _ = holder
    posted = settlement.debit(session, world.actor("medical"), T.MEDICAL_SETTLEMENT, 1_500, key=key(),
                              consent=Consent(ecard_token=token(session, card.person_id)))
    rev = settlement.reverse(session, world.actor("medical"), posted.transaction_id, key=key(), reason="bill void")
    assert rev.reversal_of == posted.transaction_id and rev.balances == {med.id: 10_000}
    from app.services.errors import IllegalTransition

    with pytest.raises(IllegalTransition):
        settlement.reverse(session, world.actor("medical"), posted.transaction_id, key=key(), reason="again")
    with pytest.raises(OutOfScope):  # only the organisation that posted it
        settlement.reverse(session, social_insurance(world), posted.transaction_id, key=key(), reason="x")
    _clean(session)


def _bank_change(session, world, card):
    new = lifecycle.replace(session, world.actor("teller_ccb"), card.id, reason=ReplacementReason.BANK_CHANGE,
                            delivery=PICKUP, new_bank_id=world.banks[1].id)
    return new


def test_bank_change_moves_the_balance_before_the_former_account_closes_art24(session, world, holder):
    card, med, fin = holder
    settlement.credit(session, world.teller, T.DEPOSIT, 2_500, key=key(), account_id=fin.id)
    new_card = _bank_change(session, world, card)
    new_fin = account_of(session, card.person_id, AccountKind.FINANCIAL)
    assert new_fin.id != fin.id and new_fin.bank_id == world.banks[1].id
    # until the former bank confirms, the old card still pays from the former account (Art. 24)
    settlement.debit(session, world.teller, T.WITHDRAWAL, 500, key=key(), consent=by_card(card))
    closed = lifecycle.confirm_unbind(session, world.teller, card.person_id)
    assert closed.status is AccountStatus.CLOSED
    assert settlement.balance(session, fin) == 0 and settlement.balance(session, new_fin) == 12_000
    assert settlement.balance(session, med) == 10_000  # the personal account and its balance stay
    assert settlement.statement(session, new_fin).lines[0].type is T.BANK_CHANGE_MOVE
    with pytest.raises(SettlementRefused) as e:  # the former account takes nothing more
        settlement.credit(session, world.teller, T.DEPOSIT, 1, key=key(), account_id=fin.id)
    assert e.value.article == "Art. 24(3)"
    assert new_card.bank_id == world.banks[1].id
    _clean(session)


def test_refused_bank_change_returns_money_that_reached_the_new_account_art24(session, world, holder):
    card, _, fin = holder
    new_card = _bank_change(session, world, card)
    new_fin = account_of(session, card.person_id, AccountKind.FINANCIAL)
    settlement.credit(session, social_insurance(world), T.BENEFIT_PAYMENT, 700, key=key(), account_id=new_fin.id)
    lifecycle.reject(session, world.clerk, new_card.id, reason="not eligible")
    session.refresh(fin)
    assert fin.status is AccountStatus.ACTIVE
    assert settlement.balance(session, fin) == 10_700 and settlement.balance(session, new_fin) == 0
    _clean(session)


def test_bad_amounts_are_refused_before_anything_is_written(session, world, holder):
    _, med, _ = holder
    before = journal_counts(session)
    for amount, currency in [(0, "CNY"), (-1, "CNY"), (1.5, "CNY"), (True, "CNY"), (2**63, "CNY"),
                             (current_app.config["LEDGER_MAX_AMOUNT_FEN"] + 1, "CNY"), (100, "USD")]:
        with pytest.raises(InvalidInput):
            settlement.credit(session, world.actor("medical"), T.FUND_TRANSFER_IN, amount, key=key(),
                              account_id=med.id, currency=currency)
    assert journal_counts(session) == before


def test_holders_are_configured_and_told_of_suspension_art21_22(app, session, world, holder):
    from tests.ledger_helpers import RecordingLedger

    card, med, fin = holder
    saved = dict(app.config["SETTLEMENT_HOLDERS"])
    app.config["SETTLEMENT_HOLDERS"] = {**saved, "financial": "tests.ledger_helpers:RecordingLedger"}
    app.extensions.pop("ssc_account_holders", None)
    RecordingLedger.calls.clear()
    try:
        assert isinstance(settlement.holder(session, fin), RecordingLedger)
        lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
        lifecycle.deregister_loss(session, world.teller, card.id, id_verified=True)
        assert RecordingLedger.calls == [("suspend", fin.id), ("resume", fin.id)]  # its account only
        settlement.debit(session, world.teller, T.WITHDRAWAL, 100, key=key(), consent=by_card(card))
        assert settlement.balance(session, fin) == 9_900
    finally:
        app.config["SETTLEMENT_HOLDERS"] = saved
        app.extensions.pop("ssc_account_holders", None)
