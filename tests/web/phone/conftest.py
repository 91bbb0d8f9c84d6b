"""Fixtures for the resident's phone pages (/m/): a holder signed in through the real SMS-code pages,
with the Flask test client and with real Chromium in a phone-sized context. Reuse them from any test
under tests/web/ (``pytest_plugins`` is not needed: put your tests in tests/web/phone/ or import these).

Test client::

    def test_x(client, world, phone_login):
        person = world.card(CardStatus.ACTIVE).person      # or world.person()
        phone_login(person)                                # GET /m/login, POST code, read the outbox, POST /m/login
        html = page_html(client.get("/m/"))
        client.post("/m/…", data={..., "csrf_token": csrf_from(html)})
        client.post("/m/ecard/tokens", json={}, headers={"X-CSRFToken": csrf_from(html)})   # fetch-style

Browser (``@pytest.mark.browser``)::

    def test_y(world, phone_page, live_url):
        person = world.card(CardStatus.ACTIVE).person
        page = phone_page("zh-CN")                         # 390×844, mobile, touch; console errors fail
        phone_sign_in(page, live_url, person, world.session)
        shoot(page, "phone-card")                          # tests/artifacts/phone-card-zh-CN.png
        assert_no_axe_violations(page)
        page.foreign_requests                              # URLs the page asked of any other origin
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.selfservice.conftest import last_code
from tests.web.conftest import _EXPECTED, csrf_from, page_html

MOBILE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def doc_form(person) -> dict:
    return {"doc_type": str(person.doc_type), "doc_number": person.doc_number, "nationality": person.nationality
            if str(person.doc_type) == "passport" else ""}


def outbox_code(session) -> str:
    """The code of the newest SMS in the development outbox (what the holder reads on their phone).
    Ends the test's transaction first, so that it sees what the server committed."""
    session.commit()
    code = last_code(session)
    assert code, "no SMS in the outbox"
    return code


def phone_login_with(client, session, person, lang: str = "en", **request):
    """Sign ``client`` in as ``person`` through the pages (what ``phone_login`` does), for a test with an
    app of its own (e.g. the limiter on); ``request``: more arguments of every request, such as
    ``environ_base={"REMOTE_ADDR": …}``."""
    session.commit()
    headers = {"Accept-Language": lang}
    token = csrf_from(page_html(client.get("/m/login", headers=headers, **request)))
    html = page_html(client.post("/m/login/code", data={**doc_form(person), "csrf_token": token},
                                 headers=headers, **request))
    resp = client.post("/m/login", data={**doc_form(person), "code": outbox_code(session),
                                         "csrf_token": csrf_from(html)}, headers=headers, **request)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    return resp


@pytest.fixture
def phone_login(client, session):
    """``phone_login(person, lang="en")``: sign the test client in as ``person`` through the pages."""

    def _login(person, lang: str = "en"):
        return phone_login_with(client, session, person, lang)

    return _login


@pytest.fixture
def phone_page(chromium, live_url):
    """``phone_page(lang="zh-CN")``: a page in a fresh phone-sized context (own cookies, service workers
    allowed). ``page.context`` has ``set_offline``; ``page.foreign_requests`` lists every request (the page's
    and its service worker's) to an origin other than the live server's. Console errors fail the test."""
    contexts, errors = [], []
    origin = urlsplit(live_url)._replace(path="", query="", fragment="").geturl()

    def _page(lang: str = "zh-CN", **options):
        context = chromium.new_context(locale=lang, extra_http_headers={"Accept-Language": lang},
                                       service_workers="allow", **{**MOBILE, **options})
        contexts.append(context)
        foreign: list[str] = []

        def _seen(request):
            url = request.url
            if not url.startswith(("data:", "blob:")) and not url.startswith(origin + "/"):
                foreign.append(url)

        context.on("request", _seen)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.lang = lang
        page.foreign_requests = foreign
        page.on("console", lambda msg: msg.type == "error" and not _EXPECTED.search(msg.text)
                and errors.append(msg.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield _page
    for context in contexts:
        context.close()
    assert errors == [], f"browser console errors: {errors}"


def phone_sign_in(page, live_url: str, person, session, *, next_path: str = "/m/") -> None:
    """Sign in on the page as a holder would: document, SMS code (read from the outbox), signed in."""
    session.commit()
    page.goto(f"{live_url}/m/login?next={next_path}")
    page.select_option("#doc_type", str(person.doc_type))
    page.fill("#doc_number", person.doc_number)
    page.click("form[action$='/m/login/code'] button[type=submit]")
    page.wait_for_selector("#code")
    page.fill("#code", outbox_code(session))
    page.click("form[action$='/m/login'] button[type=submit]")
    page.wait_for_load_state()
    assert "/m/login" not in page.url, page.content()[:1000]
