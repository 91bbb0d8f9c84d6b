"""Application agencies' machine access (Art. 15, 16, 20, 26, 33): their credentials, the data they push
within their field, and their view of the event feed.

Credentials. An agency's system authenticates as the agency, never as a member of staff: with an
**OAuth 2.0 client** (client credentials grant, RFC 6749 §4.4: ``client_id`` + ``client_secret`` at
``POST /api/agency/oauth/token`` for an opaque access token of ``AGENCY_TOKEN_SECONDS``), or with an **API
key** (``X-API-Key: <client_id>.<secret>``). Secrets are 256 random bits, shown once, kept as SHA-256
digests (a slow password hash buys nothing against a secret nobody can guess, and would cost every call).
A rotation hands out a new secret and keeps the previous one valid for an overlap; a revocation ends
every secret and every access token of the credential at its next use. The scope of a credential is its
agency's application field (from the agency, at every call) and the operations listed in ``scopes``.
The Bureau manages credentials (API ``/api/agency/credentials``, CLI ``flask agency …``), audited."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime, timedelta

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Agency, AgencyAccessToken, AgencyCredential, AgencyRecord, Person
from app.models.enums import AgencyKind, Field, Role
from app.privacy import mask_address, mask_id_number, mask_name
from app.services import agency_feed, audit, clock
from app.services.actor import Actor
from app.services.errors import DomainError, InvalidInput, NotFound, OutOfScope

SCOPES = ("feed:read", "records:write", "holders:read", "webhooks:manage")
KINDS = ("oauth_client", "api_key")
TOKEN_PREFIX = "gzat_"


class InvalidCredential(DomainError):
    status, type, title = 401, "invalid-credential", "Invalid agency credential"


class InsufficientScope(DomainError):
    status, type, title = 403, "insufficient-scope", "Credential lacks the scope"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# ---------------------------------------------------------------- management by the Bureau


def _application_agency(session: Session, agency: int | str) -> Agency:
    q = select(Agency).where(Agency.id == agency if isinstance(agency, int) else Agency.code == agency)
    found = session.scalars(q).one_or_none()
    if found is None:
        raise NotFound("No agency {agency}.", params={"agency": agency})
    if found.kind is not AgencyKind.APPLICATION or found.field is None:
        raise InvalidInput("Only an application agency with a field gets agency credentials.", article="Art. 33",
                           field="agency")
    return found


def _check_scopes(scopes) -> list[str]:
    scopes = list(dict.fromkeys(scopes or SCOPES))
    bad = [s for s in scopes if s not in SCOPES]
    if bad:
        raise InvalidInput("Unknown scopes: {scopes}.", field="scopes", params={"scopes": ", ".join(bad)})
    return scopes


def create_credential(session: Session, actor: Actor, agency: int | str, *, kind: str, label: str,
                      scopes=None) -> tuple[AgencyCredential, str]:
    """A new credential; returns it and its secret (the one time it is shown: as an API key, the whole key)."""
    if kind not in KINDS:
        raise InvalidInput("A credential is an oauth_client or an api_key.", field="kind")
    found = _application_agency(session, agency)
    secret = secrets.token_urlsafe(32)
    cred = AgencyCredential(agency_id=found.id, kind=kind, client_id=f"gzc_{secrets.token_hex(8)}",
                            label=label, scopes=_check_scopes(scopes), secret_hash=digest(secret),
                            created_at=clock.now(), created_by=actor.user_id)
    session.add(cred)
    session.flush()
    audit.record(session, actor, "agency.credential.create", subject=f"credential:{cred.id}",
                 changes={"agency": found.code, "kind": kind, "client_id": cred.client_id, "scopes": cred.scopes})
    return cred, shown_secret(cred, secret)


def shown_secret(cred: AgencyCredential, secret: str) -> str:
    return f"{cred.client_id}.{secret}" if cred.kind == "api_key" else secret


def _credential(session: Session, credential_id: int) -> AgencyCredential:
    cred = session.get(AgencyCredential, credential_id, with_for_update=True)
    if cred is None:
        raise NotFound("No agency credential {credential_id}.", params={"credential_id": credential_id})
    return cred


def rotate(session: Session, actor: Actor, credential_id: int, *, overlap_hours: int | None = None,
           ) -> tuple[AgencyCredential, str]:
    """A new secret; the current one stays valid for the overlap (two valid secrets), an older one ends."""
    cred = _credential(session, credential_id)
    if cred.revoked_at is not None:
        raise InvalidInput("A revoked credential is not rotated; create a new one.", field="credential_id")
    hours = current_app.config["AGENCY_ROTATION_OVERLAP_HOURS"] if overlap_hours is None else overlap_hours
    if not 0 <= hours <= 24 * 30:
        raise InvalidInput("The overlap is 0 to 720 hours.", field="overlap_hours")
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    cred.previous_secret_hash, cred.previous_valid_until = cred.secret_hash, now + timedelta(hours=hours)
    cred.secret_hash, cred.rotated_at = digest(secret), now
    audit.record(session, actor, "agency.credential.rotate", subject=f"credential:{cred.id}",
                 changes={"previous_valid_until": cred.previous_valid_until.isoformat()})
    session.flush()
    return cred, shown_secret(cred, secret)


def revoke(session: Session, actor: Actor, credential_id: int, reason: str) -> AgencyCredential:
    """End the credential at once: both secrets and every access token it obtained. Idempotent."""
    cred = _credential(session, credential_id)
    if cred.revoked_at is None:
        cred.revoked_at, cred.revoked_reason = clock.now(), reason
        audit.record(session, actor, "agency.credential.revoke", subject=f"credential:{cred.id}", purpose=reason)
        session.flush()
    return cred


def credentials(session: Session, agency: int | str | None = None) -> list[AgencyCredential]:
    q = select(AgencyCredential).order_by(AgencyCredential.id)
    if agency is not None:
        q = q.where(AgencyCredential.agency_id == _application_agency(session, agency).id)
    return list(session.scalars(q))


# ---------------------------------------------------------------- authentication


def _secret_ok(cred: AgencyCredential, secret: str) -> bool:
    d = digest(secret)
    if hmac.compare_digest(d, cred.secret_hash):
        return True
    return bool(cred.previous_secret_hash and cred.previous_valid_until and cred.previous_valid_until > clock.now()
                and hmac.compare_digest(d, cred.previous_secret_hash))


def check_secret(session: Session, client_id: str, secret: str, *, kind: str) -> AgencyCredential:
    cred = session.scalars(select(AgencyCredential).where(AgencyCredential.client_id == client_id)).one_or_none()
    if cred is None or cred.kind != kind or cred.revoked_at is not None or not _secret_ok(cred, secret):
        raise InvalidCredential("The client id or its secret is wrong, or the credential was revoked.")
    return cred


def issue_token(session: Session, client_id: str, client_secret: str, scope: str | None = None) -> dict:
    """The client credentials grant: a short-lived opaque access token (stored as its digest)."""
    cred = check_secret(session, client_id, client_secret, kind="oauth_client")
    wanted = scope.split() if scope else list(cred.scopes)
    if not set(wanted) <= set(cred.scopes):
        raise InsufficientScope("The scope asked for exceeds the credential's: {scopes}.",
                                params={"scopes": " ".join(cred.scopes)}, error="invalid_scope")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    lifetime = current_app.config["AGENCY_TOKEN_SECONDS"]
    now = clock.now()
    session.add(AgencyAccessToken(token_hash=digest(token), credential_id=cred.id, scopes=wanted, issued_at=now,
                                  expires_at=now + timedelta(seconds=lifetime)))
    session.flush()
    return {"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": " ".join(wanted)}


def _claims(cred: AgencyCredential, agency: Agency, scopes) -> dict:
    return {"role": str(Role.APP_AGENCY), "agency": agency.id, "credential": cred.id, "scopes": list(scopes),
            "sub": f"agency-credential:{cred.id}", "type": "access"}


def request_claims(scope: str) -> dict | None:
    """The claims of the agency credential this request carries (None: it carries none, so the staff
    token check applies). Raises 401 for a wrong, expired or revoked one, 403 for a missing scope."""
    from app.extensions import db

    session = db.session
    api_key = request.headers.get("X-API-Key")
    header = request.headers.get("Authorization", "")
    if api_key is not None:
        client_id, _, secret = api_key.strip().partition(".")
        cred = check_secret(session, client_id, secret, kind="api_key")
        scopes = cred.scopes
    elif header.startswith("Bearer " + TOKEN_PREFIX):
        row = session.execute(
            select(AgencyAccessToken, AgencyCredential)
            .join(AgencyCredential, AgencyCredential.id == AgencyAccessToken.credential_id)
            .where(AgencyAccessToken.token_hash == digest(header[7:].strip()))).one_or_none()
        if row is None or row[0].expires_at <= clock.now() or row[1].revoked_at is not None:
            raise InvalidCredential("The access token is unknown, expired or its credential was revoked.")
        cred, scopes = row[1], row[0].scopes
    else:
        return None
    agency = session.get(Agency, cred.agency_id)
    if scope not in scopes:
        raise InsufficientScope("This call needs the scope {scope}.", params={"scope": scope})
    return _claims(cred, agency, scopes)


# ---------------------------------------------------------------- push (Art. 15)

# What each field collects and updates ex officio and may push: every field its own service record
# (enrolment and reference within its public service, Art. 14, 33); the fields that keep a holder's
# address (household registration: public security; civil affairs) the address, the human resources
# field the occupation. Stored: an own-field record in ``agency_records``; address and occupation on the
# person (contact data that change in place, as ``people.CONTACT_FIELDS``).
RECORD_ITEMS = {"enrolment_status": ("enrolled", "suspended", "ended"), "service_reference": None}
PERSON_ITEMS = {Field.PUBLIC_SECURITY: {"address"}, Field.CIVIL_AFFAIRS: {"address"}, Field.HRSS: {"occupation"}}
# What no agency pushes, and the article that says who changes it instead.
REFUSED = {
    "name": "Art. 17, 24(2)", "doc_number": "Art. 17, 24(2)", "ssn": "Art. 11, 17", "ethnicity": "Art. 17, 24(2)",
    "photo": "Art. 17, 24(2)", "phone": "Art. 19", "locked": "Art. 6", "field_lock": "Art. 6",
    "card_status": "Art. 5, 6", "deceased_on": "Art. 26", "eligible": "Art. 4, 26", "settlement": "Art. 13, 21",
}
MASK = {"address": mask_address, "occupation": lambda v: v, "enrolment_status": lambda v: v,
        "service_reference": lambda v: (v[:2] + "*" * max(0, len(v) - 2)) if v else v}


def pushable(field: Field) -> set[str]:
    return set(RECORD_ITEMS) | PERSON_ITEMS.get(field, set())


def _check_items(field: Field, items: dict) -> None:
    if not items:
        raise InvalidInput("Push at least one item.", field="items")
    for item, value in items.items():
        if item in REFUSED:
            raise OutOfScope("An application agency does not push {item}: it is changed as the article says.",
                             article=REFUSED[item], field=f"items.{item}", params={"item": item})
        if item not in pushable(field):
            everyone = set(RECORD_ITEMS).union(*PERSON_ITEMS.values())
            if item in everyone:
                raise OutOfScope("The {field} field does not collect {item} ex officio.", article="Art. 15, 16",
                                 field=f"items.{item}", params={"field": field, "item": item})
            raise InvalidInput("Unknown item {item}; the {field} field pushes: {items}.", field=f"items.{item}",
                               params={"item": item, "field": field, "items": ", ".join(sorted(pushable(field)))})
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise InvalidInput("{item}: a text of 1 to 200 characters.", field=f"items.{item}", params={"item": item})
        allowed = RECORD_ITEMS.get(item)
        if allowed and value not in allowed:
            raise InvalidInput("{item} is one of: {values}.", field=f"items.{item}",
                               params={"item": item, "values": ", ".join(allowed)})


def push(session: Session, actor: Actor, doc_type: str, doc_number: str, items: dict, *,
         nationality: str | None = None, collected_on: date | None = None) -> dict:
    """Record what the agency collected or updated within its field (Art. 15), free of charge: each change
    with its source (agency, credential) in the holder's events and access log (Art. 20), and shared with
    the agencies of the same field through the feed (``record.updated``, item names only)."""
    from app.services import disclosure, lifecycle, people

    field = disclosure.agency_field(session, actor)
    _check_items(field, items)
    if collected_on is not None and collected_on > clock.today():
        raise InvalidInput("The collection date lies in the future.", field="collected_on")
    person = people.find_by_document(session, doc_type, doc_number, nationality)
    if person is None or not person.cards:
        raise NotFound("No cardholder with that document.")
    person = lifecycle.lock_person(session, person.id)
    agency = session.get(Agency, actor.agency_id)
    changed = {}
    for item, value in sorted(items.items()):
        value = value.strip()
        if item in PERSON_ITEMS.get(field, ()):
            old = getattr(person, item)
            if old != value:
                setattr(person, item, value)
                person.updated_at = clock.now()
                changed[item] = [MASK[item](old), MASK[item](value)]
            continue
        rec = session.scalars(select(AgencyRecord).where(AgencyRecord.person_id == person.id,
                                                         AgencyRecord.field == field,
                                                         AgencyRecord.item == item)).one_or_none()
        old = rec.value if rec else None
        if old == value:
            continue
        if rec is None:
            rec = AgencyRecord(person_id=person.id, field=field, item=item)
            session.add(rec)
        rec.value, rec.agency_id, rec.credential_id = value, agency.id, actor.credential_id
        rec.collected_on = datetime.combine(collected_on, datetime.min.time(), clock.now().tzinfo) \
            if collected_on else None
        rec.updated_at = clock.now()
        changed[item] = [MASK[item](old), MASK[item](value)]
    event = None
    if changed:
        cred = session.get(AgencyCredential, actor.credential_id) if actor.credential_id else None
        held = lifecycle.held_card(session, person.id)
        event = lifecycle.record_event(
            session, actor, "agency_push", person_id=person.id, card=held, article="Art. 15",
            source=held.status if held else None, field=str(field), agency=agency.code,
            credential=cred.client_id if cred else None, changed=changed,
            collected_on=collected_on.isoformat() if collected_on else None)
    session.flush()
    return {"person_id": person.id, "field": str(field), "changed": sorted(changed),
            "unchanged": sorted(set(items) - set(changed)), "event_id": event.id if event else None,
            "fee_fen": 0}


def records(session: Session, person_id: int, field: Field) -> list[AgencyRecord]:
    return list(session.scalars(select(AgencyRecord).where(AgencyRecord.person_id == person_id,
                                                           AgencyRecord.field == field).order_by(AgencyRecord.item)))


# ---------------------------------------------------------------- the feed, as one agency reads it


def feed(session: Session, actor: Actor, *, after: int, limit: int) -> dict:
    """The events after the cursor that concern the actor's agency. The holder's masked name and social
    security number (Art. 16) only for a holder the agency serves in its field: one it pushed data for
    (Art. 15), or one within its remit of the disclosure table (looked up by ID document just now, Art.
    28); of any other holder only the ``person_id`` (which the agency's own lookups return). The read of
    the names is audited, one entry per holder shown."""
    from app.services import disclosure

    field = disclosure.agency_field(session, actor)
    events, more = agency_feed.page(session, field, after=after, limit=limit)
    ids = {e.person_id for e in events}
    served = set(session.scalars(select(AgencyRecord.person_id).where(AgencyRecord.field == field,
                                                                     AgencyRecord.person_id.in_(ids))))
    served |= {pid for pid in ids - served if disclosure._why_not(session, actor, pid) is None}
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(served)))}
    disclosure.log_read(session, actor, [e.person_id for e in events if e.person_id in served], "agency_feed",
                        subject=f"feed:{field}")
    out = []
    for e in events:
        p = people.get(e.person_id)
        holder = {"person_id": e.person_id}
        if p is not None:
            holder |= {"name": mask_name(p.name), "ssn": mask_id_number(p.ssn)}
        out.append({"id": e.id, "seq": e.seq, "type": e.type, "article": e.article, "created_at": e.created_at,
                    "field": str(e.field) if e.field else None, "holder": holder, "data": e.data})
    return {"events": out, "next_cursor": str(events[-1].seq if events else after), "has_more": more}
