"""``flask demo seed`` puts money on the accounts (issue 17): the demo resident's two accounts have
statements, postings of the Art. 13 types by their real posters, and the ledger reconciles."""
from __future__ import annotations

from sqlalchemy import select

from app.demo import GUIDE
from app.models import LedgerTransaction, SettlementAccount
from app.models.enums import AccountKind
from app.models.enums import TransactionType as T
from app.services import people, settlement
from app.services.ledger import reconcile
from tests.test_demo_seed import seed


def test_demo_seed_posts_money_that_reconciles_art13(app, db, session):
    result = seed(app)
    assert result.exit_code == 0, result.output + repr(result.exception)
    types = set(session.scalars(select(LedgerTransaction.type)))
    assert {T.FUND_TRANSFER_IN, T.DEPOSIT, T.WITHDRAWAL, T.MEDICAL_SETTLEMENT, T.PREMIUM_PAYMENT} <= types
    guide = people.find_by_document(session, str(GUIDE.doc_type), GUIDE.doc_number, None)
    accts = {a.kind: a for a in session.scalars(select(SettlementAccount).where(
        SettlementAccount.person_id == guide.id, SettlementAccount.status != "closed"))}
    for kind in (AccountKind.MEDICAL, AccountKind.FINANCIAL):
        st = settlement.statement(session, accts[kind])
        assert len(st.lines) >= 3 and st.balance_fen > 0, kind
    r = reconcile(session)
    assert r.clean, r.problems
