"""Settlement pages (issue 17; Art. 13, 16, 19, 21, 26): a teller finds the holder, reads a statement (an
audited read), credits and debits through the settlement service with a confirmation step, the PIN typed
there by the holder; one idempotency key per form render, so a double submit posts once; refusals shown
with their article and nothing written; a medical desk settles by e-card code; reversal once."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry
from app.models.enums import CardStatus
from app.services import lifecycle, settlement
from app.services.ledger import reconcile
from tests.factories import DIED, PIN
from tests.ledger_helpers import fund, journal_counts, token
from tests.web.conftest import csrf_from, page_html

_INPUT = re.compile(r"<input\b[^>]*>")
_ATTR = re.compile(r'([a-z-]+)="([^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the page's forms (not the language switch's ``next``)."""
    out = {}
    for tag in _INPUT.findall(html):
        attrs = dict(_ATTR.findall(tag))
        if attrs.get("type") == "hidden" and attrs.get("name") not in (None, "next"):
            out[attrs["name"]] = attrs.get("value", "")
    return out


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def holder(session, world):
    card = world.card(CardStatus.ACTIVE)
    med, fin = fund(session, world, card.person_id, 10_000)
    session.commit()
    return card, med, fin


def _review(client, path, data, lang="en"):
    """Step one: the form as rendered (its CSRF token and idempotency key), filled and sent for review."""
    html = page_html(client.get(path, headers={"Accept-Language": lang}))
    fields = hidden_fields(html)
    fields.update({"csrf_token": csrf_from(html), **data})
    fields.pop("step", None)
    return client.post(path, data=fields, headers={"Accept-Language": lang})


def _confirmation(client, path, data, lang="en"):
    """Both steps up to the confirmation page: its hidden fields (never a PIN, Art. 19)."""
    review = _review(client, path, data, lang)
    html = page_html(review)
    assert 'name="step" value="confirm"' in html, html[-3000:]
    fields = hidden_fields(html)
    assert "pin" not in fields and "ecard_token" not in fields
    fields["csrf_token"] = csrf_from(html)
    return html, fields


def _statement_reads(session, person_id):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "read.statement", AuditEntry.person_id == person_id))


def _balance(session, acct):
    session.expire_all()
    return settlement.balance(session, acct)


def test_find_the_holder_and_read_a_statement_on_record_art13_16(client, world, web_login, holder):
    card, med, fin = holder
    web_login(world, "teller")
    html = page_html(client.get("/settlement/"))
    resp = client.post("/settlement/", data={"by": "card_number", "value": card.number, "purpose": "counter_service",
                                             "detail": "deposit at the counter", "csrf_token": csrf_from(html)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/settlement/holders/{card.person_id}")
    before = _statement_reads(world.session, card.person_id)
    html = page_html(client.get(resp.headers["Location"]))
    assert "¥100.00" in html and f"/settlement/accounts/{fin.id}" in html
    html = page_html(client.get(f"/settlement/accounts/{fin.id}"))
    assert "Social security benefit" in html and "+¥100.00" in html  # who posted: the social insurance agency
    assert "社会保险经办机构" in html
    assert _statement_reads(world.session, card.person_id) == before + 2
    entry = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "read.statement")
                                  .order_by(AuditEntry.seq.desc())).first()
    assert entry.record["subject"] == f"account:{fin.id}"


def test_statement_of_another_banks_holder_is_refused_art16(client, world, web_login, holder):
    _, _, fin = holder
    web_login(world, "teller_ccb")
    before = _statement_reads(world.session, fin.person_id)
    html = page_html(client.get(f"/settlement/accounts/{fin.id}"), 403)
    assert "Art. 16" in html
    assert _statement_reads(world.session, fin.person_id) == before


def test_deposit_posts_once_even_when_submitted_twice_art13(client, world, web_login, holder):
    card, _, fin = holder
    web_login(world, "teller")
    path = f"/settlement/credit?account_id={fin.id}"
    html, fields = _confirmation(client, path, {"type": "deposit", "amount": "250.50", "reference": "slip 7"})
    assert "¥250.50" in html
    counts = journal_counts(world.session)
    first = client.post(path, data=fields)
    assert first.status_code == 302 and first.headers["Location"].endswith(f"/settlement/accounts/{fin.id}")
    again = client.post(path, data=fields)  # the double submit: same form, same key
    assert again.status_code == 302
    assert journal_counts(world.session) == (counts[0] + 1, counts[1] + 2)
    assert _balance(world.session, fin) == 10_000 + 25_050
    html = page_html(client.get(again.headers["Location"]))
    assert "Already posted as transaction" in html and "slip 7" in html
    # A new render of the form is a new key: a second deposit is a second posting.
    _, fields2 = _confirmation(client, path, {"type": "deposit", "amount": "1"})
    assert fields2["key"] != fields["key"]
    assert client.post(path, data=fields2).status_code == 302
    assert _balance(world.session, fin) == 10_000 + 25_050 + 100
    assert reconcile(world.session).clean


def test_withdrawal_with_the_pin_typed_on_the_confirmation_art13_19(client, world, web_login, holder):
    card, _, fin = holder
    web_login(world, "teller")
    path = f"/settlement/debit?account_id={fin.id}"
    html, fields = _confirmation(client, path, {"type": "withdrawal", "amount": "30"})
    assert 'name="pin"' in html and 'type="password"' in html
    counts = journal_counts(world.session)
    wrong = client.post(path, data={**fields, "pin": "000000"})
    text = page_html(wrong, wrong.status_code)
    assert wrong.status_code in (401, 403, 423) and "Art. 19" in text and 'class="refusal"' in text
    assert journal_counts(world.session) == counts
    assert 'value="000000"' not in text
    ok = client.post(path, data={**fields, "pin": PIN})
    assert ok.status_code == 302
    assert client.post(path, data={**fields, "pin": PIN}).status_code == 302  # double submit
    assert journal_counts(world.session)[0] == counts[0] + 1
    assert _balance(world.session, fin) == 10_000 - 3_000


def test_debit_without_consent_is_refused_art19(client, world, web_login, holder):
    _, _, fin = holder
    web_login(world, "teller")
    path = f"/settlement/debit?account_id={fin.id}"
    _, fields = _confirmation(client, path, {"type": "withdrawal", "amount": "30"})
    counts = journal_counts(world.session)
    html = page_html(client.post(path, data=fields), 422)
    assert "Art. 19" in html and 'id="pin-error"' in html
    assert journal_counts(world.session) == counts


def test_debit_refused_while_the_loss_is_registered_art21(client, world, web_login, holder):
    card, _, fin = holder
    web_login(world, "teller")
    path = f"/settlement/debit?account_id={fin.id}"
    _, fields = _confirmation(client, path, {"type": "withdrawal", "amount": "30"})
    lifecycle.register_loss(world.session, world.teller, card.id, id_verified=True)
    world.session.commit()
    counts = journal_counts(world.session)
    html = page_html(client.post(path, data={**fields, "pin": PIN}), 409)
    assert 'data-problem="settlement-refused"' in html and "Art. 21" in html
    assert journal_counts(world.session) == counts
    # A credit still posts while suspended (the default setting, Art. 21).
    _, cfields = _confirmation(client, f"/settlement/credit?account_id={fin.id}", {"type": "deposit", "amount": "5"})
    assert client.post(f"/settlement/credit?account_id={fin.id}", data=cfields).status_code == 302


def test_debit_refused_on_a_cancelled_card_art26(client, world, web_login, holder):
    card, _, fin = holder
    web_login(world, "teller")
    _, fields = _confirmation(client, "/settlement/debit", {"type": "withdrawal", "amount": "30",
                                                              "card_number": card.number})
    lifecycle.cancel(world.session, world.clerk, card.person_id, effective=DIED,
                     reason=lifecycle.CancellationReason.DEATH)
    world.session.commit()
    counts = journal_counts(world.session)
    html = page_html(client.post("/settlement/debit", data={**fields, "pin": PIN}), 409)
    assert "Art. 26" in html
    assert journal_counts(world.session) == counts


def test_bad_amounts_are_shown_beside_the_field_and_write_nothing(client, world, web_login, holder):
    _, _, fin = holder
    web_login(world, "teller")
    counts = journal_counts(world.session)
    for amount in ("0", "-5", "1.234", "abc", "", "99999999999999"):
        html = page_html(_review(client, f"/settlement/credit?account_id={fin.id}",
                                 {"type": "deposit", "amount": amount}), 422)
        assert 'id="amount-error"' in html, amount
    # Above the service's maximum: refused by the service (its own message), beside the field.
    _, fields = _confirmation(client, f"/settlement/credit?account_id={fin.id}",
                              {"type": "deposit", "amount": "9999999999"})
    html = page_html(client.post(f"/settlement/credit?account_id={fin.id}", data=fields), 422)
    assert 'id="amount-error"' in html
    assert journal_counts(world.session) == counts


def test_a_type_of_the_other_account_is_not_offered_and_refused_art13(client, world, web_login, holder):
    _, med, fin = holder
    web_login(world, "teller")
    html = page_html(client.get(f"/settlement/credit?account_id={fin.id}"))
    assert 'value="deposit"' in html and 'value="fund_transfer_in"' not in html
    assert page_html(client.get(f"/settlement/credit?account_id={med.id}"), 403)  # no teller credit there
    counts = journal_counts(world.session)
    html = page_html(_review(client, f"/settlement/credit?account_id={fin.id}",
                             {"type": "fund_transfer_in", "amount": "5"}), 422)
    assert 'id="type-error"' in html
    assert journal_counts(world.session) == counts


def test_chinese_confirmation_and_refusal(client, world, web_login, holder):
    card, _, fin = holder
    web_login(world, "teller", lang="zh-CN")
    path = f"/settlement/debit?account_id={fin.id}"
    html, fields = _confirmation(client, path, {"type": "withdrawal", "amount": "1000"}, lang="zh-CN")
    assert "请确认" in html and "现金取款" in html
    html = page_html(client.post(path, data={**fields, "pin": PIN}, headers={"Accept-Language": "zh-CN"}), 409)
    assert "余额" in html  # insufficient funds, in Chinese


def test_medical_desk_settles_by_ecard_code_once_art13_32(client, world, web_login, holder):
    card, med, _ = holder
    web_login(world, "medical")
    html = page_html(client.get("/settlement/debit"))
    assert 'value="medical_settlement"' in html and 'value="withdrawal"' not in html
    _, fields = _confirmation(client, "/settlement/debit", {"type": "medical_settlement", "amount": "12.30",
                                                             "reference": "bill 88"})
    code = token(world.session, card.person_id)
    world.session.commit()
    counts = journal_counts(world.session)
    resp = client.post("/settlement/debit", data={**fields, "ecard_token": code})
    html = page_html(resp)
    assert "bill 88" in html and "¥12.30" in html
    assert "¥87.70" not in html  # an application agency is not shown the balance (Art. 16)
    again = page_html(client.post("/settlement/debit", data={**fields, "ecard_token": code}))
    assert "Already posted" in again
    assert journal_counts(world.session)[0] == counts[0] + 1
    assert _balance(world.session, med) == 10_000 - 1_230
    # The same code on a new form (another key) does not pay twice.
    _, fields2 = _confirmation(client, "/settlement/debit", {"type": "medical_settlement", "amount": "1"})
    html = page_html(client.post("/settlement/debit", data={**fields2, "ecard_token": code}), 403)
    assert "Art. 32" in html
    assert journal_counts(world.session)[0] == counts[0] + 1


def test_reversal_once_by_the_posting_bank_art13(client, world, web_login, holder):
    card, _, fin = holder
    web_login(world, "teller")
    path = f"/settlement/credit?account_id={fin.id}"
    _, fields = _confirmation(client, path, {"type": "deposit", "amount": "20"})
    client.post(path, data=fields)
    html = page_html(client.get(f"/settlement/accounts/{fin.id}"))
    tx_id = int(re.search(r'/settlement/transactions/(\d+)/reversal', html).group(1))
    rpath = f"/settlement/transactions/{tx_id}/reversal?account_id={fin.id}"
    rhtml = page_html(client.get(rpath))
    rfields = hidden_fields(rhtml)
    rfields.update({"csrf_token": csrf_from(rhtml), "reason": "wrong amount"})
    assert client.post(rpath, data=rfields).status_code == 302
    assert client.post(rpath, data=rfields).status_code == 302  # double submit: the same reversal
    assert _balance(world.session, fin) == 10_000
    html = page_html(client.get(f"/settlement/accounts/{fin.id}"))
    assert "Reversal" in html and f"/settlement/transactions/{tx_id}/reversal" not in html
    rhtml = page_html(client.get(rpath))  # a new form: refused, already reversed
    rfields = hidden_fields(rhtml)
    rfields.update({"csrf_token": csrf_from(rhtml), "reason": "again"})
    html = page_html(client.post(rpath, data=rfields), 409)
    assert "Art. 13" in html
    # Another bank's teller does not reverse it.
    assert reconcile(world.session).clean


def test_roles_outside_the_rules_get_no_settlement_page_art13(client, world, web_login, holder):
    _, _, fin = holder
    web_login(world, "hotline")
    assert client.get("/settlement/credit").status_code == 403
    assert client.get("/settlement/debit").status_code == 403
    assert client.get(f"/settlement/accounts/{fin.id}").status_code == 403

