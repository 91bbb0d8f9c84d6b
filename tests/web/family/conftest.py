"""The phone app's fixtures (tests/web/phone/conftest.py), for the family pages."""
from tests.web.phone.conftest import phone_login, phone_page  # noqa: F401 (fixtures)
