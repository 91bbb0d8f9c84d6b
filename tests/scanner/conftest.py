"""Scanner tests: the browser fixtures of tests/web, on SQLite only (the scanner touches no database:
it reads the key store and the page's static files)."""
import pytest

from tests.web.conftest import browser_page, chromium, live_url  # noqa: F401  (fixtures)


@pytest.fixture(scope="session", params=["sqlite"])
def backend(request):
    return request.param
