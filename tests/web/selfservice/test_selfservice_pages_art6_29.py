"""Each self-service action of the phone app through its page (issue 15 item 3), with its refusals: the
refusal is shown with its article and nothing is changed (Art. 6, 9, 12, 19–23, 29). Test client, on SQLite
and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import select

from app.models import Card, CardEvent, Complaint, CorrectionRequest, FieldStatus, SettlementAccount, SharedRecord
from app.models.enums import AccountStatus, CardStatus, Channel, DeliveryMethod, Field
from app.privacy.runtime import blind_index
from app.services import hashing, lifecycle
from tests.factories import PIN, snapshot
from tests.web.conftest import csrf_from, page_html

BASE = "/m/self"


def _post(client, path: str, data: dict, status: int | None = None, form_page: str | None = None):
    token = csrf_from(page_html(client.get(form_page or path)))
    resp = client.post(path, data={**data, "csrf_token": token})
    if status is not None:
        assert resp.status_code == status, resp.get_data(as_text=True)[:1500]
    return resp


def _refused(resp, status: int, text: str | None = None) -> str:
    """The page again with the refusal (its article or reason ``text``) and "nothing was changed"."""
    html = page_html(resp, status)
    assert 'class="refusal"' in html and (text is None or text in html), html[:3000]
    assert "Nothing was changed." in html
    return html


def _version(session, card) -> int:
    session.expire_all()
    return session.get(Card, card.id).version


# ---------------------------------------------------------------- the overview (Art. 19, 20, 22, 24)


def test_overview_offers_online_steps_and_says_where_the_others_are_done_art19_22_24(client, session, world,
                                                                                      phone_login):
    card = world.card(CardStatus.LOSS_REGISTERED)
    phone_login(card.person)
    html = page_html(client.get(f"{BASE}/"))
    assert card.number in html and 'data-status="loss_registered"' in html
    assert "Suspended (card reported lost)" in html
    for op, article in (("deregister_loss", "Art. 22"), ("replace", "Art. 24"), ("reset_pin", "Art. 19"),
                        ("unlock_field", "Art. 6")):
        block = html.split(f'data-step="{op}" data-online="no"', 1)[1].split("</div>", 1)[0]
        assert article in block and "Bank outlet" in block and "not open online" in block, (op, block)
        assert "<button" not in block and "<a " not in block  # no button that would fail
    assert f'href="{BASE}/reissue"' in html and f'href="{BASE}/loss"' not in html  # lost already: no loss link


def test_overview_in_chinese_cites_the_article_in_chinese(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person, lang="zh-CN")
    html = page_html(client.get(f"{BASE}/", headers={"Accept-Language": "zh-CN"}))
    block = html.split('data-step="deregister_loss" data-online="no"', 1)[1].split("</div>", 1)[0]
    assert "不能在线办理" in block and "第22条" in block and "请携带本人有效身份证件" in block


# ---------------------------------------------------------------- apply online (Art. 7, 9, 12)


def test_apply_online_with_platform_prefill_and_express_address_art7_9_12(client, session, world, phone_login):
    person = world.person()
    session.add(SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", person.doc_number),
                             name=person.name, address="广州市越秀区", photo=b"p", household_registration=True))
    phone_login(person)
    html = page_html(client.get(f"{BASE}/apply"))
    platform = html.split('data-prefill="platform">', 1)[1].split("</dd>", 1)[0]
    assert "Name" in platform and "Photo" in platform and "Mailing address" in platform
    assert "Unlisted bank" not in html  # only the Bureau's published list (Art. 6 ¶2, 9)
    resp = _post(client, f"{BASE}/apply", {"bank_id": world.banks[1].id, "delivery_method": "express",
                                           "delivery_address": "广州市海珠区江南大道3号"}, 302)
    assert resp.headers["Location"].endswith(f"{BASE}/applications")
    card = session.scalars(select(Card).where(Card.person_id == person.id)).one()
    assert card.status is CardStatus.APPLIED and card.bank_id == world.banks[1].id
    assert card.application.channel is Channel.ONLINE and card.application.delivery_address == "广州市海珠区江南大道3号"
    html = page_html(client.get(f"{BASE}/applications"))
    assert card.number in html and "Your application was submitted" in html


def test_apply_with_pickup_outlet_of_the_chosen_bank_art12(client, session, world, phone_login):
    person = world.person()
    phone_login(person)
    _post(client, f"{BASE}/apply", {"bank_id": world.banks[0].id, "delivery_method": "pickup",
                                    "pickup_outlet_id": world.outlets[1].id}, 302)
    card = session.scalars(select(Card).where(Card.person_id == person.id)).one()
    assert card.application.pickup_outlet_id == world.outlets[1].id


def test_apply_refusals_change_nothing_art9_12_23(client, session, world, phone_login):
    person = world.person()
    phone_login(person)
    before = snapshot(session, [person.id])
    _refused(_post(client, f"{BASE}/apply", {"bank_id": world.banks[2].id, "delivery_method": "pickup"}), 422,
             "Art. 6 ¶2, 9 ¶3")  # not on the published list
    _refused(_post(client, f"{BASE}/apply", {"bank_id": world.banks[0].id, "delivery_method": "express",
                                             "delivery_address": ""}), 422, "Art. 12")
    _refused(_post(client, f"{BASE}/apply", {"bank_id": world.banks[0].id, "delivery_method": "pickup",
                                             "pickup_outlet_id": world.outlets[2].id}), 422, "Art. 12")  # other bank
    assert snapshot(session, [person.id]) == before


def test_apply_refused_to_a_holder_of_a_card_art23_24(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    assert "You already have a card" in page_html(client.get(f"{BASE}/apply"))
    before = snapshot(session, [card.person_id])
    _refused(_post(client, f"{BASE}/apply", {"bank_id": world.banks[0].id, "delivery_method": "pickup"}), 409,
             "Art. 23, 24")
    assert snapshot(session, [card.person_id]) == before


def test_applications_page_shows_due_date_and_tracking_art10_12(client, session, world, phone_login):
    card = world.card(CardStatus.IN_TRANSIT, delivery=DeliveryMethod.EXPRESS)
    phone_login(card.person)
    html = page_html(client.get(f"{BASE}/applications"))
    section = html.split(f'data-card="{card.number}"', 1)[1]
    assert "SF123" in section and 'data-status="in_transit"' in section
    assert f'data-due="{card.application.due_on.isoformat()}"' in section
    assert section.count('class="done"') == 5 and section.count('class="todo"') == 1  # issued still to come


# ---------------------------------------------------------------- loss, reissue (Art. 21, 23)


def test_report_loss_online_suspends_both_accounts_art21(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    _post(client, f"{BASE}/loss", {"version": _version(session, card)}, 302)
    session.expire_all()
    assert session.get(Card, card.id).status is CardStatus.LOSS_REGISTERED
    accts = session.scalars(select(SettlementAccount).where(SettlementAccount.person_id == card.person_id)).all()
    assert len(accts) == 2 and {a.status for a in accts} == {AccountStatus.SUSPENDED}
    ev = session.scalars(select(CardEvent).where(CardEvent.card_id == card.id).order_by(CardEvent.id.desc())).first()
    assert ev.operation == "register_loss" and ev.channel is Channel.ONLINE


def test_report_loss_refused_twice_and_on_a_stale_page_art21(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    stale = _version(session, card) - 1
    before = snapshot(session, [card.person_id])
    assert _post(client, f"{BASE}/loss", {"version": stale}).status_code == 412
    assert snapshot(session, [card.person_id]) == before
    _post(client, f"{BASE}/loss", {"version": _version(session, card)}, 302)
    before = snapshot(session, [card.person_id])
    _refused(_post(client, f"{BASE}/loss", {"version": _version(session, card)}), 409, "Art. 21")
    assert snapshot(session, [card.person_id]) == before


def test_reissue_online_ends_the_old_card_art23(client, session, world, phone_login):
    card = world.card(CardStatus.LOSS_REGISTERED)
    phone_login(card.person)
    _post(client, f"{BASE}/reissue", {"version": _version(session, card), "delivery_method": "pickup"}, 302)
    session.expire_all()
    assert session.get(Card, card.id).status is CardStatus.INVALIDATED
    new = session.scalars(select(Card).where(Card.predecessor_id == card.id)).one()
    assert new.status is CardStatus.APPLIED and new.application.channel is Channel.ONLINE


def test_reissue_refusals_change_nothing_art12_23(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    before = snapshot(session, [card.person_id])
    _refused(_post(client, f"{BASE}/reissue", {"version": _version(session, card), "delivery_method": "express",
                                               "delivery_address": " "}), 422, "Art. 12")
    assert snapshot(session, [card.person_id]) == before


def test_reissue_refused_while_a_replacement_is_made_art23_24(client, session, world, phone_login):
    pending = world.card(CardStatus.REPLACEMENT_PENDING)
    phone_login(pending.person)
    before = snapshot(session, [pending.person_id])
    _refused(_post(client, f"{BASE}/reissue", {"version": _version(session, pending), "delivery_method": "pickup"}),
             409, "Art. 23")  # a replacement is being made (Art. 23, 24)
    assert snapshot(session, [pending.person_id]) == before


# ---------------------------------------------------------------- field lock, PIN (Art. 6, 19)


def test_lock_a_field_online_and_unlocking_is_at_an_outlet_art6(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    html = page_html(client.get(f"{BASE}/fields"))
    assert 'data-step="unlock_field" data-online="no"' in html
    _post(client, f"{BASE}/fields", {"version": _version(session, card), "field": "transport"}, 302)
    session.expire_all()
    assert session.get(FieldStatus, (card.person_id, Field.TRANSPORT)).locked is True
    before = snapshot(session, [card.person_id])
    _refused(_post(client, f"{BASE}/fields", {"version": _version(session, card), "field": "transport"}), 409,
             "Art. 6")  # already locked
    _refused(_post(client, f"{BASE}/fields", {"version": _version(session, card), "field": "nonsense"}), 422,
             "Unknown application field")
    assert snapshot(session, [card.person_id]) == before


def test_change_pin_with_the_old_pin_art19(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    _post(client, f"{BASE}/pin", {"version": _version(session, card), "old_pin": PIN, "new_pin": "246802",
                                  "new_pin_again": "246802"}, 302)
    session.expire_all()
    assert hashing.verify_password(session.get(Card, card.id).pin_hash, "246802")


def test_change_pin_refusals_art19(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    before = snapshot(session, [card.person_id])
    _refused(_post(client, f"{BASE}/pin", {"version": _version(session, card), "old_pin": PIN, "new_pin": "246802",
                                           "new_pin_again": "246803"}), 422, "The two new PINs differ")
    assert snapshot(session, [card.person_id]) == before
    html = page_html(_post(client, f"{BASE}/pin", {"version": _version(session, card), "old_pin": "000000",
                                                   "new_pin": "246802", "new_pin_again": "246802"}), 403)
    assert "Art. 19" in html and "tries left" in html
    session.expire_all()
    c = session.get(Card, card.id)
    assert c.pin_failures == 1 and hashing.verify_password(c.pin_hash, PIN)  # the count is kept, the PIN is not


def test_change_pin_refused_before_activation_art6_19(client, session, world, phone_login):
    issued = world.card(CardStatus.ISSUED)
    phone_login(issued.person)
    assert "once the card is activated" in page_html(client.get(f"{BASE}/pin"))
    _refused(_post(client, f"{BASE}/pin", {"version": _version(session, issued), "old_pin": PIN, "new_pin": "246802",
                                           "new_pin_again": "246802"}), 409, "Art. 6, 19")


# ---------------------------------------------------------------- my data (Art. 16, 20)


def test_access_log_page_shows_who_read_my_data_art16_20(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    html = page_html(client.get(f"{BASE}/access-log"))
    assert "工商银行广州分行" in html and "天河即时制卡网点" in html and "card.activate" in html
    assert f">{world.staff['teller'].username}<" not in html


def test_correction_filed_and_followed_and_the_mobile_refused_art19_20(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    _post(client, f"{BASE}/corrections", {"field": "occupation", "proposed_value": "教师", "reason": "换了工作"}, 302)
    req = session.scalars(select(CorrectionRequest).where(CorrectionRequest.person_id == card.person_id)).one()
    html = page_html(client.get(f"{BASE}/corrections"))
    assert f'data-correction="{req.id}" data-status="open"' in html and "Occupation" in html
    assert 'value="phone"' not in html  # the mobile is changed with a code, not by a request
    _refused(_post(client, f"{BASE}/corrections", {"field": "phone", "proposed_value": "13900000000",
                                                   "reason": "new"}), 422, "Art. 19")
    _refused(_post(client, f"{BASE}/corrections", {"field": "address", "proposed_value": "", "reason": ""}), 422,
             "Art. 20")
    assert session.scalars(select(CorrectionRequest)).all() == [req]


# ---------------------------------------------------------------- complaints (Art. 29)


def test_complaint_filed_and_followed_in_the_app_art29(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    resp = _post(client, f"{BASE}/complaints", {"kind": "complaint", "party_kind": "bank",
                                                "party_id": world.banks[0].id,
                                                "summary": "The outlet refused to take my loss report."}, 302)
    c = session.scalars(select(Complaint)).one()
    assert c.person_id == card.person_id and c.party_bank_id == world.banks[0].id
    html = page_html(client.get(resp.headers["Location"]))
    assert c.reference in html and "工商银行广州分行" in html and 'data-status="received"' in html
    assert c.reference in page_html(client.get(f"{BASE}/complaints"))


def test_complaint_refusals_and_anonymous_report_art29(client, session, world, phone_login):
    card = world.card(CardStatus.ACTIVE)
    phone_login(card.person)
    _refused(_post(client, f"{BASE}/complaints", {"kind": "complaint", "anonymous": "1", "party_kind": "issuing",
                                                  "summary": "Something went badly wrong."}), 422, "Art. 29")
    _refused(_post(client, f"{BASE}/complaints", {"kind": "report", "party_kind": "issuing", "summary": "short"}),
             422)  # too short to investigate
    assert session.scalars(select(Complaint)).all() == []
    html = page_html(_post(client, f"{BASE}/complaints", {"kind": "report", "anonymous": "1", "party_kind": "issuing",
                                                          "summary": "A clerk sells holders' data to brokers."}))
    c = session.scalars(select(Complaint)).one()
    assert f'data-filed="{c.reference}"' in html and "data-code" in html
    assert c.person_id is None and c.complainant_name is None
    assert c.reference not in html.split("My complaints", 1)[1]  # not linked to the holder
