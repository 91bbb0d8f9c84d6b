"""The verifier's fast paths (issue 13: verification speed) accept exactly what the general rules of
ecard/README.md §3 accept, with the same claims, and leave every other payload to those rules: a
payload or masked number read by the usual-layout path must give the verdict the full cbor2 path
gives, on the committed vectors and on random mutations of real payloads."""
from __future__ import annotations

import json
from pathlib import Path

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from ecard import token as T
from ecard.token import AppField, CardStatus, Claims, FormatError, cose_from_text, sign_token, split_cose
from tests.ecard.helpers import NOW, fixed_key

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _verdict(parse, payload: bytes):
    try:
        return parse(payload)
    except FormatError as e:
        return ("refused", e.reason)


def _payload(claims: Claims) -> bytes:
    return split_cose(cose_from_text(sign_token(claims, fixed_key(), now=NOW)))[1]


CLAIMS = [
    Claims(bytes.fromhex("000000123456"), "张三丰", "440104********1234", CardStatus.ACTIVE),
    Claims(bytes.fromhex("01"), "李", "44010419900101123X"[:6] + "********" + "123X", CardStatus.LOSS_REGISTERED,
           settlement_suspended=True, locked_fields=AppField.TRANSPORT | AppField.MEDICAL, lifetime=90),
    Claims(bytes(8), "欧阳娜娜" * 3, "E1234****5", CardStatus.ACTIVE, lifetime=30),  # letters, long name
    Claims(bytes(6), "王", "A44010********1234", CardStatus.REPLACEMENT_PENDING, lifetime=300),  # 2-byte lifetime head
]


def test_usual_and_general_paths_agree_on_every_payload_of_the_vectors():
    seen = 0
    for name in ("valid.json", "refused.json"):
        for vector in json.loads((VECTORS / name).read_text(encoding="utf-8"))["vectors"]:
            try:
                payload = split_cose(cose_from_text(vector["token"]))[1]
            except (FormatError, KeyError):
                continue  # refused before the payload: nothing for the payload paths to judge
            seen += 1
            assert _verdict(T.parse_claims, payload) == _verdict(T._claims_of_any_layout, payload), vector["id"]
    assert seen >= 40


def test_the_usual_layout_is_taken_by_the_fast_path():
    """Not a fallback in disguise: the issuer's own payloads are read by the fast path."""
    for claims in CLAIMS[:2]:
        payload = _payload(claims)
        assert T._claims_of_usual_layout(payload) == T._claims_of_any_layout(payload)
        assert T._claims_of_usual_layout(payload) is not None


@settings(max_examples=400, deadline=None)
@given(which=st.sampled_from(range(len(CLAIMS))), data=st.data())
def test_paths_agree_on_mutated_payloads(which, data):
    payload = bytearray(_payload(CLAIMS[which]))
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["set", "insert", "delete"]))
        at = data.draw(st.integers(0, len(payload) - (op != "insert")))
        if op == "set":
            payload[at] = data.draw(st.integers(0, 255))
        elif op == "insert":
            payload[at:at] = bytes([data.draw(st.integers(0, 255))])
        elif len(payload) > 1:
            del payload[at]
    payload = bytes(payload)
    try:
        fast = T.parse_claims(payload)
    except FormatError as e:
        fast = ("refused", e.reason)
    assert fast == _verdict(T._claims_of_any_layout, payload)


@settings(max_examples=400, deadline=None)
@given(st.binary(min_size=1, max_size=9))
def test_masked_number_paths_agree(packed):
    def verdict(f):
        try:
            return f(packed)
        except FormatError as e:
            return ("refused", e.reason)
    assert verdict(T._unpack_masked) == verdict(T._unpack_any_masked)


def test_masked_usual_packing_reads_citizen_and_x_numbers():
    for masked in ("440104********1234", "440104********123X", "X40104********1234"):
        packed = T._pack_masked(masked)
        assert T._USUAL_PACKING.fullmatch(packed.hex())
        assert T._unpack_masked(packed) == T._unpack_any_masked(packed) == masked


def test_payload_with_a_bignum_for_issued_at_is_refused_by_both_paths():
    """A tag-2 bignum decodes to an int in cbor2: only the deterministic-encoding rule refuses it."""
    items = cbor2.loads(_payload(CLAIMS[0]))
    items[2] = cbor2.CBORTag(2, NOW.to_bytes(4, "big"))
    payload = cbor2.dumps(items)
    assert T._claims_of_usual_layout(payload) is None
    assert _verdict(T.parse_claims, payload) == ("refused", "malformed")
