"""Art. 16: personal information is shown masked by default, never disclosed where a mask suffices."""
from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.privacy import mask_address, mask_card_number, mask_id_number, mask_name, mask_phone

MASKS = [mask_id_number, mask_phone, mask_name, mask_address, mask_card_number]


@pytest.mark.parametrize("mask", MASKS)
def test_masks_are_total_on_empty_and_none_art16(mask) -> None:  # type: ignore[no-untyped-def]
    assert mask(None) is None
    assert mask("") == ""
    assert mask("   ") == ""


@pytest.mark.parametrize(
    "value, masked",
    [
        ("440104199001011234", "440104********1234"),
        ("44010419900101123X", "440104********123X"),
        (" 440104199001011234 ", "440104********1234"),
        ("G12345678", "G1*****78"),  # passport: first 2, last 2
        ("H0123456", "H0****56"),  # Hong Kong / Macao permit
        ("1234", "1**4"),
        ("123", "1*3"),
        ("12", "**"),
        ("1", "*"),
    ],
)
def test_mask_id_number_art16(value: str, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    "value, masked",
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+86 138-1234-5678", "+86138****5678"),
        ("+85291234567", "+852****4567"),
        ("00852 9123 4567", "+852****4567"),
        ("+1 (415) 555-2671", "+1******2671"),
        ("+447911123456", "+44******3456"),
        ("020-12345678", "020****5678"),  # Guangzhou landline
        ("12345", "1***5"),
    ],
)
def test_mask_phone_art16(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    "value, masked",
    [
        ("张三明", "张*明"),
        ("张三", "张*"),
        ("张", "*"),
        ("欧阳娜娜", "欧**娜"),
        ("阿卜杜·热合曼", "阿*****曼"),
        ("John Smith", "J*** S****"),
        ("Madonna", "M******"),
        ("John F Kennedy", "J*** * K******"),
        ("Al", "A*"),
    ],
)
def test_mask_name_art16(value: str, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    "value, masked",
    [
        ("广东省广州市天河区天河路385号太古汇1座", "广东省广州市天河区****"),
        ("广州市越秀区东风中路", "广州市越秀区****"),
        ("广州市增城市荔城街", "广州市增城市****"),  # before 2014 a county-level city
        ("广州市天河路88号某小区3栋", "广州市天河路****"),  # no district right after 广州市: first 6 at most
        ("北京市朝阳区建国路1号", "北京市朝阳区****"),
        ("天河路1号", "天河路****"),  # short: never more than half
        ("1 Queen's Road Central, Hong Kong", "1 Quee****"),
    ],
)
def test_mask_address_art16(value: str, masked: str) -> None:
    assert mask_address(value) == masked


@pytest.mark.parametrize(
    "value, masked",
    [("A12345678", "A*****678"), ("440100D123456", "4*********456"), ("ABCD", "A**D"), ("AB", "**")],
)
def test_mask_card_number_art16(value: str, masked: str) -> None:
    assert mask_card_number(value) == masked


birth_dates = st.dates().map(lambda d: d.strftime("%Y%m%d")).filter(lambda s: len(s) == 8)


@given(
    region=st.text(string.digits, min_size=6, max_size=6),
    birth=birth_dates,
    tail=st.text(string.digits, min_size=3, max_size=3),
    check=st.sampled_from(string.digits + "X"),
)
def test_masked_id_never_reveals_the_birth_date_art16(region: str, birth: str, tail: str, check: str) -> None:
    masked = mask_id_number(region + birth + tail + check)
    assert masked[6:14] == "********"
    assert birth not in masked
    assert masked[:6] == region and masked[14:] == tail + check


# anything a person could type, except the mask character itself
typed = st.text(st.characters(blacklist_characters="*", blacklist_categories=("Cs",)), min_size=3)


@given(value=typed)
def test_masked_output_never_equals_input_of_three_or_more_characters_art16(value: str) -> None:
    for mask in MASKS:
        masked = mask(value)
        assert masked != value
        assert isinstance(masked, str)


@given(value=st.text(st.characters(blacklist_categories=("Cs",))))
def test_masks_never_raise_art16(value: str) -> None:
    for mask in MASKS:
        assert isinstance(mask(value), str)
