"""Bad input on every endpoint family answers 4xx problem+json (RFC 9457) and writes NOTHING.

Every case sends one defect in an otherwise valid request (valid token, valid If-Match, valid other
fields), so the status asserted is the one that defect causes. Row counts of every table, and each
card's status/version/PIN counter, are read through a separate connection before and after.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from app.models.enums import CardStatus
from tests.api.conftest import assert_problem, card_rows, row_counts
from tests.factories import citizen_id

PHOTO = base64.b64encode(b"\x89PNG\r\n\x1a\n-photo").decode()
SAT, SUN, WED = "2027-01-02", "2027-01-03", "2027-01-06"  # 2027-01-01 is a Friday


def applicant(**over) -> dict:
    data = {"doc_type": "resident_id", "doc_number": citizen_id(), "name": "李四", "phone": "13912345678",
            "address": "广州市越秀区中山五路2号", "photo": PHOTO, "occupation": "教师",
            "eligibility": "public_services"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not ...}


def bad_check_digit() -> str:
    good = citizen_id()
    return good[:17] + ("0" if good[17] != "0" else "1")


@dataclass
class Scene:
    world: Any
    headers: dict[str, dict]
    person_id: int  # registered, no card
    active: Any  # an active card (bank 0)
    other: Any  # another active card
    issued: Any  # an issued card, not yet activated
    etags: dict[int, str]

    @property
    def bank0(self) -> int:
        return self.world.banks[0].id

    def im(self, card) -> dict:
        return {"If-Match": self.etags[card.id]}


@pytest.fixture
def scene(client, world, auth, resident_auth, etag) -> Scene:
    person = world.person()
    active = world.card(CardStatus.ACTIVE)
    other = world.card(CardStatus.ACTIVE)
    issued = world.card(CardStatus.ISSUED)
    world.session.commit()
    headers = {name: auth(world, name) for name in ("teller", "clerk", "bureau")}
    headers["resident"] = resident_auth(person.id)
    headers["holder"] = resident_auth(active.person_id)
    headers[None] = {}
    etags = {c.id: etag(client, headers["teller"], c.id) for c in (active, other, issued)}
    return Scene(world, headers, person.id, active, other, issued, etags)


@dataclass
class Case:
    id: str
    who: str | None
    method: str
    url: Callable[[Scene], str]
    kw: Callable[[Scene], dict]
    status: int
    mentions: str | None  # the answer names the defect (a field or a phrase of the detail)


def C(id_, who, method, url, kw, status):
    return pytest.param(Case(id_, who, method, url if callable(url) else (lambda s, u=url: u), kw, status,
                             MENTIONS.get(id_)), id=id_)


def app_body(s: Scene, **over) -> dict:
    body = {"applicant": applicant(), "bank_id": s.bank0, "delivery_method": "pickup", "id_verified": True}
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


def op(suffix):
    return lambda s: f"/api/cards/{s.active.id}/{suffix}"


def op_issued(suffix):
    return lambda s: f"/api/cards/{s.issued.id}/{suffix}"


def with_if_match(card_attr: str, **kw):
    def build(s: Scene) -> dict:
        out = {k: (v(s) if callable(v) else v) for k, v in kw.items()}
        out.setdefault("headers", {}).update(s.im(getattr(s, card_attr)))
        return out
    return build


INVALID_JSON = {"data": '{"bank_id": 1,', "content_type": "application/json"}
YEAR = "/api/calendar/years/2027"


def schedule(**over) -> dict:
    body = {"holidays": ["2027-01-01", SAT], "workdays": [SUN], "source": "国办发明电〔2026〕1号"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not ...}


# What each answer must name, so that the status is known to come from the intended defect.
MENTIONS = {
    "apply-citizen-id-bad-check-digit": "check character", "apply-citizen-id-bad-date": "not a real date",
    "apply-citizen-id-wrong-length": "18 characters", "apply-unknown-bank": "published list",
    "apply-unpublished-bank": "published list", "apply-teller-for-another-bank-rolls-back-registration": "own bank",
    "apply-instant-without-id-check-rolls-back-registration": "id_verified",
    "apply-at-outlet-without-id-check-rolls-back-registration": "id_verified",
    "apply-express-without-address": "mailing address", "apply-empty-body": "bank_id",
    "apply-missing-bank": "bank_id", "apply-missing-delivery": "delivery_method",
    "apply-neither-person-nor-applicant": "applicant", "apply-applicant-missing-art9-items": "Missing: name",
    "apply-bank-id-string": "bank_id", "apply-person-id-string": "person_id", "apply-name-int": "name",
    "apply-applicant-not-an-object": "applicant", "apply-bad-delivery-enum": "delivery_method",
    "apply-bad-channel-enum": "channel", "apply-bad-service-mode-enum": "service_mode",
    "apply-bad-referral-enum": "referral", "apply-photo-not-base64": "base64", "apply-bad-mobile": "mobile",
    "apply-unknown-person": "999999", "apply-unknown-body-field": "Unknown field", "apply-invalid-json": "JSON",
    "deadlines-soon-not-int": "soon",
    "person-citizen-id-bad-check-digit": "check character", "person-citizen-id-bad-date": "not a real date",
    "person-citizen-id-future-birth": "future", "person-citizen-id-wrong-length": "18 characters",
    "person-citizen-id-bad-province": "province", "person-unknown-doc-type": "driving_licence",
    "person-doc-number-int": "doc_number", "person-missing-doc-type": "doc_type", "person-photo-not-base64": "base64",
    "person-bad-mobile": "mobile", "person-bad-eligibility-enum": "eligibility",
    "person-passport-without-nationality": "nationality", "person-unknown-field": "favourite_colour",
    "person-invalid-json": "JSON", "person-lookup-without-document": "doc_number",
    "person-lookup-bad-check-digit": "check character", "person-prefill-wrong-length": "18 characters",
    "person-unknown": "999999",
    "info-change-unknown-field": "shoe_size", "info-change-nothing": "nothing given", "info-change-phone-int": "phone",
    "info-change-bad-mobile": "mobile", "info-change-new-id-bad-check-digit": "check character",
    "info-change-photo-not-base64": "base64",
    "cancellation-bad-reason-enum": "reason", "cancellation-missing-reason": "reason",
    "cancellation-invalid-json": "JSON",
    "activation-pin-letters": "pin", "activation-pin-too-short": "pin", "activation-pin-int": "pin",
    "activation-pin-too-easy": "too easy", "activation-pin-missing": "pin",
    "pin-change-old-pin-missing": "old_pin", "pin-change-new-pin-letters": "new_pin",
    "pin-change-new-pin-seven-digits": "new_pin", "pin-reset-missing-new-pin": "new_pin",
    "pin-reset-without-id-check": "id_verified",
    "replacement-bad-reason-enum": "reason", "replacement-missing-delivery": "delivery_method",
    "replacement-quality-defect-not-bool": "quality_defect", "replacement-new-bank-string": "new_bank_id",
    "replacement-bank-change-to-unpublished-bank": "published list", "reissue-delivery-int": "delivery_method",
    "reissue-express-without-address": "mailing address", "dispatch-tracking-ref-too-short": "tracking_ref",
    "rejection-missing-reason": "reason", "loss-registration-bad-channel-enum": "channel",
    "loss-deregistration-id-verified-not-bool": "id_verified", "acceptance-unknown-body-field": "Unknown field",
    "card-op-invalid-json": "JSON", "if-match-missing": "If-Match", "if-match-not-an-etag": "not an ETag",
    "if-match-unquoted": "not an ETag", "if-match-of-another-card": "not an ETag",
    "if-match-stale-version": "reload", "if-match-future-version": "reload",
    "lock-unknown-field": "bogus", "lock-unknown-field-by-resident": "MEDICAL ", "unlock-unknown-field": "bogus",
    "lock-reason-int": "reason", "card-op-unknown-card": "No card 999999", "status-inquiry-bad-channel-enum": "channel",
    "card-list-person-id-not-int": "person_id", "card-list-page-zero": "page",
    "calendar-workday-on-a-weekday": "Wednesday", "calendar-holiday-outside-the-year": "not in 2027",
    "calendar-day-both-holiday-and-workday": "both a holiday and a working day",
    "calendar-holiday-not-a-date": "not a real date", "calendar-holiday-not-iso": "YYYY-MM-DD",
    "calendar-holiday-int": "holidays", "calendar-holidays-not-a-list": "holidays",
    "calendar-holidays-duplicated": "listed twice", "calendar-holidays-empty": "empty",
    "calendar-holidays-missing": "holidays", "calendar-source-missing": "source", "calendar-source-blank": "source",
    "calendar-unknown-key": "notes", "calendar-year-out-of-range": "1900 to 2999", "calendar-invalid-json": "JSON",
    "login-missing-password": "password", "login-username-int": "username", "login-empty-password": "password",
    "login-no-body": "username", "login-invalid-json": "JSON", "login-json-array": "_schema",
}


CASES = [
    # ---------------------------------------------------------------- applications (Art. 7, 9)
    C("apply-citizen-id-bad-check-digit", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant=applicant(doc_number=bad_check_digit()))}, 422),
    C("apply-citizen-id-bad-date", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant=applicant(doc_number=citizen_id(birth="19901301")))}, 422),
    C("apply-citizen-id-wrong-length", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant=applicant(doc_number=citizen_id()[:17]))}, 422),
    C("apply-unknown-bank", "resident", "POST", "/api/applications/",
      lambda s: {"json": {"person_id": s.person_id, "bank_id": 999_999, "delivery_method": "pickup"}}, 422),
    C("apply-unpublished-bank", "resident", "POST", "/api/applications/",
      lambda s: {"json": {"person_id": s.person_id, "bank_id": s.world.banks[2].id,
                          "delivery_method": "pickup"}}, 422),
    C("apply-teller-for-another-bank-rolls-back-registration", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, bank_id=s.world.banks[1].id)}, 403),
    C("apply-instant-without-id-check-rolls-back-registration", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, service_mode="instant", id_verified=...)}, 422),
    C("apply-at-outlet-without-id-check-rolls-back-registration", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, id_verified=False)}, 422),
    C("apply-express-without-address", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, delivery_method="express")}, 422),
    C("apply-empty-body", "teller", "POST", "/api/applications/", lambda s: {"json": {}}, 422),
    C("apply-missing-bank", "teller", "POST", "/api/applications/", lambda s: {"json": app_body(s, bank_id=...)}, 422),
    C("apply-missing-delivery", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, delivery_method=...)}, 422),
    C("apply-neither-person-nor-applicant", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant=...)}, 422),
    C("apply-applicant-missing-art9-items", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant=applicant(name=..., photo=..., phone=..., address=...,
                                                          occupation=...))}, 422),
    C("apply-bank-id-string", "teller", "POST", "/api/applications/", lambda s: {"json": app_body(s, bank_id="one")},
      422),
    C("apply-person-id-string", "resident", "POST", "/api/applications/",
      lambda s: {"json": {"person_id": "me", "bank_id": s.bank0, "delivery_method": "pickup"}}, 422),
    C("apply-name-int", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant=applicant(name=12345))}, 422),
    C("apply-applicant-not-an-object", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant="李四")}, 422),
    C("apply-bad-delivery-enum", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, delivery_method="drone")}, 422),
    C("apply-bad-channel-enum", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, channel="fax")}, 422),
    C("apply-bad-service-mode-enum", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, service_mode="teleport")}, 422),
    C("apply-bad-referral-enum", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, referral="boss")}, 422),
    C("apply-photo-not-base64", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant=applicant(photo="not base64!!"))}, 422),
    C("apply-bad-mobile", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, applicant=applicant(phone="12345"))}, 422),
    C("apply-unknown-person", "teller", "POST", "/api/applications/",
      lambda s: {"json": {"person_id": 999_999, "bank_id": s.bank0, "delivery_method": "pickup"}}, 404),
    C("apply-unknown-body-field", "teller", "POST", "/api/applications/",
      lambda s: {"json": app_body(s, status="active")}, 422),
    C("apply-invalid-json", "teller", "POST", "/api/applications/", lambda s: INVALID_JSON, 400),
    C("deadlines-soon-not-int", "clerk", "GET", "/api/applications/deadlines?soon=abc", lambda s: {}, 422),
    # ---------------------------------------------------------------- persons (Art. 9, 11, 16, 24, 26)
    C("person-citizen-id-bad-check-digit", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(doc_number=bad_check_digit())}, 422),
    C("person-citizen-id-bad-date", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(doc_number=citizen_id(birth="20230229"))}, 422),
    C("person-citizen-id-future-birth", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(doc_number=citizen_id(birth="20990101"))}, 422),
    C("person-citizen-id-wrong-length", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(doc_number=citizen_id() + "1")}, 422),
    C("person-citizen-id-bad-province", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(doc_number=citizen_id(region="990106"))}, 422),
    C("person-unknown-doc-type", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(doc_type="driving_licence")}, 422),
    C("person-doc-number-int", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(doc_number=440106199001010011)}, 422),
    C("person-missing-doc-type", "teller", "POST", "/api/persons/", lambda s: {"json": applicant(doc_type=...)}, 422),
    C("person-photo-not-base64", "teller", "POST", "/api/persons/", lambda s: {"json": applicant(photo="@@@")}, 422),
    C("person-bad-mobile", "teller", "POST", "/api/persons/", lambda s: {"json": applicant(phone="call me")}, 422),
    C("person-bad-eligibility-enum", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(eligibility="friend_of_the_mayor")}, 422),
    C("person-passport-without-nationality", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(doc_type="passport", doc_number="E12345678")}, 422),
    C("person-unknown-field", "teller", "POST", "/api/persons/",
      lambda s: {"json": applicant(favourite_colour="red")}, 422),
    C("person-invalid-json", "teller", "POST", "/api/persons/", lambda s: INVALID_JSON, 400),
    C("person-lookup-without-document", "teller", "POST", "/api/persons/lookup", lambda s: {"json": {}}, 422),
    C("person-lookup-bad-check-digit", "teller", "POST", "/api/persons/lookup",
      lambda s: {"json": {"doc_type": "resident_id", "doc_number": bad_check_digit()}}, 422),
    C("person-prefill-wrong-length", "teller", "POST", "/api/persons/prefill",
      lambda s: {"json": {"doc_type": "resident_id", "doc_number": "4401061990"}}, 422),
    C("person-id-not-int", "teller", "GET", "/api/persons/abc", lambda s: {}, 404),
    C("person-unknown", "teller", "GET", "/api/persons/999999", lambda s: {}, 404),
    C("info-change-unknown-field", "teller", "POST", lambda s: f"/api/persons/{s.active.person_id}/info-change",
      lambda s: {"json": {"shoe_size": 42}}, 422),
    C("info-change-nothing", "teller", "POST", lambda s: f"/api/persons/{s.active.person_id}/info-change",
      lambda s: {"json": {}}, 422),
    C("info-change-phone-int", "teller", "POST", lambda s: f"/api/persons/{s.active.person_id}/info-change",
      lambda s: {"json": {"phone": 13912345678}}, 422),
    C("info-change-bad-mobile", "teller", "POST", lambda s: f"/api/persons/{s.active.person_id}/info-change",
      lambda s: {"json": {"phone": "000"}}, 422),
    C("info-change-new-id-bad-check-digit", "teller", "POST",
      lambda s: f"/api/persons/{s.active.person_id}/info-change",
      lambda s: {"json": {"doc_number": bad_check_digit(), "id_verified": True}}, 422),
    C("info-change-photo-not-base64", "teller", "POST", lambda s: f"/api/persons/{s.active.person_id}/info-change",
      lambda s: {"json": {"photo": "***", "id_verified": True}}, 422),
    C("cancellation-bad-reason-enum", "clerk", "POST", lambda s: f"/api/persons/{s.active.person_id}/cancellation",
      lambda s: {"json": {"reason": "bored"}}, 422),
    C("cancellation-missing-reason", "clerk", "POST", lambda s: f"/api/persons/{s.active.person_id}/cancellation",
      lambda s: {"json": {}}, 422),
    C("cancellation-invalid-json", "clerk", "POST", lambda s: f"/api/persons/{s.active.person_id}/cancellation",
      lambda s: INVALID_JSON, 400),
    # ---------------------------------------------------------------- card operations (Art. 6–27)
    C("activation-pin-letters", "teller", "POST", op_issued("activation"),
      with_if_match("issued", json={"pin": "12ab56"}), 422),
    C("activation-pin-too-short", "teller", "POST", op_issued("activation"),
      with_if_match("issued", json={"pin": "1357"}), 422),
    C("activation-pin-int", "teller", "POST", op_issued("activation"),
      with_if_match("issued", json={"pin": 135790}), 422),
    C("activation-pin-too-easy", "teller", "POST", op_issued("activation"),
      with_if_match("issued", json={"pin": "123456"}), 422),
    C("activation-pin-missing", "teller", "POST", op_issued("activation"), with_if_match("issued", json={}), 422),
    C("pin-change-old-pin-missing", "teller", "POST", op("pin-change"),
      with_if_match("active", json={"new_pin": "246813"}), 422),
    C("pin-change-new-pin-letters", "teller", "POST", op("pin-change"),
      with_if_match("active", json={"old_pin": "135790", "new_pin": "abcdef"}), 422),
    C("pin-change-new-pin-seven-digits", "holder", "POST", op("pin-change"),
      with_if_match("active", json={"old_pin": "135790", "new_pin": "2468135"}), 422),
    C("pin-reset-missing-new-pin", "teller", "POST", op("pin-reset"),
      with_if_match("active", json={"id_verified": True}), 422),
    C("pin-reset-without-id-check", "teller", "POST", op("pin-reset"),
      with_if_match("active", json={"new_pin": "246813"}), 422),
    C("replacement-bad-reason-enum", "teller", "POST", op("replacement"),
      with_if_match("active", json={"reason": "bored", "delivery_method": "pickup"}), 422),
    C("replacement-missing-delivery", "teller", "POST", op("replacement"),
      with_if_match("active", json={"reason": "damaged"}), 422),
    C("replacement-quality-defect-not-bool", "teller", "POST", op("replacement"),
      with_if_match("active", json={"reason": "damaged", "delivery_method": "pickup", "quality_defect": "maybe"}),
      422),
    C("replacement-new-bank-string", "teller", "POST", op("replacement"),
      with_if_match("active", json={"reason": "bank_change", "delivery_method": "pickup", "new_bank_id": "ccb"}),
      422),
    C("replacement-bank-change-to-unpublished-bank", "teller_ccb", "POST", op("replacement"),
      with_if_match("active", json=lambda s: {"reason": "bank_change", "delivery_method": "pickup",
                                              "new_bank_id": s.world.banks[2].id}), 422),
    C("reissue-delivery-int", "teller", "POST", op("reissue"), with_if_match("active", json={"delivery_method": 7}),
      422),
    C("reissue-express-without-address", "teller", "POST", op("reissue"),
      with_if_match("active", json={"delivery_method": "express", "id_verified": True}), 422),
    C("dispatch-tracking-ref-too-short", "clerk", "POST", op("dispatch"),
      with_if_match("active", json={"tracking_ref": "SF"}), 422),
    C("rejection-missing-reason", "clerk", "POST", op("rejection"), with_if_match("active", json={}), 422),
    C("loss-registration-bad-channel-enum", "teller", "POST", op("loss-registration"),
      with_if_match("active", json={"channel": "carrier_pigeon"}), 422),
    C("loss-deregistration-id-verified-not-bool", "teller", "POST", op("loss-deregistration"),
      with_if_match("active", json={"id_verified": "perhaps"}), 422),
    C("acceptance-unknown-body-field", "clerk", "POST", op("acceptance"),
      with_if_match("active", json={"status": "accepted"}), 422),
    C("card-op-invalid-json", "teller", "POST", op("loss-registration"),
      with_if_match("active", **INVALID_JSON), 400),
    C("if-match-missing", "teller", "POST", op("loss-registration"), lambda s: {"json": {}}, 428),
    C("if-match-not-an-etag", "teller", "POST", op("loss-registration"),
      lambda s: {"json": {}, "headers": {"If-Match": "abc"}}, 412),
    C("if-match-unquoted", "teller", "POST", op("loss-registration"),
      lambda s: {"json": {}, "headers": {"If-Match": s.etags[s.active.id].strip('"')}}, 412),
    C("if-match-of-another-card", "teller", "POST", op("loss-registration"),
      lambda s: {"json": {}, "headers": s.im(s.other)}, 412),
    C("if-match-stale-version", "teller", "POST", op("loss-registration"),
      lambda s: {"json": {}, "headers": {"If-Match": f'"{s.active.id}.{s.active.version - 1}"'}}, 412),
    C("if-match-future-version", "teller", "POST", op("loss-registration"),
      lambda s: {"json": {}, "headers": {"If-Match": f'"{s.active.id}.{s.active.version + 1}"'}}, 412),
    C("lock-unknown-field", "teller", "POST", op("fields/bogus/lock"), with_if_match("active", json={}), 422),
    C("lock-unknown-field-by-resident", "holder", "POST", op("fields/MEDICAL%20/lock"),
      with_if_match("active", json={}), 422),
    C("unlock-unknown-field", "teller", "POST", op("fields/bogus/unlock"), with_if_match("active", json={}), 422),
    C("lock-reason-int", "teller", "POST", op("fields/medical/lock"),
      with_if_match("active", json={"reason": 5}), 422),
    C("card-op-unknown-card", "teller", "POST", "/api/cards/999999/loss-registration",
      lambda s: {"json": {}, "headers": {"If-Match": '"999999.1"'}}, 404),
    C("card-id-not-int", "teller", "POST", "/api/cards/abc/loss-registration",
      lambda s: {"json": {}, "headers": {"If-Match": '"1.1"'}}, 404),
    C("status-inquiry-bad-channel-enum", "teller", "GET", lambda s: f"/api/cards/{s.active.id}/status?channel=fax",
      lambda s: {}, 422),
    C("card-list-person-id-not-int", "teller", "GET", "/api/cards/?person_id=abc", lambda s: {}, 422),
    C("card-list-page-zero", "teller", "GET", "/api/cards/?page=0", lambda s: {}, 422),
    # ---------------------------------------------------------------- calendar (Art. 10, 25)
    C("calendar-workday-on-a-weekday", "bureau", "PUT", YEAR, lambda s: {"json": schedule(workdays=[WED])}, 422),
    C("calendar-holiday-outside-the-year", "bureau", "PUT", YEAR,
      lambda s: {"json": schedule(holidays=["2027-01-01", "2028-01-01"])}, 422),
    C("calendar-day-both-holiday-and-workday", "bureau", "PUT", YEAR,
      lambda s: {"json": schedule(workdays=[SAT])}, 422),
    C("calendar-holiday-not-a-date", "bureau", "PUT", YEAR, lambda s: {"json": schedule(holidays=["2027-02-30"])},
      422),
    C("calendar-holiday-not-iso", "bureau", "PUT", YEAR, lambda s: {"json": schedule(holidays=["01/01/2027"])}, 422),
    C("calendar-holiday-int", "bureau", "PUT", YEAR, lambda s: {"json": schedule(holidays=[20270101])}, 422),
    C("calendar-holidays-not-a-list", "bureau", "PUT", YEAR, lambda s: {"json": schedule(holidays="2027-01-01")},
      422),
    C("calendar-holidays-duplicated", "bureau", "PUT", YEAR,
      lambda s: {"json": schedule(holidays=["2027-01-01", "2027-01-01"])}, 422),
    C("calendar-holidays-empty", "bureau", "PUT", YEAR, lambda s: {"json": schedule(holidays=[])}, 422),
    C("calendar-holidays-missing", "bureau", "PUT", YEAR, lambda s: {"json": schedule(holidays=...)}, 422),
    C("calendar-source-missing", "bureau", "PUT", YEAR, lambda s: {"json": schedule(source=...)}, 422),
    C("calendar-source-blank", "bureau", "PUT", YEAR, lambda s: {"json": schedule(source="   ")}, 422),
    C("calendar-unknown-key", "bureau", "PUT", YEAR, lambda s: {"json": schedule(notes="x")}, 422),
    C("calendar-year-out-of-range", "bureau", "PUT", "/api/calendar/years/1800",
      lambda s: {"json": schedule(holidays=["1800-01-01"], workdays=[])}, 422),
    C("calendar-year-not-int", "bureau", "PUT", "/api/calendar/years/next", lambda s: {"json": schedule()}, 404),
    C("calendar-invalid-json", "bureau", "PUT", YEAR, lambda s: INVALID_JSON, 400),
    # ---------------------------------------------------------------- auth
    C("login-missing-password", None, "POST", "/api/auth/login", lambda s: {"json": {"username": "teller"}}, 422),
    C("login-username-int", None, "POST", "/api/auth/login",
      lambda s: {"json": {"username": 7, "password": "teller-pw"}}, 422),
    C("login-empty-password", None, "POST", "/api/auth/login",
      lambda s: {"json": {"username": "teller", "password": ""}}, 422),
    C("login-no-body", None, "POST", "/api/auth/login", lambda s: {}, 422),
    C("login-invalid-json", None, "POST", "/api/auth/login", lambda s: INVALID_JSON, 400),
    C("login-json-array", None, "POST", "/api/auth/login", lambda s: {"json": ["teller", "teller-pw"]}, 422),
    C("logout-with-garbage-token", "teller", "POST", "/api/auth/logout",
      lambda s: {"headers": {"Authorization": "Bearer x.y.z"}}, 401),
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_a_problem_and_writes_nothing(case: Case, client, db, scene: Scene, auth):
    if case.who == "teller_ccb":
        scene.headers["teller_ccb"] = auth(scene.world, "teller_ccb")
    kw = case.kw(scene)
    headers = {**scene.headers[case.who], **kw.pop("headers", {})}
    before, cards_before = row_counts(db), card_rows(db)

    resp = client.open(case.url(scene), method=case.method, headers=headers, **kw)

    body = assert_problem(resp, case.status)
    if case.mentions:
        assert case.mentions in json.dumps(body, ensure_ascii=False), body
    assert row_counts(db) == before
    assert card_rows(db) == cards_before


def test_the_families_are_all_covered():
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids))
    for family in ("apply-", "person-", "info-change-", "cancellation-", "activation-", "pin-", "if-match-",
                   "lock-", "calendar-", "login-"):
        assert any(i.startswith(family) for i in ids), family


def test_saturday_holidays_and_weekend_workdays_are_fine(client, db, world, auth):
    """The positive twin of the calendar cases: a Saturday in the holiday list and a Sunday
    working day are accepted (so the 422s above are about their one defect). Three holidays are
    far fewer than any real year: the load is confirmed (``confirm``; see test_calendar_api_art10)."""
    h = auth(world, "bureau")
    body = {"holidays": ["2027-01-01", SAT, "2027-02-06"], "workdays": [SUN], "source": "国办发明电〔2026〕1号",
            "confirm": True}
    assert date.fromisoformat("2027-02-06").weekday() == 5 and date.fromisoformat(WED).weekday() == 2
    resp = client.put(YEAR, headers=h, json=body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    out = resp.get_json()
    assert out["holidays"] == sorted(body["holidays"]) and out["workdays"] == [SUN] and out["warnings"]
    assert row_counts(db)["workday_schedules"] == 1
    assert 2027 in client.get("/api/calendar/years", headers=h).get_json()["loaded_years"]


def test_a_valid_registration_and_application_do_write(client, db, world, auth):
    """The positive twin of the application cases: the same bodies without the defect succeed."""
    h = auth(world, "teller")
    before = row_counts(db)
    resp = client.post("/api/applications/", headers=h,
                       json={"applicant": applicant(), "bank_id": world.banks[0].id, "delivery_method": "pickup",
                             "id_verified": True})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    after = row_counts(db)
    assert after["persons"] == before["persons"] + 1
    assert after["cards"] == before["cards"] + 1
    assert after["card_applications"] == before["card_applications"] + 1
    assert after["settlement_accounts"] == before["settlement_accounts"] + 2
    resp = client.post("/api/persons/", headers=h, json=applicant())
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert row_counts(db)["persons"] == before["persons"] + 2
