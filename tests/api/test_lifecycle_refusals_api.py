"""Lifecycle rules over HTTP: a role the channel table does not admit is refused as a channel refusal
naming the article (Art. 19, 21, 22, …), not a bare 403; the ID check of an outlet loss registration
(Art. 21) is sent and recorded; an information change offers the replacement (Art. 24(2)); a clerk's
cancellation for death records the date of death (Art. 26)."""
from __future__ import annotations

from sqlalchemy import select

from app.models import Card, Person
from app.models.enums import CardStatus, Role
from app.services.lifecycle_rules import CHANNEL_ARTICLES, Op, article_of, roles_for
from tests.api.conftest import assert_problem, card_rows, committed_scalar
from tests.api.test_policy_urlmap import concrete_path, role_endpoints

# Every endpoint that is one operation of the channel table.
LIFECYCLE_ENDPOINTS = {
    **{f"cards.card_{op}": op for op in (
        Op.ACCEPT, Op.REJECT, Op.START_PRODUCTION, Op.FINISH_PRODUCTION, Op.DISPATCH, Op.DELIVER, Op.PICK_UP,
        Op.ACTIVATE, Op.REGISTER_LOSS, Op.DEREGISTER_LOSS, Op.REISSUE, Op.REPLACE, Op.CHANGE_PIN, Op.RESET_PIN,
        Op.LOCK_FIELD, Op.UNLOCK_FIELD)},
    "cards.status_inquiry": Op.INQUIRE_STATUS, "persons.change_info": Op.CHANGE_INFO,
    "persons.cancel": Op.CANCEL, "persons.confirm_unbind": Op.CONFIRM_UNBIND, "applications.apply": Op.APPLY,
}


def _headers(world, auth, resident_auth, role_token, person_id):
    logins = {"bureau": Role.BUREAU, "clerk": Role.AGENCY_CLERK, "teller": Role.BANK_TELLER,
              "hotline": Role.HOTLINE_OPERATOR, "medical": Role.APP_AGENCY, "auditor": Role.AUDITOR}
    headers = {role: auth(world, name) for name, role in logins.items()}
    headers[Role.RESIDENT] = resident_auth(person_id)
    headers[Role.SYSTEM] = role_token(Role.SYSTEM)
    return headers


def test_role_policy_refusal_of_a_lifecycle_operation_names_the_article_art6(
        app, client, world, auth, resident_auth, role_token):
    """Each lifecycle endpoint called by every role its channel-table row does not admit: a 403 channel
    refusal carrying the article, from the same table as the service's own refusal."""
    person = world.person()
    headers = _headers(world, auth, resident_auth, role_token, person.id)
    seen, failures = set(), []
    for rule, method, policy in role_endpoints(app):
        op = LIFECYCLE_ENDPOINTS.get(rule.endpoint)
        if op is None:
            continue
        seen.add(rule.endpoint)
        assert policy == frozenset(roles_for(op)), rule.endpoint
        for role in set(Role) - policy:
            resp = client.open(concrete_path(rule), method=method, headers=headers[role], json={})
            body = resp.get_json(silent=True) or {}
            expected = CHANNEL_ARTICLES.get(op) or article_of(op)
            if (resp.status_code, body.get("type", "").rsplit("/", 1)[-1], body.get("article")) != (
                    403, "channel-not-allowed", expected):
                failures.append((rule.endpoint, str(role), resp.status_code, body))
    assert seen == set(LIFECYCLE_ENDPOINTS)
    assert failures == []


def test_resident_deregistering_a_loss_online_is_refused_with_art22(client, db, world, resident_auth, auth):
    """Art. 22: only in person at an outlet; Art. 19: a PIN is reset only there, identity checked."""
    card = world.card(CardStatus.LOSS_REGISTERED)
    world.session.commit()
    before = card_rows(db)
    res = resident_auth(card.person_id)
    resp = client.post(f"/api/cards/{card.id}/loss-deregistration", headers={**res, "If-Match": '"x"'},
                       json={"id_verified": True})
    body = assert_problem(resp, 403, article="Art. 22")
    assert "bank_teller" in body["detail"]
    resp = client.post(f"/api/cards/{card.id}/loss-deregistration", headers=auth(world, "hotline"), json={})
    assert_problem(resp, 403, article="Art. 22")
    resp = client.post(f"/api/cards/{card.id}/pin-reset", headers=res, json={"new_pin": "246801"})
    assert_problem(resp, 403, article="Art. 19")
    assert card_rows(db) == before


def test_outlet_loss_registration_records_the_id_check_over_http_art21(client, db, world, auth, etag):
    card = world.card(CardStatus.ACTIVE)
    teller = auth(world, "teller")
    tag = etag(client, teller, card.id)
    resp = client.post(f"/api/cards/{card.id}/loss-registration", headers={**teller, "If-Match": tag}, json={})
    assert_problem(resp, 422, article="Art. 21")
    assert committed_scalar(db, select(Card.status).where(Card.id == card.id)) == CardStatus.ACTIVE
    resp = client.post(f"/api/cards/{card.id}/loss-registration", headers={**teller, "If-Match": tag},
                       json={"id_verified": True})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    events = client.get(f"/api/cards/{card.id}/events", headers=teller).get_json()
    assert (events[-1]["operation"], events[-1]["details"]) == ("register_loss", {"id_verified": True})
    # By the bank's hotline no document is shown (Art. 21): no check asked.
    other = world.card(CardStatus.ACTIVE)
    resp = client.post(f"/api/cards/{other.id}/loss-registration",
                       headers={**teller, "If-Match": etag(client, teller, other.id)}, json={"channel": "bank_hotline"})
    assert resp.status_code == 200, resp.get_data(as_text=True)


def test_info_change_answers_with_the_replacement_offer_and_starts_nothing_art24(client, db, world, auth, app):
    card = world.card(CardStatus.ACTIVE)
    teller = auth(world, "teller")
    cards_before = committed_scalar(db, select(db.func.count()).select_from(Card))
    resp = client.post(f"/api/persons/{card.person_id}/info-change", headers=teller,
                       json={"name": "陈大明", "id_verified": True})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["person"]["id"] == card.person_id and body["person"]["name"] == "陈*明"
    assert body["replacement_offer"] == {"card_id": card.id, "reason": "basic_data_changed",
                                         "article": "Art. 24(2)", "fee_fen": app.config["CARD_FEE_FEN"]}
    assert committed_scalar(db, select(db.func.count()).select_from(Card)) == cards_before
    assert committed_scalar(db, select(Card.status).where(Card.id == card.id)) == CardStatus.ACTIVE
    resp = client.post(f"/api/persons/{card.person_id}/info-change", headers=teller, json={"phone": "13900002222"})
    assert resp.status_code == 200 and resp.get_json()["replacement_offer"] is None


def test_clerk_cancellation_for_death_records_the_date_over_http_art26(client, db, world, auth):
    card = world.card(CardStatus.ACTIVE)
    clerk = auth(world, "clerk")
    resp = client.post(f"/api/persons/{card.person_id}/cancellation", headers=clerk, json={"reason": "death"})
    assert_problem(resp, 422, article="Art. 26")
    resp = client.post(f"/api/persons/{card.person_id}/cancellation", headers=clerk,
                       json={"reason": "death", "effective": "2026-11-20"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert str(committed_scalar(db, select(Person.deceased_on).where(Person.id == card.person_id))) == "2026-11-20"
