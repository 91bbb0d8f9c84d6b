"""E-card token format (version 2): claims, enums, signing, unverified decoding.

The e-card has the same effect as the physical card (Art. 35): its token carries the
card's status, whether settlement is suspended (Art. 21) and which application fields
are locked, plus the minimum a counter clerk needs to match the holder (name and a
masked social security number). ``ecard/README.md`` is the full specification.

Wire form::

    "SC2:" + Base45( COSE_Sign1 )                          (RFC 9285, RFC 9052)
    COSE_Sign1 = [ protected: bstr .cbor {1: -8, 4: h'<kid>'},  unprotected: {},
                   payload: bstr .cbor Payload,  signature: bstr .size 64 ]
    Payload    = [ version, token_id, issued_at, card_ref, name, masked_id,
                   state, locked_fields, ? lifetime ]

Signing is Ed25519 (EdDSA). Only ONE encoding of a claim set is valid: untagged, the
protected header exactly ``a2 01 27 04 41 <kid>``, and every CBOR item in its RFC 8949
§4.2.1 deterministic encoding (shortest heads, definite lengths, nothing trailing), so
that two verifiers built from the specification cannot disagree.
"""

from __future__ import annotations

import codecs
import enum
import os
import re
import time
from typing import NamedTuple

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecard.base45 import b45decode, b45encode

__all__ = [
    "PREFIX", "FORMAT_VERSION", "DEFAULT_LIFETIME", "ALG_EDDSA",
    "CardStatus", "AppField", "APP_FIELD_NAMES", "STATUS_LABELS", "APP_FIELD_LABELS",
    "Claims", "SigningKey", "DecodedToken", "FormatError",
    "masked_id", "sign_token", "decode_token", "field_names",
    "cose_from_text", "split_cose", "parse_protected", "parse_claims", "sig_structure_head",
    "bstr_head", "PROTECTED_HEAD",
]

FORMAT_VERSION = 2
PREFIX = "SC2:"  # "SC" + format version + ":"; every character is QR-alphanumeric
DEFAULT_LIFETIME = 60  # seconds; omitted from the payload when used (and only then)
ALG_EDDSA = -8  # RFC 9053; the only algorithm of the format
TOKEN_ID_BYTES = 6  # emitted; 6 to 8 accepted
MAX_CARD_REF_BYTES = 8

_OTHER_PREFIX = re.compile(r"SC[0-9A-Z]:")


class CardStatus(enum.IntEnum):
    """Card status carried by the token (format versions 1 and 2; the app maps its own onto it).

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

    Bit order is fixed since format version 1: the fields most often locked and read at a
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
# The issuer passes the masked form ("440104********1234"), never the full number. It travels
# packed (CBOR bstr), one or two nibbles per character (ecard/README.md §3):
#
#   0-9    the digit                       a      "X" (the GB 11643 check character)
#   b      a run of 8 hidden characters    c n    a run of n+1 hidden characters (1..16)
#   d n    letter n (A..P)                 e n    letter 16+n (Q..Z)
#   f      padding to a whole byte, the last nibble only and only after an odd count
#
# Runs longer than 16 are split into runs of 16 from the left, then the rest. One string has
# exactly one packing (what _pack_masked gives): "X" only as "a", a run of 8 only as "b".
# "440104********1234" -> 44 01 04 b1 23 4f, "A44010********1234" -> d0 44 01 0b 12 34:
# 6 bytes for the 18 characters of a citizen or an assigned number.

_MASKED_CHARS = re.compile(r"[0-9A-Z*]*\*[0-9A-Z*]*")
_HIDDEN_RUN = re.compile(r"\*+")
_LETTER_HEXITS = {ord(c): (f"d{i:x}" if i < 16 else f"e{i - 16:x}")
                  for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_LETTER_HEXITS[ord("X")] = "a"
# The canonical packings, as hexits: single characters, letters (not "X" as e7), and each run
# as (cf)* + a rest that is not 8 as c7, never followed by another run; then the padding.
_PACKING = re.compile(r"(?:[0-9a]+|d[0-9a-f]|e[0-689]|(?:cf)*(?:b|c[0-68-e])(?![bc])|(?:cf)+(?![bc]))+f?")
_TWO_NIBBLE_CODE = re.compile(r"[cde].")
_TWO_NIBBLES = {**{f"c{n:x}": "*" * (n + 1) for n in range(16)},
                **{f"d{i:x}": chr(0x41 + i) for i in range(16)},
                **{f"e{i:x}": chr(0x51 + i) for i in range(10)}}


def _two_nibbles(match: re.Match) -> str:
    return _TWO_NIBBLES[match[0]]


def masked_id(prefix: str, hidden: int, suffix: str) -> str:
    """The masked form from its pieces: ``masked_id("440104", 8, "1234")``."""
    if hidden < 1:
        raise ValueError("a masked number hides at least one character")
    return f"{prefix}{'*' * hidden}{suffix}"


def _run_hexits(match: re.Match) -> str:
    sixteens, rest = divmod(len(match[0]), 16)
    return "cf" * sixteens + ("" if not rest else "b" if rest == 8 else f"c{rest - 1:x}")


def _pack_masked(masked: str) -> bytes:
    if not isinstance(masked, str) or "*" not in masked:
        raise ValueError("masked_id must hide at least one character: never the full number")
    if not _MASKED_CHARS.fullmatch(masked):
        raise ValueError("masked_id has only digits, upper-case letters A-Z and '*'")
    letters = masked.strip("0123456789*X")  # the usual case, none, skips the slower translate
    hexits = masked.translate(_LETTER_HEXITS) if letters else masked.replace("X", "a")
    hexits = _HIDDEN_RUN.sub(_run_hexits, hexits)
    if len(hexits) % 2:
        hexits += "f"
    return bytes.fromhex(hexits)


# The packing of an 18-character number with its middle 8 hidden ("440104********1234": citizens,
# assigned numbers, permits with digits only): the usual case, read without the general rules.
_USUAL_PACKING = re.compile(r"[0-9a]{6}b[0-9a]{4}f")


def _unpack_masked(value: object) -> str:
    """The masked string of a packed value; FormatError unless ``value`` is its one packing."""
    if type(value) is bytes:
        hexits = value.hex()
        if _USUAL_PACKING.fullmatch(hexits):  # a packing the general rules accept, read directly
            return (hexits[:6] + "********" + hexits[7:11]).replace("a", "X")
    return _unpack_any_masked(value)


def _unpack_any_masked(value: object) -> str:
    """:func:`_unpack_masked` by the general rules (README §3)."""
    if type(value) is not bytes or not value:
        raise FormatError("masked id is not a packed byte string")
    hexits = value.hex()
    if not _PACKING.fullmatch(hexits):
        raise FormatError("masked id is not packed in its one canonical form")
    if "c" in hexits or "d" in hexits or "e" in hexits:
        hexits = _TWO_NIBBLE_CODE.sub(_two_nibbles, hexits)  # tokens start at c/d/e, left to right
    if hexits[-1] == "f":
        hexits = hexits[:-1]
    masked = hexits.replace("a", "X").replace("b", "********")
    if "*" not in masked:
        raise FormatError("masked id hides nothing")
    return masked


# --- claims --------------------------------------------------------------------------


class Claims(NamedTuple):
    """What a token says. The issuer fills the card fields; ``sign_token`` adds the rest.

    ``name`` travels as GB 18030 (2 bytes per common hanzi, 3 in UTF-8).
    ``masked_id`` is the masked social security number, e.g. "440104********1234".
    ``lifetime`` in seconds (default 60): the time from ``issued_at`` to expiry. The
    key store's ``max_token_reach`` must cover the time from signing to expiry (for a
    token signed ahead, its ``issued_at`` lies in the future), or the token can outlive
    its key's publication.
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


_CBOR_ERRORS = (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError, LookupError)


# The GB 18030 codes whose meaning changed between the 2000, 2005 and 2022 editions: Python's codec
# (2000) and the WHATWG decoder of browsers (2022) read them differently (checked over every 1-, 2- and
# 4-byte code, README §3). A name holding one is malformed, so that every verifier reads a name alike;
# these are the code points Python's codec gives them (private-use codes and U+1E3F).
_EDITION_DEPENDENT = re.compile("[\ue5e5\ue78d-\ue796\ue7c7\ue81e\ue826\ue82b\ue82c\ue832\ue843"
                                "\ue854\ue864\u1e3f]")
_new_claims = tuple.__new__  # Claims(...) without NamedTuple's Python-level __new__ (hot path)
_gb18030 = codecs.getdecoder("gb18030")  # looked up once: name.decode("gb18030") looks it up per call


def _claims_of_usual_layout(p: bytes) -> Claims | None:
    """Accept-only fast path of :func:`parse_claims` for the layout the issuer writes: a definite
    array of 8 or 9, version 2, every head in its shortest form, short byte strings, a 4-byte
    issued-at, small state and mask, nothing after. None for anything else, which the full path
    then judges, so both paths give one verdict: bytes taken here are deterministic CBOR by
    construction, and the same field rules apply (tests/vectors run both paths)."""
    count = p[0]
    if count != 0x88 and count != 0x89 or p[1] != FORMAT_VERSION:
        return None
    head = p[2]
    if not 0x46 <= head <= 0x48:  # token id: 6 to 8 bytes
        return None
    pos = head - 0x3D  # 3 + length
    token_id = p[3:pos]
    if p[pos] != 0x1A or not (p[pos + 1] or p[pos + 2]):  # uint32 above 0xffff: its shortest form
        return None
    issued_at = int.from_bytes(p[pos + 1 : pos + 5], "big")
    head = p[pos + 5]
    if not 0x41 <= head <= 0x40 + MAX_CARD_REF_BYTES:
        return None
    start, pos = pos + 6, pos + head - 0x3A
    card_ref = p[start:pos]
    head = p[pos]
    if not 0x41 <= head <= 0x57:  # a name of 1 to 23 bytes
        return None
    start, pos = pos + 1, pos + head - 0x3F
    name = p[start:pos]
    head = p[pos]
    if not 0x41 <= head <= 0x57:
        return None
    start, pos = pos + 1, pos + head - 0x3F
    masked = p[start:pos]
    state, locked = p[pos], p[pos + 1]
    if state >= 24 or locked >= 24 or state >> 1 >= len(_STATUSES) or locked & ~_ALL_FIELDS:
        return None
    lifetime = DEFAULT_LIFETIME
    if count == 0x89:
        lifetime = p[pos + 2]
        if lifetime == 0x18 and p[pos + 3] >= 24:
            lifetime, pos = p[pos + 3], pos + 1
        elif lifetime >= 24 or lifetime == 0:
            return None
        pos += 1
        if lifetime == DEFAULT_LIFETIME:
            return None
    if pos + 2 != len(p):
        return None
    try:
        text = _gb18030(name)[0]
        masked_id = _unpack_masked(masked)
    except (UnicodeDecodeError, FormatError):
        return None
    if _EDITION_DEPENDENT.search(text):
        return None
    return _new_claims(Claims, (card_ref, text, masked_id, _STATUSES[state >> 1], bool(state & 1),
                                _fields(locked), lifetime, issued_at, token_id, FORMAT_VERSION))


def parse_claims(payload: bytes) -> Claims:
    """Decode and check a version-2 payload; :class:`FormatError` if it is not one.

    Order (ecard/README.md §3): the payload must be ONE CBOR item in its deterministic
    encoding (re-encoding what cbor2 decoded must give the same bytes: this refuses longer
    heads, indefinite lengths, trailing bytes, tags and duplicate map keys at once), then an
    array whose first element is an unsigned integer; a version other than 2 is
    ``unsupported_version``; anything else not as specified is ``malformed``.
    """
    try:
        claims = _claims_of_usual_layout(payload)
    except IndexError:
        claims = None
    if claims is not None:
        return claims
    return _claims_of_any_layout(payload)


_PLAIN_TYPES = (int, bytes, str, bool, type(None))


def _plain(item: object, depth: int = 0) -> bool:
    """True if ``item`` is built only of the CBOR subset of the format (README §3): integers, byte and
    text strings, arrays, false/true/null. cbor2 hands tags it knows over as Python objects (a tag-0
    date string becomes a ``datetime`` that re-encodes to the same bytes), so the re-encoding check
    alone would let them through; floats and maps have orderings and widths two verifiers could read
    differently, and no claim needs them."""
    if type(item) is list:
        return depth < 16 and all(_plain(x, depth + 1) for x in item)
    return type(item) in _PLAIN_TYPES


def _claims_of_any_layout(payload: bytes) -> Claims:
    """:func:`parse_claims` for every payload: decoded by cbor2 and held to the rules in order."""
    try:
        items = cbor2.loads(payload)
        deterministic = cbor2.dumps(items, canonical=True) == payload
    except _CBOR_ERRORS as exc:
        raise FormatError(f"payload is not CBOR: {exc}") from None
    if not deterministic:
        raise FormatError("payload is not one item in deterministic CBOR encoding")
    if not _plain(items):
        raise FormatError("payload holds a map, tag, float or simple value (README §3)")
    if type(items) is not list or not items or type(items[0]) is not int or items[0] < 0:
        raise FormatError("payload is not an array starting with the format version")
    if items[0] != FORMAT_VERSION:
        raise FormatError(f"unsupported payload version {items[0]!r}", "unsupported_version")
    if len(items) == 8:
        _, token_id, issued_at, card_ref, name, masked, state, locked = items
        lifetime = DEFAULT_LIFETIME
    elif len(items) == 9:
        _, token_id, issued_at, card_ref, name, masked, state, locked, lifetime = items
        if type(lifetime) is not int or lifetime <= 0 or lifetime == DEFAULT_LIFETIME:
            raise FormatError("bad lifetime (the default 60 is never written)")
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
    try:  # GB 18030 is one-to-one (every decodable sequence re-encodes to itself): one encoding
        text = name.decode("gb18030")
    except UnicodeDecodeError:
        raise FormatError("name is not GB 18030") from None
    if _EDITION_DEPENDENT.search(text):
        raise FormatError("name holds a GB 18030 code whose meaning depends on the edition")
    return Claims(card_ref, text, _unpack_masked(masked), _STATUSES[state >> 1],
                  bool(state & 1), _fields(locked), lifetime, issued_at, token_id)


def _payload(claims: Claims, issued_at: int, token_id: bytes) -> bytes:
    """CBOR payload of ``claims``; ValueError/TypeError on a claim out of range."""
    card_ref, name = claims.card_ref, claims.name
    if not isinstance(card_ref, bytes) or not 1 <= len(card_ref) <= MAX_CARD_REF_BYTES:
        raise ValueError(f"card_ref must be 1 to {MAX_CARD_REF_BYTES} bytes")
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    if _EDITION_DEPENDENT.search(name):
        raise ValueError("name holds a character whose GB 18030 code depends on the edition (README §3)")
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

PROTECTED_HEAD = b"\xa2\x01\x27\x04\x41"  # {1: -8, 4: h'..'} up to the one kid byte
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
        protected = PROTECTED_HEAD + bytes((kid,))
        self._cose_head = b"\x84" + bstr_head(len(protected)) + protected + b"\xa0"
        self._tbs_head = sig_structure_head(protected)

    @property
    def kid_hex(self) -> str:
        """The kid as the JWK ``kid`` string (lower-case hex)."""
        return format(self.kid, "02x")


def sign_token(claims: Claims, signing_key: SigningKey, *, now: float | None = None) -> str:
    """Sign ``claims`` and return the QR text ``"SC2:" + Base45(COSE_Sign1)``.

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
        raise FormatError("missing SC2: prefix")
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
    """(protected, payload, signature) of an untagged COSE_Sign1 laid out as README §2 says.

    ``84 46 <6 protected bytes> a0 <payload bstr, shortest head> 58 40 <64 bytes>`` and nothing
    after; a tagged COSE_Sign1 (18, or CWT 61) is a second encoding of the same token: refused.
    """
    if data[:2] != b"\x84\x46":
        raise FormatError("not an untagged COSE_Sign1 with a 6-byte protected header")
    if data[8:9] != b"\xa0":
        raise FormatError("unprotected header must be empty")
    try:
        payload, pos = _read_bstr(data, 9)
    except IndexError:
        raise FormatError("truncated COSE_Sign1") from None
    if data[pos : pos + 2] != b"\x58\x40" or len(data) != pos + 66:
        raise FormatError("signature is not the last item, a 64-byte string")
    return data[2:8], payload, data[pos + 2 :]


def parse_protected(protected: bytes) -> tuple[int, bytes]:
    """(alg, kid) of a protected header: exactly ``a2 01 27 04 41 <kid>`` = {1: -8, 4: h'<kid>'}.

    Any other bytes - another or a second algorithm, a kid that is not one byte, another
    label, labels out of order or repeated, ``true``/``1.0`` as labels, longer heads, an
    indefinite map, trailing bytes - are FormatError (``malformed``).
    """
    if len(protected) != 6 or protected[:5] != PROTECTED_HEAD:
        raise FormatError("protected header is not exactly {1: -8, 4: h'<one byte>'}")
    return ALG_EDDSA, protected[5:]


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
