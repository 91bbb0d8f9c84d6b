"""Art. 16: encrypted personal information is found by exact blind index, never read back from it."""
from __future__ import annotations

import secrets

import pytest

from app.privacy import BLIND_INDEX_LENGTH, BlindIndexer, KeyRing, normalise


@pytest.fixture
def indexer(keyring: KeyRing) -> BlindIndexer:
    return BlindIndexer(keyring.blind_index_key)


def test_same_normalised_value_gives_same_index_art16(indexer: BlindIndexer) -> None:
    assert indexer.index("id_number", " 44010419900101123x ") == indexer.index("id_number", "44010419900101123X")
    assert indexer.index("id_number", "４４０１０４１９９００１０１１２３Ｘ") == indexer.index(
        "id_number", "44010419900101123X"
    )
    assert indexer.index("phone", "138-1234 5678") == indexer.index("phone", "13812345678")
    assert indexer.index("card_number", "a12345678") == indexer.index("card_number", "A12345678")
    index = indexer.index("id_number", "440104199001011234")
    assert len(index) == BLIND_INDEX_LENGTH and int(index, 16) >= 0


def test_different_values_kinds_or_keys_give_different_indexes_art16(indexer: BlindIndexer) -> None:
    assert indexer.index("id_number", "440104199001011234") != indexer.index("id_number", "440104199001011235")
    same_text = "13812345678"
    kinds = {indexer.index(kind, same_text) for kind in ("id_number", "phone", "card_number", "name")}
    assert len(kinds) == 4
    other = BlindIndexer(secrets.token_bytes(32))
    assert other.index("phone", same_text) != indexer.index("phone", same_text)


def test_index_does_not_contain_the_value_art16(indexer: BlindIndexer) -> None:
    index = indexer.index("phone", "13812345678")
    assert "12345678" not in index


@pytest.mark.parametrize(
    "variant",
    [
        "阿卜杜·热合曼",  # U+00B7 middle dot, as on the ID card
        "阿卜杜•热合曼",  # U+2022 bullet
        "阿卜杜・热合曼",  # U+30FB katakana middle dot
        "阿卜杜･热合曼",  # U+FF65 halfwidth katakana middle dot (NFKC → U+30FB)
        "阿卜杜‧热合曼",  # U+2027 hyphenation point
        "阿卜杜 热合曼",
        " 阿卜杜　热合曼 ",  # ideographic space U+3000
        "阿卜杜热合曼",
    ],
)
def test_name_variants_of_one_person_share_an_index_art16(indexer: BlindIndexer, variant: str) -> None:
    assert indexer.index("name", variant) == indexer.index("name", "阿卜杜热合曼")


def test_name_normalisation_folds_case_and_width_art16(indexer: BlindIndexer) -> None:
    assert normalise("name", "John  SMITH") == "johnsmith"
    assert normalise("name", "Ｊｏｈｎ Ｓｍｉｔｈ") == "johnsmith"  # full-width Latin (NFKC)
    assert normalise("name", "STRASSE") == normalise("name", "Straße")  # case-folding, not lower()
    assert indexer.index("name", "张三") != indexer.index("name", "张三明")  # exact, not prefix


def test_unknown_kind_or_empty_value_is_refused_art16(indexer: BlindIndexer) -> None:
    with pytest.raises(ValueError, match="unknown blind-index kind"):
        indexer.index("surname_prefix", "王")
    for kind, value in [("name", " · "), ("phone", "n/a"), ("id_number", "  ")]:
        with pytest.raises(ValueError, match="nothing to index"):
            indexer.index(kind, value)


def test_blind_index_key_is_not_shown_and_must_be_long_art16(keyring: KeyRing) -> None:
    assert keyring.blind_index_key.hex() not in repr(BlindIndexer(keyring.blind_index_key))
    with pytest.raises(ValueError):
        BlindIndexer(b"short")
