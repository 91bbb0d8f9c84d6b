"""Art. 16: what the database holds on disk, read without the application: no ID number, phone, address or
name of a cardholder in any readable form, in the SQLite file (and its WAL) and in a PostgreSQL dump;
the blind index still finds the cardholder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from app.models import SharedRecord
from app.models.enums import CardStatus, DeliveryMethod
from app.privacy.runtime import blind_index
from app.services import lifecycle, people
from tests.factories import citizen_id
from tests.privacy.art16_helpers import app_keys_fixture, staff_fixture  # noqa: F401

DOC = citizen_id(region="440104", birth="19850315", seq=777)
NAME = "欧阳晓燕"
PHONE, NEW_PHONE = "13912345678", "13787654321"
ADDRESS = "广州市海珠区新港中路397号"
DELIVERY = "广州市荔湾区龙津西路88号"
SHARED_DOC = citizen_id(region="440105", birth="19770707", seq=778)
SHARED_NAME, SHARED_ADDRESS = "司马相如", "广州市白云区机场路1688号"
OCCUPATION = "港口引航员"

SECRETS = [DOC, NAME, PHONE, NEW_PHONE, ADDRESS, DELIVERY, SHARED_DOC, SHARED_NAME, SHARED_ADDRESS]


def _forms(value: str) -> list[bytes]:
    """Every way a value could show up in raw storage: UTF-8 text, JSON with \\u escapes (the JSON
    columns), hex (how pg_dump prints bytea), and for Chinese values GB18030 and UTF-16."""
    raw = value.encode("utf-8")
    forms = [raw, json.dumps(value).strip('"').encode("ascii"), raw.hex().encode("ascii")]
    if not value.isascii():
        forms += [value.encode("gb18030"), value.encode("utf-16-le")]
    return forms


@pytest.fixture
def stored(world, session):
    """Cardholders registered, a card applied for with express delivery, a contact change, a shared
    record of the government platform: personal data in every table that takes any."""
    session.add(SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", SHARED_DOC),
                             name=SHARED_NAME, address=SHARED_ADDRESS, household_registration=True))
    person = world.person(doc_number=DOC, name=NAME, phone=PHONE, address=ADDRESS, occupation=OCCUPATION)
    card = world.card(CardStatus.ACTIVE, person=person, delivery=DeliveryMethod.EXPRESS)
    people.change_info(session, world.teller, person.id, {"phone": NEW_PHONE})
    lifecycle.register_loss(session, world.teller, card.id, id_verified=True)
    lifecycle.reissue(session, world.teller, card.id,
                      delivery=lifecycle.Delivery(DeliveryMethod.EXPRESS, DELIVERY), id_verified=True)
    session.commit()
    return person


def _sqlite_bytes(db) -> bytes:
    path = Path(db.engine.url.database)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    data = b""
    for suffix in ("", "-wal", "-journal"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            data += part.read_bytes()
    assert len(data) > 4096
    return data


def _pg_dump(db) -> bytes:
    base = os.environ["TEST_POSTGRES_URL"]
    with db.engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    assert schema.startswith("ssc_test_")
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed for this test (apt-get install postgresql-client)"
    url = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    out = subprocess.run([pg_dump, "--data-only", f"--schema={schema}", "--encoding=UTF8", "--no-owner",
                          f"--dbname={url}"], capture_output=True, check=True, timeout=120)
    return out.stdout


def test_raw_database_holds_no_plain_personal_data_art16(db, session, stored, backend) -> None:
    raw = _sqlite_bytes(db) if backend == "sqlite" else _pg_dump(db)
    # the rows are there (blind indexes are plain hex by design), and plain text would be seen: the
    # occupation, which is not protected, is found as it was typed
    assert stored.doc_number_bidx.encode() in raw and stored.phone_bidx.encode() in raw
    assert OCCUPATION.encode("utf-8") in raw
    lowered = raw.lower()
    for value in SECRETS:
        for form in _forms(value):
            found = form.lower() in lowered if form.isascii() else form in raw
            assert not found, (value, form[:40])


def test_lookup_by_blind_index_finds_the_encrypted_cardholder_art16(client, session, staff, stored) -> None:
    found = people.find_by_document(session, "resident_id", DOC.lower())  # a lower-case x check digit too
    assert found is not None and found.id == stored.id and found.name == NAME
    resp = client.post("/api/persons/lookup", json={"doc_type": "resident_id", "doc_number": DOC},
                      headers=staff("clerk"))
    assert resp.status_code == 200 and resp.get_json()["id"] == stored.id
    assert people.find_by_ssn(session, DOC).id == stored.id
    assert people.find_by_document(session, "resident_id", citizen_id(seq=779)) is None
