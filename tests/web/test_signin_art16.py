"""Web sign-in (Art. 16): the API's accounts, password check and server-side sessions; CSRF on every
form and htmx post; idle and absolute end; logout; cookie flags; security headers; languages."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.models import AuthSession
from tests.web.conftest import csrf_from, page_html


def _sessions(session, user_id):
    session.expire_all()
    return list(session.scalars(select(AuthSession).where(AuthSession.staff_user_id == user_id)))


def test_start_page_sends_a_stranger_to_sign_in(client, world):
    world.session.commit()
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_sign_in_opens_a_server_side_session_art16(client, world, web_login):
    resp = web_login(world, "clerk")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # plain http here
    rows = _sessions(world.session, world.staff["clerk"].id)
    assert len(rows) == 1 and rows[0].ended_at is None
    html = page_html(client.get("/"))
    assert "clerk" in html


def test_cookie_is_secure_over_https(client, world):
    world.session.commit()
    html = page_html(client.get("/login", base_url="https://localhost"))
    resp = client.post("/login", base_url="https://localhost", headers={"Referer": "https://localhost/login"},
                       data={"username": "clerk", "password": "clerk-pw", "csrf_token": csrf_from(html)})
    assert resp.status_code == 302
    assert "Secure" in resp.headers["Set-Cookie"]


def test_wrong_password_is_refused_and_opens_nothing_art16(client, world):
    world.session.commit()
    token = csrf_from(page_html(client.get("/login")))
    resp = client.post("/login", data={"username": "clerk", "password": "nope", "csrf_token": token})
    html = page_html(resp, 401)
    assert 'class="refusal"' in html
    assert _sessions(world.session, world.staff["clerk"].id) == []
    assert client.get("/").status_code == 302


def test_empty_fields_show_messages_beside_them(client, world):
    world.session.commit()
    token = csrf_from(page_html(client.get("/login", headers={"Accept-Language": "en"})))
    html = page_html(client.post("/login", data={"username": "", "password": "", "csrf_token": token},
                                 headers={"Accept-Language": "en"}), 422)
    assert 'id="username-error"' in html and 'aria-describedby="username-error"' in html
    assert 'id="password-error"' in html and 'aria-invalid="true"' in html


def test_a_deactivated_inactive_account_cannot_sign_in(client, world):
    world.staff["clerk"].active = False
    world.session.commit()
    token = csrf_from(page_html(client.get("/login")))
    resp = client.post("/login", data={"username": "clerk", "password": "clerk-pw", "csrf_token": token})
    assert resp.status_code == 401


def test_form_post_without_csrf_token_is_refused(client, world, web_login):
    web_login(world, "clerk")
    resp = client.post("/logout", data={})
    assert resp.status_code == 400
    assert _sessions(world.session, world.staff["clerk"].id)[0].ended_at is None  # nothing happened


def test_htmx_post_needs_the_token_in_its_header(client, world, web_login, csrf):
    web_login(world, "clerk")
    refused = client.post("/logout", headers={"HX-Request": "true"})
    assert refused.status_code == 400
    token = csrf()
    ok = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert ok.status_code == 302
    assert _sessions(world.session, world.staff["clerk"].id)[0].ended_reason == "logout"


def test_sign_in_form_itself_needs_the_token(client, world):
    world.session.commit()
    resp = client.post("/login", data={"username": "clerk", "password": "clerk-pw"})
    assert resp.status_code in (400, 422)
    assert _sessions(world.session, world.staff["clerk"].id) == []


def test_api_with_bearer_token_stays_csrf_exempt(client, world):
    world.session.commit()
    resp = client.post("/api/auth/login", json={"username": "clerk", "password": "clerk-pw"})
    assert resp.status_code == 200


def test_logout_ends_the_session_row(client, world, web_login, csrf):
    web_login(world, "clerk")
    resp = client.post("/logout", data={"csrf_token": csrf()})
    assert resp.status_code == 302
    row = _sessions(world.session, world.staff["clerk"].id)[0]
    assert row.ended_reason == "logout"
    assert client.get("/").status_code == 302


def test_deactivation_through_the_api_ends_the_web_session_art16(client, world, web_login):
    web_login(world, "clerk")
    assert client.get("/").status_code == 200
    api = client.application.test_client()
    token = api.post("/api/auth/login", json={"username": "bureau", "password": "bureau-pw"}).get_json()
    resp = api.post(f"/api/staff/{world.staff['clerk'].id}/deactivation",
                    headers={"Authorization": f"Bearer {token['access_token']}"}, json={"reason": "left"})
    assert resp.status_code in (200, 204), resp.get_data(as_text=True)
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_idle_timeout_ends_the_session(client, world, web_login, clock):
    web_login(world, "clerk")
    clock.advance(minutes=10)
    assert client.get("/").status_code == 200  # activity renews the idle window
    clock.advance(minutes=14)
    assert client.get("/").status_code == 200
    clock.advance(minutes=16)
    resp = client.get("/")
    assert resp.status_code == 302 and "ended=1" in resp.headers["Location"]
    assert _sessions(world.session, world.staff["clerk"].id)[0].ended_reason == "idle"


def test_absolute_lifetime_ends_the_session_however_busy(client, world, web_login, clock, app):
    web_login(world, "clerk")
    limit = app.config["WEB_SESSION_MAX"]
    steps = int(limit / timedelta(minutes=14))
    for _ in range(steps):
        clock.advance(minutes=14)
        if client.get("/").status_code != 200:
            break
    clock.advance(minutes=14)
    assert client.get("/").status_code == 302


def test_open_redirect_is_refused(client, world):
    world.session.commit()
    token = csrf_from(page_html(client.get("/login")))
    resp = client.post("/login", data={"username": "clerk", "password": "clerk-pw", "csrf_token": token,
                                       "next": "//evil.example/x"})
    assert resp.headers["Location"] == "/"


def test_pages_carry_the_security_headers(client, world, web_login):
    web_login(world, "clerk")
    resp = client.get("/")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "<script>" not in resp.get_data(as_text=True)  # no inline script


def test_language_follows_accept_language_then_the_users_choice(client, world, web_login, csrf):
    world.session.commit()
    assert 'lang="zh-CN"' in page_html(client.get("/login"))  # no preference: Chinese
    assert 'lang="en"' in page_html(client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"}))
    assert 'lang="zh-CN"' in page_html(client.get("/login", headers={"Accept-Language": "zh"}))
    web_login(world, "clerk", lang="en")
    resp = client.post("/language", data={"locale": "en", "csrf_token": csrf(), "next": "/"},
                       headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 302
    assert 'lang="en"' in page_html(client.get("/", headers={"Accept-Language": "zh-CN"}))
    world.session.expire_all()
    assert world.staff["clerk"].locale == "en"  # kept on the account: the next sign-in starts in English
