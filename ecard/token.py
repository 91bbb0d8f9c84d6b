"""E-card token format (version 1): claims, enums, signing, unverified decoding.

The e-card has the same effect as the physical card (Art. 35): its token carries the
card's status, whether settlement is suspended (Art. 21) and which application fields
are locked, plus the minimum a counter clerk needs to match the holder (name and a
masked social security number). ``ecard/README.md`` is the full specification.

Wire form::

    "SC1:" + Base45( COSE_Sign1 )                          (RFC 9285, RFC 9052)
    COSE_Sign1 = [ protected: bstr .cbor {1: -8, 4: h'<kid>'},  unprotected: {},
                   payload: bstr .cbor Payload,  signature: bstr .size 64 ]
    Payload    = [ version, token_id, issued_at, card_ref, name, masked_id,
                   state, locked_fields, ? lifetime ]

Signing is Ed25519 (EdDSA). The token is emitted untagged; the parser also accepts
COSE tag 18 and CWT tag 61, as EU DCC verifiers had to.
"""

from __future__ import annotations

import enum
import os
import re
import time
from typing import NamedTuple

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecard.base45 import b45decode, b45encode

__all__ = [
    "PREFIX", "FORMAT_VERSION", "DEFAULT_LIFETIME", "ALG_EDDSA", "ALG_ED25519",
    "CardStatus", "AppField", "APP_FIELD_NAMES", "STATUS_LABELS", "APP_FIELD_LABELS",
    "Claims", "SigningKey", "DecodedToken", "FormatError",
    "masked_id", "sign_token", "decode_token", "field_names",
    "cose_from_text", "split_cose", "parse_protected", "parse_claims", "sig_structure_head",
    "bstr_head",
]

FORMAT_VERSION = 1
PREFIX = "SC1:"  # "SC" + format version + ":"; every character is QR-alphanumeric
DEFAULT_LIFETIME = 60  # seconds; omitted from the payload when used
ALG_EDDSA = -8  # RFC 9053; what we emit
ALG_ED25519 = -19  # RFC 9864 fully specified Ed25519; accepted too
ACCEPTED_ALGS = frozenset({ALG_EDDSA, ALG_ED25519})
TOKEN_ID_BYTES = 6  # emitted; 6 to 8 accepted
MAX_CARD_REF_BYTES = 8

_OTHER_PREFIX = re.compile(r"SC[0-9A-Z]:")


class CardStatus(enum.IntEnum):
    """Card status carried by the token (format version 1; the app maps its own onto it).

    There is deliberately no value for a cancelled card: Art. 26 forbids issuing a
    token for one, so a cancelled card cannot even be expressed. During reissue and
    replacement the e-card still proves identity (Art. 28); after loss registration
    settlement is suspended (Art. 21), which the token says separately.
    """

    ACTIVE = 0  # 正常: in use
    ISSUED = 1  # 已发放: card made and handed out, not yet activated
    IN_PRODUCTION = 2  # 制卡中: application accepted, card being made or delivered (Art. 10, 12)
    LOSS_REGISTERED = 3  # 挂失: loss registered (Art. 21)
    REISSUE_PENDING = 4  # 补领中: reissue applied for, old card ended (Art. 23, 28)
    REPLACEMENT_PENDING = 5  # 换领中: replacement under way (Art. 24, 28)


STATUS_LABELS: dict[CardStatus, tuple[str, str]] = {
    CardStatus.ACTIVE: ("正常", "active"),
    CardStatus.ISSUED: ("已发放未启用", "issued, not yet activated"),
    CardStatus.IN_PRODUCTION: ("制卡中", "card in production"),
    CardStatus.LOSS_REGISTERED: ("已挂失", "loss registered"),
    CardStatus.REISSUE_PENDING: ("补领中", "reissue pending"),
    CardStatus.REPLACEMENT_PENDING: ("换领中", "replacement pending"),
}


class AppField(enum.IntFlag):
    """Application fields (Art. 14, 33); a set bit means that application is locked (Art. 6).

    Bit order is fixed for format version 1: the fields most often locked and read at a
    counter come first, because CBOR stores a mask below 24 in one byte and below 256 in
    two. The names are those of the back office's application fields; new fields are
    only ever appended, in a new format version.
    """

    MEDICAL = 1 << 0  # 医疗保障
    FINANCE = 1 << 1  # 金融
    TRANSPORT = 1 << 2  # 交通运输
    CIVIL_AFFAIRS = 1 << 3  # 民政
    HEALTH = 1 << 4  # 卫生健康
    EDUCATION = 1 << 5  # 教育
    HOUSING = 1 << 6  # 住房保障
    PROVIDENT_FUND = 1 << 7  # 住房公积金
    HRSS = 1 << 8  # 人力资源和社会保障
    PUBLIC_SECURITY = 1 << 9  # 公安
    JUSTICE = 1 << 10  # 司法
    AGRICULTURE = 1 << 11  # 农业农村
    CULTURE_TOURISM = 1 << 12  # 文化旅游
    SPORTS = 1 << 13  # 体育
    FORESTRY = 1 << 14  # 林业园林
    DISABILITY = 1 << 15  # 残疾人
    VETERANS = 1 << 16  # 退役军人


APP_FIELD_NAMES: tuple[str, ...] = tuple(f.name.lower() for f in AppField)
APP_FIELD_LABELS: dict[AppField, tuple[str, str]] = {
    AppField.MEDICAL: ("医疗保障", "medical insurance"),
    AppField.FINANCE: ("金融", "finance"),
    AppField.TRANSPORT: ("交通运输", "transport"),
    AppField.CIVIL_AFFAIRS: ("民政", "civil affairs"),
    AppField.HEALTH: ("卫生健康", "health"),
    AppField.EDUCATION: ("教育", "education"),
    AppField.HOUSING: ("住房保障", "housing"),
    AppField.PROVIDENT_FUND: ("住房公积金", "housing provident fund"),
    AppField.HRSS: ("人力资源和社会保障", "human resources and social security"),
    AppField.PUBLIC_SECURITY: ("公安", "public security"),
    AppField.JUSTICE: ("司法", "justice"),
    AppField.AGRICULTURE: ("农业农村", "agriculture"),
    AppField.CULTURE_TOURISM: ("文化旅游", "culture and tourism"),
    AppField.SPORTS: ("体育", "sports"),
    AppField.FORESTRY: ("林业园林", "forestry and gardens"),
    AppField.DISABILITY: ("残疾人服务", "disability services"),
    AppField.VETERANS: ("退役军人事务", "veterans affairs"),
}
_ALL_FIELDS = sum(AppField)
_STATUSES = tuple(CardStatus)
_STATUS_VALUES = frozenset(_STATUSES)


def field_names(fields: int) -> list[str]:
    """Names (``APP_FIELD_NAMES``) of the bits set in ``fields``, in bit order."""
    return [name for i, name in enumerate(APP_FIELD_NAMES) if fields >> i & 1]


class FormatError(ValueError):
    """Input that is not a token of this format; ``reason`` is a verifier reason code."""

    def __init__(self, message: str, reason: str = "malformed"):
        super().__init__(message)
        self.reason = reason


# --- masked social security number -------------------------------------------------
#
# The issuer passes the masked form ("440104********1234"), never the full number.
# Packed form (CBOR bstr), one nibble per shown character: 0-9 digits, 0xA "X" (the
# GB 11643 check character), 0xB + n a run of n hidden characters (n = 1..10, 0xA
# meaning 10; longer runs repeat the pair), 0xF padding to a whole byte (last nibble
# only). "440104********1234" -> 44 01 04 b8 12 34: 6 bytes for 18 characters.
# Anything else (e.g. letters in a number assigned to a foreigner) travels as a CBOR
# text string, unchanged.

_HIDDEN_RUN = re.compile(r"\*+")
_RUN_STARS = {format(n, "x"): "*" * n for n in range(1, 11)}


def masked_id(prefix: str, hidden: int, suffix: str) -> str:
    """The masked form from its pieces: ``masked_id("440104", 8, "1234")``."""
    if hidden < 1:
        raise ValueError("a masked number hides at least one character")
    return f"{prefix}{'*' * hidden}{suffix}"


def _run_hexits(match: re.Match) -> str:
    tens, rest = divmod(len(match[0]), 10)
    return "ba" * tens + (f"b{rest}" if rest else "")


def _pack_masked(masked: str) -> bytes | str:
    if not isinstance(masked, str) or "*" not in masked:
        raise ValueError("masked_id must hide at least one character: never the full number")
    if masked.strip("0123456789X*"):  # some other character: travels as text
        return masked
    hexits = _HIDDEN_RUN.sub(_run_hexits, masked).replace("X", "a")
    if len(hexits) % 2:
        hexits += "f"
    return bytes.fromhex(hexits)


def _unpack_masked(value: object) -> str:
    if type(value) is str:
        if "*" not in value:
            raise FormatError("masked id shows every character")
        return value
    if type(value) is not bytes or not value:
        raise FormatError("masked id is not a byte or text string")
    hexits = value.hex()
    if hexits[-1] == "f":
        hexits = hexits[:-1]
    shown, *runs = hexits.split("b")
    if not runs:
        raise FormatError("masked id hides nothing")
    parts = [shown]
    for run in runs:
        stars = _RUN_STARS.get(run[:1])
        if stars is None:
            raise FormatError("bad hidden-run count in masked id")
        parts += (stars, run[1:])
        shown += run[1:]
    if shown.strip("0123456789a"):
        raise FormatError("bad nibble in masked id")
    return "".join(parts).replace("a", "X")


# --- claims --------------------------------------------------------------------------


class Claims(NamedTuple):
    """What a token says. The issuer fills the card fields; ``sign_token`` adds the rest.

    ``name`` travels as GB 18030 (2 bytes per common hanzi, 3 in UTF-8).
    ``masked_id`` is the masked social security number, e.g. "440104********1234".
    ``lifetime`` in seconds (default 60) must not exceed the ``max_token_lifetime``
    the key store rotates with, or the token can outlive its key's publication.
    """

    card_ref: bytes
    name: str
    masked_id: str
    status: CardStatus
    settlement_suspended: bool = False
    locked_fields: AppField = AppField(0)
    lifetime: int = DEFAULT_LIFETIME
    issued_at: int | None = None
    token_id: bytes | None = None
    version: int = FORMAT_VERSION

    @property
    def expires_at(self) -> int:
        """Last second of validity (before the verifier's skew tolerance)."""
        return self.issued_at + self.lifetime

    def to_json(self) -> dict:
        """JSON-ready dict (bytes as hex, enums by name) for tools and the CLI."""
        return {
            "version": self.version,
            "token_id": self.token_id.hex() if self.token_id is not None else None,
            "issued_at": self.issued_at,
            "lifetime": self.lifetime,
            "expires_at": self.expires_at if self.issued_at is not None else None,
            "card_ref": self.card_ref.hex(),
            "name": self.name,
            "masked_id": self.masked_id,
            "status": self.status.name.lower(),
            "settlement_suspended": self.settlement_suspended,
            "locked_fields": field_names(self.locked_fields),
        }


_FIELD_FLAGS: dict[int, AppField] = {}


def _fields(bits: int) -> AppField:
    """AppField for ``bits`` (already range-checked), memoised: enum calls are slow."""
    flags = _FIELD_FLAGS.get(bits)
    if flags is None:
        flags = _FIELD_FLAGS[bits] = AppField(bits)
    return flags


def parse_claims(payload: bytes) -> Claims:
    """Decode and check a version-1 payload; :class:`FormatError` if it is not one."""
    try:
        items = cbor2.loads(payload)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise FormatError(f"payload is not CBOR: {exc}") from None
    if type(items) is not list or not items:
        raise FormatError("payload is not a CBOR array")
    if type(items[0]) is not int or items[0] != FORMAT_VERSION:
        raise FormatError(f"unsupported payload version {items[0]!r}", "unsupported_version")
    if len(items) == 8:
        _, token_id, issued_at, card_ref, name, masked, state, locked = items
        lifetime = DEFAULT_LIFETIME
    elif len(items) == 9:
        _, token_id, issued_at, card_ref, name, masked, state, locked, lifetime = items
        if type(lifetime) is not int or lifetime <= 0:
            raise FormatError("bad lifetime")
    else:
        raise FormatError("payload array has the wrong length")
    if type(token_id) is not bytes or not 6 <= len(token_id) <= 8:
        raise FormatError("bad token id")
    if type(issued_at) is not int or issued_at < 0:
        raise FormatError("bad issued-at")
    if type(card_ref) is not bytes or not 1 <= len(card_ref) <= MAX_CARD_REF_BYTES:
        raise FormatError("bad card reference")
    if type(name) is not bytes or not name:
        raise FormatError("bad name")
    if type(state) is not int or not 0 <= state >> 1 < len(_STATUSES):
        raise FormatError("bad card state")
    if type(locked) is not int or locked & ~_ALL_FIELDS or locked < 0:
        raise FormatError("bad locked-field mask")
    try:
        name = name.decode("gb18030")
    except UnicodeDecodeError:
        raise FormatError("name is not GB 18030") from None
    return Claims(card_ref, name, _unpack_masked(masked), _STATUSES[state >> 1],
                  bool(state & 1), _fields(locked), lifetime, issued_at, token_id)


def _payload(claims: Claims, issued_at: int, token_id: bytes) -> bytes:
    """CBOR payload of ``claims``; ValueError/TypeError on a claim out of range."""
    card_ref, name = claims.card_ref, claims.name
    if not isinstance(card_ref, bytes) or not 1 <= len(card_ref) <= MAX_CARD_REF_BYTES:
        raise ValueError(f"card_ref must be 1 to {MAX_CARD_REF_BYTES} bytes")
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    if not isinstance(token_id, bytes) or not 6 <= len(token_id) <= 8:
        raise ValueError("token_id must be 6 to 8 bytes")
    lifetime = claims.lifetime
    if type(lifetime) is not int or lifetime <= 0:
        raise ValueError("lifetime must be a positive number of seconds")
    locked = int(claims.locked_fields)
    if locked & ~_ALL_FIELDS or locked < 0:
        raise ValueError("locked_fields has bits outside AppField")
    if claims.status not in _STATUS_VALUES:
        raise ValueError(f"status must be a CardStatus, not {claims.status!r}")
    state = int(claims.status) << 1 | bool(claims.settlement_suspended)
    items = [FORMAT_VERSION, token_id, issued_at, card_ref, name.encode("gb18030"),
             _pack_masked(claims.masked_id), state, locked]
    if lifetime != DEFAULT_LIFETIME:
        items.append(lifetime)
    return cbor2.dumps(items)


# --- COSE ----------------------------------------------------------------------------

_SIG1_CONTEXT = b"\x84\x6aSignature1"  # Sig_structure array(4) + tstr "Signature1"
_EMPTY_BSTR = b"\x40"  # external_aad = h''


def bstr_head(length: int) -> bytes:
    """Deterministic CBOR head of a byte string of ``length`` (RFC 8949 §4.2.1)."""
    if length < 24:
        return bytes((0x40 | length,))
    if length < 0x100:
        return bytes((0x58, length))
    if length < 0x10000:
        return b"\x59" + length.to_bytes(2, "big")
    raise ValueError("byte string too long for a token")


def sig_structure_head(protected: bytes) -> bytes:
    """Constant start of Sig_structure = ["Signature1", protected, h'', payload] (RFC 9052 §4.4).

    Append ``bstr_head(len(payload)) + payload`` to get the bytes that are signed.
    """
    return _SIG1_CONTEXT + bstr_head(len(protected)) + protected + _EMPTY_BSTR


class SigningKey:
    """An Ed25519 private key with its one-byte kid, ready to sign many tokens."""

    __slots__ = ("kid", "private_key", "_cose_head", "_tbs_head")

    def __init__(self, kid: int, private_key: Ed25519PrivateKey):
        if not 0 <= kid <= 0xFF:
            raise ValueError("kid is one byte")
        self.kid = kid
        self.private_key = private_key
        protected = cbor2.dumps({1: ALG_EDDSA, 4: bytes((kid,))})
        self._cose_head = b"\x84" + bstr_head(len(protected)) + protected + b"\xa0"
        self._tbs_head = sig_structure_head(protected)

    @property
    def kid_hex(self) -> str:
        """The kid as the JWK ``kid`` string (lower-case hex)."""
        return format(self.kid, "02x")


def sign_token(claims: Claims, signing_key: SigningKey, *, now: float | None = None) -> str:
    """Sign ``claims`` and return the QR text ``"SC1:" + Base45(COSE_Sign1)``.

    ``issued_at`` defaults to ``int(now)`` (``now`` defaults to the clock) and
    ``token_id`` to 6 random bytes. Raises ValueError for claims out of range, e.g.
    a masked id that hides nothing.
    """
    issued_at = claims.issued_at
    if issued_at is None:
        issued_at = int(time.time() if now is None else now)
    token_id = os.urandom(TOKEN_ID_BYTES) if claims.token_id is None else claims.token_id
    payload = _payload(claims, issued_at, token_id)
    payload = bstr_head(len(payload)) + payload
    signature = signing_key.private_key.sign(signing_key._tbs_head + payload)
    return PREFIX + b45encode(signing_key._cose_head + payload + b"\x58\x40" + signature)


# --- parsing (shared with the verifier) ------------------------------------------------


def cose_from_text(text: str | bytes) -> bytes:
    """COSE bytes from the QR text; FormatError (malformed / unsupported_version)."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise FormatError("not ASCII text") from None
    elif not isinstance(text, str):
        raise FormatError("not text")
    if not text.startswith(PREFIX):
        if _OTHER_PREFIX.match(text):
            raise FormatError(f"unsupported prefix {text[:4]!r}", "unsupported_version")
        raise FormatError("missing SC1: prefix")
    try:
        return b45decode(text[4:])
    except ValueError as exc:
        raise FormatError(f"bad Base45: {exc}") from None


def _read_bstr(data: bytes, pos: int) -> tuple[bytes, int]:
    """A definite, deterministically encoded byte string at ``pos``, and the end."""
    head = data[pos]
    if 0x40 <= head <= 0x57:
        length, pos = head - 0x40, pos + 1
    elif head == 0x58 and data[pos + 1] >= 24:
        length, pos = data[pos + 1], pos + 2
    elif head == 0x59 and data[pos + 1]:
        length, pos = int.from_bytes(data[pos + 1 : pos + 3], "big"), pos + 3
    else:
        raise FormatError("expected a byte string")
    end = pos + length
    if end > len(data):
        raise FormatError("truncated byte string")
    return data[pos:end], end


def split_cose(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(protected, payload, signature) of a COSE_Sign1, untagged, tag 18 or CWT tag 61.

    The unprotected header must be empty and nothing may follow the structure.
    """
    try:
        pos = 2 if data[:2] == b"\xd8\x3d" else 0  # CWT tag 61
        if data[pos] == 0xD2:  # COSE_Sign1 tag 18
            pos += 1
        if data[pos] != 0x84:
            raise FormatError("not a COSE_Sign1 array")
        protected, pos = _read_bstr(data, pos + 1)
        if data[pos] != 0xA0:
            raise FormatError("unprotected header must be empty")
        payload, pos = _read_bstr(data, pos + 1)
        signature, pos = _read_bstr(data, pos)
    except IndexError:
        raise FormatError("truncated COSE_Sign1") from None
    if pos != len(data):
        raise FormatError("data after the COSE_Sign1")
    if len(signature) != 64:
        raise FormatError("signature is not 64 bytes")
    return protected, payload, signature


def parse_protected(protected: bytes) -> tuple[int, bytes]:
    """(alg, kid) of a protected header; FormatError unless EdDSA/Ed25519 with a kid."""
    try:
        header = cbor2.loads(protected)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        raise FormatError("protected header is not CBOR") from None
    if type(header) is not dict:
        raise FormatError("protected header is not a map")
    alg, kid = header.get(1), header.get(4)
    if type(alg) is not int or alg not in ACCEPTED_ALGS:
        raise FormatError(f"algorithm {alg!r} is not EdDSA/Ed25519")
    if type(kid) is not bytes or not kid:
        raise FormatError("protected header has no kid")
    if 2 in header:
        raise FormatError("critical headers are not supported")
    return alg, kid


class DecodedToken(NamedTuple):
    """A token taken apart WITHOUT checking its signature (for tools, never for decisions)."""

    alg: int
    kid: bytes
    claims: Claims
    protected: bytes
    payload: bytes
    signature: bytes

    def to_json(self) -> dict:
        return {"alg": self.alg, "kid": self.kid.hex(), "claims": self.claims.to_json(),
                "signature": self.signature.hex()}


def decode_token(text: str | bytes) -> DecodedToken:
    """Take a token apart without verifying it; :class:`FormatError` if it is not one."""
    protected, payload, signature = split_cose(cose_from_text(text))
    alg, kid = parse_protected(protected)
    return DecodedToken(alg, kid, parse_claims(payload), protected, payload, signature)
