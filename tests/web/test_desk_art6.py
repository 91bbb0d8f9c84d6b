"""The card desk (issue 14; Art. 6, 16, 21–24, 27): find a holder with a stated purpose, the masked
cardholder page, reveal with a reason, every service with a confirmation step showing the fee, the
card's version against stale pages, refusals with the API's article, bad input beside its field."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, Card, CardEvent
from app.models.enums import CardStatus
from tests.factories import snapshot
from tests.web.conftest import csrf_from, page_html


def _post(client, path, data, lang="en"):
    html = page_html(client.get(path, headers={"Accept-Language": lang}))
    version = re.search(r'name="version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="version"', html)
    extra = {"version": version.group(1) or version.group(2)} if version else {}
    return client.post(path, data={**extra, **data, "csrf_token": csrf_from(html)}, headers={"Accept-Language": lang})


def _confirm(client, path, data, lang="en", at_confirmation=None):
    """The two steps of a service: review (the confirmation page) then confirm (a PIN is typed there)."""
    review = _post(client, path, data, lang)
    html = page_html(review)
    assert 'name="step" value="confirm"' in html, html[-3000:]
    token = csrf_from(html)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    fields.update({"csrf_token": token, **(at_confirmation or {})})
    assert not any(k.startswith("pin") for k in re.findall(r'type="hidden" name="([^"]+)"', html))  # Art. 19
    return html, client.post(path, data=fields, headers={"Accept-Language": lang})


def _audit(session, action):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def test_find_by_card_number_with_a_purpose_is_on_record_art16(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "teller")
    resp = _post(client, "/desk/", {"by": "card_number", "value": card.number, "purpose": "counter_service",
                                    "detail": "holder at the counter"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/desk/holders/{card.person_id}")
    entry = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "lookup.person")).one()
    assert entry.record["purpose"] == "counter_service: holder at the counter" and entry.person_id == card.person_id


def test_find_by_document_and_by_phone(client, world, web_login):
    person = world.person(phone="13900001111")
    world.card(CardStatus.ACTIVE, person=person)
    web_login(world, "teller")
    resp = _post(client, "/desk/", {"by": "document", "doc_type": "resident_id", "value": person.doc_number,
                                    "purpose": "counter_service", "detail": "at the counter"})
    assert resp.status_code == 302
    resp = _post(client, "/desk/", {"by": "phone", "value": "139 0000 1111", "purpose": "counter_service",
                                    "detail": "at the counter"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/desk/holders/{person.id}")


def test_search_without_purpose_detail_shows_the_message_beside_the_field_and_writes_nothing(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "teller")
    before = _audit(world.session, "lookup.person")
    html = page_html(_post(client, "/desk/", {"by": "card_number", "value": card.number,
                                              "purpose": "counter_service", "detail": ""}), 422)
    assert 'id="detail-error"' in html
    assert _audit(world.session, "lookup.person") == before


def test_invalid_id_number_is_refused_beside_the_field_in_chinese(client, world, web_login):
    world.card(CardStatus.ACTIVE)
    web_login(world, "teller", lang="zh-CN")
    html = page_html(_post(client, "/desk/", {"by": "document", "doc_type": "resident_id",
                                              "value": "440106199001011234", "purpose": "counter_service",
                                              "detail": "柜台"}, lang="zh-CN"), 422)
    assert 'id="value-error"' in html or 'class="refusal"' in html
    assert "校验码" in html or "号码" in html


def test_a_teller_does_not_find_another_banks_holder_art16(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)  # at bank 0
    web_login(world, "teller_ccb")
    html = page_html(_post(client, "/desk/", {"by": "card_number", "value": card.number,
                                              "purpose": "counter_service", "detail": "x"}))
    assert "No cardholder within your remit matches." in html
    assert client.get(f"/desk/holders/{card.person_id}").status_code == 403


def test_cardholder_page_is_masked_and_every_read_is_on_record_art16(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "teller")
    html = page_html(client.get(f"/desk/holders/{card.person_id}", headers={"Accept-Language": "en"}))
    assert "陈小明" not in html and card.person.doc_number not in html and "13812345678" not in html
    assert "陈*" in html or "*" in html
    for action in ("read.person", "read.person_cards", "read.accounts", "read.card_events"):
        assert _audit(world.session, action) >= 1, action
    assert "Loss registration" in html or "Register the loss" in html


def test_reveal_needs_a_purpose_and_is_recorded_art16(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "teller")
    path = f"/desk/holders/{card.person_id}"
    token = csrf_from(page_html(client.get(path)))
    bad = client.post(f"{path}/reveal", data={"csrf_token": token, "fields": ["name"], "purpose": "counter_service",
                                              "detail": ""}, headers={"Accept-Language": "en"})
    assert bad.status_code == 422 and 'id="detail-error"' in bad.get_data(as_text=True)
    ok = client.post(f"{path}/reveal", data={"csrf_token": token, "fields": ["name"], "purpose": "counter_service",
                                             "detail": "holder asks"}, headers={"Accept-Language": "en"})
    assert ok.status_code == 200 and "陈小明" in ok.get_data(as_text=True)
    assert _audit(world.session, "reveal.person") == 1


def test_register_loss_then_reissue_with_the_fee_on_the_confirmation_art21_23_27(client, world, web_login, app):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "teller")
    html, resp = _confirm(client, f"/desk/cards/{card.id}/loss-registration", {"id_verified": "y", "channel": "outlet"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    world.session.expire_all()
    assert world.session.get(Card, card.id).status is CardStatus.LOSS_REGISTERED
    html, resp = _confirm(client, f"/desk/cards/{card.id}/reissue",
                          {"delivery_method": "pickup", "service_mode": "counter", "id_verified": "y"})
    assert "¥20.00" in html or "CN¥20.00" in html  # Art. 27: a reissue is never free
    assert resp.status_code == 302
    world.session.expire_all()
    assert world.session.get(Card, card.id).status is CardStatus.INVALIDATED
    timeline = page_html(client.get(f"/desk/holders/{card.person_id}", headers={"Accept-Language": "en"}))
    assert 'data-operation="register_loss"' in timeline and 'data-operation="reissue"' in timeline


def test_a_stale_page_is_told_to_reload_instead_of_overwriting(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "teller")
    path = f"/desk/cards/{card.id}/loss-registration"
    html = page_html(_post(client, path, {"id_verified": "y", "channel": "outlet"}))
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    # a colleague changes the card meanwhile
    from app.services import lifecycle

    lifecycle.lock_person(world.session, card.person_id)
    lifecycle.set_field_lock(world.session, world.teller, card.id, field=lifecycle.Field.MEDICAL, locked=True)
    world.session.commit()
    before = snapshot(world.session, [card.person_id])
    resp = client.post(path, data={**fields, "csrf_token": csrf_from(html)}, headers={"Accept-Language": "en"})
    body = page_html(resp, 412)
    assert 'data-problem="precondition-failed"' in body and "Reload the card" in body
    assert snapshot(world.session, [card.person_id]) == before


def test_a_refused_step_shows_the_article_in_the_clerks_language_art22(client, world, web_login):
    """Deregistering a loss without the ID check: refused with Art. 22 as the API refuses it."""
    card = world.card(CardStatus.LOSS_REGISTERED)
    web_login(world, "teller", lang="zh-CN")
    before = snapshot(world.session, [card.person_id])
    html, resp = _confirm(client, f"/desk/cards/{card.id}/loss-deregistration", {"channel": "outlet"}, lang="zh-CN")
    body = page_html(resp, 422)
    assert 'class="refusal"' in body and "第22条" in body and "身份证件" in body
    assert snapshot(world.session, [card.person_id]) == before


@pytest.mark.parametrize("slug, data, field", [
    ("activation", {"pin": "12", "pin_again": "12", "step": "confirm"}, "pin"),
    ("pin-reset", {"pin": "135791", "pin_again": "999999", "id_verified": "y", "step": "confirm"}, "pin_again"),
    ("reissue", {"delivery_method": "express", "delivery_address": "", "service_mode": "counter"}, "delivery_address"),
    ("replacement", {"reason": "bank_change", "delivery_method": "pickup", "service_mode": "counter"}, "new_bank_id"),
    ("field-lock", {"field": "nonsense"}, "field"),
    ("information-change", {}, "phone"),
    ("cancellation", {"reason": "nonsense"}, "reason"),
])
def test_bad_input_on_each_form_shows_a_message_beside_the_field_and_writes_nothing(
        client, world, web_login, slug, data, field):
    state = CardStatus.ISSUED if slug == "activation" else CardStatus.ACTIVE
    card = world.card(state)
    who = "clerk" if slug == "cancellation" else "teller"
    web_login(world, who)
    before = snapshot(world.session, [card.person_id])
    html = page_html(_post(client, f"/desk/cards/{card.id}/{slug}", {**data, "channel": ""}), 422)
    assert f'id="{field}-error"' in html, html[html.find("<main"):][:3000]
    assert snapshot(world.session, [card.person_id]) == before


def test_activation_from_the_desk_art6_19(client, world, web_login):
    card = world.card(CardStatus.ISSUED)
    web_login(world, "teller")
    _, resp = _confirm(client, f"/desk/cards/{card.id}/activation", {},
                       at_confirmation={"pin": "258013", "pin_again": "258013"})
    assert resp.status_code == 302
    world.session.expire_all()
    assert world.session.get(Card, card.id).status is CardStatus.ACTIVE
    assert world.session.scalar(select(func.count()).select_from(CardEvent)
                                .where(CardEvent.card_id == card.id, CardEvent.operation == "activate")) == 1


def test_replacement_for_damage_shows_the_fee_art24_27(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "teller")
    html, resp = _confirm(client, f"/desk/cards/{card.id}/replacement",
                          {"reason": "damaged", "delivery_method": "pickup", "service_mode": "counter",
                           "quality_defect": "y", "new_bank_id": ""})
    assert "¥0.00" in html and "Quality defect within a year: free" in html  # Art. 27(2)
    assert resp.status_code == 302
    world.session.expire_all()
    assert world.session.get(Card, card.id).status is CardStatus.REPLACEMENT_PENDING


def test_another_banks_teller_cannot_open_a_service_page_art16(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)  # bank 0
    web_login(world, "teller_ccb")
    assert client.get(f"/desk/cards/{card.id}/replacement").status_code == 403


def test_status_inquiry_and_field_lock_art6(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "teller")
    _, resp = _confirm(client, f"/desk/cards/{card.id}/field-lock", {"field": "transport", "reason": "holder asks"})
    assert resp.status_code == 302
    html = page_html(client.get(f"/desk/cards/{card.id}/status", headers={"Accept-Language": "en"}))
    assert "Transport" in html and "not usable" in html


def test_information_change_at_the_agency_art6(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "clerk")
    _, resp = _confirm(client, f"/desk/cards/{card.id}/information-change", {"address": "广州市越秀区中山五路9号"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1500]


def test_cancellation_for_death_by_the_clerk_art26(client, world, web_login):
    card = world.card(CardStatus.ACTIVE)
    web_login(world, "clerk")
    _, resp = _confirm(client, f"/desk/cards/{card.id}/cancellation", {"reason": "death", "effective": "2026-11-20"})
    assert resp.status_code == 302
    world.session.expire_all()
    assert world.session.get(Card, card.id).status is CardStatus.CANCELLED


def test_the_new_banks_teller_finds_the_holder_by_document_and_takes_the_bank_change_art24_3(
        client, world, web_login, clock):
    """Art. 24(3): the holder changes to another cooperating bank at that bank's outlet. The new bank has no
    relationship with them yet; its teller finds them by the ID document presented, with the purpose
    "bank change" (on the holder's access log), and takes the replacement there. Any other purpose finds
    nothing, and the remit closes again after the window (Art. 16)."""
    from app.services.disclosure import BANK_CHANGE_WINDOW

    card = world.card(CardStatus.ACTIVE)  # at bank 0
    person = card.person
    new_bank = world.banks[1]
    web_login(world, "teller_ccb")
    html = page_html(_post(client, "/desk/", {"by": "document", "doc_type": "resident_id",
                                              "value": person.doc_number, "purpose": "counter_service",
                                              "detail": "wants to change bank"}))
    assert "No cardholder within your remit matches." in html
    resp = _post(client, "/desk/", {"by": "document", "doc_type": "resident_id", "value": person.doc_number,
                                    "purpose": "bank_change", "detail": "holder present, changes to CCB"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/desk/holders/{card.person_id}")
    assert _audit(world.session, "lookup.bank_change") == 1
    assert client.get(f"/desk/holders/{card.person_id}").status_code == 200
    html, resp = _confirm(client, f"/desk/cards/{card.id}/replacement",
                          {"reason": "bank_change", "delivery_method": "pickup", "service_mode": "counter",
                           "new_bank_id": str(new_bank.id), "id_verified": "y"})
    assert resp.status_code == 302, html[-2000:]
    world.session.expire_all()
    assert world.session.get(Card, card.id).status is CardStatus.REPLACEMENT_PENDING
    new = world.session.scalars(select(Card).where(Card.person_id == person.id, Card.id != card.id)).one()
    assert new.bank_id == new_bank.id
    # The old card's other services stay with the old bank: a loss registration by the new teller is refused.
    resp = _post(client, f"/desk/cards/{card.id}/loss-registration", {"id_verified": "y", "step": "confirm"})
    assert resp.status_code == 403
    world.session.expire_all()
    assert world.session.get(Card, card.id).status is CardStatus.REPLACEMENT_PENDING
    other = world.card(CardStatus.ACTIVE)  # a holder of bank 0 found for a change, then the window passes
    _post(client, "/desk/", {"by": "document", "doc_type": "resident_id", "value": other.person.doc_number,
                             "purpose": "bank_change", "detail": "holder present"})
    assert client.get(f"/desk/holders/{other.person_id}").status_code == 200
    clock.advance(seconds=BANK_CHANGE_WINDOW.total_seconds() + 1)
    web_login(world, "teller_ccb")  # (the idle sign-in ended meanwhile)
    assert client.get(f"/desk/holders/{other.person_id}").status_code == 403
    assert client.get(f"/desk/holders/{person.id}").status_code == 200  # now a holder of this bank (new card)


def test_the_hotline_registers_the_callers_loss_from_the_desk_after_the_identity_check_art21_art16(
        client, world, web_login):
    """Art. 21 (loss by telephone, at any hour) through pages: the 12345 operator checks the caller by ID
    document, full name and registered mobile; wrong answers find nothing; right ones show the card (masked)
    and lead to the desk's loss registration, which freezes the card."""
    person = world.person(phone="13900002222", name="陈大文")
    card = world.card(CardStatus.ACTIVE, person=person)
    web_login(world, "hotline")
    answers = {"doc_type": "resident_id", "doc_number": person.doc_number, "name": "陈大文", "phone": "13900002222"}
    assert client.get(f"/desk/cards/{card.id}/loss-registration").status_code == 403  # not yet verified
    wrong = _post(client, "/desk/hotline", {**answers, "phone": "13900009999"})
    assert "No cardholder matches this document and these answers." in page_html(wrong, 404)
    assert _audit(world.session, "read.hotline_caller.refused") == 1  # on the holder's access log
    resp = _post(client, "/desk/hotline", answers)
    html = page_html(resp)
    assert card.number in html and "陈*文" in html and "陈大文" not in html
    assert f"/desk/cards/{card.id}/loss-registration" in html
    html, resp = _confirm(client, f"/desk/cards/{card.id}/loss-registration", {})
    assert resp.status_code == 302, html[-2000:]
    world.session.expire_all()
    assert world.session.get(Card, card.id).status is CardStatus.LOSS_REGISTERED
    other = world.card(CardStatus.ACTIVE)  # a holder the operator has not verified
    assert client.get(f"/desk/cards/{other.id}/loss-registration").status_code == 403


def test_the_former_bank_confirms_the_unbinding_from_the_desk_after_a_bank_change_art24(client, world, web_login):
    """Art. 24 ¶2: after the change to the new bank, the former bank's teller sees the account waiting to be
    unbound on the holder page and confirms it there; the account closes. The new bank's teller is not offered it."""
    from app.models import SettlementAccount
    from app.models.enums import AccountStatus, ReplacementReason
    from app.services import lifecycle
    from app.services.lifecycle import Delivery

    card = world.card(CardStatus.ACTIVE)  # bank 0
    new_teller = world.actor("teller_ccb")
    from app.services import disclosure

    disclosure.lookup(world.session, new_teller, disclosure.LookupBy.DOCUMENT, card.person.doc_number,
                      purpose="bank_change", detail="holder present", doc_type="resident_id")
    lifecycle.replace(world.session, new_teller, card.id, reason=ReplacementReason.BANK_CHANGE,
                      delivery=Delivery(lifecycle.DeliveryMethod.PICKUP), new_bank_id=world.banks[1].id,
                      id_verified=True)
    world.session.commit()
    web_login(world, "teller_ccb")
    form = f'action="/desk/holders/{card.person_id}/unbind-confirmation"'
    assert form not in page_html(client.get(f"/desk/holders/{card.person_id}"))
    client._cookies.clear()  # another clerk at another bank
    web_login(world, "teller")
    html = page_html(client.get(f"/desk/holders/{card.person_id}"))
    assert form in html
    resp = client.post(f"/desk/holders/{card.person_id}/unbind-confirmation", data={"csrf_token": csrf_from(html)})
    assert resp.status_code == 302
    world.session.expire_all()
    old = world.session.scalars(select(SettlementAccount).where(
        SettlementAccount.person_id == card.person_id, SettlementAccount.bank_id == world.banks[0].id)).all()
    assert [a.status for a in old if a.kind.value == "financial"] == [AccountStatus.CLOSED]
    again = client.post(f"/desk/holders/{card.person_id}/unbind-confirmation", data={"csrf_token": csrf_from(html)})
    assert again.status_code == 409 and ("Art. 24" in again.get_data(as_text=True) or "第24条" in again.get_data(as_text=True))
