"""Application agencies (Art. 15, 16, 26, 28, 33): holder lookup by ID document, the event feed, the data
they push within their field, their webhooks; and the Bureau's management of their credentials.

An agency's system authenticates with a credential of its own (``app.services.agency_api``): an API key
(``X-API-Key: <client_id>.<secret>``) or an access token from ``POST /api/agency/oauth/token`` (client
credentials grant) sent as ``Authorization: Bearer gzat_…``. A signed-in member of an agency's staff may
call the same endpoints with their staff token. Either way the remit is the agency's application field:
an agency never reads another field's data nor another agency's feed (there is no agency in any URL)."""
from __future__ import annotations

import base64
import binascii

from flask import current_app, request
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import select

from app.api.common import Blueprint, commit
from app.api.schemas import AgencyHolderOut, Disclosed, DocumentQuery
from app.auth import allow, current_actor
from app.extensions import db
from app.models import Agency, AgencyEvent, WebhookDelivery, WebhookEndpoint
from app.models.enums import Role
from app.services import agency_api, agency_feed, audit, disclosure, webhooks
from app.services.disclosure import Item as I
from app.services.agency_api import InvalidCredential
from app.services.errors import InvalidInput, NotFound

blp = Blueprint("agency", __name__, url_prefix="/api/agency",
                description="Application agencies: holder lookup, event feed, pushed data, webhooks; their "
                            "credentials (Art. 15, 16, 26, 28, 33)")


@blp.route("/holders", methods=["POST"])
@allow(Role.APP_AGENCY, credential="holders:read")
@blp.arguments(DocumentQuery)
@blp.response(200, AgencyHolderOut)
def holder(query):
    """A holder found by ID document: masked name and social security number, card status, settlement
    suspension (Art. 21) and the status of the agency's own field only (Art. 16, 28)."""
    answer = disclosure.agency_holder(db.session, current_actor(), query["doc_type"], query["doc_number"],
                                      query.get("nationality"))
    disclosure.commit_read(db.session)
    return answer


# ---------------------------------------------------------------- credentials (the Bureau)


class CredentialIn(Schema):
    agency = fields.String(required=True, validate=validate.Length(min=1, max=24),
                           metadata={"description": "the application agency's code"})
    kind = fields.String(required=True, validate=validate.OneOf(agency_api.KINDS))
    label = fields.String(required=True, validate=validate.Length(min=1, max=100))
    scopes = fields.List(fields.String(validate=validate.OneOf(agency_api.SCOPES)), validate=validate.Length(min=1),
                         metadata={"description": "default: all of " + ", ".join(agency_api.SCOPES)})


class CredentialOut(Schema):
    id = fields.Integer()
    agency = fields.Method("_agency")
    field = fields.Method("_field", metadata={"description": "the agency's application field: the remit"})
    kind = fields.String()
    client_id = fields.String()
    label = fields.String()
    scopes = fields.List(fields.String())
    created_at = fields.DateTime()
    rotated_at = fields.DateTime(allow_none=True)
    previous_valid_until = fields.DateTime(allow_none=True,
                                           metadata={"description": "the previous secret is valid until then"})
    revoked_at = fields.DateTime(allow_none=True)
    revoked_reason = fields.String(allow_none=True)

    def _agency(self, cred):
        return db.session.get(Agency, cred.agency_id).code

    def _field(self, cred):
        return str(db.session.get(Agency, cred.agency_id).field)


class CredentialSecretOut(Schema):
    credential = fields.Nested(CredentialOut)
    secret = fields.String(metadata={"description": "shown this once, never again: an API key is sent whole as "
                                                    "X-API-Key, an OAuth client's secret as client_secret"})


class CredentialQuery(Schema):
    agency = fields.String(validate=validate.Length(min=1, max=24))


class RotationIn(Schema):
    overlap_hours = fields.Integer(validate=validate.Range(min=0, max=720),
                                   metadata={"description": "how long the previous secret stays valid "
                                                            "(default AGENCY_ROTATION_OVERLAP_HOURS)"})


class RevocationIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


@blp.route("/credentials", methods=["POST"])
@allow(Role.BUREAU)
@blp.arguments(CredentialIn)
@blp.response(201, CredentialSecretOut)
def create_credential(body):
    """A new credential of an application agency (Art. 33), scoped to its field; the secret is shown once."""
    cred, secret = agency_api.create_credential(db.session, current_actor(), body["agency"], kind=body["kind"],
                                                label=body["label"], scopes=body.get("scopes"))
    commit()
    return {"credential": cred, "secret": secret}


@blp.route("/credentials", methods=["GET"])
@allow(Role.BUREAU, Role.AUDITOR)
@blp.arguments(CredentialQuery, location="query")
@blp.response(200, CredentialOut(many=True))
def list_credentials(query):
    """Every agency credential (never a secret), optionally of one agency."""
    return agency_api.credentials(db.session, query.get("agency"))


@blp.route("/credentials/<int:credential_id>/rotation", methods=["POST"])
@allow(Role.BUREAU)
@blp.arguments(RotationIn)
@blp.response(200, CredentialSecretOut)
def rotate_credential(body, credential_id):
    """A new secret, shown once; the previous one stays valid for the overlap, so the agency can switch
    without a gap (two valid secrets); an older one ends now."""
    cred, secret = agency_api.rotate(db.session, current_actor(), credential_id,
                                     overlap_hours=body.get("overlap_hours"))
    commit()
    return {"credential": cred, "secret": secret}


@blp.route("/credentials/<int:credential_id>/revocation", methods=["POST"])
@allow(Role.BUREAU)
@blp.arguments(RevocationIn)
@blp.response(200, CredentialOut)
def revoke_credential(body, credential_id):
    """End the credential at once: every secret and every access token it obtained (Art. 16)."""
    cred = agency_api.revoke(db.session, current_actor(), credential_id, body["reason"])
    commit()
    return cred


# ---------------------------------------------------------------- OAuth 2.0 token endpoint


class TokenIn(Schema):
    grant_type = fields.String(required=True, validate=validate.Equal("client_credentials"))
    client_id = fields.String(validate=validate.Length(min=1, max=40))
    client_secret = fields.String(validate=validate.Length(min=1, max=200), load_only=True)
    scope = fields.String(validate=validate.Length(max=200),
                          metadata={"description": "space-separated; default: all the credential's scopes"})


class TokenOut(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    scope = fields.String()


def _basic_auth() -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidCredential("Malformed HTTP Basic client authentication.", error="invalid_client") from None
    return client_id, secret


@blp.route("/oauth/token", methods=["POST"])
@allow(public=True)
@blp.arguments(TokenIn, location="form")
@blp.response(200, TokenOut)
def token(body):
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4): the client authenticates with HTTP Basic or
    ``client_id`` + ``client_secret`` in the form; the answer is an opaque access token of
    ``AGENCY_TOKEN_SECONDS`` for ``Authorization: Bearer``. Errors are problem+json with the RFC 6749
    ``error`` code as a member."""
    basic = _basic_auth()
    client_id, secret = basic or (body.get("client_id"), body.get("client_secret"))
    if not client_id or not secret:
        raise InvalidCredential("Client authentication is required (HTTP Basic or client_id and client_secret).",
                                error="invalid_client")
    try:
        answer = agency_api.issue_token(db.session, client_id, secret, body.get("scope"))
    except InvalidCredential as e:
        e.extra.setdefault("error", "invalid_client")
        raise
    commit()
    return answer


# ---------------------------------------------------------------- the event feed


class FeedQuery(Schema):
    after = fields.String(load_default="0", validate=validate.Regexp(r"^[0-9]{1,18}$"),
                          metadata={"description": "the cursor: next_cursor of the previous page (0: from the start)"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class HolderRef(Disclosed):
    items = {"person_id": I.REF, "name": I.NAME, "ssn": I.SSN}

    person_id = fields.Integer()
    name = fields.String(metadata={"description": "masked (Art. 16); only for a holder the agency serves"})
    ssn = fields.String(metadata={"description": "masked (Art. 16); only for a holder the agency serves"})


class FeedCardRef(Disclosed):
    items = {"id": I.REF, "status": I.CARD_STATUS, "kind": I.CARD_STATUS}

    id = fields.Integer()
    status = fields.String()
    kind = fields.String()


class FeedData(Disclosed):
    items = {"card": I.REF, "old_card": I.REF, "new_card": I.REF, "reason": I.CARD_STATUS,
             "from_status": I.CARD_STATUS, "replacement_reason": I.CARD_STATUS, "cause": I.SETTLEMENT_SUSPENDED,
             "field": I.OWN_FIELD, "pushed": I.OWN_FIELD}

    card = fields.Nested(FeedCardRef, allow_none=True)
    old_card = fields.Nested(FeedCardRef, allow_none=True, metadata={"description": "reissue, replacement"})
    new_card = fields.Nested(FeedCardRef, allow_none=True, metadata={"description": "reissue, replacement"})
    reason = fields.String(allow_none=True, metadata={"description": "cancellation: death | ineligible | …"})
    from_status = fields.String(allow_none=True)
    replacement_reason = fields.String(allow_none=True)
    cause = fields.String(metadata={"description": "settlement.*: the operation that changed it"})
    field = fields.String(metadata={"description": "field.* and record.updated: the agency's own field"})
    pushed = fields.List(fields.String(), metadata={"description": "record.updated: the items pushed"})


class FeedEventOut(Disclosed):
    items = {k: I.REF for k in ("id", "seq", "type", "article", "created_at", "field", "holder", "data")}

    id = fields.String(metadata={"description": "stable event id: deduplicate on it (delivery is at least once)"})
    seq = fields.Integer(metadata={"description": "position in the feed, increasing in commit order, no gaps"})
    type = fields.String(metadata={"description": ", ".join(sorted(agency_feed.TYPES))})
    article = fields.String()
    created_at = fields.DateTime()
    field = fields.String(allow_none=True, metadata={"description": "set for an event of one field only"})
    holder = fields.Nested(HolderRef)
    data = fields.Nested(FeedData)


class FeedOut(Disclosed):
    items = {"events": I.REF, "next_cursor": I.REF, "has_more": I.REF}

    events = fields.List(fields.Nested(FeedEventOut))
    next_cursor = fields.String(metadata={"description": "pass as `after` for the next page"})
    has_more = fields.Boolean()


@blp.route("/events", methods=["GET"])
@allow(Role.APP_AGENCY, credential="feed:read")
@blp.arguments(FeedQuery, location="query")
@blp.response(200, FeedOut)
def events(query):
    """What concerns the agency (Art. 26: stop using a cancelled card): cancellations, reissues and
    replacements (old card → new card), loss registrations and deregistrations, locks and unlocks of its
    own field, settlement suspension (Art. 21), data pushed within its field. Ordered by ``seq``; page with
    ``after=next_cursor``. At least once: keep the cursor after processing, deduplicate on ``id``. No card
    number; the holder's masked name and number only for a holder the agency serves (pushed data for, or
    just looked up), else the ``person_id`` alone; that read is audited (Art. 16)."""
    answer = agency_api.feed(db.session, current_actor(), after=int(query["after"]), limit=query["limit"])
    disclosure.commit_read(db.session)
    return answer


# ---------------------------------------------------------------- push (Art. 15)


class PushIn(DocumentQuery):
    items = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=40)), values=fields.Raw(),
                        required=True, validate=validate.Length(min=1, max=20),
                        metadata={"description": "item → value. Every field: enrolment_status (enrolled | "
                                                 "suspended | ended), service_reference; public_security and "
                                                 "civil_affairs: address; hrss: occupation"})
    collected_on = fields.Date(metadata={"description": "when the agency collected or updated the data"})


class PushOut(Schema):
    person_id = fields.Integer()
    field = fields.String()
    changed = fields.List(fields.String())
    unchanged = fields.List(fields.String())
    event_id = fields.Integer(allow_none=True, metadata={"description": "the holder's card event (Art. 20)"})
    fee_fen = fields.Integer(metadata={"description": "always 0: free of charge (Art. 15)"})


@blp.route("/records", methods=["POST"])
@allow(Role.APP_AGENCY, credential="records:write")
@blp.arguments(PushIn)
@blp.response(200, PushOut)
def push(body):
    """Push card-related data the agency collected or updated ex officio within its field (Art. 15), free
    of charge. Each change is recorded with its source (agency, credential) in the holder's events and
    access log (Art. 20). Data printed on the card, the phone, locks, card status, death or eligibility are
    refused with the article that says who changes them."""
    answer = agency_api.push(db.session, current_actor(), body["doc_type"], body["doc_number"], body["items"],
                             nationality=body.get("nationality"), collected_on=body.get("collected_on"))
    commit()
    return answer


# ---------------------------------------------------------------- webhooks


class WebhookIn(Schema):
    url = fields.Url(required=True, schemes={"https", "http"}, require_tld=False,
                     validate=validate.Length(max=500))

    @validates("url")
    def _https(self, value, **kwargs):
        if not value.startswith("https://") and not current_app.config.get("WEBHOOK_ALLOW_HTTP"):
            raise ValidationError("A webhook URL is https.")


class WebhookOut(Schema):
    id = fields.Integer()
    url = fields.String()
    active = fields.Boolean()
    created_at = fields.DateTime()


class WebhookSecretOut(WebhookOut):
    secret = fields.String(attribute="shown_secret",
                           metadata={"description": "whsec_…: shown this once; verify webhook-signature with it"})


class DeliveryOut(Schema):
    id = fields.Integer()
    event_id = fields.Method("_event_id")
    event_seq = fields.Integer()
    status = fields.String(metadata={"description": "pending | delivered | failed"})
    attempt_count = fields.Integer()
    attempts = fields.List(fields.Dict(), metadata={"description": "[{at, status, error, next}]"})
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)

    def _event_id(self, d):
        return db.session.get(AgencyEvent, d.event_seq).id


def _own_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.agency_id != current_actor().agency_id:
        raise NotFound("No webhook {endpoint_id} of your agency.", params={"endpoint_id": endpoint_id})
    return endpoint


@blp.route("/webhooks", methods=["POST"])
@allow(Role.APP_AGENCY, credential="webhooks:manage")
@blp.arguments(WebhookIn)
@blp.response(201, WebhookSecretOut)
def add_webhook(body):
    """Have the feed's events pushed to ``url`` (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>``), retried with exponential backoff;
    the body carries no personal data (read the feed for the masked holder). The secret is shown once.
    Every address the URL's host resolves to must be on the public internet, now and at each delivery
    (422 on ``url`` here; an attempt logged ``address_not_allowed`` later)."""
    actor = current_actor()
    disclosure.agency_field(db.session, actor)
    if db.session.scalar(select(WebhookEndpoint.id).where(WebhookEndpoint.agency_id == actor.agency_id,
                                                          WebhookEndpoint.active.is_(True)).limit(5).offset(4)):
        raise InvalidInput("An agency has at most 5 active webhooks.", field="url")
    webhooks.addresses_to_call(body["url"])  # refused (422 on url) when the host is inside a private network
    secret = webhooks.new_secret()
    endpoint = WebhookEndpoint(agency_id=actor.agency_id, url=body["url"], secret=secret, active=True)
    db.session.add(endpoint)
    db.session.flush()
    audit.record(db.session, actor, "agency.webhook.create", subject=f"webhook:{endpoint.id}",
                 changes={"url": body["url"]})
    commit()
    endpoint.shown_secret = secret
    return endpoint


@blp.route("/webhooks", methods=["GET"])
@allow(Role.APP_AGENCY, credential="webhooks:manage")
@blp.response(200, WebhookOut(many=True))
def list_webhooks():
    """Your agency's webhooks (never their secrets)."""
    return db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.agency_id == current_actor().agency_id)
                              .order_by(WebhookEndpoint.id)).all()


@blp.route("/webhooks/<int:endpoint_id>", methods=["DELETE"])
@allow(Role.APP_AGENCY, credential="webhooks:manage")
@blp.response(200, WebhookOut)
def remove_webhook(endpoint_id):
    """Stop a webhook: pending deliveries end as failed at their next attempt (the feed keeps the events)."""
    endpoint = _own_endpoint(endpoint_id)
    endpoint.active = False
    audit.record(db.session, current_actor(), "agency.webhook.remove", subject=f"webhook:{endpoint.id}")
    commit()
    return endpoint


class DeliveryQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


@blp.route("/webhooks/<int:endpoint_id>/deliveries", methods=["GET"])
@allow(Role.APP_AGENCY, credential="webhooks:manage")
@blp.arguments(DeliveryQuery, location="query")
@blp.response(200, DeliveryOut(many=True))
def webhook_deliveries(query, endpoint_id):
    """The delivery log of one of your webhooks, newest first: every attempt, its HTTP status or error."""
    endpoint = _own_endpoint(endpoint_id)
    return db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                              .order_by(WebhookDelivery.id.desc()).limit(query["limit"])).all()
