"""Service guides (Art. 18): each agency publishes its own, with what the article (and REQUIREMENTS.md for
application agencies) asks it to state; publishing adds a version and an audit entry; nobody edits another's."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.models import AuditEntry, ServiceGuide
from app.services import guides
from app.services.errors import ChannelNotAllowed, InvalidInput, OutOfScope

ISSUING = {"title": "社会保障卡服务指南", "service_items": "申领、启用、挂失、解挂、补卡、换卡、注销",
           "scope": "人力资源和社会保障、医疗保障、交通出行等公共服务", "usage": "持卡到服务网点或扫电子社保卡"}
MEDICAL = {"title": "医保结算", "service_items": "门诊和住院费用直接结算", "conditions": "已参加广州市基本医疗保险",
           "procedure": "在定点医疗机构出示社会保障卡或电子社保卡", "time_limit": "即时结算"}


def test_the_issuing_agency_publishes_service_items_scope_and_usage_art18(session, world):
    sscc = world.agencies["SSCC"]
    for missing in ("service_items", "scope", "usage"):
        with pytest.raises(InvalidInput) as e:
            guides.publish(session, world.clerk, sscc.id, {**ISSUING, missing: "  "})
        assert e.value.extra["field"] == missing and e.value.article == "Art. 18"
    g = guides.publish(session, world.clerk, sscc.id, ISSUING)
    assert g.version == 1 and g.scope == ISSUING["scope"] and g.published_by == world.staff["clerk"].id


def test_an_application_agency_publishes_offer_conditions_procedure_and_time_limit_art18(session, world):
    med = world.agencies["MED"]
    for missing in ("conditions", "procedure", "time_limit"):
        with pytest.raises(InvalidInput) as e:
            guides.publish(session, world.actor("medical"), med.id, {**MEDICAL, missing: None})
        assert e.value.extra["field"] == missing
    g = guides.publish(session, world.actor("medical"), med.id, MEDICAL)
    assert g.time_limit == "即时结算"


def test_each_agency_edits_only_its_own_guide_art18(session, world):
    with pytest.raises(OutOfScope):  # the medical agency's staff on the transport agency's guide
        guides.publish(session, world.actor("medical"), world.agencies["TRANS"].id, MEDICAL)
    with pytest.raises(OutOfScope):  # an issuing-agency clerk on an application agency's guide
        guides.publish(session, world.clerk, world.agencies["MED"].id, MEDICAL)
    with pytest.raises(OutOfScope):  # application-agency staff on the issuing agency's guide
        guides.publish(session, world.actor("medical"), world.agencies["SSCC"].id, ISSUING)
    for name in ("bureau", "teller", "hotline", "auditor"):
        with pytest.raises(ChannelNotAllowed):
            guides.publish(session, world.actor(name), world.agencies["SSCC"].id, ISSUING)
    assert session.scalar(select(ServiceGuide.id)) is None


def test_publishing_adds_a_version_and_keeps_the_old_one_audited_art18(session, world):
    sscc = world.agencies["SSCC"].id
    guides.publish(session, world.clerk, sscc, ISSUING)
    with pytest.raises(InvalidInput):  # nothing changed: no empty version
        guides.publish(session, world.clerk, sscc, ISSUING)
    v2 = guides.publish(session, world.clerk, sscc, {**ISSUING, "usage": "新的使用方法"})
    assert v2.version == 2 and guides.current(session, sscc).usage == "新的使用方法"
    assert [g.version for g in guides.history(session, sscc)] == [2, 1]
    assert guides.history(session, sscc)[1].usage == ISSUING["usage"]
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "guide.publish")
                              .order_by(AuditEntry.seq)).all()
    assert [e.record["changes"]["version"] for e in entries] == [1, 2]
    assert entries[1].record["changes"]["changed"] == ["usage"]


def test_published_lists_the_guide_in_force_of_each_agency_issuing_first_art18(session, world):
    guides.publish(session, world.actor("medical"), world.agencies["MED"].id, MEDICAL)
    guides.publish(session, world.clerk, world.agencies["SSCC"].id, ISSUING)
    guides.publish(session, world.clerk, world.agencies["SSCC"].id, {**ISSUING, "title": "服务指南（第二版）"})
    views = guides.published(session)
    assert [(v.agency.code, v.guide.version) for v in views] == [("SSCC", 2), ("MED", 1)]
