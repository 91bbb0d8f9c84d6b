"""Family e-card test helpers: a guardian with an active card, members (a child, an elderly parent),
real resident tokens (sessions as the app opens them), real staff logins, the published key set."""
from __future__ import annotations

import pytest
from flask import current_app

from app.models.enums import CardStatus
from app.services.ecard import card_ref
from tests.api.conftest import auth, login, resident_auth  # noqa: F401 (fixtures)
from tests.ecard_app.conftest import assert_problem, verifier  # noqa: F401
from tests.factories import citizen_id
from tests.selfservice.conftest import last_code  # noqa: F401

FAMILY = "/api/me/family"
CHILD_BIRTH = "20150601"  # 11 years old on the tests' clock (2026)


def ref_of(card) -> bytes:
    """The opaque card reference a token of this card carries."""
    return card_ref(current_app.extensions["ecard_issuer"].secret, card.id)


@pytest.fixture
def family_world(world):
    """A guardian, a child and an elderly parent, each with their own active card (committed)."""
    g = world.card(CardStatus.ACTIVE, world.person(name="陈大文", phone="13900000001"))
    c = world.card(CardStatus.ACTIVE, world.person(name="陈小宝", doc_number=citizen_id(birth=CHILD_BIRTH),
                                                   phone="13900000001"))  # the parent's number
    e = world.card(CardStatus.ACTIVE, world.person(name="李秀英", doc_number=citizen_id(birth="19450304"),
                                                   phone="13900000002"))
    world.session.commit()
    return {"guardian": g, "child": c, "elderly": e}


def member_body(card, relation: str, **over) -> dict:
    p = card.person
    return {"relation": relation, "doc_type": p.doc_type, "doc_number": p.doc_number, "name": p.name, **over}
