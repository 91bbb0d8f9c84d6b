"""Card operations over HTTP: the whole life of a card driven through the API with ETags, the
refusals (state → 409, channel/role/scope → 403, each naming the article), the wrong-PIN lockout
(Art. 19), and masking of personal data in answers (Art. 16)."""
from __future__ import annotations

import base64
import json

from sqlalchemy import select

from app.models import Card
from app.models.enums import CardStatus
from tests.api.conftest import assert_problem, card_rows, committed_scalar, row_counts
from tests.factories import PIN, citizen_id

PHOTO = base64.b64encode(b"\x89PNG\r\n\x1a\n-photo").decode()


def applicant(**over) -> dict:
    data = {"doc_type": "resident_id", "doc_number": citizen_id(birth="19850315"), "name": "欧阳明华",
            "phone": "13912345678", "address": "广州市越秀区中山五路2号301房", "photo": PHOTO,
            "occupation": "教师", "eligibility": "public_services"}
    data.update(over)
    return data


class Counter:
    """One client session at a counter: every call sends the ETag the previous answer gave."""

    def __init__(self, client):
        self.client = client

    def op(self, headers, card_id, suffix, tag, json=None, status=200):
        resp = self.client.post(f"/api/cards/{card_id}/{suffix}", headers={**headers, "If-Match": tag},
                                json=json or {})
        assert resp.status_code == status, f"{suffix}: {resp.status_code} {resp.get_data(as_text=True)[:500]}"
        return resp


def _ok(resp, status: str, old_tag: str | None = None):
    body = resp.get_json()
    assert body["status"] == status, body
    new_tag = resp.headers.get("ETag")
    assert new_tag == f'"{body["id"]}.{body["version"]}"', (new_tag, body)
    if old_tag is not None:
        assert new_tag != old_tag
    return body, new_tag


def _events(client, headers, card_id):
    resp = client.get(f"/api/cards/{card_id}/events", headers=headers)
    assert resp.status_code == 200
    return resp.get_json()


def test_whole_card_life_over_http_with_etags_art6_to_23(client, db, world, auth, etag):
    teller, clerk, hotline = auth(world, "teller"), auth(world, "clerk"), auth(world, "hotline")
    c = Counter(client)

    # Art. 7, 9: apply at the outlet, registering the applicant on the way.
    holder = applicant()
    resp = client.post("/api/applications/", headers=teller,
                       json={"applicant": holder, "bank_id": world.banks[0].id, "delivery_method": "pickup",
                             "id_verified": True})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    card, tag = _ok(resp, "applied")
    cid, number, pid = card["id"], card["number"], card["person_id"]
    assert card["application"]["channel"] == "outlet" and card["kind"] == "first"
    assert card["application"]["fee_fen"] == 0 and card["application"]["fee_waiver"] == "first_card"  # Art. 27(1)

    # Art. 10, 25: the issuing agency accepts and produces; each call uses the previous answer's ETag.
    card, tag2 = _ok(c.op(clerk, cid, "acceptance", tag), "accepted", tag)
    assert card["application"]["accepted_on"] and card["application"]["due_on"]
    # The ETag before acceptance is stale now: refused, nothing happens.
    assert_problem(c.op(clerk, cid, "production-start", tag, status=412), 412)
    card, tag = _ok(c.op(clerk, cid, "production-start", tag2), "in_production", tag2)
    card, tag = _ok(c.op(clerk, cid, "production-finish", tag), "produced", tag)
    # Art. 12: picked up at the outlet; Art. 6: activated there with a PIN.
    card, tag = _ok(c.op(teller, cid, "pickup", tag, json={"id_verified": True}), "issued", tag)
    assert card["received_on"]
    card, tag = _ok(c.op(teller, cid, "activation", tag, json={"pin": PIN}), "active", tag)
    assert card["activated_at"] and card["pin_locked"] is False
    accounts = client.get(f"/api/persons/{pid}/accounts", headers=teller).get_json()
    assert sorted(a["kind"] for a in accounts) == ["financial", "medical"]
    assert {a["status"] for a in accounts} == {"active"}

    # Art. 21: loss registered through the bank's customer-service line: both accounts suspended.
    card, tag = _ok(c.op(teller, cid, "loss-registration", tag, json={"channel": "bank_hotline"}),
                    "loss_registered", tag)
    assert {a["status"] for a in client.get(f"/api/persons/{pid}/accounts", headers=teller).get_json()} == {
        "suspended"}
    # Art. 22: the holder found the card: deregistered in person at an outlet with the ID checked.
    card, tag = _ok(c.op(teller, cid, "loss-deregistration", tag, json={"id_verified": True}), "active", tag)
    assert {a["status"] for a in client.get(f"/api/persons/{pid}/accounts", headers=teller).get_json()} == {
        "active"}
    # Art. 21: lost again, reported to the 12345 government hotline, which verifies the caller first (Art. 16).
    caller = client.post("/api/hotline/callers", headers=hotline, json={
        **{k: holder[k] for k in ("doc_type", "doc_number", "name", "phone")}})
    assert caller.status_code == 200 and caller.get_json()["etag"] == tag
    resp = c.op(hotline, cid, "loss-registration", tag)
    assert resp.get_json()["status"] == "loss_registered" and "number" not in resp.get_json()  # its remit
    tag = resp.headers["ETag"]

    # Art. 23: reissue at the outlet: the old card is void for ever, the new card has a new number.
    resp = c.op(teller, cid, "reissue", tag, json={"delivery_method": "pickup", "id_verified": True}, status=201)
    new, new_tag = _ok(resp, "applied")
    assert new["id"] != cid and new["number"] != number
    assert new["kind"] == "reissue" and new["predecessor_id"] == cid and new["person_id"] == pid
    old = client.get(f"/api/cards/{cid}", headers=teller)
    assert old.get_json()["status"] == "invalidated"
    # The reissue answer's ETag is the new card's and is what the next step on it uses.
    _ok(c.op(clerk, new["id"], "acceptance", new_tag), "accepted", new_tag)

    # Art. 22: no deregistration once a reissue was applied for: 409 naming the article, nothing changed.
    before = card_rows(db), row_counts(db)
    body = assert_problem(c.op(teller, cid, "loss-deregistration", etag(client, teller, cid),
                               json={"id_verified": True}, status=409), 409, article="Art. 22")
    assert body["type"].endswith("/illegal-transition")
    assert (card_rows(db), row_counts(db)) == before

    # Every step is on the record, with its channel and article.
    events = _events(client, teller, cid)
    assert [(e["operation"], e["channel"]) for e in events] == [
        ("apply", "outlet"), ("accept", "agency"), ("start_production", "agency"), ("finish_production", "agency"),
        ("pick_up", "outlet"), ("activate", "outlet"), ("register_loss", "bank_hotline"),
        ("deregister_loss", "outlet"), ("register_loss", "gov_hotline"), ("reissue", "outlet"),
    ]
    assert {e["article"] for e in events if e["operation"] == "register_loss"} == {"Art. 21"}
    assert [e["actor_role"] for e in events if e["operation"] == "register_loss"] == [
        "bank_teller", "hotline_operator"]


def test_steps_the_state_machine_does_not_allow_are_409_with_the_article(client, db, world, auth, etag):
    applied = world.card(CardStatus.APPLIED)
    active = world.card(CardStatus.ACTIVE)
    teller, clerk = auth(world, "teller"), auth(world, "clerk")
    before = card_rows(db), row_counts(db)
    c = Counter(client)
    assert_problem(c.op(teller, applied.id, "activation", etag(client, teller, applied.id), json={"pin": "246813"},
                        status=409), 409, article="Art. 6")
    assert_problem(c.op(teller, active.id, "loss-deregistration", etag(client, teller, active.id),
                        json={"id_verified": True}, status=409), 409, article="Art. 22")
    assert_problem(c.op(clerk, active.id, "acceptance", etag(client, clerk, active.id), status=409), 409,
                   article="Art. 10, 25")
    assert (card_rows(db), row_counts(db)) == before


def test_wrong_channel_is_403_with_the_article(client, db, world, auth, etag):
    lost = world.card(CardStatus.LOSS_REGISTERED)
    active = world.card(CardStatus.ACTIVE)
    teller = auth(world, "teller")
    before = card_rows(db), row_counts(db)
    c = Counter(client)
    # Art. 22: a loss is deregistered only in person at an outlet, never over the phone.
    body = assert_problem(c.op(teller, lost.id, "loss-deregistration", etag(client, teller, lost.id),
                               json={"id_verified": True, "channel": "bank_hotline"}, status=403), 403,
                          article="Art. 22")
    assert body["type"].endswith("/channel-not-allowed")
    # Art. 24: no online replacement.
    assert_problem(c.op(teller, active.id, "replacement", etag(client, teller, active.id),
                        json={"reason": "damaged", "delivery_method": "pickup", "channel": "online"}, status=403),
                   403, article="Art. 24")
    # Art. 19: a PIN reset needs the outlet.
    assert_problem(c.op(teller, active.id, "pin-reset", etag(client, teller, active.id),
                        json={"new_pin": "246813", "id_verified": True, "channel": "bank_hotline"}, status=403),
                   403, article="Art. 19")
    # A role the channel table does not name for the operation at all: refused by the policy.
    hotline = auth(world, "hotline")
    assert_problem(c.op(hotline, lost.id, "loss-deregistration", etag(client, teller, lost.id),
                        json={"id_verified": True}, status=403), 403)
    assert (card_rows(db), row_counts(db)) == before


def test_teller_of_another_bank_is_out_of_scope_art16(client, db, world, auth, etag):
    active = world.card(CardStatus.ACTIVE)  # bank 0
    ccb = auth(world, "teller_ccb")
    teller = auth(world, "teller")
    before = card_rows(db)
    body = assert_problem(Counter(client).op(ccb, active.id, "loss-registration", etag(client, teller, active.id),
                                             status=403), 403, article="Art. 16")
    assert body["type"].endswith("/out-of-scope")
    assert_problem(client.get(f"/api/cards/{active.id}", headers=ccb), 403)
    assert card_rows(db) == before


def test_resident_registers_loss_of_own_card_online_only_art21(client, db, world, auth, resident_auth, etag):
    mine = world.card(CardStatus.ACTIVE)
    theirs = world.card(CardStatus.ACTIVE)
    world.session.commit()
    me = resident_auth(mine.person_id)
    c = Counter(client)

    # Someone else's card: 403, nothing changes.
    before = card_rows(db), row_counts(db)
    assert_problem(client.get(f"/api/cards/{theirs.id}", headers=me), 403)
    tag_theirs = etag(client, auth(world, "teller"), theirs.id)
    body = assert_problem(c.op(me, theirs.id, "loss-registration", tag_theirs, status=403), 403)
    assert body["type"].endswith("/out-of-scope") and "Art. 16" in body["article"]
    # A resident cannot claim to be at an outlet.
    tag = etag(client, me, mine.id)
    assert_problem(c.op(me, mine.id, "loss-registration", tag, json={"channel": "outlet"}, status=403), 403,
                   article="Art. 21")
    assert (card_rows(db), row_counts(db)) == before

    # Own card, online: registered.
    _ok(c.op(me, mine.id, "loss-registration", tag), "loss_registered", tag)
    ev = client.get("/api/me/events", headers=me).get_json()[-1]  # the holder's own view (Art. 20)
    assert (ev["operation"], ev["channel"], ev["actor_role"]) == ("register_loss", "online", "resident")
    assert "actor_id" not in ev
    assert_problem(client.get(f"/api/cards/{mine.id}/events", headers=me), 403)  # the staff view
    assert committed_scalar(db, select(Card.status).where(Card.id == theirs.id)) is CardStatus.ACTIVE


def test_wrong_pin_lockout_persists_across_requests_art19(client, db, world, auth, resident_auth, etag):
    card = world.card(CardStatus.ACTIVE)  # PIN is factories.PIN
    world.session.commit()
    holder, teller = resident_auth(card.person_id), auth(world, "teller")
    c = Counter(client)
    wrong = {"old_pin": "975310", "new_pin": "246813"}

    tag = etag(client, holder, card.id)
    for attempt in range(1, 6):
        body = assert_problem(c.op(holder, card.id, "pin-change", tag, json=wrong, status=403), 403,
                              article="Art. 19")
        assert body["type"].endswith("/pin-refused")
        assert body["tries_left"] == 5 - attempt
        # The count was COMMITTED although the request failed: read through another connection.
        assert committed_scalar(db, select(Card.pin_failures).where(Card.id == card.id)) == attempt
        # The failed try changed the card, so its ETag moved on; the old one is stale.
        new_tag = etag(client, holder, card.id)
        assert new_tag != tag
        tag = new_tag
    assert "locked" in body["detail"].lower() and body["tries_left"] == 0
    got = client.get(f"/api/cards/{card.id}", headers=holder).get_json()
    assert got["pin_locked"] is True and got["status"] == "active"

    # Locked: even the right PIN is refused (423) and the counter does not move.
    before = card_rows(db)
    body = assert_problem(c.op(holder, card.id, "pin-change", tag, json={"old_pin": PIN, "new_pin": "246813"},
                               status=423), 423, article="Art. 19")
    assert body["type"].endswith("/pin-locked")
    assert card_rows(db) == before

    # Reset at the outlet with the ID checked (Art. 19): usable again.
    card_json, tag = _ok(c.op(teller, card.id, "pin-reset", tag, json={"new_pin": "802461", "id_verified": True}),
                         "active")
    assert card_json["pin_locked"] is False
    assert committed_scalar(db, select(Card.pin_failures).where(Card.id == card.id)) == 0
    _ok(c.op(holder, card.id, "pin-change", tag, json={"old_pin": "802461", "new_pin": "246813"}), "active", tag)
    ops = [e["operation"] for e in _events(client, teller, card.id)]
    assert ops[-2:] == ["reset_pin", "change_pin"]


def test_a_right_pin_resets_the_failure_count_art19(client, db, world, resident_auth, etag):
    card = world.card(CardStatus.ACTIVE)
    world.session.commit()
    holder = resident_auth(card.person_id)
    c = Counter(client)
    for _ in range(3):
        c.op(holder, card.id, "pin-change", etag(client, holder, card.id),
             json={"old_pin": "975310", "new_pin": "246813"}, status=403)
    assert committed_scalar(db, select(Card.pin_failures).where(Card.id == card.id)) == 3
    c.op(holder, card.id, "pin-change", etag(client, holder, card.id), json={"old_pin": PIN, "new_pin": "246813"})
    assert committed_scalar(db, select(Card.pin_failures).where(Card.id == card.id)) == 0


# ------------------------------------------------------------------------------------ masking (Art. 16)


def test_person_answers_never_carry_full_personal_data_art16(client, world, auth, resident_auth):
    data = applicant()
    teller = auth(world, "teller")
    resp = client.post("/api/applications/", headers=teller,
                       json={"applicant": data, "bank_id": world.banks[0].id, "delivery_method": "express",
                             "delivery_address": data["address"], "id_verified": True})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    pid = resp.get_json()["person_id"]
    secrets_ = [data["doc_number"], data["phone"], data["name"], data["address"], data["doc_number"][6:14]]

    def assert_masked(resp, what):
        assert resp.status_code in (200, 201), (what, resp.get_data(as_text=True))
        raw = resp.get_data(as_text=True)
        decoded = json.dumps(resp.get_json(), ensure_ascii=False)
        for secret in secrets_:
            assert secret not in raw and secret not in decoded, (what, secret, decoded)
        return resp.get_json()

    assert_masked(resp, "application answer")
    headers = {name: auth(world, name) for name in ("teller", "clerk", "bureau", "auditor")}
    headers["resident"] = resident_auth(pid)
    for who, h in headers.items():
        person = assert_masked(client.get(f"/api/persons/{pid}", headers=h), f"person as {who}")
        assert person["doc_number"] == data["doc_number"][:6] + "*" * 8 + data["doc_number"][-4:]
        assert person["phone"] == "139****5678"
        assert person["name"] == "欧**华"
        assert person["has_photo"] is True and "photo" not in person
        assert_masked(client.get(f"/api/persons/{pid}/cards", headers=h), f"cards as {who}")
    q = {"doc_type": "resident_id", "doc_number": data["doc_number"]}
    assert_masked(client.post("/api/persons/lookup", json=q, headers=headers["clerk"]), "lookup")
    assert_masked(client.post("/api/persons/", headers=teller, json=data), "registration of a known person")
