"""Art. 21: a holder may register a loss through the 12345 government service hotline. The operator finds
the caller's card by ID document plus identity questions (the name and the registered mobile number),
gets what loss registration needs (the card id and its ETag) and registers the loss, end to end over HTTP.
The operator's remit is the caller it has just verified (Art. 16): nothing more about the card, and no other
holder."""
from __future__ import annotations

from app.models.enums import CardStatus
from tests.api.conftest import assert_problem
from tests.factories import citizen_id
from tests.privacy.art16_helpers import app_keys_fixture, entries, resident_headers, staff_fixture  # noqa: F401

DOC = citizen_id(region="440104", birth="19850315", seq=612)
NAME, PHONE = "欧阳晓燕", "13912345678"
CALLERS = "/api/hotline/callers"


def _caller(client, headers, **over):
    body = {"doc_type": "resident_id", "doc_number": DOC, "name": NAME, "phone": PHONE, **over}
    return client.post(CALLERS, json=body, headers=headers)


def test_the_hotline_registers_a_callers_loss_end_to_end_art21(app, client, session, world, staff) -> None:
    person = world.person(doc_number=DOC, name=NAME, phone=PHONE)
    card = world.card(CardStatus.ACTIVE, person=person)
    session.commit()
    hotline = staff("hotline")

    # 1. identity check: document plus name and registered mobile
    found = _caller(client, hotline, name=" 欧阳 晓燕", phone="+86 139-1234-5678")
    assert found.status_code == 200, found.get_json()
    body = found.get_json()
    assert body == {"person_id": person.id, "name": "欧**燕", "settlement_suspended": False,
                    "card": {"id": card.id, "person_id": person.id, "status": "active", "kind": "first",
                             "version": card.version},
                    "etag": f'"{card.id}.{card.version}"', "loss_registration": True}
    assert found.headers["ETag"] == body["etag"]
    assert card.number not in found.get_data(as_text=True)

    # 2. the loss, with the ETag it was given
    resp = client.post(f"/api/cards/{body['card']['id']}/loss-registration", json={},
                       headers={**hotline, "If-Match": body["etag"]})
    assert resp.status_code == 200, resp.get_json()
    answer = resp.get_json()
    assert answer["status"] == "loss_registered"
    assert set(answer) <= {"id", "person_id", "status", "kind", "version"}  # the hotline's remit (Art. 16)
    assert card.number not in resp.get_data(as_text=True)
    assert resp.headers["ETag"] != body["etag"]

    # 3. the holder sees it, and who did it
    session.expire_all()
    assert card.status is CardStatus.LOSS_REGISTERED
    mine = client.get("/api/me/cards", headers=resident_headers(app, person.id)).get_json()
    assert mine[0]["settlement_suspended"] is True
    events = client.get("/api/me/events", headers=resident_headers(app, person.id)).get_json()
    assert (events[-1]["operation"], events[-1]["channel"], events[-1]["actor_role"]) == (
        "register_loss", "gov_hotline", "hotline_operator")
    log = client.get("/api/me/access-log", headers=resident_headers(app, person.id)).get_json()
    assert {"read.hotline_caller", "card.register_loss"} <= {row["action"] for row in log}


def test_wrong_answers_find_nobody_and_are_on_record_art16_21(client, session, world, staff) -> None:
    person = world.person(doc_number=DOC, name=NAME, phone=PHONE)
    world.card(CardStatus.ACTIVE, person=person)
    session.commit()
    hotline = staff("hotline")
    wrong_phone = assert_problem(_caller(client, hotline, phone="13800000000"), 404)
    wrong_name = assert_problem(_caller(client, hotline, name="欧阳晓"), 404)
    nobody = assert_problem(_caller(client, hotline, doc_number=citizen_id(seq=613)), 404)
    assert wrong_phone["detail"] == wrong_name["detail"] == nobody["detail"]  # no hint which answer was wrong
    refused = entries(session, action="read.hotline_caller.refused")
    assert [e.person_id for e in refused] == [person.id, person.id]  # the holder's access log shows the tries
    assert entries(session, action="read.hotline_caller") == []


def test_the_hotline_acts_only_on_the_caller_it_verified_art16_21(client, session, world, staff, clock) -> None:
    person = world.person(doc_number=DOC, name=NAME, phone=PHONE)
    card = world.card(CardStatus.ACTIVE, person=person)
    other = world.card(CardStatus.ACTIVE)
    session.commit()
    hotline = staff("hotline")
    guessed = {**hotline, "If-Match": f'"{other.id}.{other.version}"'}  # ETags can be guessed: the remit holds
    assert_problem(client.post(f"/api/cards/{other.id}/loss-registration", json={}, headers=guessed), 403,
                   article="Art. 16")
    assert client.get(f"/api/cards/{card.id}", headers=hotline).status_code == 403  # no card reads beyond
    etag = _caller(client, hotline).get_json()["etag"]
    assert_problem(client.post(f"/api/cards/{other.id}/loss-registration", json={}, headers=guessed), 403,
                   article="Art. 16")
    clock.advance(minutes=31)  # the call is over
    assert_problem(client.post(f"/api/cards/{card.id}/loss-registration", json={},
                               headers={**hotline, "If-Match": etag}), 403, article="Art. 16")
    session.expire_all()
    assert card.status is CardStatus.ACTIVE and other.status is CardStatus.ACTIVE


def test_only_the_hotline_uses_the_caller_lookup_art16(client, session, world, staff) -> None:
    world.card(CardStatus.ACTIVE, person=world.person(doc_number=DOC, name=NAME, phone=PHONE))
    session.commit()
    for who in ("clerk", "teller", "bureau", "auditor", "medical"):
        assert _caller(client, staff(who)).status_code == 403, who
