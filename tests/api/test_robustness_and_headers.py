"""Robustness and answer headers (issue 13, items 14, 15, 22, 23): input Python can parse but not use is a
400, never a 500; an unhandled error is logged with its request id and no personal data; bodies have a
size limit; answers with personal data or tokens are never stored by a browser or proxy (Art. 16); the
docs page runs our own scripts only; JSON is UTF-8; problem answers name fields as the request does."""
from __future__ import annotations

import io
import logging

import pytest

from app.models.enums import CardStatus
from tests.api.conftest import assert_problem, card_rows, row_counts
from tests.api.test_bad_input import applicant, bad_check_digit
from tests.factories import citizen_id

DEEP = "[" * 5000 + "]" * 5000


# ---------------------------------------------------------------- item 14: bad JSON is 400, errors are logged


@pytest.mark.parametrize("body", [
    pytest.param(DEEP, id="nested-5000-deep"),
    pytest.param('{"username": ' + DEEP + ', "password": "x"}', id="nested-5000-deep-in-a-member"),
    pytest.param('{"username": "\\ud800", "password": "x"}', id="lone-high-surrogate"),
    pytest.param('{"username": "a\\udc00b", "password": "x"}', id="lone-low-surrogate"),
    pytest.param('{"\\ud800": 1}', id="lone-surrogate-in-a-key"),
])
def test_unusable_json_is_a_400_problem_not_a_500(client, db, world, body):
    world.session.commit()
    resp = client.post("/api/auth/login", data=body, content_type="application/json")
    assert "JSON" in str(assert_problem(resp, 400))


def test_unusable_json_on_a_write_changes_nothing_art16(client, db, world, auth):
    h = auth(world, "teller")
    before, cards = row_counts(db), card_rows(db)
    for body in (DEEP, '{"applicant": {"doc_type": "resident_id", "doc_number": "\\ud800"}, "bank_id": 1}'):
        assert_problem(client.post("/api/applications/", headers=h, data=body, content_type="application/json"), 400)
    assert (row_counts(db), card_rows(db)) == (before, cards)


def test_a_surrogate_pair_is_text_and_accepted(client, db, world):
    """A well-formed pair (an emoji escaped as two \\u) is ordinary Unicode: only lone halves are refused."""
    world.session.commit()
    resp = client.post("/api/auth/login", data='{"username": "\\ud83d\\ude00", "password": "x"}',
                       content_type="application/json")
    assert_problem(resp, 401)


@pytest.fixture
def failing_view(app, monkeypatch):
    """The bank list's view raising an error nobody handles, with personal data in its message."""
    personal = (citizen_id(seq=471), "张三", "13912345678")

    def broken():
        raise RuntimeError(" ".join(personal))

    monkeypatch.setitem(app.view_functions, "banks.list_banks", broken)
    return personal


def test_unhandled_error_is_logged_with_its_request_id_and_no_personal_data(client, db, world, failing_view,
                                                                             caplog):
    world.session.commit()
    with caplog.at_level(logging.ERROR, logger="app"):
        resp = client.get("/api/banks/", headers={"X-Request-ID": "req-4711"})
    body = assert_problem(resp, 500)
    assert body["request_id"] == "req-4711" and resp.headers["X-Request-ID"] == "req-4711"
    records = [r for r in caplog.records if r.name.startswith("app")]
    assert len(records) == 1, records
    line = caplog.handler.format(records[0])
    assert "req-4711" in line and "RuntimeError" in line and "broken" in line  # which request, what, where
    assert not [value for value in failing_view if value in line]


def test_app_logs_reach_stderr_with_the_request_id_when_logging_is_not_configured(app, monkeypatch):
    """The app's loggers had only a NullHandler: an unhandled error left no trace anywhere."""
    from app import _logging

    logger = logging.getLogger("app")
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(logger, "handlers", [])
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    _logging()
    _logging()  # a second app in the same process adds no second handler
    assert len(logger.handlers) == 1
    monkeypatch.setattr(logger.handlers[0], "stream", stream)
    with app.test_request_context("/api/ping", headers={"X-Request-ID": "req-42"}):
        app.preprocess_request()
        logging.getLogger("app.problems").error("unhandled RuntimeError")
    assert "[req-42]" in stream.getvalue() and "unhandled RuntimeError" in stream.getvalue()


# ---------------------------------------------------------------- item 15: size limit, caching, CSP


def test_a_body_over_the_size_limit_is_refused_413_before_it_is_parsed(app, client, db, world, auth):
    h = auth(world, "teller")
    before = row_counts(db)
    big = b'{"applicant": {"photo": "' + b"A" * (20 * 1024 * 1024) + b'"}}'
    resp = client.post("/api/applications/", headers=h, data=big, content_type="application/json")
    assert_problem(resp, 413)
    assert row_counts(db) == before
    assert app.config["MAX_CONTENT_LENGTH"] <= 4 * 1024 * 1024


def test_answers_with_personal_data_or_tokens_are_no_store_art16(client, db, world, auth, resident_auth):
    card = world.card(CardStatus.ACTIVE)
    world.session.commit()
    teller, holder = auth(world, "teller"), resident_auth(card.person_id)
    answers = {
        "login": client.post("/api/auth/login", json={"username": "teller", "password": "teller-pw"}),
        "person": client.get(f"/api/persons/{card.person_id}", headers=teller),
        "card": client.get(f"/api/cards/{card.id}", headers=teller),
        "me": client.get("/api/me", headers=holder),
        "ecard token": client.post("/api/ecard/tokens", headers=holder, json={}),
        "qr": client.get("/api/ecard/qr.svg", headers=holder),
        "problem": client.get("/api/persons/999999", headers=teller),
        "unauthenticated": client.get("/api/me"),
    }
    for what, resp in answers.items():
        assert resp.status_code < 500, (what, resp.status_code)
        assert "no-store" in resp.headers.get("Cache-Control", ""), (what, resp.headers)


def test_public_data_stays_cacheable(client, db, world):
    world.session.commit()
    for url in ("/.well-known/jwks.json", "/api/banks/", f"/api/banks/{world.banks[0].id}/outlets"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["Cache-Control"] == "public, max-age=300", url


def test_docs_page_runs_only_our_own_scripts_and_is_never_framed(client):
    resp = client.get("/api/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    csp = {d.split()[0]: d.split()[1:] for d in resp.headers["Content-Security-Policy"].split("; ")}
    assert csp["frame-ancestors"] == ["'none'"] and resp.headers["X-Frame-Options"] == "DENY"
    assert csp["script-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    html = resp.get_data(as_text=True)
    # With script-src 'self' an inline script would not run: the page has none, its start-up is a file.
    assert "<script>" not in html
    scripts = [s.split('"')[0] for s in html.split('<script src="')[1:]]
    assert "/static/swagger-init.js" in scripts
    init = client.get("/static/swagger-init.js")
    assert init.status_code == 200 and "SwaggerUIBundle" in init.get_data(as_text=True)


# ---------------------------------------------------------------- item 22: UTF-8, OpenAPI


def test_json_answers_are_utf8_not_unicode_escapes(client, db, world, auth):
    person = world.person(name="张三明")
    world.session.commit()
    resp = client.get(f"/api/persons/{person.id}", headers=auth(world, "clerk"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    raw = resp.get_data()
    assert "张*明".encode() in raw and b"\\u" not in raw
    assert "¶".encode() in client.get("/api/openapi.json").get_data()


@pytest.fixture
def spec(client):
    return client.get("/api/openapi.json").get_json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def _endpoint(app, path, method):
    """The URL rule an OpenAPI path documents: ``/api/cards/<int:card_id>`` is ``/api/cards/{card_id}``."""
    import re

    for rule in app.url_map.iter_rules():
        if method.upper() in rule.methods and re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule) == path:
            return rule.endpoint
    raise AssertionError(path)


def test_openapi_roles_are_the_policy_and_public_operations_need_no_token(app, spec):
    """Generated from each view's ``@allow`` (the channel table's roles for lifecycle operations)."""
    from app.auth import PUBLIC

    seen = 0
    for path, method, op in _operations(spec):
        policy = app.view_functions[_endpoint(app, path, method)].policy
        if policy == PUBLIC:
            assert op["security"] == [], (path, method)
            assert "Public" in op["description"]
        else:
            assert "security" not in op, (path, method)  # the document's default: bearer
            assert op["x-roles"] == sorted(str(r) for r in policy), (path, method)
            assert all(f"`{r}`" in op["description"] for r in op["x-roles"])
        seen += 1
    assert seen > 40
    assert spec["security"] == [{"bearer": []}]


def test_openapi_documents_ping_and_the_key_set(spec):
    ping = spec["paths"]["/api/ping"]["get"]
    assert ping["security"] == [] and "200" in ping["responses"]
    jwks = spec["paths"]["/.well-known/jwks.json"]["get"]
    assert jwks["security"] == [] and {"200", "304"} <= set(jwks["responses"])
    assert spec["components"]["schemas"]["Jwks"]["properties"]["keys"]["type"] == "array"


def test_openapi_says_how_to_sign_in(spec):
    text = spec["info"]["description"]
    for step in ("/api/auth/login", "/api/auth/resident/otp", "/api/auth/resident/login", "/api/auth/refresh",
                 "Authorization: Bearer"):
        assert step in text, step


def test_openapi_documents_every_error_as_problem_json_with_one_schema(spec):
    assert "Error" not in spec["components"]["schemas"]  # flask-smorest's {"code", "status"}: not what we send
    problem = spec["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status"}
    assert problem["properties"]["status"]["type"] == "integer"
    refs = set()
    for _, _, op in _operations(spec):
        for status, resp in op["responses"].items():
            if status == "default" or int(status) >= 400:
                resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]] if "$ref" in resp else resp
                assert list(resp["content"]) == ["application/problem+json"], (status, resp)
                refs.add(resp["content"]["application/problem+json"]["schema"]["$ref"])
    assert refs == {"#/components/schemas/Problem"}


# ---------------------------------------------------------------- item 23: field names, own person_id


def test_problem_names_the_field_as_the_request_does_art11(client, db, world, auth):
    h = auth(world, "teller")
    resp = client.post("/api/persons/", headers=h, json=applicant(doc_number=bad_check_digit()))
    assert assert_problem(resp, 422, article="Art. 11")["field"] == "doc_number"
    resp = client.post("/api/persons/", headers=h, json=applicant(doc_type="driving_licence"))
    assert assert_problem(resp, 422)["field"] == "doc_type"
    resp = client.post("/api/applications/", headers=h, json={
        "applicant": applicant(doc_number=bad_check_digit()), "bank_id": world.banks[0].id,
        "delivery_method": "pickup"})
    assert assert_problem(resp, 422, article="Art. 11")["field"] == "applicant.doc_number"
    resp = client.post("/api/persons/lookup", headers=h, json={"doc_type": "resident_id",
                                                               "doc_number": citizen_id()[:17]})
    assert assert_problem(resp, 422)["field"] == "doc_number"


def test_signed_in_resident_applies_online_without_sending_person_id_art7(client, db, world, resident_auth):
    person = world.person()
    world.session.commit()
    resp = client.post("/api/applications/", headers=resident_auth(person.id),
                       json={"bank_id": world.banks[0].id, "delivery_method": "pickup"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    card = resp.get_json()
    assert card["person_id"] == person.id and card["application"]["channel"] == "online"


def test_staff_still_name_the_applicant(client, db, world, auth):
    resp = client.post("/api/applications/", headers=auth(world, "teller"),
                       json={"bank_id": world.banks[0].id, "delivery_method": "pickup"})
    assert assert_problem(resp, 422)["field"] == "applicant"
