"""Family e-card rules in the service (Art. 19, 35): a minor's link ends at majority, limits count
pending links, staff reads are audited."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from flask import current_app
from sqlalchemy import select

from app.models import AuditEntry
from app.models.enums import CardStatus
from app.models.family import Consent, LinkStatus, Relation
from app.services import family, otp
from app.services.errors import ChannelNotAllowed, IllegalTransition, NotFound
from tests.factories import citizen_id
from tests.selfservice.conftest import last_code


def _settings():
    return otp.OtpSettings.from_app(current_app)


def _child(world, born="20080301"):
    return world.card(CardStatus.ACTIVE, world.person(name="陈小宝", doc_number=citizen_id(birth=born)))


def test_a_minors_link_stops_giving_tokens_at_majority_art19(world, session, clock):
    g = world.card(CardStatus.ACTIVE)
    child = _child(world)  # 18 on 2026-03-01: a minor on the clock's 2026-02-01
    clock.set(datetime(2026, 2, 1, 2, 0, tzinfo=timezone.utc))
    p = child.person
    added = family.add_member(session, world.resident(g.person_id), relation="child", doc_type=p.doc_type,
                              doc_number=p.doc_number, name=p.name, settings=_settings())
    assert added.link.status is LinkStatus.PENDING  # agreed through the child's registered mobile
    family.confirm_code(session, world.resident(g.person_id), added.link.id, last_code(session), _settings())
    assert (added.link.status, added.link.consent) == (LinkStatus.ACTIVE, Consent.MINOR)
    issuer = current_app.extensions["ecard_issuer"]
    assert family.member_tokens(session, world.resident(g.person_id), added.link.id, issuer)
    clock.set(datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc))
    with pytest.raises(IllegalTransition) as e:
        family.member_tokens(session, world.resident(g.person_id), added.link.id, issuer)
    assert e.value.article == "Art. 19"


def test_pending_links_count_against_the_limit(world, session):
    g = world.card(CardStatus.ACTIVE)
    actor = world.resident(g.person_id)
    for i in range(family.LIMITS[Relation.ELDERLY]):
        p = world.person(name=f"老人{i}", doc_number=citizen_id(birth="19400101"))
        assert family.add_member(session, actor, relation="elderly", doc_type=p.doc_type, doc_number=p.doc_number,
                                 name=p.name, settings=_settings()).link.status is LinkStatus.PENDING
    p = world.person(name="老人X", doc_number=citizen_id(birth="19400101"))
    with pytest.raises(family.FamilyLimit):
        family.add_member(session, actor, relation="elderly", doc_type=p.doc_type, doc_number=p.doc_number,
                          name=p.name, settings=_settings())


def test_staff_lookup_is_audited_and_limited_to_counter_roles_art16(world, session):
    g = world.card(CardStatus.ACTIVE)
    c = _child(world, "20150101")
    family.add_member(session, world.resident(g.person_id), relation="child", doc_type=c.person.doc_type,
                      doc_number=c.person.doc_number, name=c.person.name, settings=_settings())
    links = family.staff_links(session, world.clerk, c.person.doc_type, c.person.doc_number)
    assert len(links) == 1
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "family.read",
                                                    AuditEntry.person_id == c.person_id)).first()
    with pytest.raises(ChannelNotAllowed):
        family.staff_links(session, world.actor("hotline"), c.person.doc_type, c.person.doc_number)
    with pytest.raises(ChannelNotAllowed):
        family.remove(session, world.actor("medical"), links[0].id)
    with pytest.raises(ChannelNotAllowed):  # consent is given in person at an outlet, not by the agency
        family.confirm_at_outlet(session, world.clerk, links[0].id, doc_type=c.person.doc_type,
                                 doc_number=c.person.doc_number, id_verified=True)
    family.remove(session, world.teller, links[0].id)
    with pytest.raises(NotFound):
        family.member_tokens(session, world.resident(g.person_id), links[0].id,
                             current_app.extensions["ecard_issuer"])
