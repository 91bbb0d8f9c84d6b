"""Generate the e-card token test vectors (tests/vectors/*.json) - deterministic, language-neutral.

    python -m tests.vectors.generate          # from the repository root: (re)writes the files

Every vector is verified by ``tests/ecard/test_vectors.py`` against the Python verifier; any other
verifier (the JavaScript one) must give the same answers. The format is in tests/vectors/README.md.
Only ``ecard``, ``cbor2`` and ``cryptography`` are used; keys are fixed, so the output never changes
unless the format does.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecard.base45 import b45encode
from ecard.token import (PREFIX, PROTECTED_HEAD, AppField, CardStatus, Claims, SigningKey,
                         _pack_masked, bstr_head, sig_structure_head, sign_token)

HERE = Path(__file__).resolve().parent
NOW = 1_800_000_000  # 2027-01-15T08:00:00Z: every token is issued then unless it says otherwise
VERIFY_AT = NOW + 1
SKEW = 30


def _key(kid: int, seed: str) -> SigningKey:
    secret = bytes.fromhex(seed) if len(seed) == 64 else hashlib.sha256(seed.encode()).digest()
    return SigningKey(kid, Ed25519PrivateKey.from_private_bytes(secret))


# RFC 8032 §7.1 tests 1-3 secrets, then derived ones
TRUSTED = _key(0x0A, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
TRUSTED_SAME_KID = _key(0x0A, "ecard test vectors: a second published key with kid 0a")
WITHDRAWN = _key(0x0B, "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
UNPUBLISHED = _key(0x0C, "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
NOT_YET = _key(0x0D, "ecard test vectors: a key published before it signs")
RETIRED = _key(0x0E, "ecard test vectors: a retired key")


def _x(key: SigningKey) -> str:
    import base64
    raw = key.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwk(key: SigningKey, kid: str | None = None, **members) -> dict:
    return {"kty": "OKP", "crv": "Ed25519", "x": _x(key), "kid": kid or key.kid_hex, "use": "sig",
            "alg": "EdDSA", **members}


JWKS = {
    "keys": [_jwk(TRUSTED, nbf=NOW - 86_400), _jwk(TRUSTED_SAME_KID, nbf=NOW - 86_400),
             _jwk(NOT_YET, nbf=NOW + 3600), _jwk(RETIRED, nbf=NOW - 86_400, exp=NOW - 1000)],
    "withdrawn": [{"kid": WITHDRAWN.kid_hex, "x": _x(WITHDRAWN), "withdrawn_at": NOW - 3600}],
}
JWKS_UPPERCASE_KID = {"keys": [_jwk(TRUSTED, kid="0A", nbf=NOW - 86_400)], "withdrawn": []}

BASE = Claims(card_ref=bytes.fromhex("0000000000123456"), name="张三丰", masked_id="440104********1234",
              status=CardStatus.ACTIVE, locked_fields=AppField.TRANSPORT, issued_at=NOW,
              token_id=bytes.fromhex("a1b2c3d4e5f6"))
SHIPPED = BASE._replace(card_ref=bytes.fromhex("3fa2c7d91e04"), name="欧阳娜娜")  # the app's 6-byte ref


def _items(claims: Claims = BASE) -> list:
    items = [2, claims.token_id, claims.issued_at, claims.card_ref, claims.name.encode("gb18030"),
             _pack_masked(claims.masked_id), int(claims.status) << 1 | claims.settlement_suspended,
             int(claims.locked_fields)]
    return items + ([claims.lifetime] if claims.lifetime != 60 else [])


def _payload(**at) -> bytes:
    items = _items()
    for name, value in at.items():
        items[int(name[1:])] = value
    return cbor2.dumps(items)


def _cose(payload: bytes, *, key: SigningKey = TRUSTED, protected: bytes | None = None, unprotected: bytes = b"\xa0",
          before: bytes = b"", after: bytes = b"", payload_head: bytes | None = None,
          signature_head: bytes = b"\x58\x40") -> bytes:
    """A COSE_Sign1 signed with ``key`` over exactly these protected and payload bytes."""
    protected = PROTECTED_HEAD + bytes((key.kid,)) if protected is None else protected
    signature = key.private_key.sign(sig_structure_head(protected) + bstr_head(len(payload)) + payload)
    head = bstr_head(len(payload)) if payload_head is None else payload_head
    return (before + b"\x84" + bstr_head(len(protected)) + protected + unprotected + head + payload
            + signature_head + signature + after)


def _text(cose: bytes, prefix: str = PREFIX) -> str:
    return prefix + b45encode(cose)


def _raw_items(*encoded: bytes, head: bytes | None = None) -> bytes:
    """A payload array from already-encoded elements (to write what cbor2 never would)."""
    return (bytes((0x80 | len(encoded),)) if head is None else head) + b"".join(encoded)


def _enc(items: list) -> list[bytes]:
    return [cbor2.dumps(i) for i in items]


# The README §7 worked example as format version 1 emitted it (SC1:): an old-format token.
OLD_FORMAT_V1 = ("SC1:MWGSLK/-40A88CK+:4B70*JK2YOA3TDF3/E9R10000000I00XR6/.870PG3WPLS*Q8%Q0PD240027B.3JDW3C66-A6A:7WJ01*"
                 "UVILDIK.NHS5G9 QT96/PF2F0T-5J36CF5YT8GJPIN9 S6A2VA3LURP*TDGP3SWDG90V%87+T/EI")


def _valid() -> list[dict]:
    out = []

    def ok(vid: str, rule: str, claims: Claims, key: SigningKey = TRUSTED, now: int = VERIFY_AT) -> None:
        token = sign_token(claims, key)
        out.append({"id": vid, "rule": rule, "token": token, "jwks": "jwks.json", "now": now,
                    "skew_seconds": SKEW, "expected": {"ok": True, "reason": "ok", "kid": key.kid_hex,
                                                       "claims": claims.to_json()}})

    ok("readme-worked-example", "§7: 3-hanzi name, 8-byte card reference, citizen number", BASE)
    ok("shipped-6-byte-ref-4-hanzi-citizen", "§8: the app's 6-byte card reference, 4-hanzi name", SHIPPED)
    ok("shipped-6-byte-ref-4-hanzi-assigned-number", "§3: letters are packed (an assigned number, d0 = A)",
       SHIPPED._replace(masked_id="A44010********1234"))
    ok("check-character-x", "§3: X is nibble a", BASE._replace(masked_id="440104********123X"))
    ok("letters-q-to-z-and-a-long-run", "§3: letters e0-e9 (not e7), a run of 20 = cf c3",
       BASE._replace(masked_id="QZ" + "*" * 20 + "Y9"))
    ok("loss-registered-settlement-suspended", "§3: state = status << 1 | suspended; locks on bits 0, 1, 16",
       BASE._replace(status=CardStatus.LOSS_REGISTERED, settlement_suspended=True,
                     locked_fields=AppField.MEDICAL | AppField.FINANCE | AppField.VETERANS))
    ok("reissue-pending", "§3: status 4 (Art. 28: identity proven during a reissue)",
       BASE._replace(status=CardStatus.REISSUE_PENDING))
    ok("non-default-lifetime", "§3: a lifetime other than 60 travels as a 9th element",
       BASE._replace(lifetime=300))
    ok("eight-byte-token-id-one-byte-card-ref", "§3: token id 6-8 bytes, card reference 1-8 bytes",
       BASE._replace(token_id=bytes.fromhex("0102030405060708"), card_ref=b"\x01"))
    ok("non-bmp-and-latin-name", "§3: any Unicode name in GB 18030", BASE._replace(name="𠀀 Zhang"))
    ok("kid-shared-by-two-published-keys", "§2: every published key with the kid is tried", BASE,
       key=TRUSTED_SAME_KID)
    ok("last-second-within-skew", "§6 step 8: now = expires_at + skew is still valid", BASE, now=NOW + 60 + SKEW)
    return out


def _refused() -> list[dict]:
    out = []
    good = _payload()

    def no(vid: str, rule: str, token: str, reason: str, *, jwks: str = "jwks.json", now: int = VERIFY_AT) -> None:
        out.append({"id": vid, "rule": rule, "token": token, "jwks": jwks, "now": now, "skew_seconds": SKEW,
                    "expected": {"ok": False, "reason": reason}})

    # text (§1)
    no("old-format-sc1", "§1: an SC1: token (format version 1) is no longer accepted", OLD_FORMAT_V1,
       "unsupported_version")
    no("prefix-sc3", "§1: another SC?: prefix", _text(_cose(good), "SC3:"), "unsupported_version")
    no("prefix-lower-case", "§1: the prefix is upper case", _text(_cose(good), "sc2:"), "malformed")
    no("base45-bad-length", "§4: Base45 length 3n+1", _text(_cose(good)) + "0", "malformed")

    # COSE framing (§2)
    no("cose-tag-18", "§2: untagged only", _text(_cose(good, before=b"\xd2")), "malformed")
    no("cose-cwt-tag-61", "§2: untagged only", _text(_cose(good, before=b"\xd8\x3d")), "malformed")
    no("cose-cwt-tag-61-tag-18", "§2: untagged only", _text(_cose(good, before=b"\xd8\x3d\xd2")), "malformed")
    no("cose-trailing-byte", "§2: nothing after the COSE_Sign1", _text(_cose(good, after=b"\x00")), "malformed")
    no("cose-unprotected-not-empty", "§2: unprotected header is a0",
       _text(_cose(good, unprotected=b"\xa1\x04\x41\x0a")), "malformed")
    no("cose-payload-head-not-shortest", "§2: shortest byte-string heads",
       _text(_cose(good, payload_head=b"\x59\x00" + bytes((len(good),)))), "malformed")
    no("cose-signature-head-not-shortest", "§2: shortest byte-string heads",
       _text(_cose(good, signature_head=b"\x59\x00\x40")), "malformed")
    indefinite = _cose(good)
    no("cose-indefinite-array", "§2: definite lengths",
       _text(b"\x9f" + indefinite[1:] + b"\xff"), "malformed")

    # protected header (§2): exactly a2 01 27 04 41 <kid>
    for vid, protected in [
        ("protected-trailing-byte", "a2012704410a00"),
        ("protected-duplicate-label-last-wins", "a3012704410c04410a"),
        ("protected-label-true-for-1", "a2f52704410a"),
        ("protected-label-float-1.0", "a2f93c002704410a"),
        ("protected-label-float-4.0-for-kid", "a20127f94400410a"),
        ("protected-indefinite-map", "bf012704410aff"),
        ("protected-label-head-not-shortest", "a218012704410a"),
        ("protected-labels-out-of-order", "a204410a0127"),
        ("protected-kid-two-bytes", "a201270442000a"),
        ("protected-kid-empty", "a201270440"),
        ("protected-no-kid", "a10127"),
        ("protected-alg-minus-19", "a2013204410a"),
        ("protected-alg-es256", "a2012604410a"),
        ("protected-crit", "a3012702810104410a"),
        ("protected-extra-label", "a30127030004410a"),
    ]:
        no(vid, "§2: the protected header is exactly a2 01 27 04 41 <kid>",
           _text(_cose(good, protected=bytes.fromhex(protected))), "malformed")

    # payload (§3): one deterministic CBOR item, then the v2 layout
    items = _items()
    enc = _enc(items)
    signed = lambda payload: _text(_cose(payload))  # noqa: E731
    no("payload-trailing-byte", "§3: nothing after the payload array", signed(good + b"\x00"), "malformed")
    no("payload-indefinite-array", "§3: definite lengths", signed(b"\x9f" + b"".join(enc) + b"\xff"), "malformed")
    no("payload-array-head-not-shortest", "§3: shortest heads", signed(_raw_items(*enc, head=b"\x98\x08")), "malformed")
    no("payload-version-head-not-shortest", "§3: shortest heads", signed(_raw_items(b"\x18\x02", *enc[1:])), "malformed")
    no("payload-issued-at-8-byte-head", "§3: shortest heads",
       signed(_raw_items(*enc[:2], b"\x1b" + NOW.to_bytes(8, "big"), *enc[3:])), "malformed")
    no("payload-token-id-head-not-shortest", "§3: shortest heads",
       signed(_raw_items(enc[0], b"\x58\x06" + items[1], *enc[2:])), "malformed")
    no("payload-name-indefinite-bstr", "§3: definite lengths",
       signed(_raw_items(*enc[:4], b"\x5f" + cbor2.dumps(items[4][:2]) + cbor2.dumps(items[4][2:]) + b"\xff", *enc[5:])),
       "malformed")
    no("payload-issued-at-bignum", "§3: an integer is major type 0, never a bignum tag",
       signed(_raw_items(*enc[:2], b"\xc2\x44" + NOW.to_bytes(4, "big"), *enc[3:])), "malformed")
    no("payload-issued-at-tagged-epoch", "§3: no tags", signed(_raw_items(*enc[:2], b"\xc1" + enc[2], *enc[3:])),
       "malformed")
    no("payload-is-a-map", "§3: the payload is an array", signed(cbor2.dumps(dict(enumerate(items)))), "malformed")
    no("payload-version-text", "§3: the version is an unsigned integer", signed(_payload(p0="2")), "malformed")
    no("payload-version-float", "§3: the version is an unsigned integer", signed(_payload(p0=2.0)), "malformed")
    no("payload-version-true", "§3: the version is an unsigned integer", signed(_payload(p0=True)), "malformed")
    no("payload-version-negative", "§3: the version is an unsigned integer", signed(_payload(p0=-2)), "malformed")
    no("payload-version-1", "§3: another version", signed(_payload(p0=1)), "unsupported_version")
    no("payload-version-3-other-layout", "§3: another version, whatever follows",
       signed(cbor2.dumps([3, "anything"])), "unsupported_version")
    # the CBOR subset under SC2: (§3): a payload of another version is judged by it too, so both verifiers
    # answer alike whatever a future layout might hold (cbor2 would re-encode a tag-0 date unchanged)
    for vid, tail in [("payload-version-3-with-map", "a1616101"), ("payload-version-3-with-float", "f93c00"),
                      ("payload-version-3-with-tag-0-date", "c074323031332d30332d32315432303a30343a30305a"),
                      ("payload-version-3-with-unknown-tag", "d903e840"), ("payload-version-3-with-undefined", "f7"),
                      ("payload-version-3-with-simple-value", "e0"),
                      ("payload-version-3-arrays-17-deep", "81" * 15 + "80")]:
        no(vid, "§3: only integers, byte and text strings, arrays, false/true/null", signed(bytes.fromhex("8203" + tail)),
           "malformed")
    no("payload-version-3-arrays-16-deep", "§3: arrays nest at most 16 deep (the payload array counts)",
       signed(bytes.fromhex("8203" + "81" * 14 + "80")),
       "unsupported_version")
    no("payload-version-3-text-not-utf8", "§3: a text string is UTF-8", signed(bytes.fromhex("820361ff")), "malformed")
    no("payload-version-huge-integer", "§3: another version, an 8-byte one too",
       signed(bytes.fromhex("821bffffffffffffffff00")), "unsupported_version")
    no("payload-too-short", "§3: 8 or 9 elements", signed(cbor2.dumps(items[:7])), "malformed")
    no("payload-too-long", "§3: 8 or 9 elements", signed(cbor2.dumps(items + [300, 0])), "malformed")
    no("payload-lifetime-60-written", "§3: the default lifetime is never written", signed(cbor2.dumps(items + [60])),
       "malformed")
    no("payload-lifetime-zero", "§3: lifetime > 0", signed(cbor2.dumps(items + [0])), "malformed")
    no("payload-token-id-5-bytes", "§3: token id 6-8 bytes", signed(_payload(p1=b"12345")), "malformed")
    no("payload-card-ref-empty", "§3: card reference 1-8 bytes", signed(_payload(p3=b"")), "malformed")
    no("payload-card-ref-9-bytes", "§3: card reference 1-8 bytes", signed(_payload(p3=bytes(9))), "malformed")
    no("payload-name-empty", "§3: the name has at least one byte", signed(_payload(p4=b"")), "malformed")
    no("payload-name-text-string", "§3: the name is a byte string", signed(_payload(p4="张三丰")), "malformed")
    no("payload-name-not-gb18030", "§3: the name is GB 18030", signed(_payload(p4=b"\x81")), "malformed")
    no("payload-name-lone-0x80", "§3: the name is GB 18030 (a lone 0x80 is no code; WHATWG decoders read it as €)",
       signed(_payload(p4=b"\xd5\xc5\x80")), "malformed")
    for code in ("a3a0", "a6d9", "a8bc", "fe59", "8135f437"):
        no(f"payload-name-gb18030-edition-dependent-{code}",
           "§3: no GB 18030 code whose meaning changed between editions (Python's codec and WHATWG differ)",
           signed(_payload(p4=bytes.fromhex("d5c5" + code))), "malformed")
    no("payload-masked-text-string", "§3: the masked number is packed, never text",
       signed(_payload(p5="440104********1234")), "malformed")
    for vid, packed in [("payload-masked-run-of-8-as-c7", "440104c71234"),
                        ("payload-masked-x-as-letter-e7", "440104b123e7"),
                        ("payload-masked-split-run", "440104c3c41234"),
                        ("payload-masked-padding-not-last", "440104bf1234"),
                        ("payload-masked-hides-nothing", "440104199003071234"),
                        ("payload-masked-letter-beyond-z", "ea0104b1234f")]:
        no(vid, "§3: the one canonical packing of a masked number", signed(_payload(p5=bytes.fromhex(packed))),
           "malformed")
    no("payload-state-out-of-range", "§3: status 0-5", signed(_payload(p6=12)), "malformed")
    no("payload-state-bool", "§3: state is an unsigned integer", signed(_payload(p6=False)), "malformed")
    no("payload-locked-unknown-bit", "§3: bits 0-16 only", signed(_payload(p7=1 << 17)), "malformed")
    no("payload-issued-at-negative", "§3: issued at is an unsigned integer", signed(_payload(p2=-1)), "malformed")

    # keys and signature (§5, §6)
    no("unknown-kid", "§6 step 3", _text(_cose(good, key=UNPUBLISHED)), "unknown_key")
    no("withdrawn-key", "§6 step 3", _text(_cose(good, key=WITHDRAWN)), "withdrawn_key")
    no("jwk-kid-upper-case", "§5: a JWK kid is two LOWER-case hex digits; '0A' is ignored",
       sign_token(BASE, TRUSTED), "unknown_key", jwks="jwks-uppercase-kid.json")
    tampered = bytearray(_cose(good))
    tampered[-1] ^= 1
    no("bad-signature", "§6 step 4", _text(bytes(tampered)), "bad_signature")
    forged = bytearray(_cose(good))
    forged[forged.index(bytes.fromhex("a1b2c3d4e5f6")) + 5] ^= 1  # one token-id bit, old signature
    no("altered-claim", "§6 step 4: an alteration is bad_signature, never a claim answer", _text(bytes(forged)),
       "bad_signature")
    no("key-before-its-nbf", "§6 step 6: the key's window must cover the token", sign_token(BASE, NOT_YET),
       "unknown_key")
    no("key-after-its-exp", "§6 step 6: the key's window must cover the token", sign_token(BASE, RETIRED),
       "unknown_key")

    # clock (§6)
    no("expired", "§6 step 8: now > expires_at + skew", sign_token(BASE, TRUSTED), "expired", now=NOW + 60 + SKEW + 1)
    no("not-yet-valid", "§6 step 7: now < issued_at - skew", sign_token(BASE, TRUSTED), "not_yet_valid",
       now=NOW - SKEW - 1)
    return out


def build() -> dict[str, str]:
    """File name -> content of every vector file."""
    def dump(obj) -> str:
        return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"

    header = {"format_version": 2, "spec": "ecard/README.md", "how": "tests/vectors/README.md"}
    return {"jwks.json": dump(JWKS), "jwks-uppercase-kid.json": dump(JWKS_UPPERCASE_KID),
            "valid.json": dump({**header, "vectors": _valid()}),
            "refused.json": dump({**header, "vectors": _refused()})}


def main() -> int:
    for name, content in build().items():
        (HERE / name).write_text(content, encoding="utf-8")
        print(f"wrote tests/vectors/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
