"""Production batches over HTTP (Art. 5, 10, 16, 17): create, list, the factory's file, the import of
produced cards with row-level errors as problem+json, nothing written on a refusal."""
from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.models import AuditEntry, ProductionBatch
from app.models.enums import CardStatus
from tests.api.conftest import assert_problem, card_rows, committed_scalar, row_counts


def _accepted(world, n):
    return [world.card(CardStatus.ACCEPTED) for _ in range(n)]


def _csv(*numbers, header="card_number"):
    return ("\r\n".join([header, *numbers]) + "\r\n").encode()


def _upload(client, headers, batch_id, data, name="produced.csv"):
    return client.post(f"/api/production-batches/{batch_id}/import", headers=headers,
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def test_a_clerk_creates_a_batch_lists_it_and_downloads_the_factory_file_art10_17(client, db, world, auth):
    cards = _accepted(world, 2)
    clerk = auth(world, "clerk")
    resp = client.post("/api/production-batches/", headers=clerk, json={})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    batch = resp.get_json()
    assert (batch["cards"], batch["produced"], batch["status"]) == (2, 0, "sent")
    listed = client.get("/api/production-batches/", headers=clerk).get_json()
    assert [b["reference"] for b in listed] == [batch["reference"]]
    detail = client.get(f"/api/production-batches/{batch['id']}", headers=clerk).get_json()
    assert [e["status"] for e in detail["entries"]] == ["in_production", "in_production"]

    seq_before = committed_scalar(db, select(func.count()).select_from(AuditEntry))
    resp = client.get(f"/api/production-batches/{batch['id']}/export.csv", headers=clerk)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert batch["reference"] in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert [r["card_number"] for r in rows] == [c.number for c in cards]
    # the reveal is committed before the file leaves (Art. 16)
    assert committed_scalar(db, select(func.count()).select_from(AuditEntry)) == seq_before + 2

    resp = client.get(f"/api/production-batches/{batch['id']}/export.xlsx", headers=clerk)
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.get_data())).active
    assert [r[2] for r in list(ws.values)[1:]] == [c.number for c in cards]


def test_the_import_marks_cards_produced_over_http_art10(client, db, world, auth):
    cards = _accepted(world, 2)
    clerk = auth(world, "clerk")
    batch = client.post("/api/production-batches/", headers=clerk, json={"card_ids": [c.id for c in cards]}).get_json()
    resp = _upload(client, clerk, batch["id"], _csv(*(c.number for c in cards)))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["produced"] == [c.number for c in cards] and body["remaining"] == 0
    assert body["batch"]["status"] == "complete"
    assert {r[1] for r in card_rows(db)} == {"produced"}


def test_an_import_with_wrong_rows_is_a_problem_listing_the_rows_and_writes_nothing_art10(client, db, world, auth):
    cards = _accepted(world, 1)
    clerk = auth(world, "clerk")
    batch = client.post("/api/production-batches/", headers=clerk, json={}).get_json()
    before, cards_before = row_counts(db), card_rows(db)
    resp = _upload(client, clerk, batch["id"], _csv(cards[0].number, "Z00000000", cards[0].number))
    body = assert_problem(resp, 422, article="Art. 5, 10")
    assert body["field"] == "file"
    assert [(r["line"], r["code"]) for r in body["rows"]] == [(3, "check_digit"), (4, "duplicate")]
    assert row_counts(db) == before and card_rows(db) == cards_before


def test_a_teller_may_not_create_export_or_import_a_batch_art5_16(client, db, world, auth):
    _accepted(world, 1)
    clerk, teller = auth(world, "clerk"), auth(world, "teller")
    assert_problem(client.post("/api/production-batches/", headers=teller, json={}), 403, article="Art. 5, 10")
    batch = client.post("/api/production-batches/", headers=clerk, json={}).get_json()
    assert_problem(client.get(f"/api/production-batches/{batch['id']}/export.csv", headers=teller), 403)
    assert_problem(_upload(client, teller, batch["id"], _csv("A00000017")), 403)
    # the Bureau sees the batches, not the factory's file
    bureau = auth(world, "bureau")
    assert client.get("/api/production-batches/", headers=bureau).status_code == 200
    assert_problem(client.get(f"/api/production-batches/{batch['id']}/export.csv", headers=bureau), 403)


def test_bad_input_to_batches_is_problem_json_art10(client, db, world, auth):
    clerk = auth(world, "clerk")
    assert_problem(client.post("/api/production-batches/", headers=clerk, json={}), 422)  # nothing waiting
    assert_problem(client.post("/api/production-batches/", headers=clerk, json={"card_ids": []}), 422)
    assert_problem(client.post("/api/production-batches/", headers=clerk, json={"limit": 0}), 422)
    assert_problem(client.get("/api/production-batches/999/export.csv", headers=clerk), 404)
    assert_problem(client.post("/api/production-batches/999/import", headers=clerk), 422)  # no file
    assert_problem(_upload(client, clerk, 999, _csv("A00000017")), 404)
    assert committed_scalar(db, select(func.count()).select_from(ProductionBatch)) == 0
