"""schemathesis over our own OpenAPI document: for every operation, generated requests (valid and
invalid) sent as a role its policy admits never get a 5xx, and every answer, errors included, has a
documented content type (errors: ``application/problem+json``, RFC 9457) and matches its schema.
Runs on SQLite and PostgreSQL through the ``app`` fixture."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from app.auth import PUBLIC
from app.auth.tokens import resident_claims, staff_claims
from app.models.enums import CardStatus, Role
from tests.tokens import mint


@pytest.fixture
def api_schema(app, db, world, monkeypatch):
    _no_real_dns(monkeypatch)
    card = world.card(CardStatus.ACTIVE)
    db.session.commit()
    tokens = {str(u.role): mint(f"staff:{u.id}", staff_claims(u)) for u in world.staff.values()}
    tokens[str(Role.RESIDENT)] = mint(f"resident:{card.person_id}", resident_claims(card.person_id))
    app.config["FUZZ_TOKENS"] = tokens
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def _no_real_dns(monkeypatch):
    """A generated webhook URL's host is never looked up on the network: IP literals stand for themselves
    (the private ones are refused), every name resolves to one public address (the 201 path is fuzzed too)."""
    import socket

    from app.services import webhooks

    real = webhooks.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            return real(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        except (OSError, UnicodeError):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))]

    monkeypatch.setattr(webhooks, "getaddrinfo", getaddrinfo)


def _headers(app, case) -> dict:
    """A bearer token of the first role the endpoint's policy admits (none for public endpoints)."""
    adapter = app.url_map.bind("localhost")
    endpoint, _ = adapter.match(case.formatted_path, method=case.method.upper())
    policy = app.view_functions[endpoint].policy
    if policy == PUBLIC:
        return {}
    role = sorted(str(r) for r in policy)[0]
    if endpoint == "auth.logout":  # logging out revokes the token: use one of its own
        return {"Authorization": "Bearer " + mint("fuzz", {"role": role})}
    return {"Authorization": f"Bearer {app.config['FUZZ_TOKENS'][role]}"}


def test_generated_requests_get_no_5xx_and_answers_match_their_content_type_and_schema(app, api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 40  # the whole API, not an empty document

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case):
            case.call_and_validate(headers=_headers(app, case),
                                   checks=[not_a_server_error, content_type_conformance,
                                           response_schema_conformance])

        run()
