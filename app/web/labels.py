"""How the pages name the vocabulary of the Measures (``app.models.enums``): English source labels,
translated when rendered (``{{ _(label(value)) }}``, or ``label(value)`` which translates itself).

A test checks that every member of every enum listed in LABELS has a label, so a new state or role
cannot reach a page as a raw code."""
from __future__ import annotations

from enum import StrEnum

from app.i18n import N_, translate
from app.services.lifecycle_rules import Op
from app.models.enums import (
    AccountKind,
    AccountStatus,
    AgencyKind,
    CancellationReason,
    CardKind,
    CardStatus,
    Channel,
    DeliveryMethod,
    EligibilityBasis,
    FeeWaiver,
    Field,
    Referral,
    ReplacementReason,
    Role,
    ServiceMode,
)

# The ID documents (app.services.documents.DocumentType), as every form names them.
DOC_LABELS: dict[str, str] = {
    "resident_id": N_("Resident ID card"), "hk_macao_resident_permit": N_("Residence permit (Hong Kong/Macao)"),
    "taiwan_resident_permit": N_("Residence permit (Taiwan)"),
    "hk_macao_travel_permit": N_("Travel permit (Hong Kong/Macao)"),
    "taiwan_travel_permit": N_("Travel permit (Taiwan)"),
    "foreign_permanent_residence": N_("Foreign permanent residence ID"), "passport": N_("Passport"),
}


LABELS: dict[type[StrEnum], dict[str, str]] = {
    Op: {
        "apply": N_("Application"), "accept": N_("Acceptance"), "reject": N_("Rejection"),
        "start_production": N_("Production started"), "finish_production": N_("Production finished"),
        "dispatch": N_("Dispatched"), "deliver": N_("Delivered"), "pick_up": N_("Picked up"),
        "issue_instantly": N_("Issued instantly"), "activate": N_("Activation"),
        "register_loss": N_("Loss registration"), "deregister_loss": N_("Loss deregistration"),
        "reissue": N_("Reissue"), "replace": N_("Replacement"), "confirm_unbind": N_("Unbinding confirmed"),
        "cancel": N_("Cancellation"), "lock_field": N_("Field locked"), "unlock_field": N_("Field unlocked"),
        "inquire_status": N_("Status inquiry"), "change_pin": N_("PIN changed"), "reset_pin": N_("PIN reset"),
        "change_info": N_("Information changed"),
    },
    Role: {
        "bureau": N_("Municipal HRSS Bureau"), "agency_clerk": N_("Card issuing agency"),
        "bank_teller": N_("Bank teller"), "hotline_operator": N_("12345 hotline operator"),
        "app_agency": N_("Application agency"), "auditor": N_("Auditor"), "resident": N_("Cardholder"),
        "system": N_("System"),
    },
    CardStatus: {
        "applied": N_("Applied"), "rejected": N_("Rejected"), "accepted": N_("Accepted"),
        "in_production": N_("In production"), "produced": N_("Produced"), "in_transit": N_("In transit"),
        "issued": N_("Issued"), "active": N_("Active"), "loss_registered": N_("Loss registered"),
        "replacement_pending": N_("Replacement pending"), "invalidated": N_("Invalidated"),
        "replaced": N_("Replaced"), "cancelled": N_("Cancelled"),
    },
    CardKind: {"first": N_("First card"), "reissue": N_("Reissue"), "replacement": N_("Replacement"),
               "renewed": N_("New card after cancellation")},
    Channel: {"online": N_("Online service platform"), "outlet": N_("Bank outlet"),
              "gov_hotline": N_("12345 hotline"), "bank_hotline": N_("Bank hotline"),
              "agency": N_("Issuing agency"), "gov_feed": N_("Government data feed")},
    ServiceMode: {"counter": N_("At the counter"), "door_to_door": N_("Door to door"),
                  "instant": N_("Instant issuance")},
    Referral: {"self": N_("The applicant"), "employer": N_("Employer"), "community": N_("Community")},
    EligibilityBasis: {"household_registration": N_("Guangzhou household registration"),
                       "social_security": N_("Guangzhou social security"),
                       "public_services": N_("Guangzhou public services")},
    DeliveryMethod: {"pickup": N_("Pickup at an outlet"), "express": N_("Express delivery")},
    ReplacementReason: {"damaged": N_("Damaged or unreadable"), "basic_data_changed": N_("Basic data changed"),
                        "bank_change": N_("Change of bank")},
    CancellationReason: {"death": N_("Death"), "ineligible": N_("No longer eligible"),
                         "holder_request": N_("At the holder's request")},
    AccountKind: {"medical": N_("Medical insurance account"), "financial": N_("Bank account")},
    AccountStatus: {"pending": N_("Pending"), "active": N_("Active"), "suspended": N_("Suspended"),
                    "unbinding": N_("Unbinding"), "closed": N_("Closed")},
    FeeWaiver: {"first_card": N_("First card: free"),
                "quality_defect_within_year": N_("Quality defect within a year: free")},
    Field: {
        "hrss": N_("Human resources and social security"), "medical": N_("Medical insurance"),
        "finance": N_("Finance"), "civil_affairs": N_("Civil affairs"), "health": N_("Health"),
        "education": N_("Education"), "public_security": N_("Public security"), "justice": N_("Justice"),
        "housing": N_("Housing"), "agriculture": N_("Agriculture"), "transport": N_("Transport"),
        "culture_tourism": N_("Culture and tourism"), "sports": N_("Sports"), "forestry": N_("Forestry"),
        "disability": N_("Disabled persons"), "veterans": N_("Veterans"),
        "provident_fund": N_("Housing provident fund"),
    },
    AgencyKind: {"bureau": N_("Bureau"), "issuing": N_("Issuing agency"),
                 "application": N_("Application agency"), "hotline": N_("Hotline")},
}


def source_label(value) -> str:
    """The English source label of an enum member (or of its value), the value itself if none."""
    if value is None:
        return ""
    if isinstance(value, StrEnum):
        return LABELS.get(type(value), {}).get(value.value, value.value)
    for table in LABELS.values():
        if value in table:
            return table[value]
    return str(value)


def label(value) -> str:
    """The label in the reader's language."""
    return translate(source_label(value)) or ""


def refusal_text(e) -> tuple[str, str]:
    """A refused step's (title, detail) for a page: translated like the API's, with the codes in it
    (an operation, a state, a role, a channel) named as the pages name them."""
    from app.i18n import translate

    params = {k: label(v) if isinstance(v, StrEnum) or _known(v) else v for k, v in e.params.items()}
    return translate(e.title), translate(e.message, **params)


def _known(value) -> bool:
    return isinstance(value, str) and any(value in table for table in LABELS.values())


def role_label(role) -> str:
    return source_label(Role(role)) if role else ""
