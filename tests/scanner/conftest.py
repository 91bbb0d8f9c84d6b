"""Scanner tests: the browser fixtures of tests/web, on SQLite only (the scanner touches no database:
it reads the key store and the page's static files)."""
import pytest

from tests.web.conftest import browser_page, live_url  # noqa: F401  (fixtures; chromium is the root conftest's)


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request):
    return request.param
