"""Art. 16: the data key is rotated without downtime. ``flask privacy rotate-key`` adds a key and
re-encrypts every encrypted column in batches; values stay readable throughout, the blind indexes
keep working, nothing else about a row changes, and running it again re-encrypts nothing."""
from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from app.models import Person, SharedRecord
from app.models.enums import CardStatus, DeliveryMethod
from app.privacy import DecryptionError, FieldCipher, KeyRing, get_cipher, rotation
from app.privacy.runtime import blind_index
from app.services import audit, people
from tests.factories import citizen_id
from tests.privacy.art16_helpers import app_keys_fixture, entries, staff_fixture  # noqa: F401

NAME, PHONE, ADDRESS, PHOTO = "欧阳晓燕", "13912345678", "广州市海珠区新港中路397号", b"\x89PNG-rotate"
COLUMNS = {"persons.doc_number", "persons.ssn", "persons.name", "persons.ethnicity", "persons.phone",
           "persons.address", "persons.photo", "card_applications.delivery_address", "shared_records.name",
           "shared_records.ethnicity", "shared_records.address", "shared_records.photo"}


@pytest.fixture
def populated(world, session):
    """Five cardholders (one with express delivery), a shared-platform record: a dozen encrypted columns."""
    people_ = [world.person(doc_number=citizen_id(seq=600 + i), name=f"{NAME}{i}", phone=PHONE, address=ADDRESS,
                            photo=PHOTO, ethnicity="汉") for i in range(5)]
    world.card(CardStatus.ACTIVE, person=people_[0], delivery=DeliveryMethod.EXPRESS)
    session.add(SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", citizen_id(seq=699)),
                             name="司马相如", ethnicity="汉", address=ADDRESS, photo=PHOTO))
    session.commit()
    return people_


def _usage(db) -> dict[str, dict[str, int]]:
    cols = rotation.encrypted_columns(db.metadata)
    return {name: dict(c) for name, c in rotation.key_usage(db.engine, cols).items()}


def _run(app, *args):
    return app.test_cli_runner().invoke(args=["privacy", *args])


def test_encrypted_columns_are_found_in_the_metadata_art16(db) -> None:
    assert COLUMNS <= {c.name for c in rotation.encrypted_columns(db.metadata)}


def test_rotate_key_reencrypts_every_value_under_the_new_key_art16(app, db, session, populated) -> None:
    old = KeyRing.from_file(app.config["PRIVACY_KEY_FILE"]).active_id
    before = _usage(db)
    assert all(set(c) == {old} for c in before.values() if c)
    total = sum(sum(c.values()) for c in before.values())
    stamps = session.execute(select(Person.id, Person.updated_at).order_by(Person.id)).all()

    result = _run(app, "rotate-key", "--batch", "2")
    assert result.exit_code == 0, result.output
    new = KeyRing.from_file(app.config["PRIVACY_KEY_FILE"]).active_id
    assert new != old and old in KeyRing.from_file(app.config["PRIVACY_KEY_FILE"]).key_ids
    assert f"Re-encrypted {total} of {total} values under key {new}" in result.output

    after = _usage(db)
    assert {n: sum(c.values()) for n, c in after.items()} == {n: sum(c.values()) for n, c in before.items()}
    assert all(set(c) == {new} for c in after.values() if c)

    session.expire_all()
    for i, p in enumerate(populated):
        fresh = session.get(Person, p.id)
        assert (fresh.name, fresh.phone, fresh.address, fresh.photo) == (f"{NAME}{i}", PHONE, ADDRESS, PHOTO)
        assert people.find_by_document(session, "resident_id", fresh.doc_number).id == p.id  # index unchanged
    assert session.execute(select(Person.id, Person.updated_at).order_by(Person.id)).all() == stamps

    again = _run(app, "rotate-key", "--resume")
    assert again.exit_code == 0, again.output
    assert f"Re-encrypted 0 of {total} values" in again.output

    status = _run(app, "status")
    assert status.exit_code == 0 and f"Active data key: {new}" in status.output
    assert f"{new}: {total} values" in status.output and f"{old}:" not in status.output
    logged = entries(session, action="privacy.rotate_key")
    assert logged and logged[-1].record["changes"]["active_key"] == [old, new]
    assert audit.verify(session).ok


def test_the_application_keeps_serving_during_the_rotation_art16(app, db, session, client, staff,
                                                                 populated) -> None:
    """Between batches (old and new keys mixed in the tables) the API answers as usual."""
    path = app.config["PRIVACY_KEY_FILE"]
    rotation.add_data_key(path, environ={})
    answers = []

    def between_batches(_message: str) -> None:
        resp = client.get(f"/api/persons/{populated[4].id}", headers=staff("clerk"))
        answers.append(resp.status_code)

    result = rotation.reencrypt(db.engine, rotation.encrypted_columns(db.metadata), batch=1,
                                progress=between_batches)
    assert result.rotated > 10 and len(answers) == result.rotated and set(answers) == {200}


def test_a_value_changed_during_the_run_is_not_overwritten_art16(app, db, session, populated) -> None:
    """Compare-and-set: the rotation never writes back a value the application has changed meanwhile."""
    rotation.add_data_key(app.config["PRIVACY_KEY_FILE"], environ={})
    raced, untouched = populated[0].id, populated[2].id
    real = get_cipher()

    class Racing(FieldCipher):
        """After the batch was read and before it is written, a counter changes the first holder's phone."""

        def __init__(self):
            self.__dict__.update(real.__dict__)
            self.raced = False

        def rotate(self, blob, *, context):
            out = real.rotate(blob, context=context)
            if context == b"person.phone" and not self.raced:
                self.raced = True
                with db.engine.begin() as conn:
                    conn.execute(Person.__table__.update().where(Person.__table__.c.id == raced)
                                 .values(phone="13700000000"))
            return out

    phone_only = [c for c in rotation.encrypted_columns(db.metadata) if c.name == "persons.phone"]
    result = rotation.reencrypt(db.engine, phone_only, batch=10, cipher=Racing())
    assert result.columns["persons.phone"].changed_meanwhile == 1
    assert result.columns["persons.phone"].rotated == len(populated) - 1
    session.expire_all()
    assert session.get(Person, raced).phone == "13700000000"
    assert session.get(Person, untouched).phone == PHONE


def test_rotation_refuses_keys_from_the_environment_art16(app, db, monkeypatch, populated) -> None:
    before = KeyRing.from_file(app.config["PRIVACY_KEY_FILE"]).key_ids
    monkeypatch.setenv("SSC_DATA_KEYS", "k9:" + "A" * 44)
    result = _run(app, "rotate-key")
    assert result.exit_code != 0
    assert "environment" in result.output and "SSC_DATA_KEYS" in result.output and "--resume" in result.output
    assert KeyRing.from_file(app.config["PRIVACY_KEY_FILE"]).key_ids == before


def test_other_processes_pick_up_the_new_key_art16(tmp_path) -> None:
    """A web worker started before the rotation reads values re-encrypted under the new key, then
    writes under it too; a forged key id is still refused."""
    path = tmp_path / "keys.json"
    KeyRing.generate_file(path)
    worker = rotation.ReloadingFieldCipher(KeyRing.from_file(path), lambda: KeyRing.from_file(path),
                                           min_interval=0)
    before = worker.encrypt("张三", context=b"person.name")
    rotated = KeyRing.with_new_key(path)  # `flask privacy rotate-key`, in another process
    blob = FieldCipher(rotated).rotate(before, context=b"person.name")
    assert worker.decrypt(blob, context=b"person.name") == "张三"
    assert worker.key_id_of(worker.encrypt("李四", context=b"person.name")) == rotated.active_id
    forged = bytes((1, 2)) + b"k7" + secrets.token_bytes(40)
    with pytest.raises(DecryptionError):
        worker.decrypt(forged, context=b"person.name")


def test_rotation_without_a_key_file_is_refused_art16(tmp_path) -> None:
    with pytest.raises(rotation.RotationRefused, match="No key file"):
        rotation.add_data_key(tmp_path / "missing.json", environ={})
