"""The e-card follows the physical card's lifecycle (Art. 21, 23, 24, 26, 28, 35).

Cards are driven through the real lifecycle services (``world.card(state)`` and
``app.services.lifecycle``); tokens come from the API and are read with the published keys.
"""
from __future__ import annotations

import pytest

from app.models import Card
from app.models.enums import CardStatus, DeliveryMethod, Field
from app.services import lifecycle
from app.services.ecard import card_ref
from ecard.token import AppField
from ecard.token import CardStatus as T
from tests.ecard_app.conftest import assert_problem, verifier
from tests.factories import DIED


def _claims(client, issue, person_id: int):
    resp = issue(person_id)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    result = verifier(client).verify(resp.get_json()["token"])
    assert result.ok, result
    return result.claims


def test_active_card_token_names_the_card(client, world, issue, issuer):
    card = world.card(CardStatus.ACTIVE)
    claims = _claims(client, issue, card.person_id)
    assert claims.status is T.ACTIVE and claims.settlement_suspended is False
    assert claims.card_ref == card_ref(issuer.secret, card.id)
    assert claims.locked_fields == AppField(0)


def test_issued_not_yet_activated_card_gets_a_token_saying_so(client, world, issue):
    card = world.card(CardStatus.ISSUED)
    claims = _claims(client, issue, card.person_id)
    assert claims.status is T.ISSUED


def test_no_token_for_a_cancelled_card_art26(client, world, issue):
    card = world.card(CardStatus.ACTIVE)
    assert issue(card.person_id).status_code == 200
    lifecycle.cancel(world.session, world.clerk, card.person_id, reason=lifecycle.CancellationReason.DEATH, effective=DIED)
    world.session.commit()
    body = assert_problem(issue(card.person_id), 409, article="Art. 26")
    assert "token" not in body
    assert_problem(issue(card.person_id, count=3), 409, article="Art. 26")


def test_no_token_when_a_card_in_production_is_cancelled_art26(client, world, issue):
    card = world.card(CardStatus.CANCELLED)
    world.session.refresh(card)
    assert card.status is CardStatus.CANCELLED
    assert_problem(issue(card.person_id), 409, article="Art. 26")


def test_qr_codes_refused_for_a_cancelled_card_art26(client, world, issue, resident):
    card = world.card(CardStatus.CANCELLED)
    world.session.commit()
    headers = resident(card.person_id)
    assert_problem(client.get("/api/ecard/qr.png", headers=headers), 409, article="Art. 26")
    assert_problem(client.get("/api/ecard/qr.svg", headers=headers), 409, article="Art. 26")


def test_loss_registered_token_says_settlement_suspended_art21_28(client, world, issue, issuer):
    card = world.card(CardStatus.LOSS_REGISTERED)
    claims = _claims(client, issue, card.person_id)
    assert claims.status is T.LOSS_REGISTERED
    assert claims.settlement_suspended is True
    assert claims.card_ref == card_ref(issuer.secret, card.id)  # still the lost card: identity (Art. 28)


def test_deregistered_loss_lifts_the_suspension_art22(client, world, issue):
    card = world.card(CardStatus.LOSS_REGISTERED)
    assert _claims(client, issue, card.person_id).settlement_suspended is True
    lifecycle.deregister_loss(world.session, world.teller, card.id, id_verified=True)
    world.session.commit()
    claims = _claims(client, issue, card.person_id)
    assert claims.status is T.ACTIVE and claims.settlement_suspended is False


def test_reissue_moves_the_token_to_the_new_card_art23_28(client, world, issue, issuer):
    s = world.session
    card = world.card(CardStatus.ACTIVE)
    before = _claims(client, issue, card.person_id)
    assert before.card_ref == card_ref(issuer.secret, card.id)
    lifecycle.register_loss(s, world.teller, card.id, id_verified=True)
    new = lifecycle.reissue(s, world.teller, card.id, delivery=lifecycle.Delivery(DeliveryMethod.PICKUP), id_verified=True)
    s.commit()
    assert new.id != card.id and new.number != card.number
    after = _claims(client, issue, card.person_id)
    assert after.status is T.REISSUE_PENDING
    assert after.settlement_suspended is True  # Art. 21: suspended until the new card is activated
    assert after.card_ref == card_ref(issuer.secret, new.id)
    assert after.card_ref != before.card_ref
    assert after.name == before.name and after.masked_id == before.masked_id  # still proves identity

    # the new card through production to activation: the token follows it, suspension lifted
    for step in (lambda c: lifecycle.accept(s, world.clerk, c.id),
                 lambda c: lifecycle.start_production(s, world.clerk, c.id),
                 lambda c: lifecycle.finish_production(s, world.clerk, c.id),
                 lambda c: lifecycle.pick_up(s, world.teller, c.id)):
        step(new)
        s.commit()
        mid = _claims(client, issue, card.person_id)
        assert mid.card_ref == card_ref(issuer.secret, new.id)
        assert mid.settlement_suspended is True
    assert mid.status is T.ISSUED
    lifecycle.activate(s, world.teller, new.id, pin="246801")
    s.commit()
    final = _claims(client, issue, card.person_id)
    assert final.status is T.ACTIVE and final.settlement_suspended is False
    assert final.card_ref == card_ref(issuer.secret, new.id)


def test_reissue_after_invalidation_via_world(client, world, issue, issuer):
    old = world.card(CardStatus.INVALIDATED)
    new = world.session.query(Card).filter(Card.person_id == old.person_id, Card.id != old.id).one()
    claims = _claims(client, issue, old.person_id)
    assert claims.status is T.REISSUE_PENDING and claims.settlement_suspended is True
    assert claims.card_ref == card_ref(issuer.secret, new.id) != card_ref(issuer.secret, old.id)


def test_replacement_of_a_damaged_card_keeps_identity_not_suspended_art24_28(client, world, issue, issuer):
    card = world.card(CardStatus.REPLACEMENT_PENDING)
    claims = _claims(client, issue, card.person_id)
    assert claims.status is T.REPLACEMENT_PENDING
    assert claims.settlement_suspended is False
    assert claims.card_ref == card_ref(issuer.secret, card.id)  # the old card stays usable until the new one


def test_locked_field_travels_in_the_token_art6(client, world, issue):
    card = world.card(CardStatus.ACTIVE)
    lifecycle.set_field_lock(world.session, world.teller, card.id, field=Field.TRANSPORT, locked=True,
                             reason="holder asked")
    world.session.commit()
    claims = _claims(client, issue, card.person_id)
    assert AppField.TRANSPORT in claims.locked_fields
    assert claims.locked_fields == AppField.TRANSPORT
    lifecycle.set_field_lock(world.session, world.teller, card.id, field=Field.MEDICAL, locked=True)
    world.session.commit()
    assert _claims(client, issue, card.person_id).locked_fields == AppField.TRANSPORT | AppField.MEDICAL
    lifecycle.set_field_lock(world.session, world.teller, card.id, field=Field.TRANSPORT, locked=False)
    world.session.commit()
    assert _claims(client, issue, card.person_id).locked_fields == AppField.MEDICAL


@pytest.mark.parametrize("state", [CardStatus.APPLIED, CardStatus.ACCEPTED, CardStatus.IN_PRODUCTION,
                                   CardStatus.PRODUCED])
def test_a_first_card_never_issued_gives_no_token_art35(client, world, issue, state):
    card = world.card(state)
    assert card.received_on is None
    assert_problem(issue(card.person_id), 409, article="Art. 35")


def test_a_rejected_application_gives_no_token(client, world, issue):
    card = world.card(CardStatus.REJECTED)
    assert_problem(issue(card.person_id), 409)


def test_token_of_another_resident_is_never_served(client, world, issue, resident, issuer):
    """A resident's token carries only their own card, whatever they send."""
    mine = world.card(CardStatus.ACTIVE)
    other = world.card(CardStatus.ACTIVE, person=world.person(name="李四光"))
    world.session.commit()
    resp = client.post("/api/ecard/tokens", json={"count": 1, "person_id": other.person_id},
                       headers=resident(mine.person_id))
    # unknown fields are refused or ignored, never obeyed
    if resp.status_code == 200:
        claims = verifier(client).verify(resp.get_json()["token"]).claims
        assert claims.card_ref == card_ref(issuer.secret, mine.id)
    else:
        assert_problem(resp, 422)


def test_the_issuer_reads_its_callers_transaction_and_fresh_committed_state(world, issuer):
    """Service level: inside a transaction the issuer sees the caller's own changes (one
    connection); outside one it reads the committed state on a pooled connection."""
    s = world.session()  # the Session behind the scoped session
    card = world.card(CardStatus.ACTIVE)
    person_id, card_id = card.person_id, card.id
    s.commit()
    assert not s.in_transaction()
    assert issuer.claims(s, person_id).status is T.ACTIVE
    assert not s.in_transaction()  # the read began no ORM transaction
    lifecycle.register_loss(s, world.teller, card_id, id_verified=True)  # not committed
    assert s.in_transaction()
    claims = issuer.claims(s, person_id)
    assert claims.status is T.LOSS_REGISTERED and claims.settlement_suspended is True
    s.rollback()
    claims = issuer.claims(s, person_id)
    assert claims.status is T.ACTIVE and claims.settlement_suspended is False
    tokens = issuer.issue(s, person_id, count=2, now=1_800_000_000)
    assert [t.issued_at for t in tokens] == [1_800_000_000, 1_800_000_060]
    assert [t.expires_at for t in tokens] == [1_800_000_060, 1_800_000_120]
