"""The working-day calendar through the API (Art. 10, 25): what is in force and where it came from,
"is D a working day", "when is an acceptance on D due", and loads the Bureau must confirm."""
from __future__ import annotations

from app.models.enums import CardStatus
from tests.api.conftest import assert_problem, row_counts
from tests.services.test_deadlines_art10 import IMPLAUSIBLE_2026, SCHEDULE_2027, _at

YEARS = "/api/calendar/years"


def body(schedule: dict, **extra) -> dict:
    return {**{k: v for k, v in schedule.items() if k != "year"}, **extra}


def test_year_shows_the_schedule_in_force_and_its_source_art10(client, world, auth):
    """Art. 10: GET /api/calendar/years/{year}: the package's 2026, the weekdays-only 2027 (due dates
    provisional), and 2027 once the Bureau loaded it, with who loaded it."""
    h = auth(world, "clerk")
    y2026 = client.get(f"{YEARS}/2026", headers=h)
    assert y2026.status_code == 200, y2026.get_data(as_text=True)
    y2026 = y2026.get_json()
    assert (y2026["basis"], y2026["provisional"]) == ("package", False)
    assert y2026["source"].startswith("chinesecalendar")
    assert "2026-10-01" in y2026["holidays"] and "2026-10-10" in y2026["workdays"]

    y2027 = client.get(f"{YEARS}/2027", headers=h).get_json()
    assert (y2027["basis"], y2027["provisional"], y2027["holidays"], y2027["workdays"]) == \
        ("weekdays", True, [], [])

    bureau = auth(world, "bureau")
    assert client.put(f"{YEARS}/2027", json=body(SCHEDULE_2027), headers=bureau).status_code == 200
    loaded = client.get(f"{YEARS}/2027", headers=h).get_json()
    assert (loaded["basis"], loaded["provisional"], loaded["source"]) == ("loaded", False, SCHEDULE_2027["source"])
    assert loaded["holidays"] == sorted(SCHEDULE_2027["holidays"])
    assert loaded["loaded_by"].startswith("staff:") and loaded["loaded_at"]
    assert_problem(client.get(f"{YEARS}/1800", headers=h), 422)


def test_day_answers_working_day_and_due_date_for_an_acceptance_art10(client, world, auth):
    """Art. 10, 25: GET /api/calendar/days/{date}: whether D is a working day, and the due date of
    an application accepted on D (12 working days, D itself not counted)."""
    h = auth(world, "teller")  # the counter tells the applicant when the card is due
    eve = client.get("/api/calendar/days/2026-09-30", headers=h)
    assert eve.status_code == 200, eve.get_data(as_text=True)
    assert eve.get_json() == {"date": "2026-09-30", "working_day": True, "provisional": False, "basis": "package",
                              "due_if_accepted": {"due_on": "2026-10-22", "provisional": False,
                                                  "working_days": 12}}
    assert client.get("/api/calendar/days/2026-10-01", headers=h).get_json()["working_day"] is False
    assert client.get("/api/calendar/days/2026-10-10", headers=h).get_json()["working_day"] is True  # 调休上班
    new_year = client.get("/api/calendar/days/2027-01-01", headers=h).get_json()
    assert (new_year["working_day"], new_year["provisional"], new_year["basis"]) == (True, True, "weekdays")
    assert new_year["due_if_accepted"]["provisional"] is True
    for bad in ("2026-02-30", "20260930", "tomorrow"):
        assert "date" in assert_problem(client.get(f"/api/calendar/days/{bad}", headers=h), 422)["detail"]


def test_implausible_year_is_previewed_and_needs_confirmation_art10(client, world, auth, clock, db):
    """Art. 10, 25: PUT of a year with only New Year's Day off and no adjusted working day is
    answered 409 with the warnings and the due dates it would move, and changes nothing; the
    preview endpoint shows the same; with "confirm": true it is applied."""
    clock.set(_at(__import__("datetime").date(2026, 9, 30)))
    card = world.card(CardStatus.ACCEPTED)
    bureau = auth(world, "bureau")
    before = row_counts(db)
    refused = assert_problem(client.put(f"{YEARS}/2026", json=body(IMPLAUSIBLE_2026), headers=bureau), 409)
    assert refused["type"].endswith("confirmation-required") and "confirm" in refused["detail"]
    assert len(refused["warnings"]) == 2
    assert refused["changes"] == [{"application_id": card.application.id, "card_id": card.id,
                                   "accepted_on": "2026-09-30", "due_on": "2026-10-22",
                                   "new_due_on": "2026-10-16", "provisional": False, "new_provisional": False}]
    assert row_counts(db) == before

    preview = client.post(f"{YEARS}/2026/preview", json=body(IMPLAUSIBLE_2026), headers=bureau)
    assert preview.status_code == 200, preview.get_data(as_text=True)
    assert preview.get_json() == {"year": 2026, "plausible": False, "warnings": refused["warnings"],
                                  "changed": 1, "changes": refused["changes"]}
    assert row_counts(db) == before

    done = client.put(f"{YEARS}/2026", json=body(IMPLAUSIBLE_2026, confirm=True), headers=bureau)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["recomputed"] == 1 and done.get_json()["warnings"] == refused["warnings"]
    assert client.get(f"{YEARS}/2026", headers=bureau).get_json()["basis"] == "loaded"


def test_calendar_reads_and_preview_are_not_open_to_everyone(client, world, auth):
    resident_like = auth(world, "medical")
    assert_problem(client.get(f"{YEARS}/2026", headers=resident_like), 403)
    assert_problem(client.get("/api/calendar/days/2026-09-30", headers=resident_like), 403)
    assert_problem(client.post(f"{YEARS}/2026/preview", json=body(SCHEDULE_2027), headers=auth(world, "clerk")), 403)
