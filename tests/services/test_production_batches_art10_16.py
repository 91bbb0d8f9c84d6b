"""Production batches (Art. 5, 10, 16, 17): cards go to the factory through the state machine, the factory's
file carries only the card face and is an audited reveal, and the import of produced cards applies every
row or none, naming each wrong row."""
from __future__ import annotations

import base64
import csv
import io
import threading

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEntry, Card, CardEvent, ProductionBatchItem
from app.models.enums import CardStatus
from app.models.production import BatchStatus
from app.services import production
from app.services.documents import card_number
from app.services.errors import ChannelNotAllowed, IllegalTransition, InvalidInput, OutOfScope
from app.services.production import EXPORT_COLUMNS, ImportRefused
from tests.factories import snapshot


def accepted(world, n: int) -> list[Card]:
    return [world.card(CardStatus.ACCEPTED) for _ in range(n)]


def csv_file(*rows: list[str], header=("card_number",)) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def xlsx_file(*rows: list, header=("batch", "card_number")) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(list(header))
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_a_batch_starts_production_of_the_accepted_cards_earliest_due_first_art10(session, world):
    cards = accepted(world, 3)
    batch = production.create_batch(session, world.clerk)
    assert batch.reference.startswith("PB-") and batch.status is BatchStatus.SENT
    rows = production.batch_cards(session, batch)
    assert [c.id for _, c in rows] == [c.id for c in cards]
    assert all(c.status is CardStatus.IN_PRODUCTION for _, c in rows)
    # each card moved by the state machine: one start_production event with its article
    for c in cards:
        ev = session.scalars(select(CardEvent).where(CardEvent.card_id == c.id,
                                                     CardEvent.operation == "start_production")).one()
        assert (ev.from_status, ev.to_status, ev.article) == ("accepted", "in_production", "Art. 5, 10")
    # nothing left waiting: another batch has nothing to take
    with pytest.raises(InvalidInput):
        production.create_batch(session, world.clerk)


def test_a_batch_of_named_cards_refuses_a_card_not_accepted_with_the_article_art10(session, world):
    ok = world.card(CardStatus.ACCEPTED)
    applied = world.card(CardStatus.APPLIED)
    session.commit()
    before = snapshot(session, [ok.person_id, applied.person_id])
    with pytest.raises(IllegalTransition) as e:
        production.create_batch(session, world.clerk, [ok.id, applied.id])
    assert e.value.article == "Art. 5, 10"
    session.rollback()
    assert snapshot(session, [ok.person_id, applied.person_id]) == before


def test_only_the_issuing_agency_sends_cards_to_the_factory_art5(session, world):
    world.card(CardStatus.ACCEPTED)
    with pytest.raises(ChannelNotAllowed):
        production.create_batch(session, world.teller)


def test_the_factory_file_carries_only_the_card_face_in_full_and_is_an_audited_reveal_art16_17(session, world):
    cards = accepted(world, 2)
    batch = production.create_batch(session, world.clerk)
    name, ctype, data = production.export_batch(session, world.clerk, batch.id, "csv")
    assert name == f"{batch.reference}.csv" and ctype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    person = cards[0].person
    assert rows[0]["card_number"] == cards[0].number
    assert rows[0]["name"] == person.name and rows[0]["ssn"] == person.ssn  # printed in full
    assert base64.b64decode(rows[0]["photo_base64"]) == person.photo
    assert rows[0]["bank_code"] == "ICBC-GZ" and rows[0]["batch"] == batch.reference
    # Art. 16: nothing the factory does not print: no phone, address, ID document number
    text = data.decode("utf-8-sig")
    assert person.phone not in text and person.address not in text
    reveals = session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal.production_export")).all()
    assert sorted(e.person_id for e in reveals) == sorted(c.person_id for c in cards)
    assert reveals[0].record["purpose"].startswith("card_production")
    assert reveals[0].record["fields"] == ["name", "photo", "ssn"]
    assert person.name not in str(reveals[0].record)  # the trail names the fields, never their values


def test_the_factory_file_as_xlsx_has_the_same_rows_and_no_formula_art17(session, world):
    person = world.person(name="=HYPERLINK(1)")
    card = world.card(CardStatus.ACCEPTED, person=person)
    batch = production.create_batch(session, world.clerk)
    _, ctype, data = production.export_batch(session, world.clerk, batch.id, "xlsx")
    assert ctype.endswith("spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(data)).active
    values = list(ws.values)
    assert values[0] == EXPORT_COLUMNS
    assert values[1][2] == card.number and values[1][3] == "=HYPERLINK(1)"
    assert ws.cell(row=2, column=4).data_type == "s"  # text, not a formula


def test_the_factory_file_as_csv_keeps_a_name_from_running_as_a_formula_art17(session, world):
    """CSV injection: a name typed at a counter that starts like a formula is written as text (a leading
    apostrophe), so a spreadsheet program opening the file shows it and runs nothing."""
    world.card(CardStatus.ACCEPTED, person=world.person(name="=HYPERLINK(1)"))
    world.card(CardStatus.ACCEPTED, person=world.person(name="-张三"))
    plain = world.card(CardStatus.ACCEPTED)
    batch = production.create_batch(session, world.clerk)
    _, _, data = production.export_batch(session, world.clerk, batch.id, "csv")
    names = {r["card_number"]: r["name"] for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))}
    assert sorted(n for n in names.values() if n.startswith("'")) == ["'-张三", "'=HYPERLINK(1)"]
    assert names[plain.number] == plain.person.name  # an ordinary name as it is


def test_a_teller_may_not_receive_the_factory_file_art16(session, world):
    accepted(world, 1)
    batch = production.create_batch(session, world.clerk)
    with pytest.raises(OutOfScope):
        production.export_batch(session, world.teller, batch.id, "csv")


def test_the_import_marks_the_listed_cards_produced_and_completes_the_batch_art10(session, world):
    cards = accepted(world, 3)
    batch = production.create_batch(session, world.clerk)
    first = production.import_produced(session, world.clerk, batch.id, csv_file([cards[0].number], [cards[1].number]))
    assert first.produced == [cards[0].number, cards[1].number] and first.remaining == 1
    assert batch.status is BatchStatus.SENT
    session.refresh(cards[0])
    assert cards[0].status is CardStatus.PRODUCED
    ev = session.scalars(select(CardEvent).where(CardEvent.card_id == cards[0].id,
                                                 CardEvent.operation == "finish_production")).one()
    assert ev.to_status == "produced"
    last = production.import_produced(session, world.clerk, batch.id,
                                      xlsx_file([batch.reference, cards[2].number.lower()]))
    assert last.remaining == 0 and batch.status is BatchStatus.COMPLETE and batch.completed_at


def test_an_import_with_wrong_rows_names_each_row_and_applies_none_art10(session, world):
    cards = accepted(world, 2)
    other = accepted(world, 1)
    batch = production.create_batch(session, world.clerk, [c.id for c in cards])
    other_batch = production.create_batch(session, world.clerk, [other[0].id])
    waiting = world.card(CardStatus.ACCEPTED)  # in no batch
    session.commit()
    ids = [c.person_id for c in (*cards, *other, waiting)]
    before = snapshot(session, ids)
    bad_check = cards[1].number[:-1] + ("0" if cards[1].number[-1] != "0" else "1")
    unknown = next(card_number(s) for s in range(9_000_000, 9_000_100) if card_number(s)[-1] != "*")
    data = csv_file([cards[0].number, batch.reference], [cards[0].number, batch.reference],
                    [bad_check, ""], [unknown, ""], [other[0].number, ""], [waiting.number, ""],
                    ["", batch.reference], [cards[1].number, other_batch.reference],
                    header=("card_number", "batch"))
    with pytest.raises(ImportRefused) as e:
        production.import_produced(session, world.clerk, batch.id, data)
    session.rollback()
    got = [(r.line, r.code) for r in e.value.errors]
    assert got == [(3, "duplicate"), (4, "check_digit"), (5, "unknown_card"), (6, "wrong_batch"),
                   (7, "wrong_batch"), (8, "missing"), (9, "batch_mismatch")]
    assert other_batch.reference in e.value.errors[3].message
    assert e.value.extra["rows"][0]["line"] == 3
    assert snapshot(session, ids) == before  # nothing half-imported
    assert session.scalar(select(ProductionBatchItem.produced_at).where(
        ProductionBatchItem.card_id == cards[0].id)) is None


def test_a_card_already_produced_is_a_row_error_on_a_second_import_art10(session, world):
    cards = accepted(world, 2)
    batch = production.create_batch(session, world.clerk)
    production.import_produced(session, world.clerk, batch.id, csv_file([cards[0].number]))
    with pytest.raises(ImportRefused) as e:
        production.import_produced(session, world.clerk, batch.id, csv_file([cards[1].number], [cards[0].number]))
    assert [(r.line, r.code) for r in e.value.errors] == [(3, "already_produced")]


@pytest.mark.parametrize("data, message", [
    (b"", "empty"), (b"\xff\xfe\x00garbage", "neither"), (b"number\nA1\n", "card_number"),
    (b"card_number\n", "no card"), (b"PK\x03\x04broken", "XLSX"),
])
def test_an_unreadable_import_file_is_refused_whole_art10(session, world, data, message):
    accepted(world, 1)
    batch = production.create_batch(session, world.clerk)
    with pytest.raises(InvalidInput) as e:
        production.import_produced(session, world.clerk, batch.id, data)
    assert message in e.value.detail and e.value.extra["field"] == "file"


def test_only_the_issuing_agency_imports_the_factory_file_art5(session, world):
    cards = accepted(world, 1)
    batch = production.create_batch(session, world.clerk)
    with pytest.raises(ChannelNotAllowed):
        production.import_produced(session, world.teller, batch.id, csv_file([cards[0].number]))


def test_two_imports_of_one_batch_at_once_produce_each_card_once_art10(app, db, session, world, backend):
    if backend == "sqlite":
        pytest.skip("row locks and concurrent transactions: PostgreSQL only")
    cards = accepted(world, 2)
    batch = production.create_batch(session, world.clerk)
    session.commit()
    batch_id, clerk = batch.id, world.clerk
    data = csv_file([cards[0].number], [cards[1].number])
    barrier, results = threading.Barrier(2), {}

    def worker(name):
        with app.app_context(), Session(db.engine) as s:
            try:
                barrier.wait(timeout=10)
                production.import_produced(s, clerk, batch_id, data)
                s.commit()
                results[name] = "ok"
            except BaseException as e:  # noqa: BLE001
                s.rollback()
                results[name] = e

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(map(str, results.values())).count("ok") == 1, results
    loser = next(r for r in results.values() if r != "ok")
    assert isinstance(loser, ImportRefused) and {e.code for e in loser.errors} == {"already_produced"}
    session.expire_all()
    events = session.scalars(select(CardEvent).where(CardEvent.operation == "finish_production")).all()
    assert sorted(e.card_id for e in events) == sorted(c.id for c in cards)
