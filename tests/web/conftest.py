"""Back office page tests: the Flask test client (sign-in through the real form, CSRF tokens read from
the page) and real Chromium (Playwright) against a live server.

Test client::

    def test_x(client, world, web_login):
        web_login(world, "clerk")                 # signs in through POST /login (World: password "<name>-pw")
        html = page_html(client.get("/"))        # asserts 200 HTML, returns the text
        client.post("/x", data={..., "csrf_token": csrf_from(html)})

Browser (``@pytest.mark.browser``)::

    def test_y(world, browser_page, live_url):
        world.session.commit()                   # the server thread reads committed data only
        page = browser_page("zh-CN")             # a fresh context: 1366×768, Accept-Language zh-CN
        sign_in(page, live_url, "clerk")
        shoot(page, "dashboard")                 # tests/artifacts/dashboard-zh-CN.png
        assert_no_axe_violations(page)           # axe-core from node_modules, serious/critical fail

Every browser page fails its test on a console error (a CSP violation, a failed script).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
CI = os.environ.get("CI", "").lower() == "true"
VIEWPORT = {"width": 1366, "height": 768}

# A refused step answers with its status (401 sign-in failed, 403, 409, 412, 422…): the browser logs
# it as a failed load, which is what the test asked for. A 404 or 500 still fails.
_EXPECTED = re.compile(r"Failed to load resource: the server responded with a status of (401|403|409|412|422|423)")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1) or m.group(2)


def page_html(resp, status: int = 200) -> str:
    text = resp.get_data(as_text=True)
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {text[:800]}"
    assert resp.mimetype == "text/html", resp.mimetype
    assert "Traceback" not in text
    return text


@pytest.fixture
def web_login(client):
    """``web_login(world, name, password=None, lang="en")``: sign in through the sign-in form."""

    def _login(world, name: str, password: str | None = None, lang: str = "en"):
        world.session.commit()
        headers = {"Accept-Language": lang}
        token = csrf_from(page_html(client.get("/login", headers=headers)))
        resp = client.post("/login", data={"username": name, "password": password or f"{name}-pw",
                                           "csrf_token": token}, headers=headers)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return resp

    return _login


@pytest.fixture
def csrf(client):
    """``csrf(path="/")``: a valid CSRF token of the client's session, read from a page."""

    def _token(path: str = "/") -> str:
        return csrf_from(page_html(client.get(path)))

    return _token


# ---------------------------------------------------------------- real Chromium


@pytest.fixture(scope="session")
def live_url(app):
    """The session's app served by a real HTTP server on port 0, in a thread (its own app contexts:
    it sees what the test committed)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(5)


def _need_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return
    message = (f"Chromium not found at {CHROMIUM}: install Debian's package with "
               "`sudo apt-get install -y chromium` (never `playwright install`).")
    if CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def launch_chromium():
    """The session's one Chromium (the ``chromium`` fixture of tests/conftest.py: defined once at the root,
    because two live Playwright instances in one process refuse to start, "Sync API inside the asyncio loop",
    which a second conftest importing a session fixture would make)."""
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium, request):
    """``browser_page(lang="zh-CN")``: a page in a fresh context (own cookies) at 1366×768 whose
    browser asks for ``lang``. Console errors (CSP violations…) fail the test."""
    contexts, errors = [], []

    def _page(lang: str = "zh-CN", viewport: dict | None = None):
        context = chromium.new_context(locale=lang, viewport=viewport or VIEWPORT,
                                       extra_http_headers={"Accept-Language": lang})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.lang = lang
        page.on("console", lambda msg: msg.type == "error" and not _EXPECTED.search(msg.text)
                and errors.append(msg.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield _page
    for context in contexts:
        context.close()
    assert errors == [], f"browser console errors: {errors}"


def sign_in(page, live_url: str, username: str, password: str | None = None) -> None:
    page.goto(f"{live_url}/login")
    page.fill("#username", username)
    page.fill("#password", password or f"{username}-pw")
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()
    assert "/login" not in page.url, page.content()[:1000]


def shoot(page, name: str) -> Path:
    """A full-page screenshot in tests/artifacts/<name>-<lang>.png (git-ignored): look at it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{getattr(page, 'lang', 'page')}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (npm devDependency, from node_modules; injected through the DevTools protocol,
    which CSP does not govern) on the page; the violations of the given impacts."""
    assert AXE.exists(), "axe-core missing: run `make vendor` (npm ci)"
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in impacts]


def assert_no_axe_violations(page) -> None:
    bad = axe_violations(page)
    summary = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5]} for v in bad]
    assert bad == [], f"axe on {page.url}: " + json.dumps(summary, ensure_ascii=False, indent=1)
