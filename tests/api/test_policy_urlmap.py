"""Least privilege (Art. 16; ENGINEERING.md "Security and privacy"): every endpoint declares the roles
that may use it, a walk of the URL map fails on any endpoint without a policy, and the policy is
enforced (wrong role → 403, no token → 401). Also the OpenAPI document and the self-hosted docs."""
from __future__ import annotations

import re

from flask import Flask

from app.auth import PUBLIC
from app.models.enums import Role
from app.services.lifecycle_rules import CHANNELS, Op
from tests.api.conftest import assert_problem

EXEMPT_PREFIXES = ("api-docs.",)  # flask-smorest's own openapi.json / Swagger UI
EXEMPT = {"static"}


def _exempt(endpoint: str) -> bool:
    return endpoint in EXEMPT or endpoint.startswith(EXEMPT_PREFIXES)


def endpoints_without_policy(app: Flask) -> list[str]:
    """Endpoints whose view declares no (or an empty, or a malformed) policy."""
    missing = []
    for rule in app.url_map.iter_rules():
        if _exempt(rule.endpoint):
            continue
        policy = getattr(app.view_functions[rule.endpoint], "policy", None)
        ok = isinstance(policy, frozenset) and policy and (
            policy == PUBLIC or all(isinstance(r, Role) for r in policy))
        if not ok:
            missing.append(rule.endpoint)
    return sorted(set(missing))


WEB = "web."  # the back office pages (cookie sessions): enforced by tests/web/test_page_policy_art16.py
PHONE = "phone."  # the resident's phone pages (cookie sessions): tests/web/phone/test_phone_signin_art19.py


def role_endpoints(app: Flask, *, web: bool = False, phone: bool = False):
    """(rule, method, policy) for every endpoint guarded by roles (not public, not exempt): the API's,
    with ``web=True`` the back office pages', with ``phone=True`` the phone pages'."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        kind = "web" if rule.endpoint.startswith(WEB) else "phone" if rule.endpoint.startswith(PHONE) else "api"
        if _exempt(rule.endpoint) or kind != ("web" if web else "phone" if phone else "api"):
            continue
        policy = app.view_functions[rule.endpoint].policy
        if policy == PUBLIC:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, policy


def concrete_path(rule) -> str:
    """A syntactically valid URL for a rule: ints → 1, other converters → 'medical'."""
    def sub(m):
        conv = m.group(1) or "string"
        return "1" if conv == "int" else "medical"

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>", sub, rule.rule)


# ------------------------------------------------------------------------------------ the walk


def test_every_endpoint_declares_a_policy_art16(app):
    assert endpoints_without_policy(app) == []
    # The walk saw the whole API, not an empty map.
    walked = [r.endpoint for r in app.url_map.iter_rules() if not _exempt(r.endpoint)]
    assert len(walked) >= 30
    assert "cards.card_deregister_loss" in walked and "auth.login" in walked
    # … and the back office pages, declared with app.web.policy.page from the same tables.
    assert "web.dashboard.home" in walked and "web.signin.login" in walked


def test_policy_walk_fails_on_an_endpoint_without_allow(app, tmp_path, monkeypatch):
    """Proof that the walk catches a forgotten ``@allow``: a throwaway route on a fresh app."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    from app import create_app, extensions
    from app.auth import allow

    # Fresh Api and Limiter objects: their init_app rebinds instance state (the OpenAPI spec, the
    # rate-limit storage) that the session app still uses. The same privacy key file, so the
    # process-wide key ring stays the one the session app's data is encrypted with.
    monkeypatch.setattr(extensions, "api", extensions.ProblemApi())
    monkeypatch.setattr(extensions, "limiter", Limiter(key_func=get_remote_address, default_limits=[]))
    fresh = create_app({
        "TESTING": True, "INSTANCE_DIR": tmp_path, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
        "PRIVACY_KEY_FILE": app.config["PRIVACY_KEY_FILE"], "ECARD_KEY_DIR": tmp_path / "ecard-keys",
        "RATELIMIT_ENABLED": False,
    })
    assert endpoints_without_policy(fresh) == []

    fresh.add_url_rule("/api/throwaway", "throwaway", lambda: "forgot @allow")
    assert endpoints_without_policy(fresh) == ["throwaway"]

    # An explicit but empty policy counts as none.
    def empty():
        return ""

    empty.policy = frozenset()
    fresh.add_url_rule("/api/empty-policy", "empty_policy", empty)
    assert endpoints_without_policy(fresh) == ["empty_policy", "throwaway"]

    # The same route with @allow passes.
    fresh.add_url_rule("/api/declared", "declared", allow(Role.BUREAU)(lambda: "ok"))
    assert "declared" not in endpoints_without_policy(fresh)

    # A page is walked like an endpoint: one without @page fails, one with it passes.
    from app.web.policy import page

    fresh.add_url_rule("/forgot-page", "web.forgot_page", lambda: "forgot @page")
    fresh.add_url_rule("/declared-page", "web.declared_page", page(Role.AUDITOR)(lambda: "ok"))
    assert endpoints_without_policy(fresh) == ["empty_policy", "throwaway", "web.forgot_page"]


def test_allow_refuses_an_empty_declaration():
    import pytest

    from app.auth import allow

    with pytest.raises(ValueError):
        allow()


def test_card_operation_roles_equal_the_channel_table_art6(app):
    from app.api.cards import CARD_OPERATIONS

    ops = [op for _, op, *_ in CARD_OPERATIONS] + [Op.LOCK_FIELD, Op.UNLOCK_FIELD]
    checked = []
    for op in ops:
        view = app.view_functions[f"cards.card_{op}"]
        expected = frozenset(r for _, r in CHANNELS[op] if r is not Role.SYSTEM)
        assert view.policy == expected, (op, view.policy, expected)
        checked.append(op)
    # The other endpoints backed by one operation of the channel table.
    backed = {"cards.status_inquiry": Op.INQUIRE_STATUS, "persons.change_info": Op.CHANGE_INFO,
              "persons.cancel": Op.CANCEL, "persons.confirm_unbind": Op.CONFIRM_UNBIND,
              "applications.apply": Op.APPLY}
    for endpoint, op in backed.items():
        expected = frozenset(r for _, r in CHANNELS[op] if r is not Role.SYSTEM)
        assert app.view_functions[endpoint].policy == expected, endpoint
    assert len(checked) == len(CARD_OPERATIONS) + 2
    # No generated card endpoint escaped the comparison.
    generated = {r.endpoint for r in app.url_map.iter_rules()
                 if r.endpoint.startswith("cards.card_") and "POST" in r.methods}
    assert generated == {f"cards.card_{op}" for op in ops}


# ------------------------------------------------------------------------------------ enforcement


def test_every_role_outside_a_policy_gets_403_art16(app, client, world, auth, resident_auth, role_token):
    """Each guarded endpoint called by every role it does not admit → 403 problem+json, before the body
    is even looked at (an empty JSON body would otherwise be a 422)."""
    person = world.person()
    logins = {"bureau": Role.BUREAU, "clerk": Role.AGENCY_CLERK, "teller": Role.BANK_TELLER,
              "hotline": Role.HOTLINE_OPERATOR, "medical": Role.APP_AGENCY, "auditor": Role.AUDITOR}
    headers = {role: auth(world, name) for name, role in logins.items()}
    headers[Role.RESIDENT] = resident_auth(person.id)
    headers[Role.SYSTEM] = role_token(Role.SYSTEM)
    assert set(headers) == set(Role)

    failures, calls = [], 0
    for rule, method, policy in role_endpoints(app):
        path = concrete_path(rule)
        for role in set(Role) - policy:
            h = headers[role]
            if rule.endpoint == "auth.refresh":  # takes a refresh token
                h = role_token(role, refresh=True)
            resp = client.open(path, method=method, headers=h, json={})
            calls += 1
            body = resp.get_json(silent=True) or {}
            if (resp.status_code, resp.mimetype, body.get("status")) != (403, "application/problem+json", 403):
                failures.append((method, path, str(role), resp.status_code, resp.get_data(as_text=True)[:200]))
    assert failures == []
    assert calls > 100


def test_every_guarded_endpoint_needs_a_token_401(app, client, world):
    world.session.commit()
    failures = []
    for rule, method, _ in role_endpoints(app):
        resp = client.open(concrete_path(rule), method=method, json={})
        body = resp.get_json(silent=True) or {}
        if (resp.status_code, resp.mimetype, body.get("status")) != (401, "application/problem+json", 401):
            failures.append((method, rule.rule, resp.status_code, resp.get_data(as_text=True)[:200]))
    assert failures == []


def test_forbidden_answer_is_problem_json(client, world, auth):
    """A role outside a policy that is no lifecycle operation: a plain 403 (a lifecycle operation's
    refusal names its article: tests/api/test_lifecycle_refusals_api.py)."""
    resp = client.get("/api/applications/deadlines", headers=auth(world, "teller"))
    body = assert_problem(resp, 403)
    assert body["type"].endswith("/forbidden")


def test_public_endpoints_need_no_token(client, world):
    world.session.commit()
    resp = client.get("/api/banks/")
    assert resp.status_code == 200
    codes = {b["code"] for b in resp.get_json()}
    assert codes == {"ICBC-GZ", "CCB-GZ"}  # the unpublished bank is not listed (Art. 6 ¶2)
    assert client.get(f"/api/banks/{world.banks[0].id}/outlets").status_code == 200
    assert_problem(client.get(f"/api/banks/{world.banks[2].id}/outlets"), 404)


# ------------------------------------------------------------------------------------ OpenAPI and docs


def test_openapi_lists_every_card_operation_with_if_match(app, client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec is not None and spec["openapi"].startswith("3.")
    paths = spec["paths"]
    card_rules = [r for r in app.url_map.iter_rules()
                  if r.endpoint.startswith("cards.card_") and "POST" in r.methods]
    from app.api.cards import CARD_OPERATIONS

    ops = [op for _, op, *_ in CARD_OPERATIONS] + [Op.LOCK_FIELD, Op.UNLOCK_FIELD]
    assert {r.endpoint for r in card_rules} == {f"cards.card_{op}" for op in ops}
    for rule in card_rules:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in paths, path
        op = paths[path]["post"]
        params = op.get("parameters", []) + paths[path].get("parameters", [])
        if_match = [p for p in params if p.get("in") == "header" and p.get("name") == "If-Match"]
        assert len(if_match) == 1, (path, params)
        assert if_match[0]["required"] is True


def test_swagger_ui_is_served_from_our_own_static(client):
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert "/static/vendor/swagger-ui/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower() and "jsdelivr" not in html.lower()
    assets = set(re.findall(r'(/static/vendor/swagger-ui/[\w.-]+)', html))
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    static = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert static.status_code == 200
    assert len(static.get_data()) > 10_000
