"""Legacy identity certificates (Art. 34, 36): old ones are folded into the card; one dated on or after
2022-02-01 is registered only with the law that provided for it; the number is personal data."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text

from app.models import AuditEntry, LegacyCertificate
from app.models.legacy import LegacyKind
from app.services import legacy
from app.services.errors import ChannelNotAllowed, IllegalTransition, InvalidInput, NotFound, OutOfScope
from tests.factories import citizen_id

OLD = legacy.LegacyIn(kind=LegacyKind.SOCIAL_INSURANCE_CARD, number="GZ12345678", issuer="广州市社会保险基金管理中心",
                      issued_on=date(2015, 6, 1))


def test_a_certificate_issued_before_the_measures_is_linked_to_the_holder_art34(session, world):
    person = world.person()
    cert = legacy.link(session, world.clerk, person.id, OLD)
    assert cert.person_id == person.id and cert.legal_basis is None
    assert [c.id for c in legacy.of_person(session, world.clerk, person.id)] == [cert.id]
    assert legacy.find_holder(session, world.clerk, OLD.kind, " gz12345678 ") == person.id
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "legacy.link")).one()
    assert entry.person_id == person.id and "GZ12345678" not in str(entry.record)


def test_a_certificate_dated_from_2022_02_01_is_refused_without_a_legal_basis_art34_36(session, world):
    person = world.person()
    new = legacy.LegacyIn(kind=LegacyKind.ELDERLY_CARD, number="LN2022001", issuer="某区民政局",
                          issued_on=date(2022, 2, 1))
    with pytest.raises(IllegalTransition) as e:
        legacy.link(session, world.clerk, person.id, new)
    assert e.value.article == "Art. 34, 36" and e.value.extra["field"] == "legal_basis"
    assert session.scalar(select(LegacyCertificate.id)) is None
    # the day before the Measures applied is still an existing certificate
    legacy.link(session, world.clerk, person.id, legacy.LegacyIn(**{**new.__dict__, "issued_on": date(2022, 1, 31),
                                                                    "number": "LN2022000"}))
    # with the provision that prevails (Art. 34, last sentence) it is registered, and the basis kept
    cert = legacy.link(session, world.clerk, person.id,
                       legacy.LegacyIn(**{**new.__dict__, "legal_basis": "《中华人民共和国老年人权益保障法》第五十八条"}))
    assert cert.legal_basis.startswith("《中华人民共和国")


def test_bad_certificate_input_is_refused_with_the_field_art34(session, world):
    person = world.person()
    for change, field in (({"number": "#"}, "number"), ({"issuer": " "}, "issuer"),
                          ({"issued_on": date(2099, 1, 1)}, "issued_on"),
                          ({"legal_basis": "不需要的依据说明"}, "legal_basis")):
        with pytest.raises(InvalidInput) as e:
            legacy.link(session, world.clerk, person.id, legacy.LegacyIn(**{**OLD.__dict__, **change}))
        assert e.value.extra["field"] == field
    with pytest.raises(NotFound):
        legacy.link(session, world.clerk, 999999, OLD)


def test_one_certificate_belongs_to_one_holder_art34(session, world):
    a, b = world.person(), world.person(doc_number=citizen_id(seq=7), phone="13800000001")
    legacy.link(session, world.clerk, a.id, OLD)
    with pytest.raises(IllegalTransition):
        legacy.link(session, world.clerk, b.id, legacy.LegacyIn(**{**OLD.__dict__, "number": "gz 1234 5678"}))
    # the same number of another kind is another certificate
    legacy.link(session, world.clerk, b.id, legacy.LegacyIn(**{**OLD.__dict__, "kind": LegacyKind.HEALTH_CARD}))


def test_the_number_is_encrypted_and_found_only_by_its_blind_index_art16(session, world):
    person = world.person()
    cert = legacy.link(session, world.clerk, person.id, OLD)
    session.flush()
    raw = session.execute(text("SELECT number, number_bidx FROM legacy_certificates WHERE id = :i"),
                          {"i": cert.id}).one()
    assert b"GZ12345678" not in bytes(raw[0]) and "GZ12345678" not in raw[1]
    assert legacy.masked(cert.number) != cert.number


def test_only_the_issuing_agency_links_and_reads_are_within_remit_art16_34(session, world):
    person = world.person()
    for name in ("teller", "hotline", "medical", "bureau", "auditor"):
        with pytest.raises(ChannelNotAllowed):
            legacy.link(session, world.actor(name), person.id, OLD)
    for name in ("teller", "hotline", "medical"):
        with pytest.raises((ChannelNotAllowed, OutOfScope)):
            legacy.of_person(session, world.actor(name), person.id)
    assert legacy.of_person(session, world.actor("bureau"), person.id) == []
    reads = session.scalars(select(AuditEntry).where(AuditEntry.action == "read.legacy")).all()
    assert [e.actor_id for e in reads] == [world.staff["bureau"].id]
