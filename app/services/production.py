"""Production batches: the card agency sends accepted cards to the card factory and records the cards
it made (Art. 5, 10, 17, 25).

* :func:`create_batch` groups accepted cards into a batch, each moved ``accepted → in_production`` by
  :func:`lifecycle.start_production` (the state machine decides; nothing is restated here).
* :func:`export_batch` writes the factory's file, CSV or XLSX. It carries only what the factory needs to
  print and personalise the card (Art. 16 least privilege; the card face of Art. 17): see
  :data:`EXPORT_COLUMNS`. Name, social security number and photo go in full, since they are printed; it
  is a reveal of those values for the purpose ``card_production``, checked against the disclosure table
  and on the audit trail for every holder in the batch.
* :func:`import_produced` reads the factory's file of produced card numbers (CSV or XLSX), checks every
  row, and then either moves every listed card ``in_production → produced``
  (:func:`lifecycle.finish_production`) or, if any row is wrong, none: :class:`ImportRefused` lists the
  row-level errors. Two imports of one batch serialize on the batch row.
"""
from __future__ import annotations

import base64
import csv
import io
import zipfile
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.models import Bank, Card, CardApplication, ProductionBatch, ProductionBatchItem, next_value
from app.models.enums import CardStatus
from app.models.production import BatchStatus
from app.i18n import N_
from app.services import audit, clock, disclosure, lifecycle
from app.services.actor import Actor
from app.services.documents import is_valid_card_number
from app.services.errors import InvalidInput, NotFound, OutOfScope
from app.services.lifecycle_rules import Op, article_of

MAX_BATCH = 1000  # cards per batch: one factory file
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
XLSX_CELL_MAX = 32767  # Excel's limit on one cell's text

# The factory's file (Art. 16, 17): the card face (card number, name, social security number, photo), the
# bank whose financial account the card carries (Art. 13), the card kind, and the batch. Not the ID
# document number (the social security number is the printed number), phone, addresses, ethnicity, sex,
# occupation or eligibility: the factory needs none of them to print or personalise the card.
EXPORT_COLUMNS = ("batch", "line", "card_number", "name", "ssn", "photo_base64", "bank_code", "card_kind")
# The full values the export reveals, as the disclosure table names them.
EXPORT_REVEALS = frozenset({disclosure.Revealable.NAME, disclosure.Revealable.SSN, disclosure.Revealable.PHOTO})

# The columns the factory's file of produced cards carries: the card number, and optionally the batch
# (then it must be this one).
IMPORT_CARD_COLUMN = "card_number"
IMPORT_BATCH_COLUMN = "batch"

CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---------------------------------------------------------------- batches


def _batch(session: Session, batch_id: int, *, lock: bool = False) -> ProductionBatch:
    q = select(ProductionBatch).where(ProductionBatch.id == batch_id)
    if lock:  # two imports of one batch serialize here (SELECT … FOR UPDATE on PostgreSQL)
        q = q.with_for_update().execution_options(populate_existing=True)
    batch = session.scalars(q).one_or_none()
    if batch is None:
        raise NotFound("No production batch {batch_id}.", params={"batch_id": batch_id})
    return batch


def get_batch(session: Session, batch_id: int) -> ProductionBatch:
    return _batch(session, batch_id)


def waiting_cards(session: Session, *, limit: int = MAX_BATCH) -> list[Card]:
    """Accepted cards not yet sent to the factory, the earliest due first (Art. 10, 25)."""
    q = (select(Card).join(CardApplication, CardApplication.card_id == Card.id)
         .outerjoin(ProductionBatchItem, ProductionBatchItem.card_id == Card.id)
         .where(Card.status == CardStatus.ACCEPTED, ProductionBatchItem.id.is_(None))
         .order_by(CardApplication.due_on, Card.id).limit(limit))
    return list(session.scalars(q))


def create_batch(session: Session, actor: Actor, card_ids: list[int] | None = None,
                 *, limit: int = MAX_BATCH) -> ProductionBatch:
    """A batch of accepted cards for the factory; each card starts production through the state machine
    (Art. 5, 10). ``card_ids``: these cards (each must be accepted, else the step is refused with its
    article and nothing is written); none: every accepted card waiting, the earliest due first."""
    lifecycle.check_channel(Op.START_PRODUCTION, actor)
    if card_ids is not None:
        ids = list(dict.fromkeys(card_ids))
        if not ids:
            raise InvalidInput("Name at least one card for the batch.", field="card_ids")
        if len(ids) > MAX_BATCH:
            raise InvalidInput("A batch holds at most {n} cards.", params={"n": MAX_BATCH}, field="card_ids")
    else:
        ids = [c.id for c in waiting_cards(session, limit=min(max(limit, 1), MAX_BATCH))]
        if not ids:
            raise InvalidInput("No accepted card is waiting for production.", field="card_ids")
    today = clock.today()
    serial = next_value(session, "production_batch")
    batch = ProductionBatch(reference=f"PB-{today:%Y%m%d}-{serial:04d}", status=BatchStatus.SENT,
                            created_at=clock.now(), created_by=actor.user_id)
    session.add(batch)
    session.flush()
    for card_id in ids:
        lifecycle.start_production(session, actor, card_id)  # refuses a card that is not accepted
        session.add(ProductionBatchItem(batch_id=batch.id, card_id=card_id))
    session.flush()
    audit.record(session, actor, "production.batch", subject=f"batch:{batch.reference}",
                 changes={"cards": len(ids)})
    return batch


@dataclass(frozen=True)
class BatchSummary:
    batch: ProductionBatch
    cards: int
    produced: int


def list_batches(session: Session, *, status: BatchStatus | None = None) -> list[BatchSummary]:
    produced = func.count(ProductionBatchItem.produced_at)
    q = (select(ProductionBatch, func.count(ProductionBatchItem.id), produced)
         .outerjoin(ProductionBatchItem, ProductionBatchItem.batch_id == ProductionBatch.id)
         .group_by(ProductionBatch.id).order_by(ProductionBatch.id.desc()))
    if status is not None:
        q = q.where(ProductionBatch.status == status)
    return [BatchSummary(b, n, p) for b, n, p in session.execute(q)]


def summary(session: Session, batch: ProductionBatch) -> BatchSummary:
    n, p = session.execute(select(func.count(ProductionBatchItem.id), func.count(ProductionBatchItem.produced_at))
                           .where(ProductionBatchItem.batch_id == batch.id)).one()
    return BatchSummary(batch, n, p)


def batch_cards(session: Session, batch: ProductionBatch) -> list[tuple[ProductionBatchItem, Card]]:
    return list(session.execute(
        select(ProductionBatchItem, Card).join(Card, Card.id == ProductionBatchItem.card_id)
        .options(selectinload(Card.person))  # one query for the holders, not one per card
        .where(ProductionBatchItem.batch_id == batch.id).order_by(ProductionBatchItem.id)))


# ---------------------------------------------------------------- the factory's file


def _check_export_grant(actor: Actor) -> None:
    """The export reveals full values: the role must have the purpose ``card_production`` and may reveal
    name, social security number and photo of any holder (``disclosure.DISCLOSURE``, Art. 16)."""
    rule = disclosure.PURPOSES[disclosure.Purpose.CARD_PRODUCTION]
    grant = disclosure.REVEAL.get(actor.role)
    if (actor.role not in rule.roles or grant is None or not EXPORT_REVEALS <= grant.fields
            or grant.scope is not disclosure.Scope.ANY):
        raise OutOfScope("The role '{role}' may not receive the card factory's file.", params={"role": str(actor.role)},
                         article="Art. 16")


def export_rows(session: Session, actor: Actor, batch_id: int) -> tuple[ProductionBatch, list[dict]]:
    """The factory's rows of a batch, in full (see :data:`EXPORT_COLUMNS`); every holder's reveal is on the
    audit trail with the purpose and the batch, in the caller's transaction (Art. 16)."""
    _check_export_grant(actor)
    batch = _batch(session, batch_id)
    banks = {b.id: b.code for b in session.scalars(select(Bank))}
    rows = []
    purpose = f"{disclosure.Purpose.CARD_PRODUCTION}: card factory file of batch {batch.reference}"
    fields = sorted(str(f) for f in EXPORT_REVEALS)
    for line, (item, card) in enumerate(batch_cards(session, batch), start=1):
        person = card.person
        rows.append({
            "batch": batch.reference, "line": line, "card_number": card.number, "name": person.name,
            "ssn": person.ssn, "photo_base64": base64.b64encode(person.photo).decode("ascii") if person.photo else "",
            "bank_code": banks.get(card.bank_id, ""), "card_kind": str(card.kind),
        })
        audit.record(session, actor, "reveal.production_export", person_id=person.id, purpose=purpose,
                     fields=fields, subject=f"batch:{batch.reference}")
    return batch, rows


# A spreadsheet program opening the CSV runs a cell that starts with one of these as a formula (CSV
# injection). Only free text typed at a counter can start so: the name. It gets a leading apostrophe,
# which spreadsheet programs show as text and the factory's import reads as part of no card number.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FREE_TEXT_COLUMNS = ("name",)


def _as_text(row: dict) -> dict:
    return {k: "'" + v if k in FREE_TEXT_COLUMNS and isinstance(v, str) and v.startswith(FORMULA_START) else v
            for k, v in row.items()}


def to_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    w.writeheader()
    w.writerows(_as_text(r) for r in rows)
    return buf.getvalue().encode("utf-8-sig")  # with a BOM, so spreadsheet programs read the Chinese names


def to_xlsx(rows: list[dict], title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    ws.append(list(EXPORT_COLUMNS))
    for row in rows:
        cells = []
        for key in EXPORT_COLUMNS:
            value = row[key]
            if isinstance(value, str) and len(value) > XLSX_CELL_MAX:
                raise InvalidInput("The photo of card {number} is too large for an XLSX cell; export the batch as CSV.",
                                   params={"number": row["card_number"]}, field="format")
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, never a formula, whatever it starts with
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def export_batch(session: Session, actor: Actor, batch_id: int, fmt: str) -> tuple[str, str, bytes]:
    """(file name, content type, bytes) of the factory's file in ``fmt`` (``csv`` or ``xlsx``)."""
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput("The factory's file is csv or xlsx.", field="format")
    batch, rows = export_rows(session, actor, batch_id)
    if fmt == "csv":
        return f"{batch.reference}.csv", CSV_TYPE, to_csv(rows)
    return f"{batch.reference}.xlsx", XLSX_TYPE, to_xlsx(rows, batch.reference)


# ---------------------------------------------------------------- importing produced cards


@dataclass(frozen=True)
class RowError:
    """One wrong row of an import. ``line``: the line of the file (the header is line 1); ``code``: a stable
    name of the problem, for a page to show in the clerk's language."""

    line: int
    card_number: str
    code: str
    template: str  # the English source message, with {placeholders} (a page translates it)
    params: dict

    @property
    def message(self) -> str:
        return self.template.format(**self.params)

    def to_json(self) -> dict:
        return {"line": self.line, "card_number": self.card_number, "code": self.code, "message": self.message}


class ImportRefused(InvalidInput):
    """The import names wrong rows: nothing of it was applied. ``rows``: the row-level errors."""

    type, title = "import-refused", "Import refused: wrong rows"

    def __init__(self, errors: list[RowError]):
        super().__init__("{n} row(s) of the file are wrong; nothing was imported. Correct them and import the "
                         "whole file again.", params={"n": len(errors)}, article=article_of(Op.FINISH_PRODUCTION),
                         field="file", rows=[e.to_json() for e in errors])
        self.errors = errors


def read_table(data: bytes) -> list[dict[str, str]]:
    """The rows of a CSV (UTF-8, with or without BOM) or XLSX file as dicts by lower-cased header.
    A file that is neither, or too large, is InvalidInput (field ``file``)."""
    if not data:
        raise InvalidInput("The file is empty.", field="file")
    if len(data) > MAX_IMPORT_BYTES:
        raise InvalidInput("The file is larger than {mb} MB.", params={"mb": MAX_IMPORT_BYTES // (1024 * 1024)},
                           field="file")
    if data[:4] == b"PK\x03\x04":
        table = _xlsx_rows(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("The file is neither UTF-8 CSV nor XLSX.", field="file") from None
        table = list(csv.reader(io.StringIO(text)))
    table = [r for r in table if any((c or "").strip() for c in r)]
    if not table:
        raise InvalidInput("The file has no header row.", field="file")
    header = [(h or "").strip().lower() for h in table[0]]
    if IMPORT_CARD_COLUMN not in header:
        raise InvalidInput("The file has no 'card_number' column.", field="file")
    if len(table) - 1 > MAX_IMPORT_ROWS:
        raise InvalidInput("The file has more than {n} rows.", params={"n": MAX_IMPORT_ROWS}, field="file")
    if len(table) == 1:
        raise InvalidInput("The file lists no card.", field="file")
    return [{h: (r[i] if i < len(r) else "").strip() for i, h in enumerate(header) if h} for r in table[1:]]


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            rows = []
            for r in wb.worksheets[0].iter_rows(values_only=True):
                rows.append(["" if v is None else str(v) for v in r])
                if len(rows) > MAX_IMPORT_ROWS + 1:
                    break
            return rows
        finally:
            wb.close()
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, IndexError, TypeError) as e:
        raise InvalidInput("The file is not a readable XLSX workbook.", field="file") from e


def check_rows(session: Session, batch: ProductionBatch, rows: list[dict[str, str]]) -> list[tuple[int, Card]]:
    """Every row checked against the batch; the cards to mark produced, or :class:`ImportRefused` with
    every wrong row (the header is line 1, so the first card is line 2)."""
    errors: list[RowError] = []
    numbers = [r.get(IMPORT_CARD_COLUMN, "").replace(" ", "").upper() for r in rows]
    known = {c.number: c for c in session.scalars(select(Card).where(Card.number.in_(set(numbers) - {""})))}
    items = {i.card_id: i for i in session.scalars(
        select(ProductionBatchItem).where(ProductionBatchItem.card_id.in_([c.id for c in known.values()])))}
    refs = dict(session.execute(select(ProductionBatch.id, ProductionBatch.reference)
                                .where(ProductionBatch.id.in_({i.batch_id for i in items.values()}))).all())
    seen: dict[str, int] = {}
    good: list[tuple[int, Card]] = []

    def err(line, number, code, template, **params):
        errors.append(RowError(line, number, code, template, {"number": number, **params}))

    for line, (row, number) in enumerate(zip(rows, numbers), start=2):
        given_batch = row.get(IMPORT_BATCH_COLUMN, "")
        if not number:
            err(line, number, "missing", N_("The row has no card number."))
            continue
        if not is_valid_card_number(number):
            err(line, number, "check_digit", N_("{number} is not a valid card number (format or check character)."))
            continue
        if number in seen:
            err(line, number, "duplicate", N_("{number} is listed twice (first on line {first})."), first=seen[number])
            continue
        seen[number] = line
        if given_batch and given_batch != batch.reference:
            err(line, number, "batch_mismatch", N_("The row names batch {given}, not {batch}."), given=given_batch,
                batch=batch.reference)
            continue
        card = known.get(number)
        if card is None:
            err(line, number, "unknown_card", N_("No card {number} exists."))
            continue
        item = items.get(card.id)
        if item is None:
            err(line, number, "wrong_batch", N_("Card {number} is in no batch, not in {batch}."), batch=batch.reference)
            continue
        if item.batch_id != batch.id:
            err(line, number, "wrong_batch", N_("Card {number} is in batch {other}, not in {batch}."),
                other=refs[item.batch_id], batch=batch.reference)
            continue
        if item.produced_at is not None or card.status is not CardStatus.IN_PRODUCTION:
            code = "already_produced" if item.produced_at is not None else "not_in_production"
            err(line, number, code, N_("Card {number} is {status}: it cannot be marked produced."),
                status=str(card.status))
            continue
        good.append((line, card))
    if errors:
        raise ImportRefused(errors)
    return good


@dataclass(frozen=True)
class ImportResult:
    batch: ProductionBatch
    produced: list[str]  # card numbers now produced
    remaining: int  # cards of the batch still in production


def import_produced(session: Session, actor: Actor, batch_id: int, data: bytes) -> ImportResult:
    """Mark the cards of the factory's file produced, all or none (see the module's docstring)."""
    lifecycle.check_channel(Op.FINISH_PRODUCTION, actor)
    batch = _batch(session, batch_id, lock=True)
    rows = read_table(data)
    good = check_rows(session, batch, rows)
    now = clock.now()
    items = {i.card_id: i for i in session.scalars(
        select(ProductionBatchItem).where(ProductionBatchItem.batch_id == batch.id))}
    for _line, card in good:
        lifecycle.finish_production(session, actor, card.id)
        items[card.id].produced_at = now
    remaining = sum(1 for i in items.values() if i.produced_at is None)
    if remaining == 0:
        batch.status, batch.completed_at = BatchStatus.COMPLETE, now
    session.flush()
    audit.record(session, actor, "production.import", subject=f"batch:{batch.reference}",
                 changes={"produced": len(good), "remaining": remaining})
    return ImportResult(batch, [c.number for _, c in good], remaining)
