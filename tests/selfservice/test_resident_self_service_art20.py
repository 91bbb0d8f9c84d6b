"""Resident self-service query (Art. 20): own record unmasked, own cards with their fields, own
events, the access log (Art. 16); and the limits of a resident token (Art. 16, 19)."""
from __future__ import annotations

from app.models.enums import CardStatus, DeliveryMethod, Field
from app.services import lifecycle
from tests.selfservice.conftest import problem


def test_me_shows_the_holders_own_data_unmasked_art20(client, session, world, resident):
    person = world.person(phone="13712345678", address="广州市越秀区中山五路2号")
    headers = resident(person)
    body = client.get("/api/me", headers=headers).get_json()
    assert body["doc_number"] == person.doc_number and body["ssn"] == person.ssn
    assert body["name"] == "陈小明" and body["phone"] == "13712345678"
    assert body["address"] == "广州市越秀区中山五路2号" and body["photo"]


def test_me_cards_show_status_and_fields_art20(client, session, world, resident):
    card = world.card(CardStatus.ACTIVE, delivery=DeliveryMethod.EXPRESS)
    lifecycle.set_field_lock(session, world.teller, card.id, field=Field.TRANSPORT, locked=True, reason="holder")
    cards = client.get("/api/me/cards", headers=resident(card.person)).get_json()
    assert [c["id"] for c in cards] == [card.id]
    mine = cards[0]
    assert mine["status"] == "active" and mine["usable"] is True and mine["settlement_suspended"] is False
    assert mine["fields"]["medical"] is True and mine["fields"]["transport"] is False
    assert mine["application"]["delivery_address"] == "广州市天河区天河路100号"  # own data, unmasked


def test_me_events_list_all_own_cards_events_without_staff_ids_art20(client, session, world, resident):
    old = world.card(CardStatus.INVALIDATED)  # reissued: two cards
    events = client.get("/api/me/events", headers=resident(old.person)).get_json()
    card_ids = {e["card_id"] for e in events}
    assert old.id in card_ids and len(card_ids) == 2
    assert {"apply", "activate", "reissue"} <= {e["operation"] for e in events}
    assert all("actor_id" not in e for e in events)


def test_resident_token_cannot_reach_staff_endpoints_art16(client, session, world, resident):
    card = world.card(CardStatus.ACTIVE)
    headers = resident(card.person)
    problem(client.get("/api/cards/", headers=headers), 403)
    problem(client.get("/api/corrections", headers=headers), 403)
    problem(client.post("/api/persons/lookup", json={"doc_type": "resident_id", "doc_number": card.person.doc_number},
                       headers=headers), 403)


def test_resident_token_cannot_reach_another_persons_card_art16_19(client, session, world, resident):
    mine = world.card(CardStatus.ACTIVE)
    other = world.card(CardStatus.ACTIVE)
    headers = resident(mine.person)
    assert client.get(f"/api/cards/{mine.id}", headers=headers).status_code == 200
    problem(client.get(f"/api/cards/{other.id}", headers=headers), 403)
    problem(client.get(f"/api/cards/{other.id}/events", headers=headers), 403)
    problem(client.get(f"/api/persons/{other.person_id}", headers=headers), 403)


def test_staff_token_cannot_use_me_endpoints(client, session, world, staff):
    problem(client.get("/api/me", headers=staff(world, "clerk")), 403)
    problem(client.get("/api/me", headers={}), 401)


def test_access_log_shows_organisation_role_and_purpose_not_staff_ids_art16_20(client, session, world, staff,
                                                                                resident):
    card = world.card(CardStatus.ACTIVE)  # written by a teller of ICBC and a clerk of the issuing agency
    person = card.person
    teller = staff(world, "teller")
    assert client.get(f"/api/persons/{person.id}", headers=teller).status_code == 200  # a staff read
    log = client.get("/api/me/access-log", headers=resident(person)).get_json()
    assert log, "the holder sees entries about their data"
    teller_id = world.staff["teller"].id
    for row in log:
        assert set(row) == {"ref", "at", "action", "kind", "role", "organisation", "outlet", "channel", "purpose",
                            "items", "by_you"}
        assert "actor_id" not in row and str(teller_id) != row["organisation"]
    writes = [r for r in log if r["action"] == "card.activate"]
    assert writes and writes[0]["role"] == "bank_teller" and writes[0]["organisation"] == "工商银行广州分行"
    assert writes[0]["outlet"] == "天河即时制卡网点" and writes[0]["kind"] == "change"
    assert any(r["role"] == "agency_clerk" and r["organisation"] == "SSCC" for r in log)
    # the teller's read, once reads are audited (app.services.disclosure): role, bank, a purpose
    reads = [r for r in log if r["kind"] == "read" and r["role"] == "bank_teller"]
    if reads:
        assert reads[0]["organisation"] == "工商银行广州分行"
    assert any(r["action"] == "auth.resident_login" and r["by_you"] for r in log)
    refs = [r["ref"] for r in log]
    assert refs == sorted(refs, reverse=True)


def test_access_log_lists_a_staff_read_art16(client, session, world, staff, resident):
    """GET /api/persons/{id} by a teller is a read of personal data: it must reach the holder's log."""
    card = world.card(CardStatus.ACTIVE)
    headers = resident(card.person)
    before = {r["ref"] for r in client.get("/api/me/access-log", headers=headers).get_json()}
    assert client.get(f"/api/persons/{card.person_id}", headers=staff(world, "teller")).status_code == 200
    new = [r for r in client.get("/api/me/access-log", headers=headers).get_json() if r["ref"] not in before]
    assert [(r["kind"], r["role"], r["organisation"]) for r in new] == [("read", "bank_teller", "工商银行广州分行")]
    assert new[0]["items"]  # which items were shown (masked reads carry no purpose; a full reveal does)


def test_access_log_limit_is_bounded(client, session, world, resident):
    person = world.person()
    headers = resident(person)
    assert len(client.get("/api/me/access-log?limit=1", headers=headers).get_json()) == 1
    problem(client.get("/api/me/access-log?limit=100000", headers=headers), 422)
