"""Shared material for the Art. 16 API, audit and storage tests: real logins, the app's own keys,
reading the audit trail back. A test module imports the fixtures it uses by their function names
(``app_keys_fixture``, ``staff_fixture``); pytest knows them as ``app_keys`` and ``staff``."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth.tokens import resident_claims
from app.models import AuditEntry


@pytest.fixture(name="app_keys", autouse=True)
def app_keys_fixture(app):
    """The app's key ring, installed for this process. Other privacy tests install throw-away ciphers
    (or none) process-wide; the app's data must be read with the app's keys."""
    from app.privacy.rotation import configure_reloading

    configure_reloading(app.config["PRIVACY_KEY_FILE"], environ={})
    yield


class Staff:
    """Bearer headers per staff member, each obtained once through the real ``POST /api/auth/login``."""

    def __init__(self, client):
        self.client = client
        self._headers: dict[str, dict] = {}

    def __call__(self, name: str) -> dict:
        if name not in self._headers:
            resp = self.client.post("/api/auth/login", json={"username": name, "password": f"{name}-pw"})
            assert resp.status_code == 200, resp.get_json()
            self._headers[name] = {"Authorization": f"Bearer {resp.get_json()['access_token']}"}
        return self._headers[name]


@pytest.fixture(name="staff")
def staff_fixture(client, world, session):
    session.commit()
    return Staff(client)


def resident_headers(app, person_id: int) -> dict:
    """Residents sign in through the e-card app's own flow; here the token is minted with the same claims."""
    from tests.tokens import mint

    token = mint(f"resident:{person_id}", resident_claims(person_id))
    return {"Authorization": f"Bearer {token}"}


def entries(session, **where) -> list[AuditEntry]:
    """Audit entries (fresh from the database) matching column filters, oldest first."""
    session.expire_all()
    q = select(AuditEntry).order_by(AuditEntry.seq)
    for column, value in where.items():
        q = q.where(getattr(AuditEntry, column) == value)
    return list(session.scalars(q))


def count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEntry))
