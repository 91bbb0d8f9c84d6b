"""Art. 16: every staff read of a cardholder's personal data through the API is on record (who, role,
organisation, request id, client address, whose data, which fields), written in the same transaction
as the read; answers carry masked values only. A resident reading their own data is not logged."""
from __future__ import annotations

import pytest
from tests.http import read

from app.models.enums import CardStatus
from tests.factories import citizen_id
from tests.privacy.art16_helpers import (  # noqa: F401
    app_keys_fixture,
    count,
    entries,
    resident_headers,
    staff_fixture,
)

DOC = citizen_id(region="440104", birth="19850315", seq=123)
NAME, PHONE, ADDRESS = "欧阳晓燕", "13912345678", "广州市海珠区新港中路397号"


@pytest.fixture
def holder(world, session, clock):
    person = world.person(doc_number=DOC, name=NAME, phone=PHONE, address=ADDRESS)
    card = world.card(CardStatus.ACTIVE, person=person)  # at bank 0
    waiting = world.card(CardStatus.ACCEPTED)  # on the deadline watch list
    session.commit()
    return {"pid": person.id, "cid": card.id, "doc": DOC, "waiting_pid": waiting.person_id}


READS = [
    ("/api/persons/{pid}", "teller", "read.person"),
    ("/api/persons/lookup?doc_type=resident_id&doc_number={doc}", "teller", "read.person"),
    ("/api/persons/{pid}/cards", "clerk", "read.person_cards"),
    ("/api/persons/{pid}/accounts", "bureau", "read.accounts"),
    ("/api/cards/{cid}", "teller_yx", "read.card"),
    ("/api/cards/?person_id={pid}", "auditor", "read.cards"),
    ("/api/cards/{cid}/events", "clerk", "read.card_events"),
    ("/api/cards/{cid}/status", "teller", "read.card_status"),
    ("/api/applications/deadlines?soon=40", "clerk", "read.deadlines"),
]


@pytest.mark.parametrize("url, who, action", READS, ids=[r[2] + ":" + r[1] for r in READS])
def test_every_staff_read_of_personal_data_is_audited_art16(client, session, world, staff, holder,
                                                            url, who, action) -> None:
    before = count(session)
    resp = read(client, url.format(**holder), headers={**staff(who), "X-Request-ID": "req-art16-1"})
    assert resp.status_code == 200, resp.get_json()
    subject = holder["waiting_pid"] if action == "read.deadlines" else holder["pid"]
    new = entries(session, action=action)
    assert count(session) == before + 1 and len(new) == 1
    entry = new[0]
    user = world.staff[who]
    assert (entry.person_id, entry.actor_id, entry.actor_role) == (subject, user.id, str(user.role))
    rec = entry.record
    assert rec["request_id"] == "req-art16-1" and rec["client_ip"] == "127.0.0.1"
    assert rec["fields"] and rec["person_id"] == subject
    assert rec.get("bank_id") == user.bank_id and rec.get("agency_id") == user.agency_id
    body = resp.get_data(as_text=True)
    for plain in (NAME, PHONE, ADDRESS, holder["doc"]):
        assert plain not in body  # masked by default (Art. 16)


def test_person_answer_is_masked_art16(client, staff, holder) -> None:
    body = client.get(f"/api/persons/{holder['pid']}", headers=staff("clerk")).get_json()
    assert body["doc_number"] == DOC[:6] + "********" + DOC[-4:]
    assert body["phone"] == "139****5678" and body["name"] == "欧**燕"
    assert body["address"] == "广州市海珠区****" and body["has_photo"] is True


def test_a_list_read_records_each_cardholder_shown_art16(client, session, world, staff, holder) -> None:
    other = world.card(CardStatus.ACTIVE)
    session.commit()
    resp = client.get("/api/cards/", headers=staff("teller"))
    assert resp.status_code == 200
    shown = {c["person_id"] for c in resp.get_json()}
    assert {holder["pid"], other.person_id} <= shown
    assert {e.person_id for e in entries(session, action="read.cards")} == shown


def test_a_resident_reading_their_own_data_is_not_logged_art16(app, client, session, holder) -> None:
    before = count(session)
    headers = resident_headers(app, holder["pid"])
    assert client.get(f"/api/persons/{holder['pid']}", headers=headers).status_code == 200
    assert client.get(f"/api/cards/{holder['cid']}", headers=headers).status_code == 200
    assert count(session) == before


def test_a_refused_read_discloses_nothing_and_logs_no_read_art16(client, session, staff, holder) -> None:
    before = count(session)
    resp = client.get(f"/api/persons/{holder['pid']}", headers=staff("teller_ccb"))  # another bank
    assert resp.status_code == 403 and resp.get_json()["article"] == "Art. 16"
    assert count(session) == before


def test_the_read_entry_extends_an_intact_chain_art16(client, session, staff, holder) -> None:
    from app.services import audit

    for url, who, _ in READS:
        assert read(client, url.format(**holder), headers=staff(who)).status_code == 200
    session.expire_all()
    report = audit.verify(session)
    assert report.ok and report.checked == count(session)
