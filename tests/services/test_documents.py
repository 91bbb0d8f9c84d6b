"""Identity documents, social security numbers, mobiles and card numbers (Art. 4, 9, 11, 17, 24).

Sample numbers are built from real Guangzhou district codes with the check character computed
by an independent implementation of GB 11643-1999 (the weight-table form below), so the module's
ISO 7064 recursive form is checked against it, not against itself.
"""
from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.services.documents import (
    CARD_NUMBER_CAPACITY,
    Document,
    DocumentError,
    DocumentType,
    Sex,
    assign_social_security_number,
    is_valid_card_number,
    is_valid_resident_id,
    is_valid_social_security_number,
    mod11_2_check_char,
    mod37_2_check_char,
    card_number,
    new_card_number,
    normalise_mobile,
    social_security_number,
    validate_document,
)

TODAY = date(2026, 11, 23)

GUANGZHOU_DISTRICTS = {
    "440103": "Liwan", "440104": "Yuexiu", "440105": "Haizhu", "440106": "Tianhe",
    "440111": "Baiyun", "440112": "Huangpu", "440113": "Panyu", "440114": "Huadu",
    "440115": "Nansha", "440117": "Conghua", "440118": "Zengcheng",
}

# GB 11643-1999 as usually printed: weights W_i = 2^(17-i) mod 11, check = table[sum mod 11].
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_TABLE = "10X98765432"


def reference_check(first17: str) -> str:
    return _CHECK_TABLE[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def make_id(region: str, birth: date, seq: int) -> str:
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + reference_check(body)


def make_fpr2023(province: str, nationality_numeric: str, birth: date, seq: int) -> str:
    body = f"9{province}{nationality_numeric}{birth:%Y%m%d}{seq:03d}"
    return body + reference_check(body)


def validate(doc_type, number, **kw):
    kw.setdefault("today", TODAY)
    return validate_document(doc_type, number, **kw)


# ---------------------------------------------------------------------------------------------
# 居民身份证 (GB 11643-1999)
# ---------------------------------------------------------------------------------------------


def test_resident_id_check_digit_gb11643_art11():
    """Art. 11 (national standards): the GB 11643 / ISO 7064 MOD 11-2 check character, on the
    standard's own examples."""
    assert mod11_2_check_char("11010519491231002") == "X"
    assert mod11_2_check_char("44052418800101001") == "4"
    assert is_valid_resident_id("11010519491231002X")
    assert not is_valid_resident_id("110105194912310021")


def test_resident_id_check_digit_matches_reference_on_guangzhou_samples_art11():
    """Art. 11: the module's check character agrees with the weight-table form of GB 11643."""
    for i, region in enumerate(GUANGZHOU_DISTRICTS):
        body = f"{region}{1950 + 5 * i:04d}0{1 + i % 9}1{i % 10}{100 + 7 * i:03d}"
        assert mod11_2_check_char(body) == reference_check(body)
        assert is_valid_resident_id(body + reference_check(body))


def test_mod11_2_check_char_requires_17_digits_art11():
    """Art. 11: the check character is defined on exactly 17 digits."""
    for bad in ("", "1234", "4401061990010112", "440106199001011234", "4401061990010112A"):
        with pytest.raises(ValueError):
            mod11_2_check_char(bad)


def test_resident_id_accepted_with_birth_date_and_sex_art9():
    """Art. 9: the applicant's valid ID document; birth date and sex come from the number
    (17th digit odd = male, even = female)."""
    male = make_id("440106", date(1988, 5, 17), 123)
    female = make_id("440113", date(1992, 2, 29), 124)
    doc = validate(DocumentType.RESIDENT_ID, male)
    assert doc == Document(DocumentType.RESIDENT_ID, male, date(1988, 5, 17), Sex.MALE, None)
    assert validate("resident_id", female).sex is Sex.FEMALE
    assert validate("resident_id", female).birth_date == date(1992, 2, 29)


def test_resident_id_lower_case_x_and_spaces_normalised_art11():
    """Art. 11: a check character x is written X; spaces are not part of the number."""
    number = "11010519491231002X"
    doc = validate("resident_id", " 110105 19491231 002x ")
    assert doc.number == number


def test_resident_id_fullwidth_digits_normalised_art9():
    """Art. 9: numbers typed with a Chinese input method (full-width digits) are accepted."""
    fullwidth = "１１０１０５１９４９１２３１００２Ｘ"
    assert validate("resident_id", fullwidth).number == "11010519491231002X"


@pytest.mark.parametrize("region", ["000000", "100000", "280000", "660000", "700000", "900000", "990000"])
def test_resident_id_unknown_province_code_refused_art11(region):
    """Art. 11 (GB/T 2260): the first two digits must be a province-level code."""
    with pytest.raises(DocumentError) as e:
        validate("resident_id", make_id(region, date(1980, 1, 1), 11))
    assert e.value.field == "number"
    assert "province" in e.value.message


@pytest.mark.parametrize("region", sorted(GUANGZHOU_DISTRICTS))
def test_resident_id_guangzhou_districts_accepted_art4(region):
    """Art. 4: Guangzhou household registration (every district code) is a valid resident ID."""
    number = make_id(region, date(1975, 12, 31), 2)
    assert validate("resident_id", number).number == number


@pytest.mark.parametrize("region,hint", [("810000", "hk_macao_resident_permit"),
                                         ("820000", "hk_macao_resident_permit"),
                                         ("830000", "taiwan_resident_permit")])
def test_resident_permit_number_refused_as_resident_id_art9(region, hint):
    """Art. 9: a residence-permit number (810000/820000/830000) is not a 居民身份证; the error
    names the right document type."""
    with pytest.raises(DocumentError) as e:
        validate("resident_id", make_id(region, date(1980, 1, 1), 11))
    assert hint in e.value.message


def test_resident_id_feb_30_refused_art11():
    """Art. 11: the birth-date code must be a real calendar date (no 30 February)."""
    body = "44010519900230123"
    with pytest.raises(DocumentError, match="birth date"):
        validate("resident_id", body + reference_check(body))


def test_resident_id_feb_29_only_in_leap_years_art11():
    """Art. 11: 29 February exists in 2000 but not in 1900 or 2001 (1900 also too early)."""
    assert validate("resident_id", make_id("440104", date(2000, 2, 29), 5)).birth_date == date(2000, 2, 29)
    body = "44010420010229005"
    with pytest.raises(DocumentError):
        validate("resident_id", body + reference_check(body))


def test_resident_id_future_birth_date_refused_art11():
    """Art. 11: nobody applies before being born (birth date after today)."""
    number = make_id("440106", date(2026, 11, 24), 1)
    with pytest.raises(DocumentError, match="future"):
        validate("resident_id", number, today=TODAY)
    assert validate("resident_id", number, today=date(2026, 11, 24)).birth_date == date(2026, 11, 24)


def test_resident_id_birth_before_1900_refused_art11():
    """Art. 11: birth dates before 1900 are refused as implausible for a living applicant."""
    number = "440524188001010014"  # the standard's own example: well-formed, born 1880
    assert mod11_2_check_char(number[:17]) == number[17]
    with pytest.raises(DocumentError, match="1900"):
        validate("resident_id", number)
    assert not is_valid_resident_id(number)


@pytest.mark.parametrize("bad", ["", "4401061990010112", "4401061990010112345", "44010619900101123Y",
                                 "4401061990O101123X", "X40106199001011234"])
def test_resident_id_malformed_refused_art11(bad):
    """Art. 11: 18 characters, 17 digits and a check character 0-9 or X."""
    with pytest.raises(DocumentError) as e:
        validate("resident_id", bad)
    assert e.value.field == "number"
    assert not is_valid_resident_id(bad)


def test_document_error_is_a_value_error_with_field_and_message_art9():
    """Art. 9: the API turns the error into problem details from its field and message."""
    with pytest.raises(ValueError) as e:
        validate("resident_id", "123")
    err = e.value
    assert isinstance(err, DocumentError)
    assert err.field == "number" and err.message and str(err) == err.message


def test_unknown_document_type_refused_art9():
    """Art. 9: only the valid identity documents of Art. 4 / 9 are accepted."""
    with pytest.raises(DocumentError) as e:
        validate("driving_licence", "440106199001011234")
    assert e.value.field == "type"


def test_foreign_nationality_refused_on_documents_of_chinese_citizens_art9():
    """Art. 4, 9: documents of Chinese citizens carry no foreign nationality: CHN (or nothing)
    is accepted, anything else is a form error, not silently ignored."""
    with pytest.raises(DocumentError) as e:
        validate("resident_id", "11010519491231002X", nationality="USA")
    assert e.value.field == "nationality"
    assert validate("resident_id", "11010519491231002X", nationality="chn").nationality is None
    assert validate("hk_macao_travel_permit", "H12345678", nationality="CHN").nationality is None


# Hypothesis: generated valid numbers round-trip; every single-character change is refused.

districts = st.sampled_from(sorted(GUANGZHOU_DISTRICTS))
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


@given(districts, birth_dates, sequences)
def test_generated_resident_id_round_trips_art11(region, birth, seq):
    """Art. 11: every well-formed number from a Guangzhou district validates and gives back
    its birth date and sex."""
    number = make_id(region, birth, seq)
    assert is_valid_resident_id(number)
    doc = validate("resident_id", number)
    assert doc.number == number and doc.birth_date == birth
    assert doc.sex is (Sex.MALE if seq % 2 else Sex.FEMALE)
    assert validate("resident_id", number.lower()) == doc


@given(districts, birth_dates, sequences, st.integers(0, 17), st.sampled_from("0123456789X"))
def test_resident_id_single_character_change_refused_art11(region, birth, seq, pos, char):
    """Art. 11: the MOD 11-2 check character catches every single-character substitution."""
    number = make_id(region, birth, seq)
    assume(number[pos] != char)
    changed = number[:pos] + char + number[pos + 1:]
    assert not is_valid_resident_id(changed)


@given(districts, birth_dates, sequences, st.integers(0, 16))
def test_resident_id_adjacent_transposition_refused_art11(region, birth, seq, pos):
    """Art. 11: the MOD 11-2 check character catches every swap of two adjacent characters."""
    number = make_id(region, birth, seq)
    assume(number[pos] != number[pos + 1])
    swapped = number[:pos] + number[pos + 1] + number[pos] + number[pos + 2:]
    assert not is_valid_resident_id(swapped)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
def test_resident_id_future_birth_dates_refused_property_art11(birth):
    """Art. 11: any birth date after today is refused; any date up to today is accepted."""
    number = make_id("440106", birth, 101)
    if birth > TODAY:
        with pytest.raises(DocumentError):
            validate("resident_id", number)
    else:
        assert validate("resident_id", number).birth_date == birth


# ---------------------------------------------------------------------------------------------
# Residence permits for Hong Kong, Macao and Taiwan residents (18 digits, GB 11643 structure)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["810000", "820000"])
def test_hk_macao_resident_permit_accepted_art9(region):
    """Art. 4, 9: 港澳居民居住证, address code 810000 (Hong Kong) or 820000 (Macao)."""
    number = make_id(region, date(1985, 7, 1), 37)
    doc = validate("hk_macao_resident_permit", number)
    assert doc.type is DocumentType.HK_MACAO_RESIDENT_PERMIT
    assert (doc.number, doc.birth_date, doc.sex) == (number, date(1985, 7, 1), Sex.MALE)


def test_taiwan_resident_permit_accepted_art9():
    """Art. 4, 9: 台湾居民居住证, address code 830000."""
    number = make_id("830000", date(1979, 3, 8), 42)
    doc = validate("taiwan_resident_permit", number)
    assert (doc.birth_date, doc.sex) == (date(1979, 3, 8), Sex.FEMALE)


@pytest.mark.parametrize("doc_type,region", [("hk_macao_resident_permit", "440106"),
                                             ("hk_macao_resident_permit", "830000"),
                                             ("hk_macao_resident_permit", "810100"),
                                             ("taiwan_resident_permit", "810000"),
                                             ("taiwan_resident_permit", "440106")])
def test_resident_permit_wrong_address_code_refused_art9(doc_type, region):
    """Art. 9: each permit has its own address code; a mainland number is not a permit."""
    with pytest.raises(DocumentError, match="must start with"):
        validate(doc_type, make_id(region, date(1985, 7, 1), 37))


def test_resident_permit_check_digit_refused_art11():
    """Art. 11: residence permits carry the same MOD 11-2 check character."""
    number = make_id("810000", date(1985, 7, 1), 37)
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(DocumentError, match="check"):
        validate("hk_macao_resident_permit", wrong)


# ---------------------------------------------------------------------------------------------
# Travel permits
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["H12345678", "M87654321", "H1234567801", "m 1234 5678"])
def test_hk_macao_travel_permit_format_art9(number):
    """Art. 9: 港澳居民来往内地通行证: H or M and 8 digits (or 10 on older permits)."""
    doc = validate("hk_macao_travel_permit", number)
    assert doc.number == number.replace(" ", "").upper()
    assert (doc.birth_date, doc.sex, doc.nationality) == (None, None, None)


@pytest.mark.parametrize("number", ["A12345678", "H1234567", "H123456789", "H123456789012", "HM1234567", "12345678"])
def test_hk_macao_travel_permit_malformed_refused_art9(number):
    """Art. 9: any other shape is refused."""
    with pytest.raises(DocumentError):
        validate("hk_macao_travel_permit", number)


def test_taiwan_travel_permit_format_art9():
    """Art. 9: 台湾居民来往大陆通行证: 8 digits."""
    assert validate("taiwan_travel_permit", "01234567").number == "01234567"
    for bad in ("1234567", "123456789", "T1234567", "1234567A"):
        with pytest.raises(DocumentError):
            validate("taiwan_travel_permit", bad)


# ---------------------------------------------------------------------------------------------
# 外国人永久居留身份证 (2017: 3 letters + 12 digits; 2023: 18 digits starting with 9)
# ---------------------------------------------------------------------------------------------


def test_permanent_residence_2017_format_gives_nationality_art9():
    """Art. 4, 9: the 2017 card number: ISO 3166-1 alpha-3 nationality + 12 digits (no public
    check-digit rule: structure only)."""
    doc = validate("foreign_permanent_residence", "usa440085061238")
    assert doc.number == "USA440085061238"
    assert doc.nationality == "USA"
    assert doc.birth_date is None


@pytest.mark.parametrize("number", ["XYZ440085061238", "US4400850612381", "USA44008506123",
                                    "USA4400850612380", "12A440085061238"])
def test_permanent_residence_2017_malformed_refused_art9(number):
    """Art. 9: unknown nationality code or wrong length is refused."""
    with pytest.raises(DocumentError):
        validate("foreign_permanent_residence", number)


def test_permanent_residence_2017_nationality_must_agree_art9():
    """Art. 9: a nationality given separately must be the one in the number."""
    assert validate("foreign_permanent_residence", "DEU440085061238", nationality="deu").nationality == "DEU"
    with pytest.raises(DocumentError) as e:
        validate("foreign_permanent_residence", "DEU440085061238", nationality="FRA")
    assert e.value.field == "nationality"


def test_permanent_residence_2023_format_mod11_2_art9():
    """Art. 4, 9, 11: the 2023 card number: 18 digits, first digit 9, MOD 11-2 check character;
    birth date and sex read like a citizen number, nationality from the ISO numeric code."""
    number = make_fpr2023("44", "840", date(1985, 6, 12), 123)
    doc = validate("foreign_permanent_residence", number)
    assert (doc.number, doc.birth_date, doc.sex, doc.nationality) == (number, date(1985, 6, 12), Sex.MALE, "USA")


def test_permanent_residence_2023_errors_art9():
    """Art. 9, 11: wrong check character, wrong first digit, impossible birth date refused."""
    number = make_fpr2023("44", "276", date(1990, 1, 31), 8)
    assert validate("foreign_permanent_residence", number).nationality == "DEU"
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(DocumentError, match="check"):
        validate("foreign_permanent_residence", wrong)
    citizen_like = "8" + number[1:17]
    with pytest.raises(DocumentError):
        validate("foreign_permanent_residence", citizen_like + reference_check(citizen_like))
    body = "944276" + "19900231" + "008"
    with pytest.raises(DocumentError, match="birth date"):
        validate("foreign_permanent_residence", body + reference_check(body))


# ---------------------------------------------------------------------------------------------
# Foreign passports
# ---------------------------------------------------------------------------------------------


def test_passport_requires_nationality_art9():
    """Art. 9: a foreign passport is identified by its number and issuing nationality."""
    with pytest.raises(DocumentError) as e:
        validate("passport", "X1234567")
    assert e.value.field == "nationality"
    doc = validate("passport", " x123 4567 ", nationality="gbr")
    assert (doc.number, doc.nationality, doc.birth_date) == ("X1234567", "GBR", None)


@pytest.mark.parametrize("number", ["1234", "A" * 18, "AB-12345", "AB_12345", ""])
def test_passport_number_shape_art9(number):
    """Art. 9: 5 to 17 letters or digits."""
    with pytest.raises(DocumentError) as e:
        validate("passport", number, nationality="FRA")
    assert e.value.field == "number"


@pytest.mark.parametrize("nationality", ["XX", "ZZZ", "U5A", "FRANCE"])
def test_passport_unknown_nationality_refused_art9(nationality):
    """Art. 9: the nationality is an ISO 3166-1 alpha-3 code."""
    with pytest.raises(DocumentError) as e:
        validate("passport", "12345678", nationality=nationality)
    assert e.value.field == "nationality"


@pytest.mark.parametrize("nationality", ["CHN", "HKG", "MAC", "TWN"])
def test_passport_of_chinese_citizens_refused_art9(nationality):
    """Art. 4, 9: the passport document type is for foreigners; residents of the mainland,
    Hong Kong, Macao and Taiwan use their own documents."""
    with pytest.raises(DocumentError) as e:
        validate("passport", "E12345678", nationality=nationality)
    assert e.value.field == "nationality"


# ---------------------------------------------------------------------------------------------
# Social security number (Social Insurance Law Art. 58; Art. 17 card face)
# ---------------------------------------------------------------------------------------------


def test_social_security_number_is_citizen_id_number_sil58():
    """Social Insurance Law Art. 58, Art. 17: for citizens the social security number is the
    citizen ID number."""
    number = make_id("440111", date(1960, 10, 1), 17)
    doc = validate("resident_id", number)
    assert social_security_number(doc) == number
    assert is_valid_social_security_number(number)


def test_social_security_number_of_18_digit_permits_is_the_number_sil58():
    """SIL Art. 58: residence permits and the 2023 permanent-residence ID carry a number under
    the national numbering; it is the social security number."""
    hk = validate("hk_macao_resident_permit", make_id("820000", date(1970, 1, 1), 3))
    tw = validate("taiwan_resident_permit", make_id("830000", date(1970, 1, 1), 4))
    fpr = validate("foreign_permanent_residence", make_fpr2023("44", "392", date(1970, 1, 1), 5))
    for doc in (hk, tw, fpr):
        assert social_security_number(doc) == doc.number
        assert is_valid_social_security_number(doc.number)


def test_social_security_number_to_be_assigned_for_other_documents_sil58():
    """SIL Art. 58: holders of travel permits, the 2017 permanent-residence card and passports
    get a number assigned by the agency (None here)."""
    docs = [validate("hk_macao_travel_permit", "H12345678"),
            validate("taiwan_travel_permit", "12345678"),
            validate("foreign_permanent_residence", "USA440085061238"),
            validate("passport", "X1234567", nationality="GBR")]
    assert [social_security_number(d) for d in docs] == [None] * 4


def test_assigned_social_security_number_format_sil58():
    """SIL Art. 58: assigned numbers are 18 characters, start with a letter (so they can never
    equal a citizen number, which starts with a digit) and carry a check character."""
    ssn = assign_social_security_number(1)
    assert len(ssn) == 18 and ssn[0] == "A" and ssn[1:7] == "440100"
    assert is_valid_social_security_number(ssn)
    assert is_valid_social_security_number(ssn.lower())
    assert not is_resident_id_like(ssn)
    with pytest.raises(ValueError):
        assign_social_security_number(-1)
    with pytest.raises(ValueError):
        assign_social_security_number(10**10)


def is_resident_id_like(s: str) -> bool:
    return s[:17].isdigit()


@given(st.integers(0, 10**10 - 1), st.integers(0, 10**10 - 1))
def test_assigned_social_security_numbers_unique_per_serial_sil58(a, b):
    """SIL Art. 58: one serial, one number; different serials never share a number."""
    assert (assign_social_security_number(a) == assign_social_security_number(b)) == (a == b)


@given(st.integers(0, 10**10 - 1), st.integers(0, 17), st.sampled_from(string.digits + string.ascii_uppercase))
def test_assigned_social_security_number_single_change_refused_sil58(serial, pos, char):
    """SIL Art. 58: any single-character substitution in an assigned number is refused."""
    ssn = assign_social_security_number(serial)
    assume(ssn[pos] != char)
    assert not is_valid_social_security_number(ssn[:pos] + char + ssn[pos + 1:])


@pytest.mark.parametrize("s", ["", "123", "11010519491231002Y", "110105194912310021",
                               "B4401000000000001X", "A44010000000000010000"])
def test_invalid_social_security_numbers_refused_sil58(s):
    """SIL Art. 58: anything that is neither a national number nor an assigned one is refused."""
    assert not is_valid_social_security_number(s)


# ---------------------------------------------------------------------------------------------
# Mobile numbers (Art. 9)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678",
                                 "8613812345678", "0086-138-1234-5678", "+86-13812345678", "＋８６１３８１２３４５６７８"])
def test_mainland_mobile_stored_as_11_digits_art9(raw):
    """Art. 9: the applicant's mobile; mainland numbers are stored as 11 digits."""
    assert normalise_mobile(raw) == "13812345678"


@pytest.mark.parametrize("raw,expected", [("+852 9123 4567", "+85291234567"), ("00852-51234567", "+85251234567"),
                                          ("85241234567", "+85241234567"), ("+853 6612 3456", "+85366123456"),
                                          ("0085362345678", "+85362345678")])
def test_hong_kong_and_macao_mobiles_stored_as_e164_art9(raw, expected):
    """Art. 9: Hong Kong (+852, 8 digits starting 4-9) and Macao (+853, 8 digits starting 6)
    mobiles are stored in E.164 form."""
    assert normalise_mobile(raw) == expected


@pytest.mark.parametrize("raw", ["", "12812345678", "1381234567", "138123456789", "+86 02012345678",
                                 "+852 3123 4567", "+853 2812 3456", "91234567", "+1 415 555 0100", "138abc45678"])
def test_invalid_mobiles_refused_art9(raw):
    """Art. 9: not a mainland, Hong Kong or Macao mobile (a bare 8-digit number needs its
    +852 / +853 prefix)."""
    with pytest.raises(DocumentError) as e:
        normalise_mobile(raw)
    assert e.value.field == "mobile"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mainland_mobile_round_trips_art9(mobile):
    """Art. 9: every mainland mobile, with or without +86, normalises to itself."""
    assert normalise_mobile(mobile) == mobile
    assert normalise_mobile("+86" + mobile) == mobile
    assert normalise_mobile(normalise_mobile(mobile)) == mobile


# ---------------------------------------------------------------------------------------------
# Card numbers (Art. 17: card number on the card face; Art. 11 well-formed)
# ---------------------------------------------------------------------------------------------

serials = st.integers(min_value=0, max_value=CARD_NUMBER_CAPACITY - 1)
CARD_ALPHABET = string.digits + string.ascii_uppercase + "*"


def test_mod37_2_iso7064_example_art11():
    """Art. 11 (national and international standards): the card-number check character is
    ISO/IEC 7064 MOD 37-2, checked on the standard's published example."""
    assert mod37_2_check_char("G123489654321") == "Y"
    with pytest.raises(ValueError):
        mod37_2_check_char("g12")


def test_card_number_format_art17():
    """Art. 17: the card number printed on the face: a letter, 7 digits, a check character."""
    first = card_number(0)
    assert len(first) == 9 and first[0] == "A" and first[1:8] == "0000000"
    assert is_valid_card_number(first)
    last = card_number(CARD_NUMBER_CAPACITY - 1)
    assert last[:8] == "Z9999999" and is_valid_card_number(last)
    assert is_valid_card_number(first.lower())
    for bad in (-1, CARD_NUMBER_CAPACITY):
        with pytest.raises(ValueError):
            card_number(bad)


@pytest.mark.parametrize("s", ["", "A0000000", "A00000000000", "I00000000", "O00000000", "10000000A", "A000A0000"])
def test_malformed_card_number_refused_art17(s):
    """Art. 17: anything not of the card-number shape is refused."""
    assert not is_valid_card_number(s)


@given(serials)
def test_card_number_round_trips_art17(serial):
    """Art. 17: every issued number is well-formed."""
    number = card_number(serial)
    assert len(number) == 9 and is_valid_card_number(number)


@given(serials, serials)
def test_card_number_unique_per_serial_art17(a, b):
    """Art. 17 (card numbers unique): different serials never share a card number."""
    assert (card_number(a) == card_number(b)) == (a == b)


@settings(max_examples=300)
@given(serials, st.integers(0, 8), st.sampled_from(CARD_ALPHABET))
def test_card_number_single_substitution_refused_art17(serial, pos, char):
    """Art. 17: the ISO 7064 MOD 37-2 check character catches every single-character substitution."""
    number = card_number(serial)
    assume(number[pos] != char)
    assert not is_valid_card_number(number[:pos] + char + number[pos + 1:])


@settings(max_examples=300)
@given(serials, st.integers(0, 7))
def test_card_number_adjacent_transposition_refused_art17(serial, pos):
    """Art. 17: the check character catches every swap of two adjacent characters."""
    number = card_number(serial)
    assume(number[pos] != number[pos + 1])
    assert not is_valid_card_number(number[:pos] + number[pos + 1] + number[pos] + number[pos + 2:])


def test_card_number_check_detects_all_substitutions_and_transpositions_exhaustively_art17():
    """Art. 17: the property holds for every character at every position and every pair of
    digits at every adjacent position, not only for the examples hypothesis draws."""
    base = card_number(12_345_678)
    for pos in range(9):
        for char in CARD_ALPHABET:
            if char != base[pos]:
                assert not is_valid_card_number(base[:pos] + char + base[pos + 1:])
    for pos in range(1, 7):  # two adjacent digits of the body
        for a in string.digits:
            for b in string.digits:
                if a != b:
                    body = base[:pos] + a + b + base[pos + 2:8]
                    valid = body + mod37_2_check_char(body)
                    swapped = valid[:pos] + b + a + valid[pos + 2:]
                    assert is_valid_card_number(valid) and not is_valid_card_number(swapped)
    for a in string.digits:  # the last digit and the check character
        body = base[:7] + a
        valid = body + mod37_2_check_char(body)
        if valid[8] != a:
            assert not is_valid_card_number(body[:7] + valid[8] + a)


STAR_SERIALS = [s for s in range(200) if card_number(s).endswith("*")]


def test_new_card_numbers_never_end_in_star_the_mask_character_art17():
    """Art. 17, issue 13 #20: '*' is what every masked value shows, so a new card number never ends
    in it: the serials whose MOD 37-2 check character is '*' are skipped."""
    assert STAR_SERIALS  # about 1 in 37
    serial = STAR_SERIALS[0]
    draws = iter([serial, serial + 1])
    number = new_card_number(lambda: next(draws))
    assert number == card_number(serial + 1) and number[-1] != "*" and is_valid_card_number(number)
    assert {new_card_number(iter([s, s + 1, s + 2]).__next__)[-1] for s in range(500)} <= set(CARD_ALPHABET[:-1])


@pytest.mark.parametrize("serial", STAR_SERIALS[:3])
def test_existing_card_numbers_ending_in_star_stay_valid_art17(serial):
    """Art. 17, issue 13 #20: numbers issued before the change keep their '*' and stay valid."""
    number = card_number(serial)
    assert number.endswith("*") and is_valid_card_number(number)
