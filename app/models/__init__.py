"""SQLAlchemy models, one module per aggregate. Import from here."""
from app.models.account import SettlementAccount
from app.models.agency_api import AgencyAccessToken, AgencyCredential, AgencyEvent, AgencyRecord, WebhookDelivery, WebhookEndpoint  # noqa: F401
from app.models.audit import AuditEntry, AuditHead
from app.models.base import Base, utcnow
from app.models.calendar import WorkdaySchedule
from app.models.card import Card, CardApplication, CardEvent
from app.models.complaint import Complaint, ComplaintStep
from app.models.family import FamilyLink
from app.models.guide import ServiceGuide
from app.models.legacy import LegacyCertificate
from app.models.ledger import LedgerAccount, LedgerPosting, LedgerTransaction
from app.models.org import Agency, Bank, Outlet
from app.models.home_visit import HomeVisitRequest, VisitReason, VisitStatus
from app.models.production import BatchStatus, ProductionBatch, ProductionBatchItem
from app.models.person import FieldStatus, Person, SharedRecord
from app.models.selfservice import CorrectionRequest, CorrectionStatus, OtpChallenge, SmsMessage
from app.models.sequence import Counter, next_value
from app.models.staff import AuthSession, StaffUser

__all__ = [
    "Agency", "AuditEntry", "AuditHead", "Bank", "Base", "Card", "Counter", "next_value", "CardApplication", "CardEvent", "FieldStatus", "Outlet",
    "AuthSession", "Person", "SettlementAccount", "SharedRecord", "StaffUser", "WorkdaySchedule",
    "utcnow", "BatchStatus", "HomeVisitRequest", "VisitReason", "VisitStatus", "ProductionBatch", "ProductionBatchItem", "CorrectionRequest", "CorrectionStatus", "OtpChallenge", "SmsMessage",
    "Complaint", "ComplaintStep", "ServiceGuide", "LegacyCertificate",
    "LedgerAccount", "LedgerPosting", "LedgerTransaction", "FamilyLink",
]
