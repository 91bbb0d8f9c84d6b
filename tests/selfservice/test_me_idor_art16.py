"""The holder never sees nor touches another person's data (issue 15 item 5; Art. 16, 19): a walk of the URL
map over EVERY API endpoint a resident token may call. With another resident's ids in the path the answer is
403 or 404, carries none of the other's data, and changes nothing; the /api/me reads without ids carry only
the caller's own data."""
from __future__ import annotations

import re

from app.api.common import etag
from app.models import SettlementAccount
from app.models.enums import CardStatus, Role
from app.services import resident as resident_service
from app.models.complaint import ComplaintKind, PartyKind
from tests.api.test_policy_urlmap import role_endpoints
from tests.factories import PIN, snapshot
from tests.selfservice.conftest import problem

# A body that passes each operation's input schema, so the refusal proven is the scope check, not validation.
BODIES = {
    "pin-change": {"old_pin": PIN, "new_pin": "246802"},
    "pin-reset": {"new_pin": "246802"},
    "activation": {"pin": PIN},
    "reissue": {"delivery_method": "pickup"},
    "replacement": {"delivery_method": "pickup", "reason": "damaged"},
    "rejection": {"reason": "x"},
    "dispatch": {"tracking_ref": "SF0001"},
    "info-change": {"address": "广州市海珠区"},
    "cancellation": {"reason": "death", "effective": "2026-11-20"},
    "reveal": {"fields": ["name"], "purpose": "own_inquiry", "detail": "look"},
    "consent": {"code": "123456"},
}


def _pair(world, session, staff_world=None):
    mine = world.card(CardStatus.ACTIVE)
    theirs = world.card(CardStatus.ACTIVE, person=world.person(name="李四海", phone="13900001111"))
    filed = resident_service.file_complaint(session, world.resident(theirs.person_id), kind=ComplaintKind.COMPLAINT,
                                            party_kind=PartyKind.ISSUING, summary="Their own complaint text here.")
    session.commit()
    return mine, theirs, filed.complaint


def _their_family_link(world, session, theirs):
    """An active family link of the other resident (guardian of an elderly parent): its id for the walk."""
    from app.models.family import Consent, FamilyLink, LinkStatus, Relation
    from app.services import clock
    from tests.factories import citizen_id

    parent = world.card(CardStatus.ACTIVE, person=world.person(name="李老伯", doc_number=citizen_id(birth="19400101")))
    link = FamilyLink(guardian_id=theirs.person_id, member_id=parent.person_id, relation=Relation.ELDERLY,
                      status=LinkStatus.ACTIVE, consent=Consent.CODE, created_at=clock.now(),
                      confirmed_at=clock.now(), code_attempts=0)
    session.add(link)
    session.commit()
    return link


def _resident_endpoints(app):
    for rule, method, policy in role_endpoints(app):
        if Role.RESIDENT in policy:
            yield rule, method


def _secrets(theirs) -> list[str]:
    p = theirs.person
    return [p.name, p.doc_number, p.phone, theirs.number, p.ssn]


def test_every_resident_endpoint_with_an_id_refuses_another_persons_ids_art16_19(app, client, session, world,
                                                                               resident):
    mine, theirs, their_complaint = _pair(world, session)
    their_account = session.query(SettlementAccount).filter_by(person_id=theirs.person_id).first()
    ids = {"card_id": theirs.id, "person_id": theirs.person_id, "account_id": their_account.id,
           "complaint_id": their_complaint.id, "link_id": _their_family_link(world, session, theirs).id}
    headers = resident(mine.person)
    before = snapshot(session, [theirs.person_id])
    walked = []
    for rule, method in _resident_endpoints(app):
        params = re.findall(r"<(?:\w+:)?(\w+)>", rule.rule)
        if not params:
            continue
        unknown = [p for p in params if p not in ids and p != "field"]
        assert not unknown, f"{rule.rule}: add an id of the other resident for {unknown} to this test"
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), "transport")), rule.rule)
        body = BODIES.get(rule.rule.rstrip("/").split("/")[-1], {})
        # the other's card's real ETag: the refusal proven is the scope check, not the missing precondition
        extra = {"If-Match": etag(theirs)} if method != "GET" and "card_id" in params else {}
        resp = client.open(path, method=method, headers={**headers, **extra},
                           json=body if method != "GET" else None)
        assert resp.status_code in (403, 404), f"{method} {path}: {resp.status_code} {resp.get_data(as_text=True)[:300]}"
        problem(resp, resp.status_code)
        text = resp.get_data(as_text=True)
        for s in _secrets(theirs):
            assert s not in text, f"{method} {path} leaked {s!r}"
        walked.append(f"{method} {rule.rule}")
    assert snapshot(session, [theirs.person_id]) == before, "a refused call changed the other's data"
    assert any("/api/me/complaints/" in w for w in walked) and any("/statement" in w for w in walked)
    assert any("/loss-registration" in w for w in walked) and any("/api/persons/" in w for w in walked)


def test_me_reads_without_ids_carry_only_the_callers_data_art16_20(app, client, session, world, resident):
    mine, theirs, _ = _pair(world, session)
    headers = resident(mine.person)
    walked = []
    for rule, method in _resident_endpoints(app):
        if method != "GET" or not rule.rule.startswith("/api/me") or "<" in rule.rule:
            continue
        resp = client.get(rule.rule, headers=headers)
        assert resp.status_code == 200, f"{rule.rule}: {resp.get_data(as_text=True)[:300]}"
        text = resp.get_data(as_text=True)
        for s in _secrets(theirs):
            assert s not in text, f"GET {rule.rule} leaked {s!r}"
        walked.append(rule.rule)
    assert {"/api/me", "/api/me/cards", "/api/me/complaints", "/api/me/applications", "/api/me/steps",
            "/api/me/access-log", "/api/me/corrections"} <= set(walked)
    assert mine.number in client.get("/api/me/cards", headers=headers).get_data(as_text=True)


def test_another_residents_complaint_is_the_same_404_as_none_art16_29(client, session, world, resident):
    mine, theirs, their_complaint = _pair(world, session)
    headers = resident(mine.person)
    a = problem(client.get(f"/api/me/complaints/{their_complaint.id}", headers=headers), 404)
    b = problem(client.get(f"/api/me/complaints/{their_complaint.id + 999}", headers=headers), 404)
    assert a["title"] == b["title"] and a["type"] == b["type"]
