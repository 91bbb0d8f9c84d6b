"""Token format v2: claims round trip, compact encodings, size target, enums."""

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecard.base45 import b45decode
from ecard.qr import qr_version
from ecard.token import (APP_FIELD_LABELS, APP_FIELD_NAMES, PREFIX, STATUS_LABELS, AppField,
                         CardStatus, Claims, FormatError, _pack_masked, _unpack_masked,
                         decode_token, field_names, masked_id, sign_token)
from tests.ecard.helpers import NOW, fixed_key, typical_claims


def cose_of(text: str) -> bytes:
    return b45decode(text[len(PREFIX):])


def test_claims_round_trip():
    claims = typical_claims(status=CardStatus.LOSS_REGISTERED, settlement_suspended=True,
                            locked_fields=AppField.MEDICAL | AppField.FINANCE)
    decoded = decode_token(sign_token(claims, fixed_key(), now=NOW + 0.9))
    assert decoded.alg == -8 and decoded.kid == b"\x0a"
    c = decoded.claims
    assert c.issued_at == NOW and c.lifetime == 60 and c.expires_at == NOW + 60
    assert len(c.token_id) == 6 and c.version == 2
    assert c._replace(issued_at=None, token_id=None) == claims


def test_token_ids_are_random_and_unique():
    key = fixed_key()
    ids = {decode_token(sign_token(typical_claims(), key, now=NOW)).claims.token_id for _ in range(200)}
    assert len(ids) == 200


def test_token_is_untagged_cose_sign1_with_alg_and_kid_protected():
    cose = cbor2.loads(cose_of(sign_token(typical_claims(), fixed_key(), now=NOW)))
    assert isinstance(cose, list) and len(cose) == 4  # untagged
    protected, unprotected, payload, signature = cose
    assert cbor2.loads(protected) == {1: -8, 4: b"\x0a"}
    assert unprotected == {} and len(signature) == 64


def test_payload_layout_is_the_documented_positional_array():
    claims = typical_claims(token_id=bytes.fromhex("a1b2c3d4e5f6"), issued_at=NOW)
    payload = cbor2.loads(cbor2.loads(cose_of(sign_token(claims, fixed_key())))[2])
    assert payload == [2, bytes.fromhex("a1b2c3d4e5f6"), NOW, bytes.fromhex("0000000000123456"),
                       "张三丰".encode("gb18030"), bytes.fromhex("440104b1234f"), 0, 4]


def test_default_lifetime_is_omitted_and_other_lifetimes_travel():
    key = fixed_key()
    short = cbor2.loads(cbor2.loads(cose_of(sign_token(typical_claims(), key, now=NOW)))[2])
    long_ = cbor2.loads(cbor2.loads(cose_of(sign_token(typical_claims(lifetime=300), key, now=NOW)))[2])
    assert len(short) == 8 and len(long_) == 9 and long_[8] == 300
    assert decode_token(sign_token(typical_claims(lifetime=300), key, now=NOW)).claims.lifetime == 300


def test_name_travels_as_gb18030_two_bytes_per_common_hanzi():
    payload = cbor2.loads(cbor2.loads(cose_of(sign_token(typical_claims(), fixed_key(), now=NOW)))[2])
    assert payload[4] == b"\xd5\xc5\xc8\xfd\xb7\xe1" and len("张三丰".encode("utf-8")) == 9


@pytest.mark.parametrize("name", ["张三丰", "阿卜杜热合曼·买买提明", "𠀀𪚥", "Zhang San", "王㐀"])
def test_any_name_round_trips(name):
    assert decode_token(sign_token(typical_claims(name=name), fixed_key(), now=NOW)).claims.name == name


def test_masked_number_packs_prefix_hidden_run_suffix_into_six_bytes():
    assert _pack_masked("440104********1234") == bytes.fromhex("440104b1234f")
    assert _pack_masked("4401**********123X") == bytes.fromhex("4401c9123a")
    assert _pack_masked(masked_id("440104", 8, "1234")) == bytes.fromhex("440104b1234f")
    assert _pack_masked("1*") == bytes.fromhex("1c0f")
    assert _pack_masked("1" + "*" * 20) == bytes.fromhex("1cfc3f")  # 16 + 4


@pytest.mark.parametrize("full", ["440104199003071234", "44010419900307123X", ""])
def test_issuer_never_passes_the_full_number(full):
    with pytest.raises(ValueError):
        sign_token(typical_claims(masked_id=full), fixed_key(), now=NOW)


def test_masked_number_letters_are_packed_so_an_assigned_number_takes_six_bytes_too():
    """Issue 13 #18: letters (assigned numbers, permits, passports) are packed, one byte each,
    and the 18 characters of an assigned number take the 6 bytes of a citizen number."""
    assert _pack_masked("A44010********1234") == bytes.fromhex("d044010b1234")
    assert _pack_masked("E1*****78") == bytes.fromhex("d41c478f")
    assert _pack_masked("Z*") == bytes.fromhex("e9c0")
    claims = typical_claims(masked_id="USA*******0123")
    assert decode_token(sign_token(claims, fixed_key(), now=NOW)).claims.masked_id == "USA*******0123"


@pytest.mark.parametrize("masked", ["usa*******0123", "A-1*****", "张*", "1 *"])
def test_masked_number_of_other_characters_is_refused_at_issuance(masked):
    with pytest.raises(ValueError):
        sign_token(typical_claims(masked_id=masked), fixed_key(), now=NOW)


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ***", min_size=1, max_size=40)
       .filter(lambda s: "*" in s))
def test_any_masked_form_round_trips(masked):
    assert _unpack_masked(_pack_masked(masked)) == masked


@pytest.mark.parametrize("packed", [
    b"", bytes.fromhex("1234"), bytes.fromhex("12bb"), bytes.fromhex("1c1b"), bytes.fromhex("f1b1"),
    bytes.fromhex("1bff"), bytes.fromhex("12c7"),  # a run of 8 is "b", never "c7"
    bytes.fromhex("1c3c40"),  # runs of 4 and 5: one run of 9 is "c8"
    bytes.fromhex("1be7"),  # "X" is "a", never the letter e7
    bytes.fromhex("1bea"), bytes.fromhex("1bc0f0"),  # no letter beyond Z; padding only at the end
    bytes.fromhex("1bf0"),  # padding in the middle
])
def test_bad_packed_masks_are_refused(packed):
    """Issue 13 #17: one masked string has exactly one packing; every other byte string is refused."""
    with pytest.raises(FormatError):
        _unpack_masked(packed)


def test_cancelled_cards_cannot_be_expressed_art26():
    """Art. 26: no token for a cancelled card - the enum has no such value."""
    assert "CANCELLED" not in CardStatus.__members__
    with pytest.raises(ValueError):
        sign_token(typical_claims(status=99), fixed_key(), now=NOW)


def test_status_enum_covers_reissue_replacement_loss_art21_art28():
    assert [s.name.lower() for s in CardStatus] == [
        "active", "issued", "in_production", "loss_registered", "reissue_pending",
        "replacement_pending"]
    assert set(STATUS_LABELS) == set(CardStatus)


def test_application_field_list_is_fixed_since_format_version_1():
    assert APP_FIELD_NAMES == (
        "medical", "finance", "transport", "civil_affairs", "health", "education", "housing",
        "provident_fund", "hrss", "public_security", "justice", "agriculture", "culture_tourism",
        "sports", "forestry", "disability", "veterans")
    assert set(APP_FIELD_LABELS) == set(AppField)
    assert field_names(AppField.MEDICAL | AppField.VETERANS) == ["medical", "veterans"]


@pytest.mark.parametrize("change", [dict(card_ref=b""), dict(card_ref=b"123456789"),
                                    dict(card_ref="12"), dict(name=""), dict(lifetime=0),
                                    dict(lifetime=1.5), dict(locked_fields=1 << 17),
                                    dict(token_id=b"12345"), dict(token_id=b"123456789")])
def test_out_of_range_claims_are_refused_at_issuance(change):
    with pytest.raises((ValueError, TypeError)):
        sign_token(typical_claims(**change), fixed_key(), now=NOW)


# --- size (ENGINEERING.md: QR version 7 at level M = 178 alphanumeric characters) ---


def test_typical_token_fits_qr_version_7_at_level_m():
    text = sign_token(typical_claims(), fixed_key(), now=NOW)
    assert len(cose_of(text)) == 116
    assert len(text) == 178
    assert qr_version(text) == 7


@pytest.mark.parametrize(("name", "chars", "version"), [
    ("张三", 175, 7),
    ("张三丰", 178, 7),
    ("欧阳娜娜", 181, 8),
    ("爱新觉罗溥仪", 187, 8),
    ("阿卜杜热合曼·买买提明", 202, 8),
    ("迪丽热巴·迪力木拉提·阿不都热合曼", 222, 9),
    ("买买提江·阿不都热西提·艾合买提江·库尔班尼亚孜", 243, 9),
])
def test_size_grows_gracefully_with_longer_names(name, chars, version):
    """2 bytes (3 Base45 characters) per extra hanzi; long names move up a version, never fail."""
    text = sign_token(typical_claims(name=name), fixed_key(), now=NOW)
    assert (len(text), qr_version(text)) == (chars, version)


def test_shorter_card_reference_leaves_room():
    text = sign_token(typical_claims(card_ref=b"\x12\x34\x56\x78", name="欧阳娜娜"), fixed_key(), now=NOW)
    assert qr_version(text) == 7


@pytest.mark.parametrize("masked", ["440104********1234", "44010419********3X", "A44010********1234",
                                    "810000********1234"])
@pytest.mark.parametrize(("name", "chars"), [("张三", 172), ("张三丰", 175), ("欧阳娜娜", 178)])
def test_six_byte_card_reference_keeps_every_document_type_at_version_7_up_to_4_hanzi(masked, name, chars):
    """Issue 13 #18 (README §8): letters are packed, so the document type never changes the size."""
    text = sign_token(typical_claims(card_ref=bytes(6), name=name, masked_id=masked), fixed_key(), now=NOW)
    assert (len(text), qr_version(text)) == (chars, 7)


def test_decode_token_rejects_non_tokens():
    for bad in ["", "SC2:", "HC1:6BFOXN", "SC2:BB8", "SC1:BB8", PREFIX + "%69 VD92EX0"]:
        with pytest.raises(FormatError):
            decode_token(bad)


def test_claims_to_json():
    claims = decode_token(sign_token(typical_claims(), fixed_key(), now=NOW)).claims
    j = claims.to_json()
    assert j["status"] == "active" and j["locked_fields"] == ["transport"]
    assert j["card_ref"] == "0000000000123456" and j["masked_id"] == "440104********1234"
    assert j["expires_at"] == NOW + 60
    assert isinstance(Claims._fields, tuple)
