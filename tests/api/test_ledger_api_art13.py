"""The settlement API (Art. 13, 16, 20, 21): bad input is RFC 9457 problem+json and writes nothing; a retry
with the same Idempotency-Key gets the first answer; statements for the holder and the counter, the
counter's read on record."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditEntry
from app.models.enums import AccountKind, CardStatus
from app.services import lifecycle
from tests.api.conftest import assert_problem, row_counts
from tests.factories import PIN
from tests.ledger_helpers import account_of, fund, social_insurance, token


@pytest.fixture
def holder(session, world):
    card = world.card(CardStatus.ACTIVE)
    social_insurance(world)
    med, fin = fund(session, world, card.person_id, 10_000)
    session.commit()
    return card, med.id, fin.id


def _credit(client, headers, body, key="key-00000001"):
    return client.post("/api/ledger/credits", json=body, headers={**headers, "Idempotency-Key": key})


@pytest.mark.parametrize("amount,currency,status", [
    (0, "CNY", 422), (-100, "CNY", 422), (1.5, "CNY", 422), (100.0, "CNY", 422), ("100", "CNY", 422),
    (2**63, "CNY", 422), (10**30, "CNY", 422), (100, "USD", 422), (100, "cny", 422), (None, "CNY", 422),
])
def test_bad_amounts_are_problem_json_and_write_nothing_art13(client, db, world, auth, holder, amount, currency,
                                                             status):
    _, med, _ = holder
    headers = auth(world, "medical")
    before = row_counts(db)
    resp = _credit(client, headers, {"type": "fund_transfer_in", "amount_fen": amount, "currency": currency,
                                     "account_id": med})
    assert_problem(resp, status)
    assert row_counts(db) == before


def test_unknown_account_missing_key_and_wrong_type_write_nothing(client, db, world, auth, holder):
    card, med, fin = holder
    headers = auth(world, "medical")
    before = row_counts(db)
    assert_problem(_credit(client, headers, {"type": "fund_transfer_in", "amount_fen": 1, "account_id": 999_999}), 404)
    assert_problem(_credit(client, headers, {"type": "fund_transfer_in", "amount_fen": 1, "account_id": 2**62}), 422)
    resp = client.post("/api/ledger/credits", json={"type": "fund_transfer_in", "amount_fen": 1, "account_id": med},
                       headers=headers)
    assert assert_problem(resp, 400)["type"].endswith("idempotency-key-required")
    body = assert_problem(_credit(client, headers, {"type": "reimbursement", "amount_fen": 1, "account_id": med}),
                          422, article="Art. 13 ¶3")
    assert body["type"].endswith("wrong-account")
    assert_problem(_credit(client, headers, {"type": "withdrawal", "amount_fen": 1, "account_id": med}), 422)
    assert row_counts(db) == before


def test_retry_with_the_same_key_returns_the_first_answer(client, db, world, auth, holder, resident_auth):
    card, med, _ = holder
    headers = auth(world, "medical")
    code = token(db.session, card.person_id)
    db.session.commit()
    body = {"type": "medical_settlement", "amount_fen": 2_500, "ecard_token": code, "reference": "HIS-9"}
    first = client.post("/api/ledger/debits", json=body, headers={**headers, "Idempotency-Key": "hospital-0001"})
    assert first.status_code == 201, first.get_data(as_text=True)
    assert first.headers["Idempotent-Replayed"] == "false"
    assert "balances" not in first.get_json()  # a hospital is not told the holder's balance (Art. 16)
    before = row_counts(db)
    again = client.post("/api/ledger/debits", json=body, headers={**headers, "Idempotency-Key": "hospital-0001"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert row_counts(db) == before
    other = client.post("/api/ledger/debits", json={**body, "amount_fen": 1},
                        headers={**headers, "Idempotency-Key": "hospital-0001"})
    assert_problem(other, 422)
    accounts = client.get("/api/me/accounts", headers=resident_auth(card.person_id)).get_json()
    assert {a["kind"]: a["balance_fen"] for a in accounts} == {"medical": 7_500, "financial": 10_000}


def test_debit_while_loss_registered_is_refused_naming_art21(client, db, world, auth, holder):
    card, _, _ = holder
    lifecycle.register_loss(db.session, world.teller, card.id, id_verified=True)
    db.session.commit()
    headers = auth(world, "teller")
    before = row_counts(db)
    resp = client.post("/api/ledger/debits", headers={**headers, "Idempotency-Key": "teller-000001"},
                       json={"type": "withdrawal", "amount_fen": 100, "card_number": card.number, "pin": PIN})
    assert_problem(resp, 409, article="Art. 21")
    assert row_counts(db) == before


def test_holder_statement_shows_who_posted_what_art13_20(client, db, world, auth, holder, resident_auth):
    card, med, fin = holder
    other = world.card(CardStatus.ACTIVE)
    db.session.commit()
    target = account_of(db.session, other.person_id, AccountKind.FINANCIAL).id
    me = resident_auth(card.person_id)
    resp = client.post("/api/ledger/debits", headers={**me, "Idempotency-Key": "myself-000001"},
                       json={"type": "transfer", "amount_fen": 300, "pin": PIN, "to_account_id": target})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert resp.get_json()["balances"][str(fin)] == 9_700  # the holder sees their own balance
    st = client.get(f"/api/me/accounts/{fin}/statement", headers=me).get_json()
    assert st["balance_fen"] == 9_700
    newest, benefit = st["lines"][0], st["lines"][1]
    assert newest["posted_by"]["by_you"] and newest["amount_fen"] == -300 and newest["consent"] == "card_pin"
    assert benefit["posted_by"]["organisation"] == "社会保险经办机构" and benefit["type"] == "benefit_payment"
    assert "staff_id" not in benefit["posted_by"]
    assert client.get(f"/api/me/accounts/{target}/statement", headers=me).status_code == 404  # not yours


def test_counter_statement_is_an_audited_read_within_the_remit_art16(client, db, world, auth, holder):
    card, _, fin = holder
    resp = client.get(f"/api/ledger/accounts/{fin}/statement", headers=auth(world, "teller"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["lines"][0]["posted_by"]["staff_id"] == world.staff["social"].id
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "read.statement",
                                                          AuditEntry.person_id == card.person_id)).all()
    assert len(entries) == 1 and entries[0].actor_id == world.staff["teller"].id
    assert_problem(client.get(f"/api/ledger/accounts/{fin}/statement", headers=auth(world, "teller_ccb")), 403,
                   article="Art. 16")
    assert_problem(client.get(f"/api/ledger/accounts/{fin}/statement", headers=auth(world, "medical")), 403)
