"""Production batches for the card factory (Art. 5, 10, 17): create, list, the factory's file (CSV or
XLSX), and the import of the cards it produced, all or none. Thin: ``app.services.production`` decides."""
from __future__ import annotations

from flask import Response

from app.api.common import Blueprint, commit
from app.api.schemas import BatchCreateIn, BatchDetailOut, BatchImportIn, BatchImportOut, BatchOut, BatchQuery
from app.auth import allow, current_actor
from app.extensions import db
from app.models.enums import Role
from app.models.production import BatchStatus
from app.services import disclosure, production
from app.services.lifecycle_rules import Op, roles_for

blp = Blueprint("production", __name__, url_prefix="/api/production-batches",
                description="Production batches for the card factory (Art. 5, 10, 17)")

# Who sends cards to the factory (the channel table's roles for starting production) may receive its file.
FACTORY_DESK = roles_for(Op.START_PRODUCTION)
READERS = (*FACTORY_DESK, Role.BUREAU)


@blp.route("/", methods=["POST"])
@allow(op=Op.START_PRODUCTION)
@blp.arguments(BatchCreateIn)
@blp.response(201, BatchOut)
def create(body):
    """Group accepted cards into a batch for the factory; each starts production (Art. 5, 10)."""
    batch = production.create_batch(db.session, current_actor(), body.get("card_ids"), limit=body["limit"])
    summary = production.summary(db.session, batch)
    commit()
    return summary


@blp.route("/")
@allow(*READERS)
@blp.arguments(BatchQuery, location="query")
@blp.response(200, BatchOut(many=True))
def list_batches(query):
    """The batches, newest first, with how many of their cards came back produced."""
    status = BatchStatus(query["status"]) if "status" in query else None
    return production.list_batches(db.session, status=status)


@blp.route("/<int:batch_id>")
@allow(*READERS)
@blp.response(200, BatchDetailOut)
def get_batch(batch_id):
    """A batch and its cards (numbers and states, no other personal data); an audited read (Art. 16)."""
    batch = production.get_batch(db.session, batch_id)
    rows = production.batch_cards(db.session, batch)
    disclosure.log_read(db.session, current_actor(), [c.person_id for _, c in rows], "cards",
                        subject=f"batch:{batch.reference}")
    s = production.summary(db.session, batch)
    disclosure.commit_read(db.session)
    return {"batch": batch, "cards": s.cards, "produced": s.produced,
            "entries": [{"card_id": c.id, "number": c.number, "status": c.status, "produced_at": i.produced_at}
                        for i, c in rows]}


def _export(batch_id: int, fmt: str) -> Response:
    name, content_type, data = production.export_batch(db.session, current_actor(), batch_id, fmt)
    commit()  # the reveal of every holder's data is on the audit trail before the file leaves (Art. 16)
    return Response(data, mimetype=content_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blp.route("/<int:batch_id>/export.csv")
@allow(*FACTORY_DESK)
@blp.response(200, content_type=production.CSV_TYPE, description="The factory's file, CSV (UTF-8 with BOM).")
def export_csv(batch_id):
    """The card factory's file of a batch: only what it prints and personalises, in full; the export is an
    audited reveal (Art. 16, 17). Columns: batch, line, card_number, name, ssn, photo_base64, bank_code,
    card_kind."""
    return _export(batch_id, "csv")


@blp.route("/<int:batch_id>/export.xlsx")
@allow(*FACTORY_DESK)
@blp.response(200, content_type=production.XLSX_TYPE, description="The factory's file, XLSX.")
def export_xlsx(batch_id):
    """The card factory's file of a batch as XLSX (the same columns as the CSV)."""
    return _export(batch_id, "xlsx")


@blp.route("/<int:batch_id>/import", methods=["POST"])
@allow(op=Op.FINISH_PRODUCTION)
@blp.arguments(BatchImportIn, location="files")
@blp.response(200, BatchImportOut)
def import_produced(files, batch_id):
    """The factory's file of produced cards (CSV or XLSX, a `card_number` column): every row is checked
    (unknown card, another batch, listed twice, a wrong check character, already produced…) and the cards
    are marked produced all or none; a refusal lists every wrong row in `rows` (422)."""
    data = files["file"].read(production.MAX_IMPORT_BYTES + 1)
    result = production.import_produced(db.session, current_actor(), batch_id, data)
    out = {"batch": production.summary(db.session, result.batch), "produced": result.produced,
           "remaining": result.remaining}
    commit()
    return out
