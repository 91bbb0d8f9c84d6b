"""Art. 26: a death or a loss of eligibility notified by the government side cancels the card."""
from __future__ import annotations

from datetime import date

import pytest

from app.models.enums import AccountStatus, CardStatus
from app.services import lifecycle, people
from app.services.actor import SYSTEM
from app.services.errors import Ineligible, InvalidInput, NotFound


def _notice_file(tmp_path, rows):
    f = tmp_path / "notices.csv"
    f.write_text("doc_type,doc_number,kind,effective\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return f


def test_death_notice_cancels_held_card_and_closes_accounts_art26(session, world):
    card = world.card(CardStatus.ACTIVE)
    person = card.person
    cards = people.apply_government_notice(session, SYSTEM, person.doc_type, person.doc_number, kind="death",
                                           effective=date(2026, 11, 20))
    session.refresh(card)
    assert [c.id for c in cards] == [card.id]
    assert card.status is CardStatus.CANCELLED
    assert person.deceased_on == date(2026, 11, 20) and not person.eligible
    assert {a.status for a in lifecycle.accounts(session, person.id, open_only=False)} == {AccountStatus.CLOSED}


def test_ineligibility_notice_cancels_a_card_in_production_too_art26(session, world):
    card = world.card(CardStatus.IN_PRODUCTION)
    people.apply_government_notice(session, SYSTEM, card.person.doc_type, card.person.doc_number,
                                   kind="ineligible", effective=date(2026, 11, 20))
    session.refresh(card)
    assert card.status is CardStatus.CANCELLED


def test_after_a_death_notice_no_new_application_is_accepted_art4_art26(session, world):
    card = world.card(CardStatus.ACTIVE)
    people.apply_government_notice(session, SYSTEM, card.person.doc_type, card.person.doc_number, kind="death",
                                   effective=date(2026, 11, 20))
    with pytest.raises(Ineligible) as e:
        lifecycle.apply(session, world.teller, card.person_id, bank_id=world.banks[0].id,
                        delivery=lifecycle.Delivery(lifecycle.DeliveryMethod.PICKUP), id_verified=True)
    assert e.value.article == "Art. 4"


def test_notice_with_unknown_kind_or_person_is_refused(session, world):
    card = world.card(CardStatus.ACTIVE)
    with pytest.raises(InvalidInput):
        people.apply_government_notice(session, SYSTEM, card.person.doc_type, card.person.doc_number,
                                       kind="moved", effective=date(2026, 11, 20))
    with pytest.raises(NotFound):
        people.apply_government_notice(session, SYSTEM, "resident_id", "11010519491231002X", kind="death",
                                       effective=date(2026, 11, 20))


def test_feed_cli_applies_good_rows_and_reports_bad_ones_art26(app, session, world, tmp_path):
    card = world.card(CardStatus.ACTIVE)
    session.commit()
    f = _notice_file(tmp_path, [("resident_id", card.person.doc_number, "death", "2026-11-20"),
                                ("resident_id", "11010519491231002X", "death", "2026-11-20")])
    result = app.test_cli_runner().invoke(args=["feed", "notices", str(f)])
    assert result.exit_code == 1, result.output
    assert "1 notices applied, 1 refused." in result.output
    session.expire_all()
    assert session.get(type(card), card.id).status is CardStatus.CANCELLED
