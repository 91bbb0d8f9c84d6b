"""The application agencies' API (Art. 15, 16, 20, 26, 33): credentials of their own (OAuth 2.0 client
credentials, API keys; rotation, revocation), the event feed within their remit, the data they push,
webhooks (Standard Webhooks, verified by the independent ``standardwebhooks`` package), problem+json."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.models import Agency, AgencyCredential, AgencyEvent, AgencyRecord, Person, WebhookDelivery
from app.models.enums import AgencyKind, Field
from app.services import lifecycle
from tests.api.conftest import assert_problem, bearer
from tests.factories import PICKUP


# ---------------------------------------------------------------- helpers


def make_credential(client, world, auth, agency="MED", kind="api_key", scopes=None) -> dict:
    body = {"agency": agency, "kind": kind, "label": f"{agency} system"}
    if scopes:
        body["scopes"] = scopes
    resp = client.post("/api/agency/credentials", json=body, headers=auth(world, "bureau"))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()


def key_headers(cred: dict) -> dict:
    return {"X-API-Key": cred["secret"]}


def oauth_token(client, cred: dict, **form) -> dict:
    data = {"grant_type": "client_credentials", "client_id": cred["credential"]["client_id"],
            "client_secret": cred["secret"], **form}
    resp = client.post("/api/agency/oauth/token", data=data)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def feed(client, headers, after="0", limit=100) -> dict:
    resp = client.get(f"/api/agency/events?after={after}&limit={limit}", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def all_events(client, headers, limit=100) -> list[dict]:
    out, cursor = [], "0"
    while True:
        page = feed(client, headers, cursor, limit)
        out += page["events"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return out


@pytest.fixture
def medical_card(world, session):
    card = world.card("active")
    session.commit()
    return card


# ---------------------------------------------------------------- credentials


def test_secret_shown_once_and_stored_as_a_digest_art16(client, world, auth, db):
    made = make_credential(client, world, auth, kind="api_key")
    client_id, secret = made["credential"]["client_id"], made["secret"]
    assert secret.startswith(client_id + ".")
    assert made["credential"]["field"] == "medical" and made["credential"]["agency"] == "MED"
    row = db.session.scalars(select(AgencyCredential).where(AgencyCredential.client_id == client_id)).one()
    assert row.secret_hash == hashlib.sha256(secret.split(".", 1)[1].encode()).hexdigest()
    listed = client.get("/api/agency/credentials?agency=MED", headers=auth(world, "bureau")).get_json()
    assert [c["client_id"] for c in listed] == [client_id]
    assert secret.split(".", 1)[1] not in json.dumps(listed)
    # Only an application agency with a field gets one (Art. 33); only the Bureau hands them out.
    resp = client.post("/api/agency/credentials", json={"agency": "SSCC", "kind": "api_key", "label": "x"},
                       headers=auth(world, "bureau"))
    assert_problem(resp, 422, article="Art. 33")
    resp = client.post("/api/agency/credentials", json={"agency": "MED", "kind": "api_key", "label": "x"},
                       headers=auth(world, "medical"))
    assert_problem(resp, 403)


def test_api_key_and_oauth_token_both_reach_the_feed(client, world, auth, medical_card):
    key = make_credential(client, world, auth, kind="api_key")
    assert feed(client, key_headers(key))["events"] == []
    oauth = make_credential(client, world, auth, kind="oauth_client")
    tok = oauth_token(client, oauth)
    assert tok["token_type"] == "Bearer" and tok["access_token"].startswith("gzat_") and tok["expires_in"] == 300
    assert feed(client, bearer(tok["access_token"]))["next_cursor"] == "0"
    # HTTP Basic client authentication (RFC 6749 §2.3.1) works too.
    basic = base64.b64encode(f"{oauth['credential']['client_id']}:{oauth['secret']}".encode()).decode()
    resp = client.post("/api/agency/oauth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": f"Basic {basic}"})
    assert resp.status_code == 200
    # An API key is not an OAuth client, and vice versa.
    resp = client.post("/api/agency/oauth/token", data={"grant_type": "client_credentials",
                                                        "client_id": key["credential"]["client_id"],
                                                        "client_secret": key["secret"].split(".", 1)[1]})
    assert assert_problem(resp, 401)["error"] == "invalid_client"
    assert_problem(client.get("/api/agency/events", headers={"X-API-Key": f"{oauth['credential']['client_id']}."
                                                                            f"{oauth['secret']}"}), 401)


def test_wrong_secret_and_expired_token_are_refused(client, world, auth, clock):
    oauth = make_credential(client, world, auth, kind="oauth_client")
    resp = client.post("/api/agency/oauth/token", data={"grant_type": "client_credentials",
                                                        "client_id": oauth["credential"]["client_id"],
                                                        "client_secret": "wrong"})
    body = assert_problem(resp, 401)
    assert body["error"] == "invalid_client" and body["type"].endswith("/invalid-credential")
    tok = oauth_token(client, oauth)["access_token"]
    assert_problem(client.get("/api/agency/events", headers=bearer(tok + "x")), 401)
    clock.advance(seconds=301)
    assert_problem(client.get("/api/agency/events", headers=bearer(tok)), 401)


def test_rotation_keeps_two_valid_secrets_during_the_overlap(client, world, auth, clock):
    key = make_credential(client, world, auth, kind="api_key")
    cid = key["credential"]["id"]
    resp = client.post(f"/api/agency/credentials/{cid}/rotation", json={"overlap_hours": 2},
                       headers=auth(world, "bureau"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    new = resp.get_json()
    assert new["secret"] != key["secret"] and new["credential"]["previous_valid_until"]
    assert feed(client, key_headers(key)) and feed(client, key_headers(new))  # both during the overlap
    clock.advance(hours=2, seconds=1)
    assert_problem(client.get("/api/agency/events", headers=key_headers(key)), 401)
    assert feed(client, key_headers(new))
    # A second rotation ends the oldest secret at once: never three.
    third = client.post(f"/api/agency/credentials/{cid}/rotation", json={"overlap_hours": 0},
                        headers=auth(world, "bureau")).get_json()
    assert_problem(client.get("/api/agency/events", headers=key_headers(new)), 401)
    assert feed(client, key_headers(third))


def test_revocation_ends_secrets_and_issued_tokens_at_once_art16(client, world, auth):
    oauth = make_credential(client, world, auth, kind="oauth_client")
    tok = oauth_token(client, oauth)["access_token"]
    assert feed(client, bearer(tok))
    resp = client.post(f"/api/agency/credentials/{oauth['credential']['id']}/revocation",
                       json={"reason": "contract ended"}, headers=auth(world, "bureau"))
    assert resp.status_code == 200 and resp.get_json()["revoked_at"]
    assert_problem(client.get("/api/agency/events", headers=bearer(tok)), 401)
    resp = client.post("/api/agency/oauth/token", data={"grant_type": "client_credentials",
                                                        "client_id": oauth["credential"]["client_id"],
                                                        "client_secret": oauth["secret"]})
    assert_problem(resp, 401)
    resp = client.post(f"/api/agency/credentials/{oauth['credential']['id']}/rotation", json={},
                       headers=auth(world, "bureau"))
    assert_problem(resp, 422)


def test_scopes_limit_what_a_credential_does(client, world, auth, medical_card):
    reader = make_credential(client, world, auth, kind="oauth_client", scopes=["feed:read"])
    tok = oauth_token(client, reader)
    assert tok["scope"] == "feed:read"
    p = medical_card.person
    resp = client.post("/api/agency/records", headers=bearer(tok["access_token"]),
                       json={"doc_type": p.doc_type, "doc_number": p.doc_number,
                             "items": {"enrolment_status": "enrolled"}})
    assert assert_problem(resp, 403)["type"].endswith("/insufficient-scope")
    resp = client.post("/api/agency/oauth/token", data={"grant_type": "client_credentials",
                                                        "client_id": reader["credential"]["client_id"],
                                                        "client_secret": reader["secret"], "scope": "records:write"})
    assert_problem(resp, 403)


# ---------------------------------------------------------------- the feed


def _lock(world, session, card, field: Field, locked=True):
    lifecycle.set_field_lock(session, world.teller, card.id, field=field, locked=locked)
    session.commit()


def test_feed_never_shows_another_fields_data_art16(client, world, auth, session, medical_card):
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    trans = key_headers(make_credential(client, world, auth, agency="TRANS"))
    _lock(world, session, medical_card, Field.MEDICAL)
    _lock(world, session, medical_card, Field.TRANSPORT)
    _lock(world, session, medical_card, Field.TRANSPORT, locked=False)
    trans_events = all_events(client, trans)
    assert [(e["type"], e["data"]["field"]) for e in trans_events] == [("field.locked", "transport"),
                                                                        ("field.unlocked", "transport")]
    # A holder the agency does not serve: the person id alone, no name or number (Art. 16).
    assert {e["holder"]["person_id"] for e in trans_events} == {medical_card.person_id}
    assert all(set(e["holder"]) == {"person_id"} for e in trans_events)
    # A holder it serves (it pushed data for them within its field, Art. 15): masked name and number.
    p = medical_card.person
    assert client.post("/api/agency/records", headers=med, json={"doc_type": p.doc_type, "doc_number": p.doc_number,
                                                                 "items": {"enrolment_status": "enrolled"}}
                       ).status_code == 200
    med_events = all_events(client, med)
    assert [(e["type"], e["data"]["field"]) for e in med_events] == [("field.locked", "medical"),
                                                                      ("record.updated", "medical")]
    assert "medical" not in json.dumps(trans_events) and "transport" not in json.dumps(med_events)
    holder = med_events[0]["holder"]
    assert holder["person_id"] == medical_card.person_id and "*" in holder["name"] and "*" in holder["ssn"]
    assert medical_card.person.ssn not in json.dumps(med_events)
    assert medical_card.number not in json.dumps(med_events + trans_events)
    log = client.get("/api/me/access-log", headers=_resident(medical_card.person_id)).get_json()
    assert any(e["action"] == "read.agency_feed" and e["organisation"] == "MED" for e in log)
    # There is no agency in any URL: a query naming another agency changes nothing.
    assert client.get("/api/agency/events?agency=TRANS", headers=med).status_code in (200, 422)


def _resident(person_id):
    from app.auth.tokens import resident_claims
    from tests.tokens import mint

    return bearer(mint(f"resident:{person_id}", resident_claims(person_id)))


def test_feed_reports_the_lifecycle_art21_22_23_24_26(client, world, auth, session):
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    teller = world.teller
    lost = world.card("active")
    lifecycle.register_loss(session, teller, lost.id, id_verified=True)
    lifecycle.deregister_loss(session, teller, lost.id, id_verified=True)
    lifecycle.register_loss(session, teller, lost.id, id_verified=True)
    new = lifecycle.reissue(session, teller, lost.id, id_verified=True, delivery=PICKUP)
    damaged = world.card("active")
    repl = lifecycle.replace(session, teller, damaged.id, reason=lifecycle.ReplacementReason.DAMAGED, delivery=PICKUP)
    dead = world.card("active")
    lifecycle.cancel(session, world.clerk, dead.person_id, reason=lifecycle.CancellationReason.DEATH,
                     effective=datetime(2026, 11, 20).date())
    session.commit()
    events = all_events(client, med)
    mine = lambda pid: [e["type"] for e in events if e["holder"]["person_id"] == pid]  # noqa: E731
    assert mine(lost.person_id) == ["card.loss_registered", "settlement.suspended", "card.loss_deregistered",
                                    "settlement.resumed", "card.loss_registered", "settlement.suspended",
                                    "card.reissued"]
    reissued = next(e for e in events if e["type"] == "card.reissued")
    assert reissued["data"]["old_card"]["id"] == lost.id and reissued["data"]["new_card"]["id"] == new.id
    assert reissued["data"]["old_card"]["status"] == "invalidated"
    assert mine(damaged.person_id) == ["card.replacement_applied"]
    assert mine(dead.person_id) == ["card.cancelled"]
    cancelled = next(e for e in events if e["type"] == "card.cancelled")
    assert cancelled["article"] == "Art. 26" and cancelled["data"]["reason"] == "death"
    # The replacement reaches the holder: the old card ends (old card → new card).
    for step in (lifecycle.accept, lifecycle.start_production, lifecycle.finish_production):
        step(session, world.clerk, repl.id)
    lifecycle.pick_up(session, teller, repl.id)
    session.commit()
    replaced = [e for e in all_events(client, med) if e["type"] == "card.replaced"]
    assert len(replaced) == 1
    assert (replaced[0]["data"]["old_card"]["id"], replaced[0]["data"]["new_card"]["id"]) == (damaged.id, repl.id)
    # Stable ids, strictly increasing seq, and a re-read gives the same events (idempotent consumers).
    again = all_events(client, med, limit=3)
    assert [e["id"] for e in again] == [e["id"] for e in all_events(client, med)]
    seqs = [e["seq"] for e in again]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_feed_pages_by_cursor(client, world, auth, session, medical_card):
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    for i in range(5):
        _lock(world, session, medical_card, Field.MEDICAL, locked=i % 2 == 0)
    first = feed(client, med, "0", 2)
    assert len(first["events"]) == 2 and first["has_more"]
    second = feed(client, med, first["next_cursor"], 2)
    third = feed(client, med, second["next_cursor"], 2)
    assert len(third["events"]) == 1 and not third["has_more"]
    ids = [e["id"] for p in (first, second, third) for e in p["events"]]
    assert len(set(ids)) == 5
    assert feed(client, med, third["next_cursor"], 2) == {"events": [], "next_cursor": third["next_cursor"],
                                                          "has_more": False}


@pytest.mark.parametrize("query", ["after=abc", "after=-1", "limit=0", "limit=501", "limit=x",
                                   "after=1234567890123456789012"])
def test_feed_bad_cursor_is_problem_json(client, world, auth, query):
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    assert_problem(client.get(f"/api/agency/events?{query}", headers=med), 422)


def test_bad_token_requests_are_problem_json(client):
    assert_problem(client.post("/api/agency/oauth/token", data={"grant_type": "password"}), 422)
    assert_problem(client.post("/api/agency/oauth/token", data={"grant_type": "client_credentials"}), 401)
    resp = client.post("/api/agency/oauth/token", data={"grant_type": "client_credentials"},
                       headers={"Authorization": "Basic !!!"})
    assert_problem(resp, 401)


# ---------------------------------------------------------------- push (Art. 15, 20)


def _push(client, headers, person, items, **extra):
    return client.post("/api/agency/records", headers=headers,
                       json={"doc_type": person.doc_type, "doc_number": person.doc_number, "items": items, **extra})


def test_push_records_the_source_visible_to_the_holder_art15_20(client, world, auth, session, medical_card):
    made = make_credential(client, world, auth, agency="MED")
    med, person = key_headers(made), medical_card.person
    resp = _push(client, med, person, {"enrolment_status": "enrolled", "service_reference": "MZ-2026-0042"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["changed"] == ["enrolment_status", "service_reference"] and body["fee_fen"] == 0
    session.expire_all()
    rec = session.scalars(select(AgencyRecord).where(AgencyRecord.item == "service_reference")).one()
    assert rec.value == "MZ-2026-0042" and rec.field is Field.MEDICAL
    assert rec.credential_id == made["credential"]["id"]
    # The same push again changes nothing and records nothing.
    assert _push(client, med, person, {"enrolment_status": "enrolled"}).get_json()["changed"] == []
    # The holder sees who pushed what (Art. 20): the agency and the credential, masked values.
    resident = _resident(person.id)
    pushed = [e for e in client.get("/api/me/events", headers=resident).get_json() if e["operation"] == "agency_push"]
    assert len(pushed) == 1
    details = pushed[0]["details"]
    assert details["agency"] == "MED" and details["credential"] == made["credential"]["client_id"]
    assert details["changed"]["enrolment_status"] == [None, "enrolled"]
    assert "MZ-2026-0042" not in json.dumps(pushed)
    log = client.get("/api/me/access-log", headers=resident).get_json()
    entry = next(e for e in log if e["action"] == "card.agency_push")
    assert entry["organisation"] == "MED" and "enrolment_status" in entry["items"]
    # Shared with the agencies of the same field only (Art. 15, 16).
    trans = key_headers(make_credential(client, world, auth, agency="TRANS"))
    assert [e["type"] for e in all_events(client, med)] == ["record.updated"]
    assert all_events(client, trans) == []


def test_push_of_address_only_by_a_field_that_keeps_it_art15(client, world, auth, session, medical_card):
    session.add(Agency(code="PSB", name="PSB", kind=AgencyKind.APPLICATION, field=Field.PUBLIC_SECURITY))
    session.commit()
    psb = key_headers(make_credential(client, world, auth, agency="PSB"))
    person = medical_card.person
    resp = _push(client, psb, person, {"address": "广州市越秀区中山五路9号"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    session.expire_all()
    assert session.get(Person, person.id).address == "广州市越秀区中山五路9号"
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    assert_problem(_push(client, med, person, {"address": "x"}), 403, article="Art. 15, 16")


@pytest.mark.parametrize("items,status,article", [
    ({"name": "王五"}, 403, "Art. 17, 24(2)"),
    ({"doc_number": "x"}, 403, "Art. 17, 24(2)"),
    ({"phone": "13900000000"}, 403, "Art. 19"),
    ({"locked": "true"}, 403, "Art. 6"),
    ({"deceased_on": "2026-11-01"}, 403, "Art. 26"),
    ({"card_status": "cancelled"}, 403, "Art. 5, 6"),
    ({"enrolment_status": "maybe"}, 422, None),
    ({"favourite_colour": "red"}, 422, None),
    ({"service_reference": ""}, 422, None),
    ({"service_reference": 7}, 422, None),
    ({}, 422, None),
])
def test_push_refuses_what_is_not_the_agencys_with_the_article(client, world, auth, session, medical_card,
                                                                items, status, article):
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    before = session.scalar(select(AgencyRecord.id).limit(1))
    assert_problem(_push(client, med, medical_card.person, items), status, article=article)
    assert session.scalar(select(AgencyRecord.id).limit(1)) == before


def test_push_unknown_holder_is_404_and_bad_body_422(client, world, auth, medical_card):
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    other = world.person()
    world.session.commit()
    assert_problem(_push(client, med, other, {"enrolment_status": "enrolled"}), 404)  # registered, no card
    assert_problem(client.post("/api/agency/records", headers=med, json={"items": {}}), 422)
    assert_problem(client.post("/api/agency/records", headers=med, data="{", content_type="application/json"), 400)


# ---------------------------------------------------------------- webhooks


def verify_standard_webhook(secret: str, headers: dict, body: bytes) -> None:
    """A hand-written verifier of the Standard Webhooks scheme, beside the library's."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    assert any(hmac.compare_digest(expected, s) for s in sigs)


@pytest.fixture
def hooks(app, monkeypatch):
    """A local receiver (http://127.0.0.1:9/…): plain HTTP and private addresses allowed, as a developer's."""
    monkeypatch.setitem(app.config, "WEBHOOK_RUNNER", "manual")
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_HTTP", True)
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    monkeypatch.setitem(app.config, "WEBHOOK_BACKOFF_BASE", 30)


class Receiver:
    """A fake sender: records each call (and the address it was told to connect to), answers ``statuses``."""

    def __init__(self, statuses):
        self.statuses, self.calls, self.addresses = list(statuses), [], []

    def __call__(self, url, body, headers, address):
        self.calls.append((url, body, dict(headers)))
        self.addresses.append(address)
        status = self.statuses.pop(0) if self.statuses else 200
        if status == "timeout":
            raise TimeoutError("no answer")
        return status


def test_webhook_is_signed_per_standard_webhooks(client, world, auth, session, medical_card, hooks):
    from standardwebhooks import Webhook

    from app.services import webhooks

    med = key_headers(make_credential(client, world, auth, agency="MED"))
    resp = client.post("/api/agency/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=med)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    hook = resp.get_json()
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in client.get("/api/agency/webhooks", headers=med).get_json()[0]
    _lock(world, session, medical_card, Field.MEDICAL)
    receiver = Receiver([200])
    assert webhooks.run_due(session, receiver) == 1
    (url, body, headers), = receiver.calls
    assert url == "http://127.0.0.1:9/hook"
    payload = Webhook(hook["secret"]).verify(body, headers)  # the independent implementation
    verify_standard_webhook(hook["secret"], headers, body)
    event = all_events(client, med)[0]
    assert payload["id"] == headers["webhook-id"] == event["id"] and payload["type"] == "field.locked"
    assert "holder" not in payload  # no personal data in the webhook body
    tampered = body.replace(b"field.locked", b"field.unlocked")
    with pytest.raises(Exception):
        Webhook(hook["secret"]).verify(tampered, headers)
    # Another field's event is not sent to this agency's webhook (Art. 16).
    _lock(world, session, medical_card, Field.TRANSPORT)
    assert webhooks.run_due(session, receiver) == 0


def test_webhook_retries_with_exponential_backoff_and_logs_attempts(client, world, auth, session, medical_card,
                                                                    hooks, clock, app, monkeypatch):
    from app.services import webhooks

    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 4)
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    hook = client.post("/api/agency/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=med).get_json()
    _lock(world, session, medical_card, Field.MEDICAL)
    receiver = Receiver([500, "timeout", 503, 204])
    start = clock.current
    assert webhooks.run_due(session, receiver) == 1  # attempt 1 fails: next in 30 s
    assert webhooks.run_due(session, receiver) == 0  # not due yet
    clock.advance(seconds=29)
    assert webhooks.run_due(session, receiver) == 0
    clock.advance(seconds=1)
    assert webhooks.run_due(session, receiver) == 1  # attempt 2 (timeout): next in 60 s
    clock.advance(seconds=59)
    assert webhooks.run_due(session, receiver) == 0
    clock.advance(seconds=1)
    assert webhooks.run_due(session, receiver) == 1  # attempt 3: next in 120 s
    clock.advance(seconds=120)
    assert webhooks.run_due(session, receiver) == 1  # attempt 4 delivered
    ids = {h["webhook-id"] for _, _, h in receiver.calls}
    assert len(ids) == 1  # the same event id every time: the receiver deduplicates on it
    log = client.get(f"/api/agency/webhooks/{hook['id']}/deliveries", headers=med).get_json()
    assert log[0]["status"] == "delivered" and log[0]["attempt_count"] == 4
    assert [a["status"] for a in log[0]["attempts"]] == [500, None, 503, 204]
    assert log[0]["attempts"][1]["error"] == "TimeoutError"
    nexts = [datetime.fromisoformat(a["next"]) - start for a in log[0]["attempts"][:3]]
    assert nexts == [timedelta(seconds=30), timedelta(seconds=90), timedelta(seconds=210)]
    # Another agency cannot read this log.
    trans = key_headers(make_credential(client, world, auth, agency="TRANS"))
    assert_problem(client.get(f"/api/agency/webhooks/{hook['id']}/deliveries", headers=trans), 404)


def test_webhook_gives_up_after_the_last_attempt(client, world, auth, session, medical_card, hooks, clock, app,
                                                 monkeypatch):
    from app.services import webhooks

    monkeypatch.setitem(app.config, "WEBHOOK_MAX_ATTEMPTS", 2)
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    client.post("/api/agency/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=med)
    _lock(world, session, medical_card, Field.MEDICAL)
    receiver = Receiver([500, 500, 500])
    webhooks.run_due(session, receiver)
    clock.advance(seconds=30)
    webhooks.run_due(session, receiver)
    clock.advance(days=1)
    assert webhooks.run_due(session, receiver) == 0
    session.expire_all()
    assert session.scalars(select(WebhookDelivery.status)).all() == ["failed"]
    assert len(all_events(client, med)) == 1  # the feed still has it: at least once


def test_webhook_url_is_https_and_bad_input_is_problem_json(client, world, auth, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_HTTP", False)
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    assert_problem(client.post("/api/agency/webhooks", json={"url": "http://example.test/h"}, headers=med), 422)
    assert_problem(client.post("/api/agency/webhooks", json={"url": "not a url"}, headers=med), 422)
    assert_problem(client.delete("/api/agency/webhooks/999", headers=med), 404)


# ---------------------------------------------------------------- webhook addresses (SSRF)

PUBLIC_V4, PUBLIC_V6 = "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture
def dns(monkeypatch):
    """The webhooks module's resolver, of the test's own: ``dns["name"] = [addresses]``; IP literals and
    ``localhost`` go to the system's resolver (no network), any other name does not resolve. No real DNS."""
    import socket

    from app.services import webhooks

    names: dict[str, list[str]] = {}
    real = webhooks.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port or 0, 0, 0)) if ":" in a
                    else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port or 0)) for a in names[host]]
        try:
            import ipaddress

            ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost" and not host.isdigit():
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(webhooks, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def private_refused(app, monkeypatch):
    """The default (SSC_WEBHOOK_ALLOW_PRIVATE unset), whatever the developer's environment says."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)


def _webhooks(client, headers) -> list[dict]:
    return client.get("/api/agency/webhooks", headers=headers).get_json()


INSIDE = ["https://127.0.0.1/hook", "https://10.0.0.5/hook", "https://169.254.169.254/latest/meta-data",
          "https://[::1]/hook", "https://localhost/hook", "https://2130706433/hook",  # 127.0.0.1 as one number
          "https://internal.agency.example/hook",
          "https://mixed.agency.example/hook"]


@pytest.mark.parametrize("url", INSIDE)
def test_webhook_url_inside_a_private_network_is_refused(client, world, auth, dns, private_refused, url):
    """Security (SSRF): an agency cannot have this server call an address inside a network, ours or any:
    loopback, private ranges, the cloud metadata service, a name that resolves there, or a name with ANY
    address there beside public ones. 422 on ``url``, nothing stored."""
    dns["internal.agency.example"] = ["10.20.0.7"]
    dns["mixed.agency.example"] = [PUBLIC_V4, "192.168.1.10"]
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    body = assert_problem(client.post("/api/agency/webhooks", json={"url": url}, headers=med), 422)
    assert body["field"] == "url" and "private network" in body["detail"]
    assert _webhooks(client, med) == []
    zh = client.post("/api/agency/webhooks", json={"url": url}, headers={**med, "Accept-Language": "zh-CN"})
    assert "内部网络" in zh.get_json()["detail"]


def test_webhook_url_whose_host_does_not_resolve_is_refused(client, world, auth, dns, private_refused):
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    body = assert_problem(client.post("/api/agency/webhooks", json={"url": "https://nowhere.agency.example/h"},
                                      headers=med), 422)
    assert body["field"] == "url"
    assert _webhooks(client, med) == []


def test_webhook_url_on_public_addresses_is_accepted(client, world, auth, dns, private_refused):
    dns["hooks.agency.example"] = [PUBLIC_V4, PUBLIC_V6]
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    resp = client.post("/api/agency/webhooks", json={"url": "https://hooks.agency.example/h"}, headers=med)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert [h["url"] for h in _webhooks(client, med)] == ["https://hooks.agency.example/h"]


@pytest.mark.parametrize("url", ["https://127.0.0.1:8443/hook", "https://localhost/hook",
                                 "https://internal.agency.example/hook"])
def test_webhook_url_inside_a_private_network_is_allowed_with_webhook_allow_private(client, world, auth, dns,
                                                                                    app, monkeypatch, url):
    """WEBHOOK_ALLOW_PRIVATE (SSC_WEBHOOK_ALLOW_PRIVATE=1): a developer's local receiver."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    dns["internal.agency.example"] = ["10.20.0.7"]
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    resp = client.post("/api/agency/webhooks", json={"url": url}, headers=med)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    # A host that does not resolve stays refused.
    assert_problem(client.post("/api/agency/webhooks", json={"url": "https://nowhere.agency.example/h"},
                               headers=med), 422)


def test_webhook_delivery_to_a_host_now_inside_a_private_network_is_a_failed_attempt_without_request(
        client, world, auth, session, medical_card, hooks, dns, clock, app, monkeypatch):
    """DNS rebinding: the name was public at registration and resolves to 127.0.0.1 at send time. The attempt
    fails without any request (logged ``address_not_allowed``) and is retried on the backoff; the sender is
    told to connect to the address that was checked, never to look the name up again."""
    from app.services import webhooks

    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    dns["hooks.agency.example"] = [PUBLIC_V4]
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    hook = client.post("/api/agency/webhooks", json={"url": "https://hooks.agency.example/h"}, headers=med).get_json()
    _lock(world, session, medical_card, Field.MEDICAL)
    dns["hooks.agency.example"] = ["127.0.0.1"]
    receiver = Receiver([200])
    assert webhooks.run_due(session, receiver) == 1
    assert receiver.calls == []  # no request made
    log = client.get(f"/api/agency/webhooks/{hook['id']}/deliveries", headers=med).get_json()
    assert log[0]["status"] == "pending" and log[0]["attempt_count"] == 1
    (first,) = log[0]["attempts"]
    assert first["error"] == "address_not_allowed" and first["status"] is None and "next" in first
    # The name is public again: the retry is sent, to the address just checked.
    dns["hooks.agency.example"] = [PUBLIC_V4]
    clock.advance(seconds=30)
    assert webhooks.run_due(session, receiver) == 1
    assert receiver.addresses == [PUBLIC_V4]
    log = client.get(f"/api/agency/webhooks/{hook['id']}/deliveries", headers=med).get_json()
    assert log[0]["status"] == "delivered" and [a["error"] for a in log[0]["attempts"]] == ["address_not_allowed",
                                                                                             None]


def test_webhook_reaches_a_local_receiver_over_http_with_the_default_sender(client, world, auth, session,
                                                                            medical_card, hooks):
    """The real sender (webhooks.http_send, not a fake) end to end: a receiver on 127.0.0.1, allowed by
    WEBHOOK_ALLOW_PRIVATE, gets the signed event."""
    import http.server
    import threading

    from standardwebhooks import Webhook

    from app.services import webhooks

    got = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            got.append((self.path, dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        med = key_headers(make_credential(client, world, auth, agency="MED"))
        url = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
        hook = client.post("/api/agency/webhooks", json={"url": url}, headers=med).get_json()
        _lock(world, session, medical_card, Field.MEDICAL)
        assert webhooks.run_due(session) == 1
    finally:
        httpd.shutdown()
        httpd.server_close()
    (path, headers, body), = got
    headers = {k.lower(): v for k, v in headers.items()}
    assert path == "/hook" and Webhook(hook["secret"]).verify(body, headers)["type"] == "field.locked"
    session.expire_all()
    assert session.scalars(select(WebhookDelivery.status)).all() == ["delivered"]


def _off_the_event_loop(fn):
    """Run ``fn`` in a thread of its own: procrastinate's sync API starts event loops (asyncio.run, asgiref),
    which cannot run in a thread where one is running already, as Playwright's is in this worker once a
    browser test has started Chromium. A gunicorn worker has none."""
    import threading

    failure = []

    def run():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(e)

    t = threading.Thread(target=run, name="procrastinate")
    t.start()
    t.join(120)
    if failure:
        raise failure[0]


def test_procrastinate_task_sends_due_deliveries(client, world, auth, session, medical_card, hooks, app,
                                                 monkeypatch):
    """The real task queue's task (here on procrastinate's in-memory connector) sends what is due and
    schedules itself again for the next retry of the backoff."""
    from procrastinate.testing import InMemoryConnector

    from app import tasks

    med = key_headers(make_credential(client, world, auth, agency="MED"))
    client.post("/api/agency/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=med)
    _lock(world, session, medical_card, Field.MEDICAL)
    _lock(world, session, medical_card, Field.MEDICAL, locked=False)
    receiver = Receiver([200, 500])
    app.extensions["webhook_sender"] = receiver
    try:
        tasks._flask["app"] = app
        connector = InMemoryConnector()
        queue = tasks.build_queue(connector)

        def work():
            with queue.open():
                queue.configure_task("webhooks.deliver_due").defer()
                queue.run_worker(queues=["webhooks"], wait=False, install_signal_handlers=False)

        _off_the_event_loop(work)
        assert len(receiver.calls) == 2
        # The failed one is retried later: the task deferred itself with the backoff delay.
        rescheduled = [j for j in connector.jobs.values() if j["status"] == "todo" and j["queue_name"] == "webhooks"]
        assert len(rescheduled) == 1 and rescheduled[0]["scheduled_at"] is not None
    finally:
        app.extensions.pop("webhook_sender", None)
    session.expire_all()
    assert sorted(session.scalars(select(WebhookDelivery.status))) == ["delivered", "pending"]


def test_events_are_written_in_the_lifecycle_transaction(world, session, medical_card):
    """A refused or rolled-back lifecycle change leaves no event behind."""
    before = session.scalars(select(AgencyEvent.seq)).all()
    lifecycle.set_field_lock(session, world.teller, medical_card.id, field=Field.MEDICAL, locked=True)
    session.rollback()
    assert session.scalars(select(AgencyEvent.seq)).all() == before
    _lock(world, session, medical_card, Field.MEDICAL)
    assert len(session.scalars(select(AgencyEvent.seq)).all()) == len(before) + 1
    with pytest.raises(Exception):
        lifecycle.set_field_lock(session, world.teller, medical_card.id, field=Field.MEDICAL, locked=True)
    session.rollback()
    assert len(session.scalars(select(AgencyEvent.seq)).all()) == len(before) + 1





def test_procrastinate_on_postgresql_delivers_after_the_request(client, world, auth, session, medical_card, hooks,
                                                                app, backend, monkeypatch):
    """WEBHOOK_RUNNER=procrastinate: the request that wrote a delivery defers the task into procrastinate's
    tables in the same PostgreSQL database; a worker run sends it."""
    if backend == "sqlite":
        pytest.skip("procrastinate's queue lives in PostgreSQL")
    from sqlalchemy import text

    from app import tasks

    with db_engine(session).begin() as c:
        exists = c.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar()
    if exists is None:
        _off_the_event_loop(lambda: tasks.apply_schema(app))
    med = key_headers(make_credential(client, world, auth, agency="MED"))
    client.post("/api/agency/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=med)
    monkeypatch.setitem(app.config, "WEBHOOK_RUNNER", "procrastinate")
    teller = auth(world, "teller")
    resp = client.get(f"/api/cards/{medical_card.id}", headers=teller)
    answers = []  # the request defers the task through procrastinate's sync API: off the event loop too
    _off_the_event_loop(lambda: answers.append(client.post(f"/api/cards/{medical_card.id}/fields/medical/lock",
                                                           json={}, headers={**teller, "If-Match": resp.headers["ETag"]})))
    resp = answers[0]
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with db_engine(session).begin() as c:
        todo = c.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
                              "AND task_name = 'webhooks.deliver_due'")).scalar()
    assert todo == 1
    receiver = Receiver([200])
    app.extensions["webhook_sender"] = receiver
    try:
        _off_the_event_loop(lambda: tasks.run_worker(app, wait=False))
    finally:
        app.extensions.pop("webhook_sender", None)
    assert len(receiver.calls) == 1
    session.expire_all()
    assert session.scalars(select(WebhookDelivery.status)).all() == ["delivered"]


def db_engine(session):
    return session.get_bind()


def test_cli_manages_credentials_secret_printed_once(app, world, session):
    world.session.commit()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["agency", "create", "MED", "--kind", "api_key", "--label", "HIS",
                              "--scope", "feed:read"])
    assert out.exit_code == 0, out.output
    secret = out.output.split("secret (shown once): ")[1].strip()
    cred = session.scalars(select(AgencyCredential)).one()
    assert secret.startswith(cred.client_id + ".") and cred.scopes == ["feed:read"]
    listed = runner.invoke(args=["agency", "list"])
    assert cred.client_id in listed.output and secret.split(".", 1)[1] not in listed.output
    rotated = runner.invoke(args=["agency", "rotate", str(cred.id), "--overlap-hours", "1"])
    assert rotated.exit_code == 0 and "previous secret valid until" in rotated.output
    revoked = runner.invoke(args=["agency", "revoke", str(cred.id), "--reason", "test"])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    bad = runner.invoke(args=["agency", "create", "SSCC", "--label", "x"])
    assert bad.exit_code != 0 and "application agency" in bad.output
