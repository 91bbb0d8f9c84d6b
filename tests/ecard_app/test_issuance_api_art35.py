"""Issuance API for the resident (Art. 35): POST /api/ecard/tokens, the published key set, who may ask.

Every token is checked the way an agency checks it: with ``ecard.verify.Verifier`` built ONLY from
the JSON of GET /.well-known/jwks.json.
"""
from __future__ import annotations

import itertools
import time

from app.models.enums import CardStatus
from app.privacy import mask_id_number
from ecard.token import CardStatus as T
from ecard.token import decode_token
from tests.ecard_app.conftest import JWKS, TOKENS, assert_problem, verifier


def test_resident_gets_a_token_that_verifies_with_the_published_keys_only_art35(client, world, issue):
    card = world.card(CardStatus.ACTIVE)
    person = card.person
    before = int(time.time())
    resp = issue(person.id)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.get_json()
    assert {"token", "expires_at", "refresh_after"} <= set(body)
    assert "batch" not in body
    assert before <= body["issued_at"] <= int(time.time())
    assert body["expires_at"] == body["issued_at"] + 60
    assert body["issued_at"] < body["refresh_after"] < body["expires_at"]

    result = verifier(client).verify(body["token"])
    assert result.ok, result
    claims = result.claims
    assert claims.issued_at == body["issued_at"] and claims.expires_at == body["expires_at"]
    assert claims.name == person.name
    assert claims.status is T.ACTIVE and claims.settlement_suspended is False
    # The masked social security number, never the full one (Art. 16, 35).
    ssn = person.ssn
    assert claims.masked_id == mask_id_number(ssn) and "*" in claims.masked_id
    assert claims.masked_id != ssn
    assert ssn not in resp.get_data(as_text=True)
    assert ssn not in repr(claims.to_json())


def test_the_same_token_is_refused_a_second_time_by_one_scanner(client, world, issue):
    card = world.card(CardStatus.ACTIVE)
    token = issue(card.person_id).get_json()["token"]
    v = verifier(client)
    assert v.verify(token).ok
    assert v.verify(token).reason == "replayed"


def test_a_batch_of_three_consecutive_tokens_each_valid_from_the_previous_expiry(client, world, issue):
    card = world.card(CardStatus.ACTIVE)
    resp = issue(card.person_id, count=3)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    batch = body["batch"]
    assert len(batch) == 3
    assert batch[0]["token"] == body["token"] and batch[0]["expires_at"] == body["expires_at"]
    for prev, nxt in itertools.pairwise(batch):
        assert nxt["issued_at"] == prev["expires_at"]
    assert len({t["token"] for t in batch}) == 3
    assert len({decode_token(t["token"]).claims.token_id for t in batch}) == 3
    jwks = client.get(JWKS).get_json()
    from ecard.verify import Verifier

    for t in batch:  # each one verifies during its own minute
        v = Verifier(jwks, clock=lambda at=t["issued_at"] + 1: at)
        r = v.verify(t["token"])
        assert r.ok, (t, r)
        assert (r.claims.issued_at, r.claims.expires_at) == (t["issued_at"], t["expires_at"])
    # the last one is not valid yet now (it starts two minutes ahead)
    assert Verifier(jwks, clock=lambda: batch[0]["issued_at"]).verify(batch[2]["token"]).reason == "not_yet_valid"


def test_ten_minutes_ahead_is_the_limit(client, world, issue):
    card = world.card(CardStatus.ACTIVE)
    resp = issue(card.person_id, count=10)
    assert resp.status_code == 200
    batch = resp.get_json()["batch"]
    assert batch[-1]["expires_at"] - batch[0]["issued_at"] == 600
    for count in (11, 60, 0, -1):
        assert_problem(issue(card.person_id, count=count), 422)
    assert_problem(issue(card.person_id, count="many"), 422)


def test_staff_get_403_and_anonymous_401(client, world, staff, issue):
    world.card(CardStatus.ACTIVE)
    assert_problem(client.post(TOKENS, json={}, headers=staff(world, "teller")), 403)
    assert_problem(client.post(TOKENS, json={}, headers=staff(world, "clerk")), 403)
    assert_problem(client.post(TOKENS, json={}), 401)
    assert_problem(client.post(TOKENS, json={}, headers={"Authorization": "Bearer not-a-jwt"}), 401)
    assert_problem(client.get("/api/ecard/qr.png"), 401)
    assert_problem(client.get("/api/ecard/qr.svg", headers=staff(world, "teller")), 403)


def test_a_refresh_token_is_not_an_access_token(app, client, world, issue):
    from app.auth.tokens import resident_claims
    from tests.tokens import mint

    card = world.card(CardStatus.ACTIVE)
    refresh = mint(f"resident:{card.person_id}", resident_claims(card.person_id), refresh=True)
    assert_problem(issue(card.person_id, headers={"Authorization": f"Bearer {refresh}"}), 401)


def test_logged_out_token_is_refused_although_its_verification_was_cached(client, world, resident, issue):
    from app.auth import policy

    card = world.card(CardStatus.ACTIVE)
    headers = resident(card.person_id)
    assert issue(card.person_id, headers=headers).status_code == 200
    raw = headers["Authorization"][len("Bearer "):]
    assert raw in policy._verified  # the cached path was taken
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert raw in policy._verified  # still cached: revocation must be checked anyway
    body = assert_problem(issue(card.person_id, headers=headers), 401)
    assert "revoked" in body["type"]
    assert_problem(client.get("/api/ecard/qr.png", headers=headers), 401)
    # a fresh token of the same resident works
    assert issue(card.person_id).status_code == 200


def test_expired_access_token_is_refused_even_when_cached(app, client, world, issue, monkeypatch):
    from datetime import timedelta

    from app.auth import policy
    from app.auth.tokens import resident_claims
    from tests.tokens import mint

    card = world.card(CardStatus.ACTIVE)
    token = mint(f"resident:{card.person_id}", resident_claims(card.person_id), expires_delta=timedelta(seconds=30))
    headers = {"Authorization": f"Bearer {token}"}
    assert issue(card.person_id, headers=headers).status_code == 200
    assert token in policy._verified
    real = time.time
    monkeypatch.setattr(policy.time, "time", lambda: real() + 31)
    monkeypatch.setattr("jwt.api_jwt.datetime", _LaterDatetime(31), raising=False)
    assert_problem(issue(card.person_id, headers=headers), 401)


class _LaterDatetime:
    """``datetime`` for PyJWT whose ``now`` is ``seconds`` later (the token's expiry has passed)."""

    def __init__(self, seconds: int):
        import datetime as _dt

        self._dt, self._seconds = _dt, seconds

    def __getattr__(self, name):
        return getattr(self._dt.datetime, name)

    def now(self, tz=None):
        return self._dt.datetime.now(tz) + self._dt.timedelta(seconds=self._seconds)

    def utcnow(self):
        return self.now(self._dt.timezone.utc).replace(tzinfo=None)


def test_a_resident_without_any_card_gets_no_token(client, world, issue):
    person = world.person()
    assert_problem(issue(person.id), 409)


def test_logged_out_token_is_401_even_for_a_resident_without_a_card(client, world, resident, issue):
    """Revocation is answered first: a revoked token learns nothing about the holder's cards."""
    person = world.person()
    headers = resident(person.id)
    assert_problem(issue(person.id, headers=headers), 409)  # cached now
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert_problem(issue(person.id, headers=headers), 401)


def test_a_token_for_a_person_who_does_not_exist_is_404(client, world, resident, issue):
    assert_problem(issue(999_999, headers=resident(999_999)), 404)


def test_the_one_profile_query_is_answered_from_indexes(db, world):
    """Issuance is one query (ENGINEERING.md, hot paths): every table in it is reached through an
    index (primary keys, person_id, jti), on SQLite and on PostgreSQL."""
    from app.services.ecard import _profile_statement

    card = world.card(CardStatus.ACTIVE)
    world.session.commit()
    dialect = db.engine.dialect
    compiled = _profile_statement().compile(dialect=dialect)
    params = {**compiled.params, "person_id": card.person_id, "sid": "some-sid"}
    with db.engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        if dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + str(compiled), tuple(params[k] for k in compiled.positiontup))
            plan = [row[3] for row in cursor.fetchall()]
            assert not [step for step in plan if step.startswith("SCAN")], plan
            for table in ("persons", "cards", "settlement_accounts", "field_statuses", "auth_sessions"):
                assert any(step.startswith("SEARCH") and table in step for step in plan), (table, plan)
        else:  # tables this small are scanned by choice: show that an index path exists for each
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + str(compiled), params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan, plan
            for table in ("persons", "cards", "settlement_accounts", "field_statuses", "auth_sessions"):
                assert f"on {table}" in plan, (table, plan)
        cursor.close()


def test_issuance_writes_nothing(client, world, issue, resident, db):
    """No commit per token (ENGINEERING.md): issuing leaves every table as it was."""
    from sqlalchemy import text

    card = world.card(CardStatus.ACTIVE)
    world.session.commit()
    headers = resident(card.person_id)  # signing in writes its session; issuing writes nothing

    def counts():
        with db.engine.connect() as c:
            return {t.name: c.execute(text(f'SELECT COUNT(*) FROM "{t.name}"')).scalar_one()
                    for t in db.metadata.sorted_tables}

    before = counts()
    for _ in range(3):
        assert issue(card.person_id, count=2, headers=headers).status_code == 200
    assert counts() == before


def test_ping_is_a_public_trivial_health_check(client):
    resp = client.get("/api/ping")
    assert resp.status_code == 200 and resp.get_json() == {"ok": True}
    assert client.get("/api/ping", headers={"Authorization": "Bearer garbage"}).status_code == 200
