"""Door-to-door requests over HTTP (Art. 8 ¶2): masked answers, bank tellers only, problem+json."""
from __future__ import annotations

from tests.api.conftest import assert_problem, row_counts

VISIT = {"name": "李阿婆", "phone": "13800138000", "address": "广州市越秀区东风中路5号", "reason": "disabled"}


def test_a_teller_files_and_lists_requests_masked_art8_16(client, db, world, auth):
    teller = auth(world, "teller")
    resp = client.post("/api/home-visits/", headers=teller, json=VISIT)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["name"] == "李*婆" and body["phone"] == "138****8000" and body["status"] == "open"
    listed = client.get("/api/home-visits/", headers=teller).get_json()
    assert [r["id"] for r in listed] == [body["id"]]
    resp = client.post(f"/api/home-visits/{body['id']}/cancellation", headers=teller, json={"outcome": "moved away"})
    assert resp.get_json()["status"] == "cancelled"


def test_bad_input_and_other_roles_are_refused_art8(client, db, world, auth):
    teller, clerk = auth(world, "teller"), auth(world, "clerk")
    before = row_counts(db)
    assert_problem(client.post("/api/home-visits/", headers=clerk, json=VISIT), 403)
    body = assert_problem(client.post("/api/home-visits/", headers=teller, json={**VISIT, "phone": "123"}), 422)
    assert body["field"] == "phone"
    assert_problem(client.post("/api/home-visits/", headers=teller, json={**VISIT, "reason": "x"}), 422)
    assert_problem(client.post("/api/home-visits/9/schedule", headers=teller, json={"visit_on": "2030-01-01"}), 404)
    assert row_counts(db) == before
