"""Issuing electronic-card tokens (Art. 35): the card's state, read in ONE indexed query, signed
into a short-lived token by the ``ecard`` package.

Rules (Art. 21, 26, 28, 35): a token describes the holder's current card — the valid one, else
the one being made after a reissue or replacement, so the e-card keeps proving identity while a
card is replaced (Art. 28) — with settlement marked suspended while a loss is in force (Art. 21).
A holder whose cards are cancelled, or who never received a card, gets no token (Art. 26).

Issuance is hot (every resident's phone asks about once a minute), so the profile is one Core
query (which also tells whether the caller's sign-in session is still open), and issuance is counted
in memory and written in batches rather than with a commit per token.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    Engine,
    bindparam,
    case,
    exists,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session, aliased, scoped_session

from app.models import AuthSession, Card, FieldStatus, Person
from app.models.card import PENDING_STATES, VALID_STATES
from app.models.enums import CardKind, Field
from app.models.enums import CardStatus as S
from app.privacy import mask_id_number
from app.services.errors import DomainError, NotFound
from app.services.lifecycle import settlement_suspended_sql
from ecard.keys import KeyStore
from ecard.token import AppField, Claims, sign_token
from ecard.token import CardStatus as T

# The back office's fields and the token's bits share names (ecard.token.AppField).
FIELD_BITS = {f: int(AppField[f.name]) for f in Field}


class NoToken(DomainError):
    status, type, title = 409, "no-ecard-token", "No electronic card for this holder"


class Revoked(DomainError):
    status, type, title = 401, "token-revoked", "Session ended"


_ENDED = "This session has ended (logout, account change or its time limit). Log in again."


def _const(value) -> ColumnElement:
    """A constant of OUR code (enum values, bits) rendered into the SQL text, not bound per execution:
    a statement whose only parameters are ``person_id`` and ``sid`` costs less at every issuance."""
    text_ = str(value.value if hasattr(value, "value") else value)
    if not re.fullmatch(r"[a-z_0-9]+", text_):
        raise ValueError(f"not a safe SQL constant: {text_!r}")
    return literal_column(text_ if text_.isdigit() else f"'{text_}'")


@functools.cache
def _profile_statement():
    """The profile query, built ONCE: building it costs several times more than running it, and the
    same object keeps SQLAlchemy's cache key memoised, so every issuance reuses the compiled SQL.
    Its only bound parameters are ``person_id`` and ``sid``: the access token's session, which must
    be open (not ended by logout or otherwise; app.services.sessions). Its absolute end needs no
    test here: no token outlives it, and the token's expiry is checked before this query."""
    other = aliased(Card)
    order = case((other.status.in_([_const(v) for v in VALID_STATES]), _const(0)),
                 (other.status.in_([_const(v) for v in PENDING_STATES]), _const(1)), else_=_const(2))
    current = (select(other.id).where(other.person_id == Person.id)
               .order_by(order, other.id.desc()).limit(_const(1)).scalar_subquery())
    suspended = settlement_suspended_sql(Person.id)  # Art. 21: the one rule every view reads
    bits = case(*((FieldStatus.field == _const(f), _const(b)) for f, b in FIELD_BITS.items()), else_=_const(0))
    locked = (select(func.coalesce(func.sum(bits), _const(0)))
              .where(FieldStatus.person_id == Person.id, FieldStatus.locked.is_(True)).scalar_subquery())
    revoked = ~exists().where(AuthSession.id == bindparam("sid", type_=AuthSession.id.type),
                              AuthSession.person_id == Person.id, AuthSession.ended_at.is_(None))
    ever_issued = exists().where(other.person_id == Person.id, other.received_on.is_not(None))
    return (
        select(Card.id, Card.status, Card.kind, Person.name, Person.ssn, suspended.label("suspended"),
               locked.label("locked"), revoked.label("revoked"), ever_issued.label("ever_issued"))
        .select_from(Person).join(Card, Card.id == current).where(Person.id == bindparam("person_id"))
    )


def _profile_query(person_id: int, sid: str | None):
    """(statement, parameters) of the one query behind a token."""
    return _profile_statement(), {"person_id": person_id, "sid": sid}


class _Row(NamedTuple):
    id: int
    status: str
    kind: str
    name: str
    ssn: str
    suspended: bool
    locked: int
    revoked: bool
    ever_issued: bool


class _CompiledProfile:
    """The profile statement compiled once for one dialect, run straight on a DBAPI cursor.

    An issuance is a few hundred microseconds of CPU, and SQLAlchemy's per-execution machinery
    (execution context, result object) and the ORM session's begin/close cost about as much as
    the rest together; the SQL, its parameters' order and each column's result processing
    (decryption of the name and number, Art. 16) are fixed, so they are prepared here once.
    Not going through the engine also means no SQL echo or engine events for this one query."""

    def __init__(self, dialect):
        stmt = _profile_statement()
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.constants = {k: v for k, v in compiled.params.items() if k not in ("person_id", "sid")}
        self.order = compiled.positiontup if compiled.positional else None
        self.processors = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                           for c in stmt.selected_columns]
        assert list(_Row._fields) == [c.key for c in stmt.selected_columns]

    def run(self, dbapi_connection, person_id: int, sid: str | None) -> _Row | None:
        params = {**self.constants, "person_id": person_id, "sid": sid}
        if self.order is not None:
            params = tuple(params[k] for k in self.order)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, params)
            raw = cursor.fetchone()
        finally:
            cursor.close()
        if raw is None:
            return None
        return _Row(*(p(v) if p is not None else v for p, v in zip(self.processors, raw)))


_compiled: dict[object, _CompiledProfile] = {}


def _fetch_profile(db: Session | Engine, person_id: int, sid: str | None) -> _Row | None:
    """The profile row. A session with a transaction under way (a CLI, a test, a request that
    wrote) is read through its own connection, so it sees its own changes; otherwise (the usual
    request: the view passes the engine while no session is in use) a pooled connection is
    borrowed for the one query and given back at once, without an ORM transaction to close."""
    if isinstance(db, scoped_session):
        db = db()
    if isinstance(db, Session) and db.in_transaction():
        connection = db.connection()
        dialect, dbapi_connection, borrowed = connection.dialect, connection.connection, None
    else:
        engine = db if isinstance(db, Engine) else db.get_bind()
        dialect = engine.dialect
        dbapi_connection = borrowed = engine.raw_connection()
    try:
        profile = _compiled.get(dialect)
        if profile is None:
            profile = _compiled[dialect] = _CompiledProfile(dialect)
        return profile.run(dbapi_connection, person_id, sid)
    finally:
        if borrowed is not None:
            borrowed.close()  # back to the pool, which rolls the read transaction back


def _found(db: Session | Engine, stmt) -> bool:
    """Whether ``stmt`` finds a row (the rare refusal paths)."""
    if isinstance(db, Engine):
        with db.connect() as connection:
            return connection.execute(stmt).first() is not None
    return db.execute(stmt).first() is not None


def token_status(status: S, kind: CardKind) -> T | None:
    """The token's status for the holder's current card, or None: no token (Art. 26)."""
    if status is S.ACTIVE:
        return T.ACTIVE
    if status is S.ISSUED:
        return T.ISSUED
    if status is S.LOSS_REGISTERED:
        return T.LOSS_REGISTERED
    if status is S.REPLACEMENT_PENDING:
        return T.REPLACEMENT_PENDING
    if status.value in PENDING_STATES:
        return {CardKind.REISSUE: T.REISSUE_PENDING, CardKind.REPLACEMENT: T.REPLACEMENT_PENDING}.get(
            kind, T.IN_PRODUCTION)
    return None


def card_ref(secret: bytes, card_id: int) -> bytes:
    """An opaque 6-byte reference to one card (a new card after reissue has a new one)."""
    return hmac.new(secret, b"ecard-card-ref:%d" % card_id, hashlib.sha256).digest()[:6]


@dataclass(frozen=True)
class Issued:
    token: str
    issued_at: int
    expires_at: int

    @property
    def refresh_after(self) -> int:
        """When the phone should ask for the next token: a quarter of the lifetime (at most 15 s)
        before expiry, so the code on screen never runs out while a scanner reads it."""
        return self.expires_at - min(15, (self.expires_at - self.issued_at) // 4)


log = logging.getLogger("app.ecard")


class IssuanceCounter:
    """Counts tokens in memory and logs one aggregate line per interval (batched logging) instead
    of a database write per token. Losing one interval's count on a crash is accepted: a token is
    evidence only of itself (verifiers check it offline); the count serves monitoring."""

    def __init__(self, every: float = 5.0):
        self.every = every
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def add(self, person_id: int, n: int) -> None:
        with self._lock:
            self._counts[person_id] = self._counts.get(person_id, 0) + n
            if time.monotonic() - self._last < self.every:
                return
            batch, self._counts, self._last = self._counts, {}, time.monotonic()
        log.info("ecard issuance: %d tokens to %d holders", sum(batch.values()), len(batch))


class Issuer:
    """Signs tokens with the key store's current key; the clock and lifetimes are its settings."""

    def __init__(self, store: KeyStore, secret: bytes, *, lifetime: int = 60, horizon: int = 600):
        self.store, self.secret, self.lifetime, self.horizon = store, secret, lifetime, horizon
        self.counter = IssuanceCounter()

    def claims(self, session: Session | Engine, person_id: int, sid: str | None = None) -> Claims:
        """What a token for this holder says now. ``session``: a Session (its transaction is
        read when one is under way) or an Engine (a pooled connection is borrowed). ``sid``: the
        caller's sign-in session (None: not asked through a token, e.g. the CLI)."""
        row = _fetch_profile(session, person_id, sid)
        if row is None:
            # The session first: a logged-out token learns nothing about the holder's cards.
            if sid is not None and not _found(session, select(AuthSession.id).where(
                    AuthSession.id == sid, AuthSession.person_id == person_id, AuthSession.ended_at.is_(None))):
                raise Revoked(_ENDED)
            if not _found(session, select(Person.id).where(Person.id == person_id)):
                raise NotFound("No cardholder {person_id}.", params={"person_id": person_id})
            raise NoToken("You have no card yet: the electronic card follows the physical one.", article="Art. 35")
        if row.revoked and sid is not None:
            raise Revoked(_ENDED)
        status = token_status(S(row.status), CardKind(row.kind))
        if status is None or not row.ever_issued:
            raise NoToken(
                "No electronic card for a cancelled or ended card." if status is None
                else "You have no card yet: the electronic card follows the physical one.",
                article="Art. 26" if status is None else "Art. 35")
        return Claims(card_ref=card_ref(self.secret, row.id), name=row.name, masked_id=mask_id_number(row.ssn),
                      status=status, settlement_suspended=bool(row.suspended),
                      locked_fields=AppField(int(row.locked)), lifetime=self.lifetime)

    def issue(self, session: Session | Engine, person_id: int, *, count: int = 1, sid: str | None = None,
              now: float | None = None) -> list[Issued]:
        """``count`` consecutive tokens: the first valid now, each next one from the previous one's
        expiry, never further ahead than the horizon (a phone without signal, at most 10 minutes)."""
        if not 1 <= count or count * self.lifetime > self.horizon:
            raise NoToken("At most {count} tokens ahead.", article="Art. 35",
                          params={"count": self.horizon // self.lifetime})
        claims = self.claims(session, person_id, sid)
        now = int(time.time() if now is None else now)
        signer = self.store.current_signer(now)
        out = []
        for i in range(count):
            iat = now + i * self.lifetime
            out.append(Issued(sign_token(claims._replace(issued_at=iat), signer), iat, iat + self.lifetime))
        self.counter.add(person_id, count)
        return out


# ---------------------------------------------------------------- the card face on the holder's phone


@dataclass(frozen=True)
class Face:
    """What the phone's e-card page shows around the code, read by the same one query as a token.

    ``token_status`` None: no token is issued for this holder — ``no_token_article`` says why
    (Art. 26: cancelled or ended card; Art. 35: no card received yet)."""

    card_id: int | None
    card_status: S | None
    token_status: T | None
    name: str
    masked_ssn: str
    settlement_suspended: bool
    locked_fields: tuple[Field, ...]
    no_token_article: str | None

    @property
    def shows_code(self) -> bool:
        return self.no_token_article is None


def face(session: Session | Engine, person_id: int) -> Face | None:
    """The holder's card face (None: no such person). The same rules as :meth:`Issuer.claims`: the
    current card, settlement suspended (Art. 21), the locked application fields (Art. 6), and whether
    a token would be issued (Art. 26, 35)."""
    if isinstance(session, scoped_session):
        session = session()
    row = _fetch_profile(session, person_id, None)
    if row is None:
        person = session.get(Person, person_id) if isinstance(session, Session) else None
        if person is None:
            return None
        return Face(None, None, None, person.name, mask_id_number(person.ssn) if person.ssn else "", False, (),
                    "Art. 35")
    status = token_status(S(row.status), CardKind(row.kind))
    bits = int(row.locked)
    locked = tuple(f for f, b in FIELD_BITS.items() if bits & b)
    article = None if status is not None and row.ever_issued else ("Art. 26" if status is None else "Art. 35")
    return Face(row.id, S(row.status), status if article is None else None, row.name, mask_id_number(row.ssn),
                bool(row.suspended), locked, article)
