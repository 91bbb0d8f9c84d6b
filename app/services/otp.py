"""Resident authentication by a one-time code sent to the registered mobile (Art. 19: only the
cardholder may use the card; Art. 20: the holder queries their own data).

* ``request_code`` answers the same whether or not a cardholder has the document (no
  enumeration): it always validates the number's format, creates a challenge and writes an audit
  entry; only a registered, living holder with a mobile number gets a message.
* The code is 6 digits from ``secrets``; only HMAC-SHA256(key, salt:code) is stored. The key is
  derived from the application's SECRET_KEY, so a copy of the database alone cannot be brute-forced.
* A challenge expires after ``OTP_TTL_SECONDS`` (300), is closed after ``OTP_MAX_ATTEMPTS`` (5)
  wrong codes, is single use, and is superseded by a newer request for the same document. The
  transitions are conditional UPDATEs (``… WHERE closed_at IS NULL``), so two concurrent logins
  with one code cannot both succeed, on SQLite and on PostgreSQL.
* Messages leave through an :class:`SmsGateway`. The default :class:`OutboxGateway` stores them in
  ``sms_outbox`` (recipient masked, body encrypted) for the demo operator (``flask demo sms``);
  production sets ``SMS_GATEWAY`` to its operator's adapter (``"package.module:Class"``).

* A change of the registered mobile (Art. 19) uses the same challenges with the purpose
  ``phone_change``: the code goes to the NEW number (``request_phone_change``) and the number is
  changed only when that code comes back (``confirm_phone_change``); the old number is told of
  every change, whoever made it (``tell_old_number``, called by ``people.change_info``).

Rate limits (per IP and per document) are applied by the API (``app.api.auth``).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from typing import Protocol

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.i18n import N_
from app.models import OtpChallenge, Person, SmsMessage
from app.models.selfservice import OtpOutcome, OtpPurpose
from app.privacy import mask_phone
from app.services import audit, clock, people
from app.services.actor import Actor
from app.services.errors import DomainError

CODE_DIGITS = 6


class CodeRefused(DomainError):
    """Wrong, expired, used or locked code — one answer for all, and for unknown documents too."""

    status, type, title = 401, "code-refused", "Code refused"


# ---------------------------------------------------------------- the SMS gateway


class SmsGateway(Protocol):
    """Sends one text message. ``to`` is the full mobile number; implementations never log it."""

    def send(self, session: Session, to: str, body: str) -> None: ...


class OutboxGateway:
    """Development / demo gateway: the message goes to the ``sms_outbox`` table in the caller's
    transaction (so it exists exactly when the challenge does). The recipient is kept masked."""

    def send(self, session: Session, to: str, body: str) -> None:
        session.add(SmsMessage(to=mask_phone(to), body=body, created_at=clock.now()))


def gateway_from(spec: str) -> SmsGateway:
    """Instantiate ``"package.module:Class"`` (the ``SMS_GATEWAY`` setting)."""
    module, _, name = spec.partition(":")
    return getattr(import_module(module), name)()


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class OtpSettings:
    key: bytes  # HMAC key for the stored code hashes
    ttl: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    gateway: SmsGateway | None = None

    @classmethod
    def from_app(cls, app=None) -> OtpSettings:
        app = app or current_app
        secret = app.config["SECRET_KEY"]
        secret = secret.encode() if isinstance(secret, str) else secret
        gw = app.extensions.get("ssc_sms_gateway")
        if gw is None:
            gw = app.extensions["ssc_sms_gateway"] = gateway_from(app.config["SMS_GATEWAY"])
        return cls(key=hmac.new(secret, b"ssc-otp-v1", hashlib.sha256).digest(),
                   ttl=timedelta(seconds=int(app.config["OTP_TTL_SECONDS"])),
                   max_attempts=int(app.config["OTP_MAX_ATTEMPTS"]), gateway=gw)


def _hash(key: bytes, salt: str, code: str) -> str:
    return hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def _document(doc_type: str, doc_number: str, nationality: str | None) -> tuple[str, str]:
    """Validate the format (422 for a malformed number: that reveals nothing about the register)
    and return (type, blind index)."""
    doc = people.check_document(doc_type, doc_number, nationality)
    return str(doc.type), people.document_index(doc)


def new_code(settings: OtpSettings) -> tuple[str, str, str]:
    """A fresh code as (code, salt, stored hash): only the hash is kept (other purposes than sign-in,
    e.g. a family member's consent, ``app.services.family``, keep it on their own row)."""
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    return code, salt, _hash(settings.key, salt, code)


def code_matches(settings: OtpSettings, salt: str, code_hash: str, code: str) -> bool:
    return hmac.compare_digest(code_hash, _hash(settings.key, salt, str(code)))


def message(code: str, minutes: int) -> str:
    return (f"【广州社保卡】您的登录验证码为{code}，{minutes}分钟内有效，请勿告诉他人。"
            f" Guangzhou SSC login code {code}, valid {minutes} min. Never share it.")


# ---------------------------------------------------------------- request and verify


def request_code(session: Session, actor: Actor, doc_type: str, doc_number: str, settings: OtpSettings,
                 nationality: str | None = None) -> None:
    """Open a challenge for the document and text the code to the holder's registered mobile."""
    dtype, bidx = _document(doc_type, doc_number, nationality)
    person = people.find_by_document(session, doc_type, doc_number, nationality)
    now = clock.now()
    session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.doc_type == dtype, OtpChallenge.doc_number_bidx == bidx, OtpChallenge.closed_at.is_(None),
               OtpChallenge.purpose == OtpPurpose.SIGN_IN)
        .values(closed_at=now, outcome=OtpOutcome.SUPERSEDED)
    )
    reachable = person is not None and bool(person.phone) and person.deceased_on is None
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    challenge = OtpChallenge(doc_type=dtype, doc_number_bidx=bidx, person_id=person.id if reachable else None,
                             salt=salt, code_hash=_hash(settings.key, salt, code), attempts=0,
                             created_at=now, expires_at=now + settings.ttl)
    session.add(challenge)
    session.flush()
    if reachable:
        (settings.gateway or OutboxGateway()).send(session, person.phone, message(code, settings.ttl.seconds // 60))
    audit.record(session, actor, "auth.otp_request", person_id=person.id if person else None,
                 subject=f"otp:{challenge.id}", purpose="resident sign-in (Art. 19, 20)",
                 changes={"sent": reachable})


def verify_code(session: Session, actor: Actor, doc_type: str, doc_number: str, code: str,
                settings: OtpSettings, nationality: str | None = None) -> int:
    """The person id if ``code`` is the open challenge's code; else :class:`CodeRefused` (after
    counting the attempt, which the error handler commits)."""
    dtype, bidx = _document(doc_type, doc_number, nationality)
    challenge = session.scalars(
        select(OtpChallenge)
        .where(OtpChallenge.doc_type == dtype, OtpChallenge.doc_number_bidx == bidx,
               OtpChallenge.closed_at.is_(None), OtpChallenge.purpose == OtpPurpose.SIGN_IN)
        .order_by(OtpChallenge.id.desc()).limit(1)
    ).first()
    person = _consume(session, actor, challenge, code, settings, "auth.resident_login_refused",
                      "resident sign-in (Art. 19)")
    audit.record(session, Actor(**{**actor.__dict__, "person_id": person.id}), "auth.resident_login",
                 person_id=person.id, subject=f"otp:{challenge.id}", purpose="resident sign-in (Art. 19)")
    return person.id


_REFUSED = N_("The code is wrong or has expired. Check the message or request a new code.")


def _consume(session: Session, actor: Actor, challenge: OtpChallenge | None, code: str, settings: OtpSettings,
             refused_action: str, purpose: str) -> Person:
    """Use up ``challenge`` with ``code``: its living person, or :class:`CodeRefused` after counting
    the attempt (closed after ``max_attempts`` wrong codes; the error handler commits the count)."""
    now = clock.now()
    if challenge is None or challenge.expires_at <= now:
        raise CodeRefused(_REFUSED, article="Art. 19")
    good = hmac.compare_digest(challenge.code_hash, _hash(settings.key, challenge.salt, str(code)))
    if not good or challenge.person_id is None:
        attempts = session.execute(
            update(OtpChallenge).where(OtpChallenge.id == challenge.id, OtpChallenge.closed_at.is_(None))
            .values(attempts=OtpChallenge.attempts + 1).returning(OtpChallenge.attempts)
        ).scalar_one_or_none()
        if attempts is None:  # closed meanwhile by a concurrent request
            raise CodeRefused(_REFUSED, article="Art. 19")
        left = max(settings.max_attempts - attempts, 0)
        if left == 0:
            session.execute(update(OtpChallenge).where(OtpChallenge.id == challenge.id)
                            .values(closed_at=now, outcome=OtpOutcome.LOCKED))
        audit.record(session, actor, refused_action, person_id=challenge.person_id,
                     subject=f"otp:{challenge.id}", purpose=purpose, changes={"tries_left": left})
        raise CodeRefused(_REFUSED if left else "Too many wrong codes: request a new code.",
                          article="Art. 19", tries_left=left, commit=True)
    closed = session.execute(
        update(OtpChallenge).where(OtpChallenge.id == challenge.id, OtpChallenge.closed_at.is_(None))
        .values(closed_at=now, outcome=OtpOutcome.USED)
    ).rowcount
    person = session.get(Person, challenge.person_id)
    if closed != 1 or person is None or person.deceased_on is not None:
        raise CodeRefused(_REFUSED, article="Art. 19")
    return person


# ---------------------------------------------------------------- changing the registered mobile (Art. 19)


def phone_change_message(code: str, minutes: int) -> str:
    return (f"【广州社保卡】您正在将本号码登记为社保卡手机号，验证码{code}，{minutes}分钟内有效。如非本人操作请忽略。"
            f" Guangzhou SSC: code {code} confirms this number as your card's mobile, valid {minutes} min.")


def old_number_notice(new_phone: str) -> str:
    masked = mask_phone(new_phone)
    return (f"【广州社保卡】您的社保卡登记手机号已更换为{masked}，本号码将不再接收登录验证码。"
            f"如非本人操作，请致电12345或到银行网点办理。 Guangzhou SSC: your card's mobile number was changed "
            f"to {masked}. If you did not do this, call 12345 or visit a bank outlet.")


def gateway() -> SmsGateway:
    """The configured gateway of the running app (the development outbox outside one)."""
    try:
        return OtpSettings.from_app().gateway
    except RuntimeError:  # no application context
        return OutboxGateway()


def tell_old_number(session: Session, old_phone: str, new_phone: str) -> None:
    """The holder's previous number hears of the change (Art. 19), whoever made it."""
    gateway().send(session, old_phone, old_number_notice(new_phone))


def request_phone_change(session: Session, actor: Actor, new_phone: str, settings: OtpSettings) -> None:
    """A signed-in holder asks to register ``new_phone``: a code goes to THAT number; nothing changes
    until it comes back. A newer request supersedes an open one."""
    from app.services import people
    from app.services.errors import InvalidInput, NotFound

    person = session.get(Person, actor.person_id) if actor.person_id is not None else None
    if person is None or person.deceased_on is not None:
        raise NotFound("No such cardholder.")
    phone = people.check_phone(new_phone)
    if phone == person.phone:
        raise InvalidInput("That is already your registered mobile number.", field="phone")
    now = clock.now()
    session.execute(update(OtpChallenge).where(OtpChallenge.person_id == person.id,
                                               OtpChallenge.purpose == OtpPurpose.PHONE_CHANGE,
                                               OtpChallenge.closed_at.is_(None))
                    .values(closed_at=now, outcome=OtpOutcome.SUPERSEDED))
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    challenge = OtpChallenge(doc_type=str(person.doc_type), doc_number_bidx=person.doc_number_bidx, person_id=person.id,
                             salt=salt, code_hash=_hash(settings.key, salt, code), attempts=0, created_at=now,
                             expires_at=now + settings.ttl, purpose=OtpPurpose.PHONE_CHANGE, new_phone=phone)
    session.add(challenge)
    session.flush()
    (settings.gateway or OutboxGateway()).send(session, phone, phone_change_message(code, settings.ttl.seconds // 60))
    audit.record(session, actor, "person.phone_change_requested", person_id=person.id, subject=f"otp:{challenge.id}",
                 purpose="change of the registered mobile (Art. 19)", changes={"phone": mask_phone(phone)})


def confirm_phone_change(session: Session, actor: Actor, code: str, settings: OtpSettings) -> Person:
    """The code sent to the new number came back: the number changes (``people.change_info``, its
    event and audit entry; the old number is told)."""
    from app.services import people

    challenge = session.scalars(
        select(OtpChallenge).where(OtpChallenge.person_id == actor.person_id,
                                   OtpChallenge.purpose == OtpPurpose.PHONE_CHANGE,
                                   OtpChallenge.closed_at.is_(None))
        .order_by(OtpChallenge.id.desc()).limit(1)).first()
    person = _consume(session, actor, challenge, code, settings, "person.phone_change_refused",
                      "change of the registered mobile (Art. 19)")
    person, _ = people.change_info(session, actor, person.id, {"phone": challenge.new_phone}, phone_confirmed=True)
    return person


# ---------------------------------------------------------------- demo: read the outbox


@click.command("sms")
@click.option("--limit", default=10, show_default=True, help="How many of the latest messages.")
@with_appcontext
def demo_sms_command(limit: int) -> None:
    """Print the latest messages of the development SMS gateway (the demo's stand-in for a phone)."""
    from app.extensions import db

    rows = db.session.scalars(select(SmsMessage).order_by(SmsMessage.id.desc()).limit(limit)).all()
    if not rows:
        click.echo("The SMS outbox is empty.")
    for m in reversed(rows):
        click.echo(f"{m.created_at.astimezone(clock.CHINA):%Y-%m-%d %H:%M:%S}  to {m.to}: {m.body}")
