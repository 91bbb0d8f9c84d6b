"""Art. 16 least privilege: every endpoint × role is checked against the declared policy, and each role's
remit holds where the data is: a teller sees only its own bank's cardholders, an application agency
only its own field, a resident only themself, the Bureau and the auditor the trail but no full values.

(``tests/api/test_policy_urlmap.py`` walks the map for roles OUTSIDE each policy: 403, and 401 without a
token. This walk is the other half: every role INSIDE a policy gets past the role gate.)"""
from __future__ import annotations

import re

import pytest
from tests.http import read

from app.auth import PUBLIC
from app.models.enums import CardStatus, Role
from tests.factories import citizen_id
from tests.privacy.art16_helpers import (  # noqa: F401
    app_keys_fixture,
    resident_headers,
    staff_fixture,
)

LOGINS = {Role.BUREAU: "bureau", Role.AGENCY_CLERK: "clerk", Role.BANK_TELLER: "teller",
          Role.HOTLINE_OPERATOR: "hotline", Role.APP_AGENCY: "medical", Role.AUDITOR: "auditor"}

STAFF_READERS = {Role.BUREAU, Role.AGENCY_CLERK, Role.BANK_TELLER, Role.AUDITOR}
# The declared policy of the endpoints that answer with a cardholder's personal data or the trail.
DECLARED = {
    "persons.get_person": STAFF_READERS | {Role.RESIDENT},
    "persons.lookup": STAFF_READERS,
    "persons.person_cards": STAFF_READERS | {Role.RESIDENT},
    "persons.person_accounts": STAFF_READERS | {Role.RESIDENT},
    "persons.reveal": {Role.BUREAU, Role.AGENCY_CLERK, Role.BANK_TELLER, Role.HOTLINE_OPERATOR, Role.APP_AGENCY,
                       Role.AUDITOR, Role.RESIDENT},  # all may ask; the reveal table decides (and logs)
    "cards.get_card": STAFF_READERS | {Role.RESIDENT},
    "cards.list_cards": STAFF_READERS,
    "cards.card_events": STAFF_READERS,  # residents: /api/me/events (Art. 20)
    "cards.status_inquiry": {Role.RESIDENT, Role.BANK_TELLER, Role.BUREAU, Role.AGENCY_CLERK, Role.APP_AGENCY},
    "applications.watch_list": {Role.AGENCY_CLERK, Role.BUREAU},
    "audit.list_entries": {Role.BUREAU, Role.AUDITOR},
    "audit.verify": {Role.BUREAU, Role.AUDITOR},
    "agency.holder": {Role.APP_AGENCY},
    "hotline.caller": {Role.HOTLINE_OPERATOR},
}
EXEMPT = ("static", "api-docs.")


def _walk(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint.startswith(EXEMPT):
            continue
        policy = getattr(app.view_functions[rule.endpoint], "policy", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, policy


def _path(rule) -> str:
    """Path parameters that name nothing: the call reaches the view's own checks and changes nothing."""
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>",
                  lambda m: "999999" if (m.group(1) or "") == "int" else "medical", rule.rule)


def test_the_declared_policy_of_personal_data_endpoints_art16(app) -> None:
    for endpoint, roles in DECLARED.items():
        assert app.view_functions[endpoint].policy == frozenset(roles), endpoint
    every = {r.endpoint for r in app.url_map.iter_rules()}
    assert set(DECLARED) <= every
    # the application agency reaches personal data only through its own, field-scoped lookup
    person_reads = [e for e in DECLARED if e.startswith("persons.") and e != "persons.reveal"]
    assert all(Role.APP_AGENCY not in DECLARED[e] and Role.HOTLINE_OPERATOR not in DECLARED[e]
               for e in person_reads)


def test_every_role_a_policy_admits_gets_past_the_role_gate_art16(app, client, session, world, staff) -> None:
    """Each endpoint × each role of its policy: never 401, never the role gate's 403, never a 5xx. What a
    role may then do with a given cardholder is the view's own business (scope, channel, 404…)."""
    person = world.person()
    session.commit()
    headers = {role: staff(name) for role, name in LOGINS.items()}
    headers[Role.RESIDENT] = resident_headers(app, person.id)
    failures, calls = [], 0
    for rule, method, policy in _walk(app):
        assert policy, f"{rule.endpoint} declares no policy"
        if policy == PUBLIC:
            continue
        for role in sorted(policy):
            if role not in headers:
                continue  # SYSTEM: no one signs in as the system
            h = headers[role]
            if rule.endpoint == "auth.refresh":
                continue  # takes a refresh token; covered by the auth tests
            if rule.endpoint == "auth.logout":  # would revoke the shared token
                if role is Role.RESIDENT:
                    continue
                fresh = client.post("/api/auth/login", json={"username": LOGINS[role],
                                                              "password": f"{LOGINS[role]}-pw"})
                h = {"Authorization": f"Bearer {fresh.get_json()['access_token']}"}
            resp = client.open(_path(rule), method=method, headers=h, json={})
            calls += 1
            body = resp.get_json(silent=True) or {}
            gate = resp.status_code == 403 and str(body.get("type", "")).endswith("/forbidden")
            if resp.status_code == 401 or gate or resp.status_code >= 500:
                failures.append((method, rule.rule, str(role), resp.status_code, str(body)[:200]))
    assert failures == []
    assert calls > 60


@pytest.fixture
def cardholders(world, session):
    """One cardholder at bank 0 (ICBC) and one at bank 1 (CCB)."""
    icbc = world.card(CardStatus.ACTIVE, person=world.person(doc_number=citizen_id(seq=501)))
    teller_ccb = world.actor("teller_ccb")
    from app.services import lifecycle

    ccb_person = world.person(doc_number=citizen_id(seq=502))
    ccb = lifecycle.apply(session, teller_ccb, ccb_person.id, bank_id=world.banks[1].id,
                          delivery=lifecycle.Delivery(lifecycle.DeliveryMethod.PICKUP), id_verified=True)
    session.commit()
    return {"icbc": icbc, "ccb": ccb}


def _reads(card):
    pid, cid = card.person_id, card.id
    doc = card.person.doc_number
    return [f"/api/persons/{pid}", f"/api/persons/lookup?doc_type=resident_id&doc_number={doc}",
            f"/api/persons/{pid}/cards", f"/api/persons/{pid}/accounts", f"/api/cards/{cid}",
            f"/api/cards/{cid}/events", f"/api/cards/{cid}/status"]


def test_a_teller_reads_its_own_banks_cardholders_only_art16(client, session, staff, cardholders) -> None:
    for url in _reads(cardholders["icbc"]):
        assert read(client, url, headers=staff("teller")).status_code == 200, url
        assert read(client, url, headers=staff("teller_yx")).status_code == 200, url  # same bank, other outlet
        resp = read(client, url, headers=staff("teller_ccb"))
        assert resp.status_code == 403, url
        assert resp.get_json()["article"] == "Art. 16" and resp.get_json()["type"].endswith("/out-of-scope")
    for url in _reads(cardholders["ccb"]):
        assert read(client, url, headers=staff("teller_ccb")).status_code == 200, url
        assert read(client, url, headers=staff("teller")).status_code == 403, url


def test_a_tellers_card_list_holds_its_own_bank_only_art16(client, world, staff, cardholders) -> None:
    icbc = {c["bank_id"] for c in client.get("/api/cards/", headers=staff("teller")).get_json()}
    ccb = {c["bank_id"] for c in client.get("/api/cards/", headers=staff("teller_ccb")).get_json()}
    assert icbc == {world.banks[0].id} and ccb == {world.banks[1].id}
    other = client.get(f"/api/cards/?person_id={cardholders['ccb'].person_id}", headers=staff("teller"))
    assert other.status_code == 200 and other.get_json() == []


def test_a_resident_reads_themself_only_art16(app, client, cardholders) -> None:
    own, other = cardholders["icbc"], cardholders["ccb"]
    headers = resident_headers(app, own.person_id)
    assert client.get(f"/api/persons/{own.person_id}", headers=headers).status_code == 200
    assert client.get(f"/api/cards/{own.id}", headers=headers).status_code == 200
    for url in (f"/api/persons/{other.person_id}", f"/api/cards/{other.id}", f"/api/cards/{other.id}/events"):
        assert client.get(url, headers=headers).status_code == 403, url


def test_an_agency_sees_its_own_field_and_no_cardholder_record_art16(client, staff, cardholders) -> None:
    card = cardholders["icbc"]
    assert client.get(f"/api/persons/{card.person_id}", headers=staff("medical")).status_code == 403
    # only a holder it looked up by document (Art. 16, 28)
    assert client.get(f"/api/cards/{card.id}/status", headers=staff("medical")).status_code == 403
    holder = client.post("/api/agency/holders", json={"doc_type": "resident_id",
                                                             "doc_number": card.person.doc_number},
                        headers=staff("medical")).get_json()
    assert holder["field"]["field"] == "medical" and set(holder) == {
        "person_id", "name", "ssn", "card_status", "card_kind", "settlement_suspended", "field"}
    status = client.get(f"/api/cards/{card.id}/status", headers=staff("medical")).get_json()
    assert list(status["fields"]) == ["medical"]


def test_no_role_sees_everything_art16(client, staff, cardholders) -> None:
    """The Bureau and the auditor read the trail but see no full value; the clerk sees full values but
    not the trail; a teller sees another bank's cardholder neither masked nor in full."""
    pid = cardholders["icbc"].person_id
    body = {"fields": ["name"], "purpose": "complaint", "detail": "监督检查抽查", "case": "12345-0001"}
    for who in ("bureau", "auditor"):
        assert client.get("/api/audit/", headers=staff(who)).status_code == 200
        assert client.post(f"/api/persons/{pid}/reveal", json=body, headers=staff(who)).status_code == 403
    assert client.post(f"/api/persons/{pid}/reveal", json=body, headers=staff("clerk")).status_code == 200
    body = {**body, "purpose": "counter_service"}
    assert client.get("/api/audit/", headers=staff("clerk")).status_code == 403
    assert client.post(f"/api/persons/{pid}/reveal", json=body, headers=staff("teller_ccb")).status_code == 403
