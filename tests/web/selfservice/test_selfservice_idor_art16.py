"""The holder never sees another person's data in the self-service pages (issue 15 item 5; Art. 16, 19): every
page of the area is walked signed in as one holder while another holder's card, complaint and corrections
exist; nothing of the other's appears. The only id in a URL (a complaint) answers 404 for another's, as for
none. Posts act on the signed-in holder's own card only: the other's card stays as it was."""
from __future__ import annotations

import re

from flask import current_app

from app.models.complaint import ComplaintKind, PartyKind
from app.models.enums import CardStatus
from app.services import resident, selfservice
from tests.factories import snapshot
from tests.web.conftest import csrf_from, page_html

AREA = "phone.self."


def _two(world, session):
    mine = world.card(CardStatus.ACTIVE)
    theirs = world.card(CardStatus.ACTIVE, person=world.person(name="李四海", phone="13900001111",
                                                               address="广州市番禺区市桥街9号"))
    actor = world.resident(theirs.person_id)
    filed = resident.file_complaint(session, actor, kind=ComplaintKind.COMPLAINT, party_kind=PartyKind.ISSUING,
                                    summary="Their own complaint text, secret.")
    selfservice.file(session, actor, field="occupation", proposed_value="潜水员", reason="their reason")
    session.commit()
    return mine, theirs, filed.complaint


def _theirs(session, person_id) -> dict:
    """What a step could change of the other holder (the snapshot's global event count aside: the holder's
    own steps add events), and the other's own events."""
    from sqlalchemy import func, select

    from app.models import CardEvent

    snap = snapshot(session, [person_id])
    snap.pop("events")
    snap.pop("all_cards")
    snap["own_events"] = session.scalar(select(func.count()).select_from(CardEvent)
                                        .where(CardEvent.person_id == person_id))
    return snap


def _secrets(theirs) -> list[str]:
    p = theirs.person
    return [p.name, p.doc_number, p.phone, theirs.number, p.ssn, "广州市番禺区市桥街9号", "潜水员", "secret"]


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith(AREA)]


def test_every_self_service_page_shows_only_the_holders_own_data_art16_20(app, client, session, world, phone_login):
    mine, theirs, their_complaint = _two(world, session)
    phone_login(mine.person)
    walked = []
    for rule in _rules(app):
        if "<" in rule.rule:
            continue
        html = page_html(client.get(rule.rule))
        for s in _secrets(theirs):
            assert s not in html, f"{rule.rule} shows the other holder's {s!r}"
        walked.append(rule.endpoint)
    assert len(walked) >= 9, walked
    assert mine.number in page_html(client.get("/m/self/"))


def test_another_holders_complaint_is_404_like_none_art16_29(app, client, session, world, phone_login):
    mine, theirs, their_complaint = _two(world, session)
    phone_login(mine.person)
    a = page_html(client.get(f"/m/self/complaints/{their_complaint.id}"), 404)
    b = page_html(client.get(f"/m/self/complaints/{their_complaint.id + 1000}"), 404)
    for s in [*_secrets(theirs), their_complaint.reference]:
        assert s not in a

    def main(html: str) -> str:
        return html.split("<main", 1)[1].split("</main>", 1)[0]

    assert re.sub(r"\d+", "N", main(a)) == re.sub(r"\d+", "N", main(b))  # the same answer, the number aside
    assert [r.rule for r in _rules(app) if "<" in r.rule] == ["/m/self/complaints/<int:complaint_id>"], \
        "a new page with an id in its URL needs its IDOR check here"


def test_posts_act_on_the_holders_own_card_only_art16_19(app, client, session, world, phone_login):
    mine, theirs, _ = _two(world, session)
    phone_login(mine.person)
    before = _theirs(session, theirs.person_id)
    token = csrf_from(page_html(client.get("/m/self/")))
    # even with the other's card id and version smuggled into the form, the page acts on the holder's own card
    for path, data in (("/m/self/fields", {"field": "transport", "card_id": theirs.id}),
                       ("/m/self/loss", {"card_id": theirs.id, "person_id": theirs.person_id})):
        resp = client.post(path, data={**data, "csrf_token": token})
        assert resp.status_code in (302, 412), (path, resp.status_code)  # no version: applied to the own card
    assert _theirs(session, theirs.person_id) == before
    from app.models import Card, FieldStatus
    from app.models.enums import Field

    assert session.get(FieldStatus, (mine.person_id, Field.TRANSPORT)).locked is True
    assert session.get(Card, mine.id).status is CardStatus.LOSS_REGISTERED


def test_pages_are_for_the_signed_in_holder_only_art19(app, client, session, world):
    for rule in _rules(app):
        path = rule.rule.replace("<int:complaint_id>", "1")
        resp = client.get(path)
        assert resp.status_code == 302 and "/m/login" in resp.headers["Location"], path
        if "POST" in rule.methods:
            assert client.post(path, data={}).status_code in (400, 401), path  # CSRF first, then sign-in
        view = current_app.view_functions[rule.endpoint]
        assert {str(r) for r in view.policy} == {"resident"}
