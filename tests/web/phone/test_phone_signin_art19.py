"""The resident's sign-in on the phone pages (Art. 19: only the holder uses the card; Art. 16): the SMS
code of the API's flow, a server-side session row, CSRF on writes, sign-out, idle and absolute ends,
the signed-in devices with "sign out there"."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.models import AuthSession, AuditEntry
from app.models.enums import CardStatus
from tests.api.test_policy_urlmap import concrete_path, role_endpoints
from tests.web.conftest import csrf_from, page_html
from tests.web.phone.conftest import doc_form, outbox_code


def _rows(session, person_id):
    session.commit()
    return session.scalars(select(AuthSession).where(AuthSession.person_id == person_id)).all()


def test_sign_in_with_the_sms_code_opens_a_session_row_art19(client, world, phone_login):
    person = world.person()
    resp = phone_login(person)
    assert resp.headers["Location"] == "/m/"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie  # stays signed in
    (row,) = _rows(world.session, person.id)
    assert row.ended_at is None and row.staff_user_id is None and row.refresh_jti is None
    assert row.expires_at - row.created_at == timedelta(days=30)
    actions = {e.action for e in world.session.scalars(select(AuditEntry).where(AuditEntry.person_id == person.id))}
    assert "auth.resident_login" in actions  # the API's audit entry, written by the same service
    html = page_html(client.get("/m/account", headers={"Accept-Language": "en"}))
    assert "This device" in html


def test_a_wrong_code_is_refused_and_counted_art19(client, world):
    person = world.person()
    world.session.commit()
    token = csrf_from(page_html(client.get("/m/login")))
    html = page_html(client.post("/m/login/code", data={**doc_form(person), "csrf_token": token}))
    code = outbox_code(world.session)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    resp = client.post("/m/login", data={**doc_form(person), "code": wrong, "csrf_token": csrf_from(html)})
    text = page_html(resp, 401)
    assert 'data-problem="code-refused"' in text
    assert _rows(world.session, person.id) == []
    # the right code still works (one wrong try of five)
    resp = client.post("/m/login", data={**doc_form(person), "code": code, "csrf_token": csrf_from(text)})
    assert resp.status_code == 302


def test_an_unknown_document_gets_the_same_answer_art16(client, world):
    """No enumeration: the code page says the same whether or not the document is registered."""
    from tests.factories import citizen_id

    person = world.person()
    world.session.commit()
    token = csrf_from(page_html(client.get("/m/login")))
    known = page_html(client.post("/m/login/code", data={**doc_form(person), "csrf_token": token}))
    unknown = page_html(client.post("/m/login/code", data={"doc_type": "resident_id", "doc_number": citizen_id(),
                                                           "csrf_token": token}))
    strip = lambda h: h.split('<section class="m-panel m-signin">')[1].split("<form")[0]  # noqa: E731
    assert strip(known) == strip(unknown)


def test_a_malformed_document_number_is_shown_beside_its_field(client, world):
    world.session.commit()
    token = csrf_from(page_html(client.get("/m/login")))
    html = page_html(client.post("/m/login/code", data={"doc_type": "resident_id", "doc_number": "12345",
                                                        "csrf_token": token}), 422)
    assert 'id="doc_number-error"' in html


def test_writes_need_the_csrf_token(client, world, phone_login):
    person = world.person()
    phone_login(person)
    assert client.post("/m/logout").status_code == 400
    resp = client.post("/m/ecard/tokens", json={}, headers={"Accept": "application/json"})
    assert resp.status_code == 400 and resp.mimetype == "application/problem+json"


def test_sign_out_ends_the_session_row_art19(client, world, phone_login):
    person = world.person()
    phone_login(person)
    token = csrf_from(page_html(client.get("/m/account")))
    resp = client.post("/m/logout", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/m/login?out=1"
    (row,) = _rows(world.session, person.id)
    assert row.ended_reason == "logout"
    assert client.get("/m/").status_code == 302
    assert 'data-forget-device="1"' in page_html(client.get("/m/login?out=1"))


def test_idle_phone_session_ends_art16(client, world, phone_login, clock, app, monkeypatch):
    from datetime import datetime, timezone

    clock.set(datetime.now(timezone.utc))
    person = world.person()
    phone_login(person)
    clock.advance(hours=7 * 24 + 1)
    resp = client.get("/m/")
    assert resp.status_code == 302 and "ended=1" in resp.headers["Location"]
    (row,) = _rows(world.session, person.id)
    assert row.ended_reason == "idle"


def test_absolute_end_of_a_phone_session_art16(client, world, phone_login, clock):
    from datetime import datetime, timezone

    clock.set(datetime.now(timezone.utc))
    person = world.person()
    phone_login(person)
    for _ in range(4):  # used every few days: never idle, still ends 30 days after sign-in
        clock.advance(days=6)
        assert client.get("/m/account").status_code == 200
    clock.advance(days=6, hours=1)
    assert client.get("/m/account").status_code == 302


def test_sign_out_there_ends_another_device_only_of_the_holder_art19(app, client, world, phone_login):
    holder, other = world.person(), world.person()
    phone_login(holder)
    second = app.test_client()
    # the same holder on a second device, and another holder elsewhere
    from tests.web.phone.conftest import doc_form as d

    for c, p in ((second, holder), (app.test_client(), other)):
        token = csrf_from(page_html(c.get("/m/login")))
        html = page_html(c.post("/m/login/code", data={**d(p), "csrf_token": token}))
        assert c.post("/m/login", data={**d(p), "code": outbox_code(world.session),
                                        "csrf_token": csrf_from(html)}).status_code == 302
    mine = [r for r in _rows(world.session, holder.id)]
    theirs = _rows(world.session, other.id)[0]
    html = page_html(client.get("/m/account"))
    assert html.count('<li class="m-device') == 2
    token = csrf_from(html)
    # another holder's session id: nothing happens (and nothing is said about it)
    assert client.post(f"/m/account/sessions/{theirs.id}/end", data={"csrf_token": token}).status_code == 302
    assert _rows(world.session, other.id)[0].ended_at is None
    # the holder's second device: signed out there
    sid_second = [r.id for r in mine if r.id != _this_sid(client, world, holder)][0]
    assert client.post(f"/m/account/sessions/{sid_second}/end", data={"csrf_token": token}).status_code == 302
    assert second.get("/m/").status_code == 302
    assert client.get("/m/account").status_code == 200


def _this_sid(client, world, holder):
    with client.session_transaction() as s:
        return s["m_sid"]


def test_every_phone_page_refuses_a_stranger(app, client, world):
    world.session.commit()
    walked, failures = 0, []
    token = csrf_from(page_html(client.get("/m/login")))
    for rule, method, policy in role_endpoints(app, phone=True):
        walked += 1
        resp = client.open(concrete_path(rule), method=method, data={"csrf_token": token})
        ok = (resp.status_code == 302 and "/m/login" in resp.headers["Location"]) if method == "GET" \
            else resp.status_code == 401
        if not ok:
            failures.append((method, rule.rule, resp.status_code))
    assert failures == []
    assert walked >= 4


def test_a_staff_sign_in_opens_no_phone_page_art16(client, world, web_login):
    web_login(world, "teller")
    assert client.get("/m/").status_code == 302
    assert client.get("/").status_code == 200  # the staff session is untouched


def test_the_card_page_names_the_holder(client, world, phone_login):
    from app.models import Person

    card = world.card(CardStatus.ACTIVE)
    phone_login(world.session.get(Person, card.person_id))
    html = page_html(client.get("/m/"))
    assert 'data-shows-code="1"' in html
