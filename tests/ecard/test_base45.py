"""Base45 (RFC 9285) codec: the RFC's vectors, its error cases, round trips."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecard.base45 import ALPHABET, b45decode, b45encode

RFC9285_VECTORS = [(b"AB", "BB8"), (b"Hello!!", "%69 VD92EX0"), (b"base-45", "UJCLQE7W581"),
                   (b"ietf!", "QED8WEX0")]


@pytest.mark.parametrize(("raw", "text"), RFC9285_VECTORS)
def test_rfc9285_vectors_encode(raw, text):
    assert b45encode(raw) == text


@pytest.mark.parametrize(("raw", "text"), RFC9285_VECTORS)
def test_rfc9285_vectors_decode(raw, text):
    assert b45decode(text) == raw
    assert b45decode(text.encode()) == raw


@pytest.mark.parametrize("bad", [
    "GGW",  # RFC 9285 §4.3: 65536 does not fit two bytes
    ":::",  # 44 + 44*45 + 44*2025 > 65535
    "::",  # 2024 does not fit one byte
    "A",  # length 3n+1
    "BB8A",  # length 3n+1
    "bb8",  # lower case is outside the alphabet
    "BB#",  # '#' is outside the alphabet
    "BB\n",
    "中文字",  # not ASCII
])
def test_invalid_base45_is_refused(bad):
    with pytest.raises(ValueError):
        b45decode(bad)


def test_empty_round_trip():
    assert b45encode(b"") == "" and b45decode("") == b""


def test_extremes():
    assert b45encode(b"\xff\xff") == "FGW"
    assert b45decode("FGW") == b"\xff\xff"
    assert b45encode(b"\x00\x00\x00") == "00000"


def test_long_input_beyond_one_lane_block():
    data = bytes(range(256)) * 80  # 20,480 bytes: decoded in several chunks
    assert b45decode(b45encode(data)) == data


@given(st.binary(max_size=600))
def test_round_trip_any_bytes(data):
    text = b45encode(data)
    assert set(text) <= set(ALPHABET)
    assert len(text) == len(data) // 2 * 3 + len(data) % 2 * 2
    assert b45decode(text) == data


@given(st.text(alphabet=ALPHABET, max_size=300))
def test_decode_any_alphabet_text_is_exact_or_refused(text):
    try:
        data = b45decode(text)
    except ValueError:
        return
    assert b45encode(data) == text
