"""The audit trail, read-only (Art. 16): the Bureau supervises and the auditor checks who read or changed
whose personal data, why and from where. Entries are returned as stored (masked values only); this
blueprint has no endpoint that could change or delete one, and the chain report names the first entry
that was edited, deleted or reordered behind the application's back."""
from __future__ import annotations

from app.api.common import Blueprint
from app.api.schemas import AuditEntryOut, AuditQuery, ChainReportOut
from app.auth import allow, current_actor
from app.extensions import db
from app.replica import replica_reads
from app.services import audit, disclosure

blp = Blueprint("audit", __name__, url_prefix="/api/audit", description="Audit trail, read-only (Art. 16)")

AUDIT_READERS = audit.READERS


@blp.route("/")
@allow(*AUDIT_READERS)
@blp.arguments(AuditQuery, location="query")
@blp.response(200, AuditEntryOut(many=True))
@blp.paginate()
@replica_reads
def list_entries(query, pagination_parameters):
    """Audit entries, filtered by cardholder, actor, action (or action prefix) and time range, paged.

    The query itself is recorded (`read.audit`): who looked into whose access history."""
    p = pagination_parameters
    entries, p.item_count = audit.search(db.session, current_actor(), query, page=p.page, page_size=p.page_size,
                                         newest_first=query["newest_first"])
    disclosure.commit_read(db.session)
    return entries


@blp.route("/verify")
@allow(*AUDIT_READERS)
@blp.response(200, ChainReportOut)
def verify():
    """Check the whole hash chain; names the first edited, deleted or reordered entry (as `flask audit verify`)."""
    return audit.verify(db.session)
