"""The applications pages in real Chromium on the running app (issue 14).

* End to end: a teller takes an application at the counter (pre-filled from the government platform,
  Art. 9), the card agency accepts it, sends it to the factory in a batch, downloads the factory's file
  and imports the produced card numbers (Art. 10, 17), the teller hands the card over (Art. 12), then at
  the card desk activates it, registers its loss and issues a reissue (Art. 6, 21, 23); every step is on
  the timeline, and a refused step shows its article.
* Every applications page in both languages: a screenshot in tests/artifacts/ and axe-core with no serious
  or critical violation.
"""
from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from app.models import Card, SharedRecord
from app.models.enums import CardStatus, DeliveryMethod
from app.privacy.runtime import blind_index
from tests.factories import citizen_id
from tests.web.conftest import assert_no_axe_violations, shoot, sign_in

pytestmark = pytest.mark.browser


def _shared(session, number: str) -> None:
    session.add(SharedRecord(doc_type="resident_id", doc_number_bidx=blind_index("id_number", number),
                             name="林晓华", address="广州市海珠区江南大道3号", photo=b"\x89PNG-shared",
                             ethnicity="汉", valid_until=date(2030, 1, 1), household_registration=True))
    session.commit()


def _submit(page) -> None:
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()


def _timeline_ops(page) -> list[str]:
    return page.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.op)")


def _desk_confirm(page, person_id: int, live_url: str, pin: str | None = None) -> None:
    """A card desk action: Continue → the confirmation step (fee, waiver; the PIN is typed there) → confirm."""
    page.click("form.card button[type=submit]")
    page.wait_for_selector("form.confirm")
    if pin:
        page.fill("#pin", pin)
        page.fill("#pin_again", pin)
    page.click("form.confirm button[type=submit]")
    page.wait_for_url(f"{live_url}/desk/holders/{person_id}")


def test_a_card_from_the_counter_through_production_to_pickup_activation_loss_and_reissue(
        world, session, browser_page, live_url, tmp_path):
    number = citizen_id()
    _shared(session, number)
    world.session.commit()

    # ---- the teller takes the application at the counter (Art. 7, 9)
    teller = browser_page("zh-CN")
    sign_in(teller, live_url, "teller")
    assert teller.get_attribute("html", "lang") == teller.lang
    teller.goto(f"{live_url}/applications/intake")
    teller.select_option("#doc_type", "resident_id")
    teller.fill("#doc_number", number)
    _submit(teller)
    assert teller.locator("#name").count() == 0 and teller.locator("#photo").count() == 0  # Art. 9 ¶2
    teller.fill("#phone", "13912345678")
    teller.fill("#occupation", "教师")
    teller.check("#id_verified")
    _submit(teller)
    assert teller.locator("#timeline li[data-op=apply]").count() == 1, teller.content()[:2000]
    card = session.scalars(select(Card)).one()
    session.expire_all()

    # ---- a refused step shows its article: a second application for the same person (Art. 23, 24)
    teller.goto(f"{live_url}/applications/intake")
    teller.fill("#doc_number", number)
    _submit(teller)
    teller.fill("#phone", "13912345678") if teller.locator("#phone").count() else None
    teller.check("#id_verified")
    _submit(teller)
    refusal = teller.locator(".refusal")
    assert refusal.count() == 1 and "第23条" in refusal.inner_text(), teller.locator(".error, .refusal").all_inner_texts()
    shoot(teller, "applications-refused")

    # ---- the card agency accepts it and sends it to the factory (Art. 10)
    clerk = browser_page("zh-CN")
    sign_in(clerk, live_url, "clerk")
    clerk.goto(f"{live_url}/applications/decisions")
    clerk.click(f"form[action$='/{card.id}/acceptance'] button[type=submit]")
    clerk.wait_for_load_state()
    clerk.goto(f"{live_url}/applications/batches")
    clerk.fill("#limit", "50")
    _submit(clerk)
    assert card.number in clerk.content()
    with clerk.expect_download() as dl:
        clerk.click("a[href$='export.csv']")
    rows = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8-sig").read())))
    assert [r["card_number"] for r in rows] == [card.number] and rows[0]["name"] == "林晓华"

    # ---- the factory's file back: first with a wrong row (nothing imported), then right
    wrong = tmp_path / "produced-wrong.csv"
    wrong.write_text(f"card_number\n{card.number}\nZ00000000\n", encoding="utf-8")
    clerk.set_input_files("#file", str(wrong))
    _submit(clerk)
    assert clerk.locator("#import-errors tbody tr").count() == 1
    shoot(clerk, "applications-import-errors")
    session.expire_all()
    assert session.get(Card, card.id).status is CardStatus.IN_PRODUCTION
    right = tmp_path / "produced.csv"
    right.write_text("card_number\n" + card.number + "\n", encoding="utf-8")
    clerk.set_input_files("#file", str(right))
    _submit(clerk)
    assert clerk.locator("[role=status]").count() >= 1
    session.expire_all()
    assert session.get(Card, card.id).status is CardStatus.PRODUCED

    # ---- the teller hands it over (Art. 12)
    teller.goto(f"{live_url}/applications/pickup")
    teller.check(f"#p{card.id}-id_verified")
    teller.click(f"form[action$='/{card.id}/pickup'] button[type=submit]")
    teller.wait_for_load_state()
    assert "pick_up" in _timeline_ops(teller)

    # ---- activation, loss registration, reissue (Art. 6, 21, 23) at the card desk (web1's pages)
    desk = f"{live_url}/desk/cards/{card.id}"
    teller.goto(f"{desk}/activation")
    _desk_confirm(teller, card.person_id, live_url, pin="135790")
    for action in ("loss-registration", "reissue"):
        teller.goto(f"{desk}/{action}")
        teller.check("#id_verified")
        _desk_confirm(teller, card.person_id, live_url)
    session.expire_all()
    new = {"id": session.scalars(select(Card.id).where(Card.predecessor_id == card.id)).one()}

    teller.goto(f"{live_url}/applications/{new['id']}")
    ops = _timeline_ops(teller)
    for op in ("apply", "start_production", "finish_production", "pick_up", "activate", "register_loss",
               "reissue"):
        assert op in ops, (op, ops)
    assert ops.count("apply") == 2  # the first card and its reissue
    shoot(teller, "applications-timeline")


def _clerk_pages(world, session):
    applied = world.card(CardStatus.APPLIED)
    world.card(CardStatus.ACCEPTED)
    world.card(CardStatus.PRODUCED, delivery=DeliveryMethod.EXPRESS)
    world.card(CardStatus.IN_TRANSIT, delivery=DeliveryMethod.EXPRESS)
    from app.services import production

    batch = production.create_batch(session, world.clerk)
    session.commit()
    return {"applications-decisions": "/applications/decisions", "applications-batches": "/applications/batches",
            "applications-batch": f"/applications/batches/{batch.id}",
            "applications-dispatch": "/applications/dispatch",
            "applications-card": f"/applications/{applied.id}", "applications-index-clerk": "/applications/"}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_applications_page_in_both_languages_has_no_serious_axe_violation(
        world, session, browser_page, live_url, lang):
    from app.services import home_visits

    pages = _clerk_pages(world, session)
    world.card(CardStatus.PRODUCED)
    home_visits.file_request(session, world.teller, name="李阿婆", phone="13800138000",
                             address="广州市越秀区东风中路5号", reason="elderly")
    session.commit()
    clerk = browser_page(lang)
    sign_in(clerk, live_url, "clerk")
    for name, path in pages.items():
        clerk.goto(live_url + path)
        shoot(clerk, name)
        assert_no_axe_violations(clerk)
    teller = browser_page(lang)
    sign_in(teller, live_url, "teller")
    assert teller.get_attribute("html", "lang") == teller.lang
    for name, path in {"applications-index-teller": "/applications/", "applications-intake": "/applications/intake",
                       "applications-pickup": "/applications/pickup",
                       "applications-door-to-door": "/applications/door-to-door"}.items():
        teller.goto(live_url + path)
        shoot(teller, name)
        assert_no_axe_violations(teller)
    teller.goto(f"{live_url}/applications/intake")
    teller.fill("#doc_number", citizen_id())
    _submit(teller)
    shoot(teller, "applications-intake-details")
    assert_no_axe_violations(teller)
    # bad input: the message beside the field, in the reader's language
    teller.fill("#phone", "123")
    teller.check("#id_verified")
    _submit(teller)
    assert teller.locator(".field.has-error").count() >= 1
    shoot(teller, "applications-intake-errors")
    assert_no_axe_violations(teller)
