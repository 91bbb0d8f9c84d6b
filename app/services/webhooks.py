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
where the read is audited.

Addresses (SSRF): an agency's URL must not make this server call inside a network, ours or any (the
cloud metadata service, the database, an admin port on loopback). :func:`addresses_to_call` is the one
rule: the host is resolved once and refused when it does not resolve or when ANY of its addresses is not
globally routable (IPv4 inside IPv6 judged as that IPv4 address). It is applied at registration (a 422
on ``url``, nothing stored) and again before every attempt, since DNS may change afterwards (rebinding):
a refused address is a failed attempt logged ``address_not_allowed``, no request made, retried on the
backoff like any failure. :func:`http_send` then connects to the address just checked (Host header, TLS
SNI and the certificate check stay on the URL's name), so no second lookup can hand it another address:
there is no window between the check and the connection. Redirects are not followed and no proxy is
used (``HTTP(S)_PROXY`` is ignored). One address per attempt: the first the resolver gives (the
system's preference order); a receiver unreachable there fails that attempt. ``WEBHOOK_ALLOW_PRIVATE``
(``SSC_WEBHOOK_ALLOW_PRIVATE=1``) lifts the address rule for a developer's or a test's local receiver; a
host that does not resolve stays refused. Both refusals read the same, to the agency as in the log, so
that the server's resolver is no oracle of which internal names exist."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
from datetime import timedelta
from socket import getaddrinfo  # a name of this module's own: tests give it a resolver without touching socket's
from typing import Callable
from urllib.parse import quote, unquote, urlsplit

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.models import Agency, AgencyEvent, WebhookDelivery, WebhookEndpoint
from app.i18n import N_
from app.models.enums import AgencyKind
from app.services import clock
from app.services.errors import InvalidInput

# (url, body, headers, address) -> HTTP status; connects to ``address`` (checked), raises on transport errors
Sender = Callable[[str, bytes, dict, str], int]


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


class AddressNotAllowed(InvalidInput):
    """A webhook URL whose host is not to be called: it does not resolve, or an address of it is inside a
    private network. One message for both (no oracle of internal names)."""

    def __init__(self):
        super().__init__(N_("The webhook URL's host resolves to an address inside a private network, or to "
                            "none: webhooks are sent to addresses on the public internet only."), field="url")


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052's well-known prefix: the IPv4 address in the low 32 bits


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64
                                                   else None)
        if inner is not None:
            return _public(inner)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def addresses_to_call(url: str) -> list[str]:
    """The addresses of ``url``'s host that this server may connect to, in the resolver's order (deduplicated):
    the host resolved once (``getaddrinfo``). Raises :class:`AddressNotAllowed` (422 on ``url``) when it does
    not resolve, or, unless ``WEBHOOK_ALLOW_PRIVATE``, when ANY address is not globally routable: loopback,
    private, shared (100.64/10), link-local (169.254.169.254, the metadata service), unique-local,
    documentation, multicast, reserved, unspecified; an IPv4 address inside IPv6 (mapped, NAT64, 6to4) is
    judged as that IPv4 address. Any one such address is enough: the name may hand out each in turn."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
        if not host:
            raise AddressNotAllowed()
        found = getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(info[4][0] for info in found))
        ips = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]  # fe80::1%eth0: the scope dropped
    except (OSError, UnicodeError, ValueError):  # gaierror, a label too long, a bad port or address
        raise AddressNotAllowed() from None
    if not addresses or not (current_app.config.get("WEBHOOK_ALLOW_PRIVATE") or all(map(_public, ips))):
        raise AddressNotAllowed()
    return addresses


def tls_context() -> ssl.SSLContext:
    """TLS of deliveries: the system's CA certificates, the certificate checked against the URL's name."""
    return ssl.create_default_context()


class _Pinned(http.client.HTTPConnection):
    """http.client's connection to the one address checked by :func:`addresses_to_call`: the TCP connection
    goes to ``address``; the Host header (http.client's, from ``host``), TLS SNI and the certificate check stay
    on the URL's name. No lookup of the name happens here."""

    def __init__(self, host: str, port: int, address: str, timeout: float, tls: ssl.SSLContext | None):
        super().__init__(host, port, timeout=timeout)
        self.address, self.tls = address, tls
        self.default_port = 443 if tls else 80  # Host names the port only when it is not the scheme's

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host) if self.tls else sock
        except BaseException:
            sock.close()
            raise


def http_send(url: str, body: bytes, headers: dict, address: str) -> int:
    """POST ``body`` to ``url`` at ``address`` (see :class:`_Pinned`); the HTTP status. Redirects are not
    followed; credentials in the URL (``https://user:pw@host/``) are sent as HTTP Basic, as requests did."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname.encode("idna").decode("ascii")  # 例子.中国 → xn--fsqu00a.xn--fiqs8s (Host, SNI)
    conn = _Pinned(host, parts.port or (443 if https else 80), address, current_app.config["WEBHOOK_TIMEOUT"],
                   tls_context() if https else None)
    headers = dict(headers)
    if parts.username is not None:
        creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(creds).decode()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    target = quote(target, safe="!#$%&'()*+,/:;=?@[]~")  # /回调 → /%E5%9B%9E%E8%B0%83, as requests sent it
    try:
        conn.request("POST", target, body=body, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


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
        address = addresses_to_call(endpoint.url)[0]  # again: the name may resolve elsewhere by now
    except AddressNotAllowed:
        error = "address_not_allowed"  # no request made
    else:
        try:
            status = send(endpoint.url, body, headers, address)
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
