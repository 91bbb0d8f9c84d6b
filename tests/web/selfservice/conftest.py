"""The phone app's fixtures (sign-in through the SMS-code pages, the 390×844 Chromium context), reused."""
from tests.web.phone.conftest import doc_form, outbox_code, phone_login, phone_page, phone_sign_in  # noqa: F401

import pytest  # noqa: E402


@pytest.fixture
def client(client):
    """The test client asking for English (the source messages) unless a request says otherwise."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client
