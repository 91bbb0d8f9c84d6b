"""The audit trail, read-only (Art. 16): the Bureau supervises and the auditor checks who read or changed
whose personal data, why and from where. Entries are returned as stored (masked values only); this
blueprint has no endpoint that could change or delete one, and the chain report names the first entry
that was edited, deleted or reordered behind the application's back."""
from __future__ import annotations

from sqlalchemy import func, select

from app.api.common import Blueprint
from app.api.schemas import AuditEntryOut, AuditQuery, ChainReportOut
from app.auth import allow, current_actor
from app.extensions import db
from app.models import AuditEntry
from app.models.enums import Role
from app.services import audit, disclosure

blp = Blueprint("audit", __name__, url_prefix="/api/audit", description="Audit trail, read-only (Art. 16)")

AUDIT_READERS = (Role.BUREAU, Role.AUDITOR)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@blp.route("/")
@allow(*AUDIT_READERS)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditEntryOut(many=True))
@blp.paginate()
def list_entries(query, pagination_parameters):
    """Audit entries, filtered by cardholder, actor, action (or action prefix) and time range, paged.

    The query itself is recorded (`read.audit`): who looked into whose access history."""
    q = select(AuditEntry)
    if "person_id" in query:
        q = q.where(AuditEntry.person_id == query["person_id"])
    if "actor_id" in query:
        q = q.where(AuditEntry.actor_id == query["actor_id"])
    if "action" in query:
        q = q.where(AuditEntry.action == query["action"])
    if "action_prefix" in query:
        q = q.where(AuditEntry.action.like(_escape_like(query["action_prefix"]) + "%", escape="\\"))
    if "since" in query:
        q = q.where(AuditEntry.at >= query["since"])
    if "until" in query:
        q = q.where(AuditEntry.at < query["until"])
    p = pagination_parameters
    p.item_count = db.session.scalar(select(func.count()).select_from(q.subquery()))
    order = AuditEntry.seq.desc() if query["newest_first"] else AuditEntry.seq
    entries = db.session.scalars(q.order_by(order).offset((p.page - 1) * p.page_size).limit(p.page_size)).all()
    filters = ",".join(f"{k}={query[k]}" for k in sorted(query) if k != "newest_first")
    audit.record(db.session, current_actor(), "read.audit", person_id=query.get("person_id"),
                 subject=f"audit:{filters}" if filters else "audit")
    disclosure.commit_read(db.session)
    return entries


@blp.route("/verify")
@allow(*AUDIT_READERS)
@blp.response(200, ChainReportOut)
def verify():
    """Check the whole hash chain; names the first edited, deleted or reordered entry (as `flask audit verify`)."""
    return audit.verify(db.session)
