"""Art. 16: a full value only for a role allowed to see that field, within its remit, with a stated
purpose; every reveal is on record with its purpose, and so is every refused attempt."""
from __future__ import annotations

import base64

import pytest

from app.models.enums import STAFF_ROLES, CardStatus, Role
from app.services import disclosure, lifecycle
from tests.factories import citizen_id
from tests.privacy.art16_helpers import (  # noqa: F401
    app_keys_fixture,
    count,
    entries,
    resident_headers,
    staff_fixture,
)

DOC = citizen_id(region="440104", birth="19850315", seq=321)
NAME, PHONE, ADDRESS, PHOTO = "欧阳晓燕", "13912345678", "广州市海珠区新港中路397号", b"\x89PNG-reveal"
PURPOSE = "办理补卡，核对持卡人身份"  # the free text that goes with a purpose from the list (Art. 16)


@pytest.fixture
def holder(world, session):
    person = world.person(doc_number=DOC, name=NAME, phone=PHONE, address=ADDRESS, photo=PHOTO)
    world.card(CardStatus.ACTIVE, person=person)  # bank 0
    session.commit()
    return person.id


def _reveal(client, headers, person_id, fields, purpose="counter_service", detail=PURPOSE, case=None):
    body = {"fields": fields, "detail": detail}
    if purpose is not None:
        body["purpose"] = purpose
    if case is not None:
        body["case"] = case
    return client.post(f"/api/persons/{person_id}/reveal", json=body, headers=headers)


def _clerk_reveal(client, staff, session, person_id, fields):
    """A clerk's reveal names its case: here the holder's card being handled (Art. 16)."""
    card = lifecycle.current_card(session, person_id)
    return _reveal(client, staff("clerk"), person_id, fields, purpose="card_production", case=str(card.id))


def test_clerk_with_a_purpose_sees_full_values_and_the_reveal_is_logged_art16(client, session, world, staff,
                                                                               holder) -> None:
    resp = _clerk_reveal(client, staff, session, holder, ["doc_number", "ssn", "name", "phone", "address", "photo"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["values"] == {"doc_number": DOC, "ssn": DOC, "name": NAME, "phone": PHONE, "address": ADDRESS,
                              "photo": base64.b64encode(PHOTO).decode()}
    [entry] = entries(session, action="reveal.person")
    assert entry.seq == body["audit_seq"]
    assert (entry.person_id, entry.actor_id, entry.actor_role) == (holder, world.staff["clerk"].id, "agency_clerk")
    assert entry.record["purpose"] == f"card_production: {PURPOSE}"
    assert entry.record["subject"] == f"card:{lifecycle.current_card(session, holder).id}"  # its case
    assert entry.record["fields"] == ["address", "doc_number", "name", "phone", "photo", "ssn"]
    stored = str(entry.record)
    assert all(plain not in stored for plain in (DOC, NAME, PHONE, ADDRESS))  # the trail never holds them


def test_teller_of_the_cardholders_bank_sees_contact_and_identity_art16(client, session, staff, holder) -> None:
    resp = _reveal(client, staff("teller_yx"), holder, ["name", "phone"])
    assert resp.status_code == 200
    assert resp.get_json()["values"] == {"name": NAME, "phone": PHONE}
    assert len(entries(session, action="reveal.person", person_id=holder)) == 1


@pytest.mark.parametrize("purpose, detail, why", [(None, PURPOSE, "missing"), ("", PURPOSE, "empty"),
                                                  ("看看", PURPOSE, "not on the list"),
                                                  ("counter_service", "     ", "blank free text")])
def test_a_reveal_without_a_purpose_is_refused_art16(client, session, staff, holder, purpose, detail,
                                                     why) -> None:
    before = count(session)
    resp = _reveal(client, staff("teller"), holder, ["name"], purpose=purpose, detail=detail)
    assert resp.status_code == 422, why
    assert resp.mimetype == "application/problem+json"
    assert count(session) == before


@pytest.mark.parametrize("who, fields", [
    ("bureau", ["name"]),  # supervises: no full values ("no role sees everything")
    ("auditor", ["doc_number"]),
    ("hotline", ["phone"]),
    ("teller", ["photo"]),  # a teller's grant does not cover the photo
    ("teller", ["ssn"]),
    ("medical", ["name"]),  # an agency only right after looking the holder up
])
def test_a_role_without_that_grant_is_refused_and_the_attempt_logged_art16(client, session, world, staff, holder,
                                                                          who, fields) -> None:
    resp = _reveal(client, staff(who), holder, fields)
    assert resp.status_code == 403
    assert resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["article"] == "Art. 16" and "values" not in problem
    assert NAME not in resp.get_data(as_text=True)
    [attempt] = entries(session, action="reveal.refused")
    assert (attempt.person_id, attempt.actor_id) == (holder, world.staff[who].id)
    assert attempt.record["purpose"] == f"counter_service: {PURPOSE}" and attempt.record["fields"] == fields
    assert entries(session, action="reveal.person") == []


def test_a_teller_of_another_bank_is_refused_art16(client, session, staff, holder) -> None:
    resp = _reveal(client, staff("teller_ccb"), holder, ["name"])
    assert resp.status_code == 403 and resp.get_json()["article"] == "Art. 16"
    assert entries(session, action="reveal.refused")[0].record["subject"] == "refused: scope"


def test_a_teller_cannot_reveal_someone_without_a_card_at_their_bank_art16(client, session, world, staff) -> None:
    applicant = world.person()  # registered, no card yet
    session.commit()
    assert _reveal(client, staff("teller"), applicant.id, ["name"]).status_code == 403


def test_a_resident_sees_their_own_data_only_art16(app, client, session, world, holder) -> None:
    other = world.person()
    session.commit()
    own = _reveal(client, resident_headers(app, holder), holder, ["phone"], purpose="own_inquiry",
                  detail="查询本人信息")
    assert own.status_code == 200 and own.get_json()["values"] == {"phone": PHONE}
    assert _reveal(client, resident_headers(app, other.id), holder, ["phone"], purpose="own_inquiry",
                   detail="查询本人信息").status_code == 403


def test_unknown_fields_and_unknown_people_art16(client, staff, holder) -> None:
    assert _reveal(client, staff("teller"), holder, ["pin_hash"]).status_code == 422
    assert _reveal(client, staff("teller"), holder, []).status_code == 422
    assert _reveal(client, staff("teller"), 999_999, ["name"]).status_code == 404


def test_the_reveal_table_art16() -> None:
    table = disclosure.REVEAL
    # the Bureau and the auditor, who read the audit trail, see no full value: no role sees everything
    assert Role.BUREAU not in table and Role.AUDITOR not in table and Role.HOTLINE_OPERATOR not in table
    assert table[Role.BANK_TELLER].scope is disclosure.Scope.OWN_BANK
    assert table[Role.APP_AGENCY].fields == {"name", "doc_number"}
    assert table[Role.APP_AGENCY].scope is disclosure.Scope.LOOKED_UP
    unscoped = [r for r, g in table.items() if g.scope is disclosure.Scope.ANY]
    assert unscoped == [Role.AGENCY_CLERK]
    assert set(table) <= set(STAFF_ROLES) | {Role.RESIDENT}
    rows = {row["role"]: row for row in disclosure.reveal_table()}
    assert set(rows) == {str(r) for r in disclosure.DISCLOSURE}
    assert {r for r, row in rows.items() if row["fields"]} == {str(r) for r in table}
    # the narrow remits: status and the own field (an agency), what a loss registration needs (the hotline)
    assert disclosure.Item.CARD_NUMBER not in disclosure.sees(Role.APP_AGENCY) | disclosure.sees(Role.HOTLINE_OPERATOR)
    assert disclosure.DISCLOSURE[Role.HOTLINE_OPERATOR].scope is disclosure.Scope.CALLER
