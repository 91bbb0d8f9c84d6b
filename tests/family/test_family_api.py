"""Family e-cards through the API (亲情服务, Art. 19, 20, 26, 35): who may link whom, the member's
consent, the MEMBER's token, every token recorded for the member, removal, IDOR."""
from __future__ import annotations

from sqlalchemy import select

from app.models import AuditEntry, SmsMessage
from app.models.enums import CardStatus
from app.models.family import FamilyLink, LinkStatus
from app.services import lifecycle
from ecard.token import CardStatus as T
from tests.factories import DIED, citizen_id
from tests.family.conftest import FAMILY, assert_problem, last_code, member_body, ref_of, verifier


def _add(client, headers, card, relation, **over):
    return client.post(FAMILY, json=member_body(card, relation, **over), headers=headers)


def _add_child(client, headers, card) -> dict:
    """Add a child and agree with the code sent to the child's registered mobile (the parent's, here)."""
    from app.extensions import db

    link = _add(client, headers, card, "child").get_json()["link"]
    resp = client.post(f"{FAMILY}/{link['id']}/consent", json={"code": last_code(db.session)}, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def _tokens(client, headers, link_id, count=1):
    return client.post(f"{FAMILY}/{link_id}/ecard/tokens", json={"count": count}, headers=headers)


def test_guardian_gets_the_childs_token_naming_the_childs_card_art35(client, family_world, resident_auth):
    g, child = family_world["guardian"], family_world["child"]
    gh = resident_auth(g.person_id)
    resp = _add(client, gh, child, "child")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    # A child too is agreed through the child's registered mobile (here the parent's own number): knowing
    # a child's ID number and name is not enough (Art. 16, 19). Pending, the link gives nothing.
    assert body["link"]["status"] == "pending" and body["code_sent"] is True
    assert _tokens(client, gh, body["link"]["id"]).status_code == 404
    from app.extensions import db

    resp = client.post(f"{FAMILY}/{body['link']['id']}/consent", json={"code": last_code(db.session)}, headers=gh)
    assert resp.get_json()["status"] == "active" and resp.get_json()["consent"] == "minor"
    resp = _tokens(client, gh, body["link"]["id"], count=3)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()
    result = verifier(client).verify(out["token"])
    assert result.ok, result
    assert result.claims.card_ref == ref_of(child) != ref_of(g)
    assert result.claims.name == child.person.name
    assert len(out["batch"]) == 3


def test_member_token_carries_the_members_status_never_the_guardians_art21_35(client, family_world, world,
                                                                                 resident_auth, session):
    g, child = family_world["guardian"], family_world["child"]
    lifecycle.register_loss(session, world.teller, child.id, id_verified=True)
    session.commit()
    gh = resident_auth(g.person_id)
    link = _add_child(client, gh, child)
    claims = verifier(client).verify(_tokens(client, gh, link["id"]).get_json()["token"]).claims
    assert claims.status is T.LOSS_REGISTERED and claims.settlement_suspended is True
    # The guardian's own card is untouched and active.
    own = verifier(client).verify(client.post("/api/ecard/tokens", json={}, headers=gh).get_json()["token"]).claims
    assert own.status is T.ACTIVE and own.settlement_suspended is False


def test_cancelled_members_card_is_refused_as_their_own_would_be_art26(client, family_world, world, resident_auth,
                                                                       session):
    g, child = family_world["guardian"], family_world["child"]
    gh = resident_auth(g.person_id)
    link = _add_child(client, gh, child)
    lifecycle.cancel(session, world.clerk, child.person_id, effective=DIED, reason=lifecycle.CancellationReason.DEATH)
    session.commit()
    own = assert_problem(client.post("/api/ecard/tokens", json={}, headers=resident_auth(child.person_id)), 409,
                         article="Art. 26")
    theirs = assert_problem(_tokens(client, gh, link["id"]), 409, article="Art. 26")
    assert theirs["type"] == own["type"]


def test_adult_member_consents_with_a_code_sent_to_their_own_mobile_art19(client, family_world, resident_auth,
                                                                          session):
    g, elderly = family_world["guardian"], family_world["elderly"]
    gh = resident_auth(g.person_id)
    resp = _add(client, gh, elderly, "elderly")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["link"]["status"] == "pending" and body["code_sent"] is True
    assert body["sent_to"] == "139****0002"
    msg = session.scalars(select(SmsMessage).order_by(SmsMessage.id.desc())).first()
    assert msg.to == "139****0002"  # the MEMBER's number, not the guardian's
    code = last_code(session)
    link_id = body["link"]["id"]
    # Pending: nothing yet.
    assert_problem(_tokens(client, gh, link_id), 404)
    wrong = "000000" if code != "000000" else "111111"
    assert assert_problem(client.post(f"{FAMILY}/{link_id}/consent", json={"code": wrong}, headers=gh), 401,
                          article="Art. 19")["tries_left"] == 4
    resp = client.post(f"{FAMILY}/{link_id}/consent", json={"code": code}, headers=gh)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["status"] == "active" and resp.get_json()["consent"] == "code"
    claims = verifier(client).verify(_tokens(client, gh, link_id).get_json()["token"]).claims
    assert claims.card_ref == ref_of(elderly)
    # Single use.
    assert_problem(client.post(f"{FAMILY}/{link_id}/consent", json={"code": code}, headers=gh), 404)


def test_five_wrong_consent_codes_close_the_code_art19(client, family_world, resident_auth, session):
    gh = resident_auth(family_world["guardian"].person_id)
    link_id = _add(client, gh, family_world["elderly"], "elderly").get_json()["link"]["id"]
    code = last_code(session)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1, 0):
        body = assert_problem(client.post(f"{FAMILY}/{link_id}/consent", json={"code": wrong}, headers=gh), 401)
        assert body["tries_left"] == left
    assert_problem(client.post(f"{FAMILY}/{link_id}/consent", json={"code": code}, headers=gh), 401)
    resp = client.post(f"{FAMILY}/{link_id}/consent-code", headers=gh)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    resp = client.post(f"{FAMILY}/{link_id}/consent", json={"code": last_code(session)}, headers=gh)
    assert resp.status_code == 200 and resp.get_json()["status"] == "active"


def test_knowing_a_childs_id_number_and_name_is_not_enough_to_link_the_child_art16_19(
        client, family_world, resident_auth, session):
    """A stranger who knows a child's document and name gets a pending link: the code goes to the child's
    registered mobile, not to the stranger, and a pending link gives no token."""
    stranger = family_world["elderly"]  # anyone with a card and a sign-in
    sh = resident_auth(stranger.person_id)
    body = _add(client, sh, family_world["child"], "child").get_json()
    assert body["link"]["status"] == "pending"
    sms = session.scalars(select(SmsMessage).order_by(SmsMessage.id.desc())).first()
    from app.privacy import mask_phone

    assert sms.to == mask_phone(family_world["child"].person.phone) != mask_phone(stranger.person.phone)
    assert_problem(_tokens(client, sh, body["link"]["id"]), 404)


def test_adult_named_as_child_still_needs_consent_art19(client, world, family_world, resident_auth):
    adult = world.card(CardStatus.ACTIVE, world.person(name="陈大明", doc_number=citizen_id(birth="19990101")))
    world.session.commit()
    body = _add(client, resident_auth(family_world["guardian"].person_id), adult, "child").get_json()
    assert body["link"]["status"] == "pending"


def test_member_without_mobile_confirms_at_an_outlet_with_own_document_art19(client, world, family_world,
                                                                              resident_auth, auth):
    nophone = world.card(CardStatus.ACTIVE, world.person(name="王老伯", doc_number=citizen_id(birth="19400101")))
    nophone.person.phone, nophone.person.phone_bidx = None, None  # no mobile registered (e.g. given up)
    world.session.commit()
    gh = resident_auth(family_world["guardian"].person_id)
    body = _add(client, gh, nophone, "elderly").get_json()
    assert body["link"]["status"] == "pending" and body["code_sent"] is False
    link_id = body["link"]["id"]
    assert_problem(client.post(f"{FAMILY}/{link_id}/consent-code", headers=gh), 409, article="Art. 19")
    teller = auth(world, "teller")
    found = client.post("/api/family/links/lookup", json={"doc_type": nophone.person.doc_type,
                                                          "doc_number": nophone.person.doc_number}, headers=teller)
    assert found.status_code == 200 and [x["id"] for x in found.get_json()] == [link_id]
    other = family_world["elderly"].person
    bad = {"doc_type": other.doc_type, "doc_number": other.doc_number, "id_verified": True}
    assert_problem(client.post(f"/api/family/links/{link_id}/consent", json=bad, headers=teller), 422,
                   article="Art. 19")
    good = {"doc_type": nophone.person.doc_type, "doc_number": nophone.person.doc_number, "id_verified": True}
    assert_problem(client.post(f"/api/family/links/{link_id}/consent", json=good, headers=auth(world, "hotline")),
                   403)
    resp = client.post(f"/api/family/links/{link_id}/consent", json=good, headers=teller)
    assert resp.status_code == 200 and resp.get_json()["consent"] == "outlet"
    assert _tokens(client, gh, link_id).status_code == 200


def test_limits_per_kind_of_relationship(client, world, family_world, resident_auth):
    from app.services.family import LIMITS

    gh = resident_auth(family_world["guardian"].person_id)
    spouses = [world.card(CardStatus.ACTIVE, world.person(name=f"配偶{i}")) for i in range(LIMITS["spouse"] + 1)]
    world.session.commit()
    for s in spouses[:-1]:
        assert _add(client, gh, s, "spouse").status_code == 201
    body = assert_problem(_add(client, gh, spouses[-1], "spouse"), 409)
    assert body["type"].endswith("family-limit")
    # Another kind still has room; the same person twice does not.
    assert _add(client, gh, spouses[-1], "other").status_code == 201
    assert_problem(_add(client, gh, spouses[-1], "other"), 409)


def test_unknown_document_and_wrong_name_get_one_answer(client, family_world, resident_auth):
    gh = resident_auth(family_world["guardian"].person_id)
    wrong_name = assert_problem(_add(client, gh, family_world["child"], "child", name="张三"), 404)
    unknown = assert_problem(_add(client, gh, family_world["child"], "child",
                                  doc_number=citizen_id(birth="20140101")), 404)
    assert wrong_name["detail"] == unknown["detail"]
    assert_problem(_add(client, gh, family_world["guardian"], "other"), 422)  # oneself


def test_guardian_never_reaches_a_non_linked_person_idor(client, world, family_world, resident_auth, session):
    g, child, elderly = family_world["guardian"], family_world["child"], family_world["elderly"]
    gh = resident_auth(g.person_id)
    link = _add_child(client, gh, child)
    pending = _add(client, gh, elderly, "elderly").get_json()["link"]
    stranger = world.card(CardStatus.ACTIVE, world.person(name="路人甲"))
    session.commit()
    sh = resident_auth(stranger.person_id)
    for lid in (link["id"], pending["id"], 9999):
        assert_problem(client.get(f"{FAMILY}/{lid}", headers=sh), 404)
        assert_problem(_tokens(client, sh, lid), 404)
        assert_problem(client.post(f"{FAMILY}/{lid}/consent", json={"code": "123456"}, headers=sh), 404)
        assert_problem(client.post(f"{FAMILY}/{lid}/consent-code", headers=sh), 404)
        assert_problem(client.post(f"{FAMILY}/{lid}/removal", headers=sh), 404)
        assert_problem(client.post(f"{FAMILY}/guardians/{lid}/removal", headers=sh), 404)
    assert client.get(FAMILY, headers=sh).get_json() == []
    assert client.get(f"{FAMILY}/guardians", headers=sh).get_json() == []
    # The member cannot use the link the other way round.
    assert_problem(_tokens(client, resident_auth(child.person_id), link["id"]), 404)
    # Nothing about the stranger reached their access log from this.
    assert not session.scalars(select(AuditEntry).where(AuditEntry.person_id == stranger.person_id,
                                                        AuditEntry.action.like("family.%"))).all()
    # Pending links give nothing to the guardian either.
    assert_problem(_tokens(client, gh, pending["id"]), 404)


def test_every_token_shown_is_recorded_with_the_guardian_for_the_member_art19_20(client, family_world,
                                                                                 resident_auth):
    g, child = family_world["guardian"], family_world["child"]
    gh = resident_auth(g.person_id)
    link = _add_child(client, gh, child)
    _tokens(client, gh, link["id"])
    _tokens(client, gh, link["id"], count=5)
    mh = resident_auth(child.person_id)
    views = client.get(f"{FAMILY}/guardians/views", headers=mh).get_json()
    assert [v["tokens"] for v in views] == [5, 1]
    assert {v["guardian"] for v in views} == {"陈*文"} and {v["link_id"] for v in views} == {link["id"]}
    guardians = client.get(f"{FAMILY}/guardians", headers=mh).get_json()
    assert [(x["guardian"], x["status"]) for x in guardians] == [("陈*文", "active")]
    log = client.get("/api/me/access-log", headers=mh).get_json()
    shown = [e for e in log if e["action"] == "family.ecard_view"]
    assert len(shown) == 2 and all(e["kind"] == "read" and not e["by_you"] for e in shown)
    # The guardian's list names the member masked.
    assert client.get(FAMILY, headers=gh).get_json()[0]["member"] == "陈*宝"


def test_member_removal_stops_tokens_at_once_art19(client, family_world, resident_auth, session):
    g, child = family_world["guardian"], family_world["child"]
    gh = resident_auth(g.person_id)
    link = _add_child(client, gh, child)
    assert _tokens(client, gh, link["id"]).status_code == 200
    resp = client.post(f"{FAMILY}/guardians/{link['id']}/removal", headers=resident_auth(child.person_id))
    assert resp.status_code == 200 and resp.get_json()["removed_by"] == "member"
    assert_problem(_tokens(client, gh, link["id"]), 404)
    assert client.get(FAMILY, headers=gh).get_json() == []
    assert session.get(FamilyLink, link["id"]).status is LinkStatus.REMOVED


def test_clerk_removes_a_link_at_the_counter_and_issuance_stops(client, world, family_world, resident_auth, auth):
    gh = resident_auth(family_world["guardian"].person_id)
    link = _add(client, gh, family_world["child"], "child").get_json()["link"]
    assert_problem(client.post(f"/api/family/links/{link['id']}/removal", headers=auth(world, "hotline")), 403)
    resp = client.post(f"/api/family/links/{link['id']}/removal", headers=auth(world, "clerk"))
    assert resp.status_code == 200 and resp.get_json()["removed_by"] == "staff"
    assert_problem(_tokens(client, gh, link["id"]), 404)
    assert_problem(client.post(f"/api/family/links/{link['id']}/removal", headers=auth(world, "clerk")), 404)


def test_guardian_removes_and_may_add_again(client, family_world, resident_auth):
    gh = resident_auth(family_world["guardian"].person_id)
    link = _add(client, gh, family_world["child"], "child").get_json()["link"]
    assert client.post(f"{FAMILY}/{link['id']}/removal", headers=gh).get_json()["removed_by"] == "guardian"
    again = _add(client, gh, family_world["child"], "child")
    assert again.status_code == 201 and again.get_json()["link"]["id"] != link["id"]


def test_staff_roles_cannot_use_the_resident_family_routes(client, world, family_world, auth):
    assert client.get(FAMILY, headers=auth(world, "clerk")).status_code == 403
