"""Family pages through the test client, on SQLite and PostgreSQL (Art. 19, 20, 26, 35): add with the
member's consent code, the member's e-card page and its tokens, refusals with their article, IDOR."""
from __future__ import annotations

from app.models.enums import CardStatus
from app.services import lifecycle
from tests.factories import DIED, citizen_id
from tests.web.conftest import csrf_from, page_html
from tests.web.phone.conftest import outbox_code


def _people(world):
    g = world.card(CardStatus.ACTIVE, world.person(name="陈大文", phone="13900000001"))
    c = world.card(CardStatus.ACTIVE, world.person(name="陈小宝", doc_number=citizen_id(birth="20150601"),
                                                   phone="13900000001"))
    e = world.card(CardStatus.ACTIVE, world.person(name="李秀英", doc_number=citizen_id(birth="19450304"),
                                                   phone="13900000002"))
    world.session.commit()
    return g, c, e


def _add(client, card, relation, **over):
    token = csrf_from(page_html(client.get("/m/family/add")))
    p = card.person
    data = {"relation": relation, "name": p.name, "doc_type": str(p.doc_type), "doc_number": p.doc_number,
            "nationality": "", "csrf_token": token, **over}
    return client.post("/m/family/add", data=data)


def _add_child(client, card, session, **over):
    """Add a child, then agree with the code sent to the child's registered mobile (the parent's here)."""
    resp = _add(client, card, "child", **over)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/consent"), resp.get_data(as_text=True)
    html = page_html(client.get(resp.headers["Location"]))
    return client.post(resp.headers["Location"], data={"code": outbox_code(session), "csrf_token": csrf_from(html)})


def _link_id(resp) -> int:
    return int(resp.headers["Location"].rstrip("/").split("/")[-1 if "consent" not in resp.headers["Location"]
                                                               else -2])


def test_add_a_child_and_get_the_childs_tokens_on_the_page(client, world, phone_login):
    g, child, _ = _people(world)
    phone_login(g.person)
    resp = _add_child(client, child, world.session)
    assert resp.status_code == 302 and "/consent" not in resp.headers["Location"]
    link = _link_id(resp)
    html = page_html(client.get(f"/m/family/{link}/"))
    assert f'data-tokens="/m/family/{link}/ecard/tokens"' in html
    out = client.post(f"/m/family/{link}/ecard/tokens", json={}, headers={"X-CSRFToken": csrf_from(html)})
    assert out.status_code == 200 and len(out.get_json()["batch"]) >= 1
    assert "陈*宝" in page_html(client.get("/m/family/"))


def test_adult_consent_code_on_the_page_art19(client, world, phone_login, session):
    g, _, elderly = _people(world)
    phone_login(g.person)
    resp = _add(client, elderly, "elderly")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/consent")
    link = _link_id(resp)
    html = page_html(client.get(f"/m/family/{link}/consent"))
    # Pending gives nothing: the e-card page sends back to the consent step; tokens are refused.
    assert client.get(f"/m/family/{link}/").status_code == 302
    assert client.post(f"/m/family/{link}/ecard/tokens", json={},
                       headers={"X-CSRFToken": csrf_from(html)}).status_code == 404
    code = outbox_code(session)
    bad = client.post(f"/m/family/{link}/consent", data={"code": "000000" if code != "000000" else "111111",
                                                         "csrf_token": csrf_from(html)})
    assert bad.status_code == 401 and "data-problem=\"code-refused\"" in bad.get_data(as_text=True)
    ok = client.post(f"/m/family/{link}/consent", data={"code": code, "csrf_token": csrf_from(html)})
    assert ok.status_code == 302 and ok.headers["Location"].endswith(f"/m/family/{link}/")


def test_refusals_show_their_reason(client, world, phone_login):
    g, child, _ = _people(world)
    phone_login(g.person)
    resp = _add(client, child, "child", name="张三")
    assert resp.status_code == 404 and "没有与此证件和姓名相符的持卡人。" in resp.get_data(
        as_text=True)
    assert _add(client, child, "child", doc_number="123").status_code == 422


def test_cancelled_members_page_shows_no_code_art26(client, world, phone_login, session):
    g, child, _ = _people(world)
    phone_login(g.person)
    link = _link_id(_add_child(client, child, world.session))
    lifecycle.cancel(session, world.clerk, child.person_id, effective=DIED, reason=lifecycle.CancellationReason.DEATH)
    session.commit()
    html = page_html(client.get(f"/m/family/{link}/"))
    assert 'data-shows-code="0"' in html and 'data-no-token="Art. 26"' in html
    resp = client.post(f"/m/family/{link}/ecard/tokens", json={}, headers={"X-CSRFToken": csrf_from(html)})
    assert resp.status_code == 409 and resp.get_json()["article"] == "Art. 26"


def test_pages_never_reach_another_guardians_link_idor(client, world, phone_login):
    g, child, _ = _people(world)
    phone_login(g.person)
    link = _link_id(_add_child(client, child, world.session))
    client.post("/m/logout", data={"csrf_token": csrf_from(page_html(client.get("/m/family/")))})
    stranger = world.card(CardStatus.ACTIVE, world.person(name="路人甲"))
    world.session.commit()
    phone_login(stranger.person)
    html = page_html(client.get("/m/family/"))
    assert "陈*宝" not in html
    token = csrf_from(html)
    assert client.get(f"/m/family/{link}/").status_code == 404
    assert client.get(f"/m/family/{link}/consent").status_code == 404
    assert client.post(f"/m/family/{link}/ecard/tokens", json={}, headers={"X-CSRFToken": token}).status_code == 404
    assert client.post(f"/m/family/{link}/remove", data={"csrf_token": token}).status_code == 404


def test_removal_on_the_page_stops_tokens_at_once(client, world, phone_login):
    g, child, _ = _people(world)
    phone_login(g.person)
    link = _link_id(_add_child(client, child, world.session))
    html = page_html(client.get(f"/m/family/{link}/"))
    assert client.post(f"/m/family/{link}/remove", data={"csrf_token": csrf_from(html)}).status_code == 302
    assert client.post(f"/m/family/{link}/ecard/tokens", json={},
                       headers={"X-CSRFToken": csrf_from(html)}).status_code == 404
