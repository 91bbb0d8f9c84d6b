"""Complaints and reports (Art. 29): who may file and how, routing to the authority over the party (Art. 5 ¶1,
Art. 29), the handling state machine with every step audited, and follow-up by reference + code only."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from app.models import AuditEntry, Complaint, ComplaintStep, StaffUser
from app.models.complaint import (
    ComplainantType,
    ComplaintKind,
    ComplaintOutcome,
    ComplaintStatus,
    IntakeChannel,
    PartyKind,
)
from app.models.enums import Role
from app.services import complaints
from app.services.errors import (
    ChannelNotAllowed,
    IllegalTransition,
    InvalidInput,
    NotFound,
    OutOfScope,
    PreconditionFailed,
)
from tests.factories import hash_password

SUMMARY = "网点工作人员拒绝受理我的补卡申请，没有说明理由。"


def intake(**kw) -> complaints.Intake:
    data = dict(kind=ComplaintKind.COMPLAINT, complainant_type=ComplainantType.NATURAL_PERSON,
                party_kind=PartyKind.BANK, summary=SUMMARY, complainant_name="李四光",
                complainant_phone="13912345678")
    data.update(kw)
    return complaints.Intake(**data)


def _file(session, world, **kw):
    if kw.get("party_kind", PartyKind.BANK) is PartyKind.BANK:
        kw.setdefault("party_bank_id", world.banks[0].id)
    return complaints.file(session, intake(**kw), channel=IntakeChannel.WEB)


def test_complaint_about_a_bank_or_agency_is_routed_to_the_bureau_art5_art29(session, world):
    bureau = world.agencies["HRSS"]
    for kw in ({"party_kind": PartyKind.BANK, "party_bank_id": world.banks[1].id},
               {"party_kind": PartyKind.ISSUING},
               {"party_kind": PartyKind.APPLICATION, "party_agency_id": world.agencies["MED"].id}):
        c = complaints.file(session, intake(**kw), channel=IntakeChannel.WEB).complaint
        assert (c.authority, c.authority_agency_id, c.status) == ("bureau", bureau.id, ComplaintStatus.RECEIVED)
    issuing = session.scalars(select(Complaint).where(Complaint.party_kind == PartyKind.ISSUING)).one()
    assert issuing.party_agency_id == world.agencies["SSCC"].id  # the issuing agency, found for the complainant


def test_complaint_about_the_bureau_goes_to_its_higher_authority_not_to_itself_art29(session, world):
    c = complaints.file(session, intake(party_kind=PartyKind.BUREAU), channel=IntakeChannel.API).complaint
    assert c.authority == "municipal_government" and c.authority_agency_id is None
    assert c.status is ComplaintStatus.REFERRED
    assert [s.step for s in complaints.steps_of(session, c.id)] == ["refer"]
    # the Bureau's handlers do not see it, and cannot act on it
    assert complaints.for_staff(session, world.actor("bureau")) == []
    with pytest.raises(OutOfScope):
        complaints.get(session, world.actor("bureau"), c.id)


def test_a_complaint_needs_name_and_phone_a_report_may_be_anonymous_art29(session, world):
    with pytest.raises(InvalidInput) as e:
        _file(session, world, anonymous=True, complainant_name=None, complainant_phone=None)
    assert e.value.extra["field"] == "anonymous" and e.value.article == "Art. 29"
    with pytest.raises(InvalidInput) as e:
        _file(session, world, complainant_phone=None)
    assert e.value.extra["field"] == "complainant_phone"
    with pytest.raises(InvalidInput) as e:
        _file(session, world, complainant_phone="12")
    assert e.value.extra["field"] == "complainant_phone"
    with pytest.raises(InvalidInput) as e:  # anonymous means nothing of the reporter is kept
        _file(session, world, kind=ComplaintKind.REPORT, anonymous=True, complainant_phone=None)
    assert e.value.extra["field"] == "complainant_name"
    r = _file(session, world, kind=ComplaintKind.REPORT, anonymous=True, complainant_name=None,
              complainant_phone=None, complainant_type=ComplainantType.ORGANISATION).complaint
    assert r.anonymous and r.complainant_name is None and r.complainant_phone is None
    legal = _file(session, world, complainant_type=ComplainantType.LEGAL_PERSON, complainant_name="某某有限公司").complaint
    assert legal.complainant_type is ComplainantType.LEGAL_PERSON


def test_party_must_match_its_kind_art29(session, world):
    with pytest.raises(InvalidInput) as e:
        _file(session, world, party_kind=PartyKind.APPLICATION, party_agency_id=world.agencies["SSCC"].id)
    assert e.value.extra["field"] == "party_agency_id"
    with pytest.raises(InvalidInput) as e:
        complaints.file(session, intake(party_kind=PartyKind.BANK), channel=IntakeChannel.WEB)
    assert e.value.extra["field"] == "party_bank_id"
    with pytest.raises(InvalidInput):
        _file(session, world, summary="太短")
    with pytest.raises(InvalidInput) as e:
        _file(session, world, about_staff=False, staff_description="张某")
    assert e.value.extra["field"] == "staff_description"
    assert session.scalar(select(Complaint.id)) is None


def test_hotline_intake_is_recorded_by_an_operator_and_public_intake_by_nobody_art29(session, world):
    with pytest.raises(ChannelNotAllowed):
        complaints.file(session, intake(party_bank_id=world.banks[0].id), channel=IntakeChannel.HOTLINE)
    with pytest.raises(ChannelNotAllowed):
        complaints.file(session, intake(party_bank_id=world.banks[0].id), channel=IntakeChannel.HOTLINE,
                        actor=world.clerk)
    with pytest.raises(ChannelNotAllowed):
        complaints.file(session, intake(party_bank_id=world.banks[0].id), channel=IntakeChannel.WEB,
                        actor=world.actor("hotline"))
    filed = complaints.file(session, intake(party_bank_id=world.banks[0].id), channel=IntakeChannel.HOTLINE,
                            actor=world.actor("hotline"))
    assert filed.complaint.taken_by == world.staff["hotline"].id and filed.complaint.channel is IntakeChannel.HOTLINE


def _second_handler(session, world) -> StaffUser:
    u = StaffUser(username="bureau2", display_name="bureau2", password_hash=hash_password("x"), role=Role.BUREAU,
                  agency_id=world.agencies["HRSS"].id)
    session.add(u)
    session.flush()
    return u


def test_handling_runs_received_assigned_investigating_closed_each_step_audited_art29(session, world):
    c = _file(session, world).complaint
    bureau = world.actor("bureau")
    complaints.assign(session, bureau, c.id, world.staff["bureau"].id)
    assert c.status is ComplaintStatus.ASSIGNED
    complaints.investigate(session, bureau, c.id, "调取网点监控与受理记录")
    assert c.status is ComplaintStatus.INVESTIGATING
    complaints.close(session, bureau, c.id, ComplaintOutcome.UPHELD, "已责令网点整改并重新受理您的申请。")
    assert c.status is ComplaintStatus.CLOSED and c.outcome is ComplaintOutcome.UPHELD and c.closed_at
    assert [s.step for s in complaints.steps_of(session, c.id)] == ["file", "assign", "investigate", "close"]
    actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
               if e.record.get("subject") == f"complaint:{c.reference}"]
    assert actions == ["complaint.file", "complaint.assign", "complaint.investigate", "complaint.close"]


def test_illegal_steps_are_refused_with_the_article_and_change_nothing_art29(session, world):
    c = _file(session, world).complaint
    bureau = world.actor("bureau")
    with pytest.raises(IllegalTransition) as e:  # not assigned yet
        complaints.investigate(session, bureau, c.id, "start")
    assert e.value.article == "Art. 29"
    assert c.status is ComplaintStatus.RECEIVED and c.version == 1
    complaints.assign(session, bureau, c.id, world.staff["bureau"].id)
    with pytest.raises(IllegalTransition):  # closing needs an investigation first
        complaints.close(session, bureau, c.id, ComplaintOutcome.NOT_UPHELD, "没有发现违规")
    complaints.close(session, bureau, c.id, ComplaintOutcome.WITHDRAWN, "投诉人撤回")  # withdrawn: any open state
    with pytest.raises(IllegalTransition):
        complaints.assign(session, bureau, c.id, world.staff["bureau"].id)
    assert len(complaints.steps_of(session, c.id)) == 3


def test_only_the_assignee_investigates_and_closes_and_only_the_routed_authority_acts_art29(session, world):
    c = _file(session, world).complaint
    other = _second_handler(session, world)
    bureau = world.actor("bureau")
    complaints.assign(session, bureau, c.id, other.id)
    with pytest.raises(OutOfScope):
        complaints.investigate(session, bureau, c.id, "start")
    with pytest.raises(InvalidInput):  # not a handler of the authority
        complaints.assign(session, bureau, c.id, world.staff["clerk"].id)
    for name in ("clerk", "hotline", "teller", "auditor", "medical"):
        with pytest.raises(ChannelNotAllowed):
            complaints.for_staff(session, world.actor(name))
    other.active = False
    session.flush()
    with pytest.raises(InvalidInput):
        complaints.assign(session, bureau, c.id, other.id)


def test_a_stale_version_is_refused_so_two_handlers_cannot_both_step_art29(session, world):
    c = _file(session, world).complaint
    complaints.assign(session, world.actor("bureau"), c.id, world.staff["bureau"].id, version=1)
    with pytest.raises(PreconditionFailed):
        complaints.investigate(session, world.actor("bureau"), c.id, "start", version=1)
    assert c.version == 2 and c.status is ComplaintStatus.ASSIGNED


def test_follow_up_needs_reference_and_code_a_reference_alone_shows_nothing_art29_16(session, world):
    filed = _file(session, world)
    ref = filed.complaint.reference
    assert ref.startswith("TS-2026-") or ref.startswith("TS-")
    view = complaints.follow(session, ref, filed.code)
    assert view.complaint.id == filed.complaint.id and view.party_name == world.banks[0].name
    assert complaints.follow(session, ref.lower(), filed.code.lower()).complaint.id == filed.complaint.id
    with pytest.raises(NotFound) as wrong:
        complaints.follow(session, ref, "WRONGCODE2")
    with pytest.raises(NotFound) as unknown:
        complaints.follow(session, "TS-1999-000001", filed.code)
    assert wrong.value.detail == unknown.value.detail
    assert filed.code not in filed.complaint.code_hash  # only a hash of the code is kept


def test_complainant_data_is_encrypted_at_rest_art16(session, world):
    c = _file(session, world, about_staff=True, staff_description="柜员王某").complaint
    session.flush()
    raw = session.execute(text("SELECT complainant_name, complainant_phone, summary, staff_description "
                               "FROM complaints WHERE id = :i"), {"i": c.id}).one()
    blob = b"".join(bytes(v) for v in raw)
    for clear in ("李四光", "13912345678", SUMMARY, "王某"):
        assert clear.encode() not in blob


def test_staff_reads_of_complaints_are_audited_art16(session, world):
    c = _file(session, world).complaint
    before = session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
    complaints.for_staff(session, world.actor("bureau"))
    complaints.get(session, world.actor("bureau"), c.id)
    reads = session.scalars(select(AuditEntry).where(AuditEntry.seq > before)).all()
    assert [e.action for e in reads] == ["complaint.read", "complaint.read"]
    assert all(e.actor_id == world.staff["bureau"].id for e in reads)


def test_open_count_is_the_authoritys_open_complaints_art29(session, world):
    a = _file(session, world).complaint
    _file(session, world)
    complaints.file(session, intake(party_kind=PartyKind.BUREAU), channel=IntakeChannel.WEB)  # referred away
    bureau = world.actor("bureau")
    assert complaints.open_count(session, bureau) == 2
    complaints.assign(session, bureau, a.id, world.staff["bureau"].id)
    complaints.close(session, bureau, a.id, ComplaintOutcome.WITHDRAWN, "投诉人撤回")
    assert complaints.open_count(session, bureau) == 1
    assert complaints.open_count(session, world.clerk) == 0
