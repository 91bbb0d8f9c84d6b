"""Art. 16: one disclosure rule serves every endpoint. This walks EVERY endpoint of the URL map as EACH role
and compares what it answers with the disclosure table (``app.services.disclosure.DISCLOSURE``):

* what a role is shown: every key of every answer is an item the role's row lists (the items of the
  answers' schemas, ``app.api.schemas.Disclosed``); and for the roles with a narrow remit, none of the
  holder's card number, courier reference, address, mobile or rejection grounds appears anywhere;
* whom a role is shown: called with the ids of a holder outside its remit (another bank's, one the agency
  never looked up, one the hotline never verified), no answer carries that holder's data.
"""
from __future__ import annotations

import json
import re

import pytest

from app.api.schemas import Disclosed
from app.auth import PUBLIC
from app.models.enums import CardStatus, DeliveryMethod, Role
from app.privacy import mask_name
from app.services import disclosure, lifecycle
from tests.factories import citizen_id
from tests.privacy.art16_helpers import app_keys_fixture, resident_headers, staff_fixture  # noqa: F401

LOGINS = {Role.BUREAU: "bureau", Role.AGENCY_CLERK: "clerk", Role.BANK_TELLER: "teller",
          Role.HOTLINE_OPERATOR: "hotline", Role.APP_AGENCY: "medical", Role.AUDITOR: "auditor"}
SKIP = ("static", "api-docs.", "auth.logout", "auth.refresh")  # logout would end the shared session
DOC_A, DOC_B = citizen_id(region="440104", birth="19850315", seq=701), citizen_id(region="440104", seq=702)
NAME_A, NAME_B = "欧阳晓燕", "司马相如"
PHONE_A, ADDRESS_A = "13912345678", "广州市海珠区新港中路397号"


def _all_schemas(cls=Disclosed):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_schemas(sub)


DATA_KEYED = ("fields", "details", "values", "record")  # dicts keyed by data (field names), not by the schema


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for key, v in value.items() if not (key in DATA_KEYED and isinstance(v, dict))
                             for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def _shown_keys(role: Role) -> set[str]:
    """The answer keys whose item the role's row of the table lists."""
    sees = disclosure.DISCLOSURE[role].sees
    return {key for schema in _all_schemas() for key, item in schema.items.items() if item in sees}


@pytest.fixture
def holders(world, session, client, staff):
    a = world.person(doc_number=DOC_A, name=NAME_A, phone=PHONE_A, address=ADDRESS_A)
    card_a = world.card(CardStatus.ACTIVE, person=a, delivery=DeliveryMethod.EXPRESS)  # bank 0, courier SF123
    b = world.person(doc_number=DOC_B, name=NAME_B)
    card_b = lifecycle.apply(session, world.actor("teller_ccb"), b.id, bank_id=world.banks[1].id,
                             delivery=lifecycle.Delivery(DeliveryMethod.PICKUP), id_verified=True)
    lifecycle.reject(session, world.clerk, card_b.id, reason="缺少居住证明材料")
    card_b = lifecycle.apply(session, world.actor("teller_ccb"), b.id, bank_id=world.banks[1].id,
                             delivery=lifecycle.Delivery(DeliveryMethod.PICKUP), id_verified=True)
    session.commit()
    # the narrow remits are opened the only way they open: the agency looks A up by document, the
    # hotline verifies A as its caller
    assert client.post("/api/agency/holders", json={"doc_type": "resident_id", "doc_number": DOC_A},
                       headers=staff("medical")).status_code == 200
    assert client.post("/api/hotline/callers", json={"doc_type": "resident_id", "doc_number": DOC_A, "name": NAME_A,
                                                     "phone": PHONE_A}, headers=staff("hotline")).status_code == 200
    return {"a": (a, card_a), "b": (b, card_b)}


def _path(rule, person_id: int, card_id: int, bank_id: int) -> str:
    ids = {"person_id": person_id, "card_id": card_id, "bank_id": bank_id, "year": 2026, "request_id": 999999}
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", lambda m: str(ids.get(m.group(1), "medical")), rule.rule)


def _walk(app, client, headers, person_id, card_id, bank_id):
    """(endpoint, role, response) for every endpoint × every role its policy admits. POSTs send an empty
    body (document lookups are made with A's document by the fixture, not here), so nothing changes."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint.startswith(SKIP):
            continue
        policy = app.view_functions[rule.endpoint].policy
        if policy == PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for role in sorted(policy & set(headers)):
                resp = client.open(_path(rule, person_id, card_id, bank_id), method=method, headers=headers[role],
                                   json={})
                yield rule.endpoint, role, resp


def test_every_answer_to_every_role_matches_the_disclosure_table_art16(app, client, session, world, staff,
                                                                      holders) -> None:
    a, card_a = holders["a"]
    headers = {role: staff(name) for role, name in LOGINS.items()} | {Role.RESIDENT: resident_headers(app, a.id)}
    secrets_of_a = [card_a.number, "SF123", ADDRESS_A, PHONE_A, "139****5678", "广州市海珠区"]
    narrow = {role for role, row in disclosure.DISCLOSURE.items() if row.sees != disclosure.EVERY_ITEM}
    assert narrow == {Role.APP_AGENCY, Role.HOTLINE_OPERATOR}
    answered: dict[Role, set[str]] = {}
    for endpoint, role, resp in _walk(app, client, headers, a.id, card_a.id, world.banks[0].id):
        assert resp.status_code < 500, (endpoint, role, resp.get_data(as_text=True)[:300])
        if resp.status_code >= 300 or resp.mimetype != "application/json":
            continue
        body = resp.get_json()
        answered.setdefault(role, set()).add(endpoint)
        if role in narrow:
            extra = _keys(body) - _shown_keys(role)
            assert not extra, (endpoint, role, extra)
            text = json.dumps(body, ensure_ascii=False)
            assert not [s for s in secrets_of_a if s in text], (endpoint, role, text[:300])
    # the walk reached the answers it is about: the agency's status inquiry and lookup, the staff reads
    assert "cards.status_inquiry" in answered[Role.APP_AGENCY]
    assert {"cards.get_card", "persons.get_person", "cards.status_inquiry"} <= answered[Role.BANK_TELLER]


def test_no_answer_carries_a_holder_outside_the_callers_remit_art16(app, client, session, world, staff,
                                                                   holders) -> None:
    a, _ = holders["a"]
    b, card_b = holders["b"]
    headers = {role: staff(name) for role, name in LOGINS.items()} | {Role.RESIDENT: resident_headers(app, a.id)}
    b_data = [card_b.number, mask_name(NAME_B), "缺少居住证明材料"]
    reached = set()
    for endpoint, role, resp in _walk(app, client, headers, b.id, card_b.id, world.banks[1].id):
        body = resp.get_json(silent=True)  # (answers may escape non-ASCII characters)
        text = json.dumps(body, ensure_ascii=False) if body is not None else resp.get_data().decode("utf-8", "replace")
        leaked = [s for s in b_data if s in text]
        if disclosure.DISCLOSURE[role].scope is disclosure.Scope.ANY:
            reached |= {endpoint} if leaked else set()
            continue
        assert not leaked, (endpoint, role, resp.status_code, text[:300])
    assert {"cards.get_card", "persons.get_person", "persons.person_cards"} <= reached  # B is there to be seen


def test_every_field_of_every_disclosed_answer_names_its_item_art16() -> None:
    """A field added to an answer without saying which item it carries would be shown to nobody with a narrow
    remit; say it here, so the table stays the whole truth."""
    for schema in _all_schemas():
        declared = set(schema.items)
        fields = {f.data_key or name for name, f in schema._declared_fields.items()}
        assert fields == declared, (schema.__name__, fields ^ declared)
        assert set(schema.items.values()) <= set(disclosure.Item), schema.__name__
