"""SQLAlchemy models, one module per aggregate. Import from here."""
from app.models.account import SettlementAccount
from app.models.audit import AuditEntry, AuditHead
from app.models.base import Base, utcnow
from app.models.calendar import WorkdaySchedule
from app.models.card import Card, CardApplication, CardEvent
from app.models.ledger import LedgerAccount, LedgerPosting, LedgerTransaction
from app.models.org import Agency, Bank, Outlet
from app.models.person import FieldStatus, Person, SharedRecord
from app.models.selfservice import CorrectionRequest, CorrectionStatus, OtpChallenge, SmsMessage
from app.models.sequence import Counter, next_value
from app.models.staff import AuthSession, StaffUser

__all__ = [
    "Agency", "AuditEntry", "AuditHead", "Bank", "Base", "Card", "Counter", "next_value", "CardApplication", "CardEvent", "FieldStatus", "Outlet",
    "AuthSession", "Person", "SettlementAccount", "SharedRecord", "StaffUser", "WorkdaySchedule",
    "utcnow", "CorrectionRequest", "LedgerAccount", "LedgerPosting", "LedgerTransaction", "CorrectionStatus", "OtpChallenge", "SmsMessage",
]
