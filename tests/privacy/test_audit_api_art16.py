"""Art. 16: the Bureau and the auditor query the audit trail (by cardholder, actor, action, time) and
check its chain through the API; entries come back as stored, masked; nobody can change them."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.models.enums import CardStatus
from tests.factories import citizen_id
from tests.privacy.art16_helpers import app_keys_fixture, count, entries, staff_fixture  # noqa: F401

DOC = citizen_id(region="440104", birth="19850315", seq=654)
NAME, PHONE = "欧阳晓燕", "13912345678"


@pytest.fixture
def trail(world, session, clock):
    person = world.person(doc_number=DOC, name=NAME, phone=PHONE)
    card = world.card(CardStatus.ACTIVE, person=person)
    clock.advance(days=1)
    other = world.card(CardStatus.ACTIVE)
    session.commit()
    return {"pid": person.id, "cid": card.id, "other": other.person_id}


def _get(client, headers, **params):
    return client.get("/api/audit/", query_string=params, headers=headers)


def test_auditor_filters_by_cardholder_and_gets_entries_as_stored_art16(client, session, staff, trail) -> None:
    resp = _get(client, staff("auditor"), person_id=trail["pid"], page_size=100)
    assert resp.status_code == 200, resp.get_json()
    got = resp.get_json()
    stored = [e for e in entries(session, person_id=trail["pid"]) if e.action != "read.audit"]  # not this query
    assert [e["seq"] for e in got] == [e.seq for e in stored]
    first = got[0]
    assert (first["hash"], first["prev_hash"], first["record"]) == (stored[0].hash, stored[0].prev_hash,
                                                                    stored[0].record)
    assert all(e["person_id"] == trail["pid"] for e in got)
    text_ = resp.get_data(as_text=True)
    assert NAME not in text_ and PHONE not in text_ and DOC not in text_
    assert "X-Pagination" in resp.headers


def test_filters_by_actor_action_prefix_and_time_art16(client, session, world, staff, trail, clock) -> None:
    clerk = world.staff["clerk"].id
    by_actor = _get(client, staff("bureau"), actor_id=clerk, page_size=100).get_json()
    assert by_actor and {e["actor_id"] for e in by_actor} == {clerk}
    accepts = _get(client, staff("bureau"), action="card.accept").get_json()
    assert len(accepts) == 2 and {e["action"] for e in accepts} == {"card.accept"}
    cards = _get(client, staff("bureau"), action_prefix="card.", page_size=100).get_json()
    assert cards and all(e["action"].startswith("card.") for e in cards)
    day2 = (clock.current - timedelta(hours=1)).isoformat()
    later = _get(client, staff("bureau"), since=day2, page_size=100).get_json()
    assert later and {e["person_id"] for e in later if e["action"].startswith("card.")} == {trail["other"]}
    earlier = _get(client, staff("bureau"), until=day2, page_size=100).get_json()
    assert trail["other"] not in {e["person_id"] for e in earlier}


def test_paging_and_newest_first_art16(client, session, staff, trail) -> None:
    total = count(session)
    page1 = _get(client, staff("auditor"), page=1, page_size=5, newest_first="true")
    assert page1.status_code == 200
    seqs = [e["seq"] for e in page1.get_json()]
    assert seqs == list(range(total, total - 5, -1))
    assert json.loads(page1.headers["X-Pagination"])["total"] == total


def test_querying_the_trail_is_itself_recorded_art16(client, session, world, staff, trail) -> None:
    _get(client, staff("auditor"), person_id=trail["pid"])
    [entry] = entries(session, action="read.audit")
    assert entry.person_id == trail["pid"] and entry.actor_id == world.staff["auditor"].id
    assert entry.record["subject"] == f"audit:person_id={trail['pid']}"


def test_chain_report_through_the_api_art16(client, db, session, staff, trail) -> None:
    ok = client.get("/api/audit/verify", headers=staff("auditor")).get_json()
    assert ok["ok"] is True and ok["checked"] == count(session) and ok["seq"] is None
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    bad = client.get("/api/audit/verify", headers=staff("bureau")).get_json()
    assert (bad["ok"], bad["seq"], bad["reason"]) == (False, 2, "deleted")


@pytest.mark.parametrize("who", ["clerk", "teller", "hotline", "medical"])
def test_only_the_bureau_and_the_auditor_read_the_trail_art16(client, staff, trail, who) -> None:
    assert _get(client, staff(who)).status_code == 403
    assert client.get("/api/audit/verify", headers=staff(who)).status_code == 403


def test_no_endpoint_changes_the_trail_art16(app, client, session, staff, trail) -> None:
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/audit")]
    assert rules and all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)
    before = count(session)
    for method in ("post", "put", "patch", "delete"):
        for url in ("/api/audit/", "/api/audit/1", "/api/audit/verify"):
            resp = getattr(client, method)(url, json={}, headers=staff("bureau"))
            assert resp.status_code in (404, 405), (method, url, resp.status_code)
    assert count(session) == before
