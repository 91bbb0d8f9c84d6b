"""Resident sign-in by one-time code (Art. 19: only the cardholder uses the card; Art. 20: the holder
queries their own data): single use, 5 wrong codes lock the challenge, 5 minutes of validity, the
same answer for unknown documents, only a hash of the code stored, the demo outbox masked."""
from __future__ import annotations

from datetime import timedelta

from flask_jwt_extended import decode_token
from sqlalchemy import func, select

from app.models import AuditEntry, OtpChallenge, SmsMessage
from tests.factories import citizen_id
from tests.selfservice.conftest import bearer, doc_of, last_code, problem


def _request(client, doc: dict):
    return client.post("/api/auth/resident/otp", json=doc)


def _login(client, doc: dict, code: str):
    return client.post("/api/auth/resident/login", json={**doc, "code": code})


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_otp_sign_in_gives_resident_tokens_art19(client, session, world):
    person = world.person()
    session.commit()
    resp = _request(client, doc_of(person))
    assert resp.status_code == 202 and resp.get_json()["expires_in"] == 300
    code = last_code(session)
    resp = _login(client, doc_of(person), code)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    tokens = resp.get_json()
    claims = decode_token(tokens["access_token"])
    assert claims["sub"] == f"resident:{person.id}" and claims["role"] == "resident" and claims["pid"] == person.id
    assert decode_token(tokens["refresh_token"])["type"] == "refresh"
    me = client.get("/api/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200 and me.get_json()["id"] == person.id


def test_code_is_single_use_art19(client, session, world):
    person = world.person()
    session.commit()
    _request(client, doc_of(person))
    code = last_code(session)
    assert _login(client, doc_of(person), code).status_code == 200
    problem(_login(client, doc_of(person), code), 401)


def test_five_wrong_codes_lock_the_challenge_art19(client, session, world):
    person = world.person()
    session.commit()
    _request(client, doc_of(person))
    code = last_code(session)
    lefts = [problem(_login(client, doc_of(person), _wrong(code)), 401).get("tries_left") for _ in range(5)]
    assert lefts == [4, 3, 2, 1, 0]
    # locked: even the right code is refused now, and stays refused
    body = problem(_login(client, doc_of(person), code), 401)
    assert "tries_left" not in body
    session.expire_all()
    ch = session.scalars(select(OtpChallenge)).one()
    assert ch.outcome == "locked" and ch.attempts == 5 and ch.closed_at is not None
    # a new code works again
    _request(client, doc_of(person))
    assert _login(client, doc_of(person), last_code(session)).status_code == 200


def test_unknown_document_gets_the_same_answer_as_a_known_one(client, session, world):
    person = world.person()
    session.commit()
    unknown = {"doc_type": "resident_id", "doc_number": citizen_id(birth="19850505")}
    known_resp, unknown_resp = _request(client, doc_of(person)), _request(client, unknown)
    assert known_resp.status_code == unknown_resp.status_code == 202
    assert known_resp.get_json() == unknown_resp.get_json()
    assert session.scalar(select(func.count()).select_from(SmsMessage)) == 1  # only the holder got a message
    # the login answers match too, try for try
    code = last_code(session)
    for _ in range(5):
        a = problem(_login(client, doc_of(person), _wrong(code)), 401)
        b = problem(_login(client, unknown, _wrong(code)), 401)
        assert {k: v for k, v in a.items() if k != "request_id"} == {k: v for k, v in b.items() if k != "request_id"}
    # and without any code requested
    other = {"doc_type": "resident_id", "doc_number": citizen_id(birth="19700707")}
    a, b = problem(_login(client, other, "123457"), 401), problem(_login(client, doc_of(person), "123457"), 401)
    assert a["detail"] == b["detail"]


def test_malformed_document_number_is_refused_as_input_art11(client, session, world):
    session.commit()
    problem(_request(client, {"doc_type": "resident_id", "doc_number": "44010619900101001"}), 422)


def test_code_expires_after_five_minutes_art19(client, session, world, clock):
    person = world.person()
    session.commit()
    _request(client, doc_of(person))
    code = last_code(session)
    clock.advance(minutes=5, seconds=1)
    problem(_login(client, doc_of(person), code), 401)


def test_a_new_code_supersedes_the_old_one_art19(client, session, world):
    person = world.person()
    session.commit()
    _request(client, doc_of(person))
    first = last_code(session)
    _request(client, doc_of(person))
    second = last_code(session)
    if first != second:
        problem(_login(client, doc_of(person), first), 401)
    assert _login(client, doc_of(person), second).status_code == 200


def test_only_a_hash_of_the_code_is_stored_and_the_outbox_is_masked_art16(client, session, world):
    person = world.person(phone="13912345678")
    session.commit()
    _request(client, doc_of(person))
    code = last_code(session)
    ch = session.scalars(select(OtpChallenge)).one()
    assert code not in ch.code_hash and len(ch.code_hash) == 64 and ch.person_id == person.id
    assert ch.expires_at - ch.created_at == timedelta(minutes=5)
    msg = session.scalars(select(SmsMessage)).one()
    assert msg.to == "139****5678"
    with session.get_bind().connect() as c:  # the body is encrypted at rest
        raw = c.exec_driver_sql("SELECT body FROM sms_outbox").scalar_one()
    assert code.encode() not in bytes(raw)


def test_sign_in_is_audited_without_the_code_art16(client, session, world):
    person = world.person()
    session.commit()
    _request(client, doc_of(person))
    code = last_code(session)
    problem(_login(client, doc_of(person), _wrong(code)), 401)
    assert _login(client, doc_of(person), code).status_code == 200
    session.expire_all()
    entries = session.scalars(select(AuditEntry).where(AuditEntry.person_id == person.id)
                              .where(AuditEntry.action.like("auth.%")).order_by(AuditEntry.seq)).all()
    assert [e.action for e in entries] == ["auth.otp_request", "auth.resident_login_refused", "auth.resident_login"]
    assert all(code not in str(e.record) for e in entries)
    assert entries[-1].record["resident_id"] == person.id


def test_deceased_holder_gets_no_code_art26(client, session, world):
    from datetime import date

    person = world.person()
    person.deceased_on = date(2026, 1, 1)  # recorded from the public-security feed
    session.commit()
    assert _request(client, doc_of(person)).status_code == 202
    assert session.scalar(select(func.count()).select_from(SmsMessage)) == 0


def test_demo_sms_command_prints_the_outbox(app, client, session, world):
    person = world.person()
    session.commit()
    _request(client, doc_of(person))
    code = last_code(session)
    result = app.test_cli_runner().invoke(args=["demo", "sms"])
    assert result.exit_code == 0, result.output
    assert code in result.output and "138****5678" in result.output and "13812345678" not in result.output


def test_passport_holder_signs_in_with_nationality_art19(client, session, world):
    """A passport number is unique only within its country: the nationality is part of the document."""
    person = world.person(doc_type="passport", doc_number="E12345678", nationality="USA", name="John Smith")
    session.commit()
    doc = {"doc_type": "passport", "doc_number": "E12345678", "nationality": "USA"}
    assert _request(client, doc).status_code == 202
    resp = _login(client, doc, last_code(session))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert decode_token(resp.get_json()["access_token"])["pid"] == person.id
