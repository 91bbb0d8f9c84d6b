"""Webhooks of the agencies' feed (the Standard Webhooks scheme), retried with exponential backoff.

A delivery row (:class:`~app.models.WebhookDelivery`) is written with its feed event, in the lifecycle
transaction (an outbox: no event is announced that did not commit, none that committed is lost). A
worker sends what is due: ``run_due`` in-process (SQLite, ``make run``, tests), or the procrastinate
task ``deliver_due`` on PostgreSQL (``app.tasks``). Each attempt is logged on the row; a failure is
retried after ``WEBHOOK_BACKOFF_BASE · 2^(attempt-1)`` seconds (capped at ``WEBHOOK_BACKOFF_MAX``) until
``WEBHOOK_MAX_ATTEMPTS``, then the delivery is ``failed`` (the feed still has the event: at least once).

Signature (standardwebhooks.com): headers ``webhook-id`` (the event's stable id), ``webhook-timestamp``
(Unix seconds) and ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the
base64-decoded part of the endpoint's ``whsec_…`` secret. The body is the event as the feed gives it,
without personal data (ids, statuses, reason codes): the holder's masked data are read from the feed,
where the read is audited."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from typing import Callable

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import Agency, AgencyEvent, WebhookDelivery, WebhookEndpoint
from app.models.enums import AgencyKind
from app.services import clock

Sender = Callable[[str, bytes, dict], int]  # (url, body, headers) -> HTTP status; raises on transport errors


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (one v1 signature)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def payload(event: AgencyEvent) -> dict:
    return {"id": event.id, "seq": event.seq, "type": event.type, "article": event.article,
            "created_at": event.created_at.isoformat(), "person_id": event.person_id,
            "field": str(event.field) if event.field else None, "data": event.data}


def body_of(event: AgencyEvent) -> bytes:
    return json.dumps(payload(event), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def enqueue(session: Session, event: AgencyEvent) -> int:
    """A pending delivery for every active endpoint of an agency the event concerns (same transaction)."""
    q = (select(WebhookEndpoint.id).join(Agency, Agency.id == WebhookEndpoint.agency_id)
         .where(WebhookEndpoint.active.is_(True), Agency.kind == AgencyKind.APPLICATION))
    if event.field is not None:
        q = q.where(Agency.field == event.field)
    ids = list(session.scalars(q))
    for endpoint_id in ids:
        session.add(WebhookDelivery(endpoint_id=endpoint_id, event_seq=event.seq, status="pending",
                                    attempts=[], next_attempt_at=clock.now(), created_at=clock.now()))
    if ids:
        session.info["webhooks_enqueued"] = True  # app.tasks sends them once the request committed
    return len(ids)


def backoff(attempt: int) -> timedelta:
    cfg = current_app.config
    return timedelta(seconds=min(cfg["WEBHOOK_BACKOFF_BASE"] * 2 ** (attempt - 1), cfg["WEBHOOK_BACKOFF_MAX"]))


def http_send(url: str, body: bytes, headers: dict) -> int:
    import requests

    return requests.post(url, data=body, headers=headers, timeout=current_app.config["WEBHOOK_TIMEOUT"],
                         allow_redirects=False).status_code


def attempt(session: Session, delivery: WebhookDelivery, send: Sender) -> None:
    """One attempt at one delivery, logged on it; the caller commits."""
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    event = session.get(AgencyEvent, delivery.event_seq)
    now = clock.now()
    body = body_of(event)
    ts = int(now.timestamp())
    headers = {"content-type": "application/json", "webhook-id": event.id, "webhook-timestamp": str(ts),
               "webhook-signature": sign(endpoint.secret, event.id, ts, body)}
    status, error = None, None
    try:
        status = send(endpoint.url, body, headers)
    except Exception as e:  # noqa: BLE001 - any transport failure is a failed attempt, logged
        error = type(e).__name__
    delivery.attempt_count += 1
    ok = status is not None and 200 <= status < 300
    entry = {"at": now.isoformat(), "status": status, "error": error}
    if ok:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
    elif delivery.attempt_count >= current_app.config["WEBHOOK_MAX_ATTEMPTS"] or not endpoint.active:
        delivery.status, delivery.next_attempt_at = "failed", None
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempt_count)
        entry["next"] = delivery.next_attempt_at.isoformat()
    delivery.attempts = [*delivery.attempts, entry]


def due(session: Session, limit: int = 100, *, lock: bool = False) -> list[WebhookDelivery]:
    q = (select(WebhookDelivery).where(WebhookDelivery.status == "pending",
                                       or_(WebhookDelivery.next_attempt_at.is_(None),
                                           WebhookDelivery.next_attempt_at <= clock.now()))
         .order_by(WebhookDelivery.event_seq, WebhookDelivery.id).limit(limit))
    if lock and session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)  # several workers never send one delivery twice at once
    return list(session.scalars(q))


def run_due(session: Session, send: Sender | None = None, limit: int = 100) -> int:
    """Attempt every due delivery once (each committed on its own); returns how many were attempted."""
    send = send or current_app.extensions.get("webhook_sender") or http_send
    done = 0
    for delivery in due(session, limit, lock=True):
        attempt(session, delivery, send)
        session.commit()
        done += 1
    return done


def next_due_in(session: Session) -> float | None:
    """Seconds until the next pending delivery is due (None: nothing pending)."""
    nxt = session.scalar(select(WebhookDelivery.next_attempt_at).where(WebhookDelivery.status == "pending")
                         .order_by(WebhookDelivery.next_attempt_at).limit(1))
    return None if nxt is None else max(0.0, (nxt - clock.now()).total_seconds())
