"""The application agencies' machine interface (Art. 15, 16, 26, 33): their credentials, the event feed
(an outbox written in the lifecycle transaction), the data they push, and webhook deliveries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, utcnow
from app.models.enums import Field, enum_column
from app.privacy.types import EncryptedText


class AgencyCredential(Base):
    """A credential of one application agency: an OAuth 2.0 client (client credentials grant) or an
    API key. Only SHA-256 digests of the secrets are kept (shown once, at creation or rotation). A
    rotation keeps the previous secret valid until ``previous_valid_until`` (two valid secrets during
    the overlap); a revocation ends every secret and every access token of the credential at once."""

    __tablename__ = "agency_credentials"
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # oauth_client | api_key
    client_id: Mapped[str] = mapped_column(String(40), unique=True)  # public half
    label: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(200))


class AgencyAccessToken(Base):
    """A short-lived opaque access token from the token endpoint, stored as its SHA-256 digest."""

    __tablename__ = "agency_access_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    credential_id: Mapped[int] = mapped_column(ForeignKey("agency_credentials.id"), index=True)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class AgencyEvent(Base):
    """One entry of the agencies' event feed, written in the transaction of the lifecycle change.

    ``seq`` is assigned from the ``agency_feed`` counter row (``app.models.sequence.next_value``): the
    row stays locked until the writing transaction ends, so numbers are handed out in commit order and
    without gaps, and a reader that has seen ``seq = n`` has seen every smaller number. ``field`` is the
    audience: None for every application agency, else only the agencies of that field (Art. 16)."""

    __tablename__ = "agency_events"
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(40), unique=True)  # stable event id (webhook-id)
    type: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    field: Mapped[Field | None] = mapped_column(enum_column(Field))
    article: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # ids, statuses, reason codes: no personal data
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgencyRecord(Base):
    """A value an application agency pushed within its field (Art. 15), with its source."""

    __tablename__ = "agency_records"
    __table_args__ = (UniqueConstraint("person_id", "field", "item"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    field: Mapped[Field] = mapped_column(enum_column(Field))
    item: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(EncryptedText("agency.record"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    credential_id: Mapped[int | None] = mapped_column(ForeignKey("agency_credentials.id"))
    collected_on: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    """Where an agency wants its feed pushed (Standard Webhooks); the signing secret is kept encrypted."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(EncryptedText("webhook.secret"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The delivery log: one row per (endpoint, event), every attempt listed in ``attempts``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "event_seq"),
                      Index("ix_webhook_deliveries_due", "status", "next_attempt_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    event_seq: Mapped[int] = mapped_column(ForeignKey("agency_events.seq"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempt_count: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[list] = mapped_column(JSON, default=list)  # [{at, status, error, next}]
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]
