"""A transfer between accounts held by two systems (two banks' cores, issue 17; Art. 13 ¶3): out through the
source holder's interbank clearing, in through the target's; each holder's postings balance, clearing nets
to zero, a retry posts nothing, and a failure of the second holder leaves nothing written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import LedgerAccount, LedgerPosting, LedgerTransaction
from app.models.enums import AccountKind, CardStatus
from app.models.enums import TransactionType as T
from app.services import settlement
from app.services.errors import DomainError
from app.services.ledger import reconcile
from app.services.settlement import Consent
from tests.factories import PIN
from tests.ledger_helpers import OtherBankLedger, account_of, card_at, fund, journal_counts, key


@pytest.fixture
def two_holders(app, session, world):
    """ICBC's financial accounts on the default ledger, CCB's on another holder."""
    saved = dict(app.config["SETTLEMENT_HOLDERS"])
    app.config["SETTLEMENT_HOLDERS"] = {**saved, f"financial:{world.banks[1].code}": "tests.ledger_helpers:OtherBankLedger"}
    app.extensions.pop("ssc_account_holders", None)
    OtherBankLedger.failing = False
    src = world.card(CardStatus.ACTIVE)
    _, fin = fund(session, world, src.person_id, 10_000)
    dst = card_at(world, 1, "teller_ccb")
    target = account_of(session, dst.person_id, AccountKind.FINANCIAL)
    yield src, fin, target
    OtherBankLedger.failing = False
    app.config["SETTLEMENT_HOLDERS"] = saved
    app.extensions.pop("ssc_account_holders", None)


def _clearing(session) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(LedgerPosting.amount_fen), 0))
                              .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
                              .where(LedgerAccount.code == "interbank_clearing")))


def test_transfer_between_two_holders_balances_in_each_and_posts_once_art13(session, world, two_holders):
    src, fin, target = two_holders
    assert settlement.holder(session, fin) is not settlement.holder(session, target)
    resident, k = world.resident(src.person_id), key()
    posted = settlement.debit(session, resident, T.TRANSFER, 2_500, key=k, consent=Consent(pin=PIN),
                              to_account_id=target.id)
    assert not posted.replayed and posted.balances == {fin.id: 7_500}
    assert settlement.balance(session, target) == 2_500
    txs = session.scalars(select(LedgerTransaction).where(LedgerTransaction.idempotency_key.in_([k, k + ":in"]))).all()
    assert len(txs) == 2  # one transaction in each holder's ledger
    for tx in txs:  # each balances on its own, through the clearing account
        legs = session.scalars(select(LedgerPosting.amount_fen).where(LedgerPosting.transaction_id == tx.id)).all()
        assert sum(legs) == 0 and len(legs) == 2
    assert _clearing(session) == 0
    counts = journal_counts(session)
    again = settlement.debit(session, resident, T.TRANSFER, 2_500, key=k, consent=Consent(pin=PIN),
                             to_account_id=target.id)
    assert again.replayed and again.transaction_id == posted.transaction_id
    assert journal_counts(session) == counts
    assert settlement.balance(session, fin) == 7_500 and settlement.balance(session, target) == 2_500
    r = reconcile(session)
    assert r.clean, r.problems


def test_a_failing_second_holder_leaves_nothing_written_art13(session, world, two_holders):
    src, fin, target = two_holders
    session.commit()
    counts = journal_counts(session)
    OtherBankLedger.failing = True
    k = key()
    with pytest.raises(DomainError):
        settlement.debit(session, world.resident(src.person_id), T.TRANSFER, 2_500, key=k,
                         consent=Consent(pin=PIN), to_account_id=target.id)
    session.rollback()  # the request commits whole or not at all
    assert journal_counts(session) == counts
    assert settlement.balance(session, fin) == 10_000 and settlement.balance(session, target) == 0
    OtherBankLedger.failing = False  # the core is back: the retry with the same key posts, once
    posted = settlement.debit(session, world.resident(src.person_id), T.TRANSFER, 2_500, key=k,
                              consent=Consent(pin=PIN), to_account_id=target.id)
    session.commit()
    assert not posted.replayed
    assert settlement.balance(session, fin) == 7_500 and settlement.balance(session, target) == 2_500
    assert _clearing(session) == 0
    r = reconcile(session)
    assert r.clean, r.problems
