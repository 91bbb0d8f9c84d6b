"""Identity documents and the numbers derived from them (Art. 4, 9, 11, 17; Social Insurance Law Art. 58).

Pure functions, no Flask, no database: the lifecycle service, the API and the demo seeder all call them.

* ``validate_document`` checks a document number of one of the types a person may apply with
  (Art. 4: residents with and without Guangzhou household registration; Art. 9: "valid identity
  document") against the national standard for that number (Art. 11) and returns a normalised
  :class:`Document`.
* ``social_security_number`` / ``assign_social_security_number``: for citizens the social security
  number is the citizen ID number (Social Insurance Law Art. 58); for other people it is the
  number under the same national numbering where their document carries one, and otherwise a
  number assigned by the issuing agency (format below).
* ``normalise_mobile``: the applicant's mobile (Art. 9) in one canonical stored form.
* ``new_card_number`` / ``card_number`` / ``is_valid_card_number``: the card number printed on the
  card face (Art. 17), with a check character that is a digit or a letter on every new number.

Every error is a :class:`DocumentError` (a ``ValueError``) with the offending ``field`` and a
plain-English ``message``; the API turns it into RFC 9457 problem details.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from app.services import clock

__all__ = [
    "CARD_NUMBER_CAPACITY",
    "Document",
    "DocumentError",
    "DocumentType",
    "PROVINCE_CODES",
    "Sex",
    "assign_social_security_number",
    "card_number",
    "is_valid_card_number",
    "is_valid_resident_id",
    "is_valid_social_security_number",
    "mod11_2_check_char",
    "mod37_2_check_char",
    "new_card_number",
    "normalise_mobile",
    "social_security_number",
    "validate_document",
]


class DocumentError(ValueError):
    """A document number, nationality or mobile that breaks a rule; ``field`` names the input.
    ``template`` and ``params``: the source message and its values, translated when shown (app.i18n)."""

    def __init__(self, field: str, message: str, params: dict | None = None):
        self.template, self.params = message, params or {}
        message = message.format(**params) if params else message
        super().__init__(message)
        self.field = field
        self.message = message


class DocumentType(StrEnum):
    """The valid identity documents (Art. 4, 9)."""

    RESIDENT_ID = "resident_id"  # 居民身份证
    HK_MACAO_RESIDENT_PERMIT = "hk_macao_resident_permit"  # 港澳居民居住证
    TAIWAN_RESIDENT_PERMIT = "taiwan_resident_permit"  # 台湾居民居住证
    HK_MACAO_TRAVEL_PERMIT = "hk_macao_travel_permit"  # 港澳居民来往内地通行证
    TAIWAN_TRAVEL_PERMIT = "taiwan_travel_permit"  # 台湾居民来往大陆通行证
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"  # 外国人永久居留身份证
    PASSPORT = "passport"  # 外国护照


class Sex(StrEnum):
    """Read from the 17th digit of an 18-digit number: odd male, even female (GB 11643).
    One letter, as stored (``Person.sex``) and as in machine-readable travel documents."""

    MALE = "M"
    FEMALE = "F"


@dataclass(frozen=True)
class Document:
    """A validated document. ``nationality`` (ISO 3166-1 alpha-3) is set only from foreigners'
    documents (passport, permanent-residence ID); documents issued to Chinese citizens leave it None."""

    type: DocumentType
    number: str
    birth_date: date | None = None
    sex: Sex | None = None
    nationality: str | None = None


# Province-level codes of GB/T 2260 (first two digits of an address code). 71/81/82 are the
# standard's codes for Taiwan, Hong Kong and Macao.
PROVINCE_CODES: dict[str, str] = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古",
    "21": "辽宁", "22": "吉林", "23": "黑龙江",
    "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西", "37": "山东",
    "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏",
    "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆",
    "71": "台湾", "81": "香港", "82": "澳门",
}

# Address codes the Ministry of Public Security gives residence permits (2018): the permit number
# is a "citizen number" with one of these in place of a county code.
HK_MACAO_PERMIT_REGIONS = ("810000", "820000")
TAIWAN_PERMIT_REGIONS = ("830000",)
_PERMIT_REGIONS = {"810000": DocumentType.HK_MACAO_RESIDENT_PERMIT,
                   "820000": DocumentType.HK_MACAO_RESIDENT_PERMIT,
                   "830000": DocumentType.TAIWAN_RESIDENT_PERMIT}

# ISO 3166-1 alpha-3 -> numeric, all 249 officially assigned codes (generated from Debian
# iso-codes 4.15.0, /usr/share/iso-codes/json/iso_3166-1.json).
_ISO3166 = (
    "ABW533 AFG004 AGO024 AIA660 ALA248 ALB008 AND020 ARE784 ARG032 ARM051 ASM016 ATA010 ATF260 "
    "ATG028 AUS036 AUT040 AZE031 BDI108 BEL056 BEN204 BES535 BFA854 BGD050 BGR100 BHR048 BHS044 "
    "BIH070 BLM652 BLR112 BLZ084 BMU060 BOL068 BRA076 BRB052 BRN096 BTN064 BVT074 BWA072 CAF140 "
    "CAN124 CCK166 CHE756 CHL152 CHN156 CIV384 CMR120 COD180 COG178 COK184 COL170 COM174 CPV132 "
    "CRI188 CUB192 CUW531 CXR162 CYM136 CYP196 CZE203 DEU276 DJI262 DMA212 DNK208 DOM214 DZA012 "
    "ECU218 EGY818 ERI232 ESH732 ESP724 EST233 ETH231 FIN246 FJI242 FLK238 FRA250 FRO234 FSM583 "
    "GAB266 GBR826 GEO268 GGY831 GHA288 GIB292 GIN324 GLP312 GMB270 GNB624 GNQ226 GRC300 GRD308 "
    "GRL304 GTM320 GUF254 GUM316 GUY328 HKG344 HMD334 HND340 HRV191 HTI332 HUN348 IDN360 IMN833 "
    "IND356 IOT086 IRL372 IRN364 IRQ368 ISL352 ISR376 ITA380 JAM388 JEY832 JOR400 JPN392 KAZ398 "
    "KEN404 KGZ417 KHM116 KIR296 KNA659 KOR410 KWT414 LAO418 LBN422 LBR430 LBY434 LCA662 LIE438 "
    "LKA144 LSO426 LTU440 LUX442 LVA428 MAC446 MAF663 MAR504 MCO492 MDA498 MDG450 MDV462 MEX484 "
    "MHL584 MKD807 MLI466 MLT470 MMR104 MNE499 MNG496 MNP580 MOZ508 MRT478 MSR500 MTQ474 MUS480 "
    "MWI454 MYS458 MYT175 NAM516 NCL540 NER562 NFK574 NGA566 NIC558 NIU570 NLD528 NOR578 NPL524 "
    "NRU520 NZL554 OMN512 PAK586 PAN591 PCN612 PER604 PHL608 PLW585 PNG598 POL616 PRI630 PRK408 "
    "PRT620 PRY600 PSE275 PYF258 QAT634 REU638 ROU642 RUS643 RWA646 SAU682 SDN729 SEN686 SGP702 "
    "SGS239 SHN654 SJM744 SLB090 SLE694 SLV222 SMR674 SOM706 SPM666 SRB688 SSD728 STP678 SUR740 "
    "SVK703 SVN705 SWE752 SWZ748 SXM534 SYC690 SYR760 TCA796 TCD148 TGO768 THA764 TJK762 TKL772 "
    "TKM795 TLS626 TON776 TTO780 TUN788 TUR792 TUV798 TWN158 TZA834 UGA800 UKR804 UMI581 URY858 "
    "USA840 UZB860 VAT336 VCT670 VEN862 VGB092 VIR850 VNM704 VUT548 WLF876 WSM882 YEM887 ZAF710 "
    "ZMB894 ZWE716 "
)
ISO3166_ALPHA3_TO_NUMERIC: dict[str, str] = {item[:3]: item[3:] for item in "".join(_ISO3166).split()}
_ISO3166_NUMERIC_TO_ALPHA3: dict[str, str] = {v: k for k, v in ISO3166_ALPHA3_TO_NUMERIC.items()}
# Passports are for foreigners; these people apply with the mainland, Hong Kong/Macao or Taiwan
# documents instead (Art. 4, 9).
_NOT_FOREIGN = frozenset({"CHN", "HKG", "MAC", "TWN"})

EARLIEST_BIRTH_DATE = date(1900, 1, 1)


# --------------------------------------------------------------------------------------------
# Check characters (ISO 7064 pure systems)
# --------------------------------------------------------------------------------------------

_ALNUM37 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"


def _pure_system_residue(values, modulus: int) -> int:
    """ISO 7064 pure system with radix 2, recursive form: P <- (P + a) * 2 mod M."""
    p = 0
    for a in values:
        p = (p + a) * 2 % modulus
    return p


def _mod11_2(digits: str) -> str:
    c = (12 - _pure_system_residue((int(d) for d in digits), 11)) % 11
    return "X" if c == 10 else str(c)


def mod11_2_check_char(first17: str) -> str:
    """The check character of an 18-digit citizen ID number: ISO 7064 MOD 11-2 over the first
    17 digits, '0'-'9' or 'X' for 10 (GB 11643-1999; Art. 11)."""
    if not isinstance(first17, str) or not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("the check character is computed on exactly 17 digits")
    return _mod11_2(first17)


def mod37_2_check_char(data: str) -> str:
    """ISO 7064 MOD 37-2 check character of digits and upper-case letters: '0'-'9', 'A'-'Z' or '*'.

    Modulus 37 is prime and every position has a non-zero weight 2^k (mod 37) differing from its
    neighbour's, so it detects every single-character substitution and every transposition of two
    adjacent characters, the check character included."""
    if not isinstance(data, str) or not re.fullmatch(r"[0-9A-Z]+", data):
        raise ValueError("MOD 37-2 is computed on digits and upper-case letters")
    return _ALNUM37[(38 - _pure_system_residue((_ALNUM37.index(c) for c in data), 37)) % 37]


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------


def _clean(value: object, field: str) -> str:
    """NFKC (full-width digits and letters typed with a Chinese input method become ASCII),
    no whitespace, upper case."""
    if not isinstance(value, str):
        raise DocumentError(field, "{field} must be text", params={"field": field})
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).upper()


def _birth_date(code: str, today: date, field: str = "number") -> date:
    """The 8-digit birth-date code YYYYMMDD: a real date, from 1900 to today."""
    try:
        born = date(int(code[:4]), int(code[4:6]), int(code[6:8]))
    except ValueError:
        raise DocumentError(field, "the birth date {code} in the number is not a real date",
                            params={"code": code}) from None
    if born < EARLIEST_BIRTH_DATE:
        raise DocumentError(field, "the birth date {born} in the number is before 1900",
                            params={"born": born.isoformat()})
    if born > today:
        raise DocumentError(field, "the birth date {born} in the number is in the future",
                            params={"born": born.isoformat()})
    return born


def _gb11643(number: str, today: date) -> tuple[date, Sex]:
    """Structure shared by the citizen ID number, the residence permits and the 2023
    permanent-residence ID: 17 digits (birth date in digits 7-14, sequence 15-17) + MOD 11-2."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        raise DocumentError("number", "the number must be 18 characters: 17 digits and a check character 0-9 or X")
    if _mod11_2(number[:17]) != number[17]:
        raise DocumentError("number", "the check character (last character) does not match the "
                                      "other 17 digits: the number has a typing error")
    born = _birth_date(number[6:14], today)
    return born, (Sex.MALE if int(number[16]) % 2 else Sex.FEMALE)


def _resident_id(number: str, today: date, nationality: str | None) -> Document:
    """居民身份证, GB 11643-1999: address code (GB/T 2260), birth date, sequence, check."""
    born, sex = _gb11643(number, today)
    if number[:6] in _PERMIT_REGIONS:
        kind = _PERMIT_REGIONS[number[:6]]
        raise DocumentError("number", "{code} is the address code of a residence permit, not of a resident ID card: "
                                      "use the document type {kind}", params={"code": number[:6], "kind": kind.value})
    if number[:2] not in PROVINCE_CODES:
        raise DocumentError("number", "{code} is not a province code (GB/T 2260): the first two digits of a resident "
                                      "ID number name a province", params={"code": number[:2]})
    return Document(DocumentType.RESIDENT_ID, number, born, sex)


def _resident_permit(doc_type: DocumentType, regions: tuple[str, ...]):
    def check(number: str, today: date, nationality: str | None) -> Document:
        born, sex = _gb11643(number, today)
        if number[:6] not in regions:
            raise DocumentError("number", "a {kind} number must start with {prefixes}",
                                params={"kind": doc_type.value, "prefixes": " or ".join(regions)})
        return Document(doc_type, number, born, sex)

    return check


def _hk_macao_travel_permit(number: str, today: date, nationality: str | None) -> Document:
    """港澳居民来往内地通行证: H (Hong Kong) or M (Macao) + 8 digits; older permits + 10 digits
    (8-digit personal number and a 2-digit issue count). No public check-digit rule."""
    if not re.fullmatch(r"[HM][0-9]{8}(?:[0-9]{2})?", number):
        raise DocumentError("number", "a Hong Kong/Macao travel permit number is H or M followed by 8 "
                                      "(or, on older permits, 10) digits")
    return Document(DocumentType.HK_MACAO_TRAVEL_PERMIT, number)


def _taiwan_travel_permit(number: str, today: date, nationality: str | None) -> Document:
    """台湾居民来往大陆通行证 (card since 2015): 8 digits, no public check-digit rule."""
    if not re.fullmatch(r"[0-9]{8}", number):
        raise DocumentError("number", "a Taiwan travel permit number is 8 digits")
    return Document(DocumentType.TAIWAN_TRAVEL_PERMIT, number)


def _nationality(value: object) -> str:
    code = _clean(value, "nationality")
    if code not in ISO3166_ALPHA3_TO_NUMERIC:
        raise DocumentError("nationality", "{code} is not an ISO 3166-1 alpha-3 country code",
                            params={"code": code or "an empty value"})
    return code


def _permanent_residence(number: str, today: date, nationality: str | None) -> Document:
    """外国人永久居留身份证.

    2023 card (issued from 1 Dec 2023, National Immigration Administration): 18 digits built like a
    citizen number: '9' (foreigner), 2-digit province of the accepting office, 3-digit numeric
    nationality code, birth date YYYYMMDD, 3-digit sequence (17th digit odd = male), ISO 7064
    MOD 11-2 check character. We check the leading 9, the birth date and the check character,
    and read the nationality when the 3 digits are an ISO 3166-1 numeric code; we do not reject
    an unknown nationality code or province code, because we have not seen the code tables the
    Administration uses for them.

    2017 card: 15 characters, the ISO 3166-1 alpha-3 nationality and 12 digits. The meaning of the
    12 digits and whether the last is a check digit is not published in a source we could verify,
    so this is a STRUCTURAL check only: a valid alpha-3 code followed by 12 digits.
    """
    given = _nationality(nationality) if nationality is not None else None
    if re.fullmatch(r"[0-9]{17}[0-9X]", number):
        if number[0] != "9":
            raise DocumentError("number", "an 18-digit permanent residence ID number starts with 9")
        born, sex = _gb11643(number, today)
        decoded = _ISO3166_NUMERIC_TO_ALPHA3.get(number[3:6])
        if decoded and given and decoded != given:
            raise DocumentError("nationality", "the number gives the nationality {decoded}, not {given}",
                                params={"decoded": decoded, "given": given})
        return Document(DocumentType.FOREIGN_PERMANENT_RESIDENCE, number, born, sex, decoded or given)
    if re.fullmatch(r"[A-Z]{3}[0-9]{12}", number):
        decoded = number[:3]
        if decoded not in ISO3166_ALPHA3_TO_NUMERIC:
            raise DocumentError("number", "{decoded} is not an ISO 3166-1 alpha-3 nationality code", params={"decoded": decoded})
        if given and given != decoded:
            raise DocumentError("nationality", "the number gives the nationality {decoded}, not {given}",
                                params={"decoded": decoded, "given": given})
        return Document(DocumentType.FOREIGN_PERMANENT_RESIDENCE, number, nationality=decoded)
    raise DocumentError("number", "a permanent residence ID number is 18 digits starting with 9 (2023 card) "
                                  "or 3 letters and 12 digits (2017 card)")


def _passport(number: str, today: date, nationality: str | None) -> Document:
    """Foreign passport: 5-17 letters or digits and the issuing nationality (ISO 3166-1 alpha-3)."""
    if not re.fullmatch(r"[0-9A-Z]{5,17}", number):
        raise DocumentError("number", "a passport number is 5 to 17 letters or digits")
    if nationality is None:
        raise DocumentError("nationality", "a passport needs the nationality (ISO 3166-1 alpha-3 code)")
    code = _nationality(nationality)
    if code in _NOT_FOREIGN:
        raise DocumentError("nationality", "{code}: residents of the mainland, Hong Kong, Macao and Taiwan "
                                           "apply with their resident ID, residence permit or travel permit, "
                                           "not a passport", params={"code": code})
    return Document(DocumentType.PASSPORT, number, nationality=code)


_VALIDATORS = {
    DocumentType.RESIDENT_ID: _resident_id,
    DocumentType.HK_MACAO_RESIDENT_PERMIT: _resident_permit(DocumentType.HK_MACAO_RESIDENT_PERMIT,
                                                            HK_MACAO_PERMIT_REGIONS),
    DocumentType.TAIWAN_RESIDENT_PERMIT: _resident_permit(DocumentType.TAIWAN_RESIDENT_PERMIT,
                                                          TAIWAN_PERMIT_REGIONS),
    DocumentType.HK_MACAO_TRAVEL_PERMIT: _hk_macao_travel_permit,
    DocumentType.TAIWAN_TRAVEL_PERMIT: _taiwan_travel_permit,
    DocumentType.FOREIGN_PERMANENT_RESIDENCE: _permanent_residence,
    DocumentType.PASSPORT: _passport,
}
_TAKES_NATIONALITY = {DocumentType.FOREIGN_PERMANENT_RESIDENCE, DocumentType.PASSPORT}


def validate_document(doc_type: str, number: str, *, nationality: str | None = None,
                      today: date | None = None) -> Document:
    """Check a document number against the rules for its type (Art. 9, 11) and normalise it
    (whitespace removed, full-width characters folded, upper case).

    ``nationality`` is required for a passport, optional for a permanent-residence ID (it must
    agree with the number), and for documents of Chinese citizens either omitted or CHN (then
    dropped: ``Document.nationality`` stays None). ``today`` defaults to
    today in Guangzhou; birth dates after it are refused."""
    try:
        kind = DocumentType(doc_type)
    except ValueError:
        known = ", ".join(t.value for t in DocumentType)
        raise DocumentError("type", "{doc_type!r} is not an accepted identity document (one of: {known})",
                            params={"doc_type": doc_type, "known": known}) from None
    if nationality is not None and kind not in _TAKES_NATIONALITY:
        if _clean(nationality, "nationality") != "CHN":
            raise DocumentError("nationality", "a {kind} is issued to Chinese citizens: the nationality "
                                               "is CHN or not given", params={"kind": kind.value})
        nationality = None
    cleaned = _clean(number, "number")
    if not cleaned:
        raise DocumentError("number", "the document number is empty")
    return _VALIDATORS[kind](cleaned, today or clock.today(), nationality)


def is_valid_resident_id(number: str, *, today: date | None = None) -> bool:
    """True if ``number`` is a valid 居民身份证 number (GB 11643-1999)."""
    try:
        validate_document(DocumentType.RESIDENT_ID, number, today=today)
    except DocumentError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# Social security number (Social Insurance Law Art. 58; on the card face, Art. 17)
# --------------------------------------------------------------------------------------------

#: Assigned numbers: "A" + the Guangzhou municipal address code 440100 + a 10-digit serial +
#: the MOD 11-2 check character of the 16 digits. 18 characters like a citizen number, so they
#: fit the same fields, but the leading letter means they can never equal a citizen number, a
#: residence-permit number or a 2023 permanent-residence number (all start with a digit).
ASSIGNED_SSN_PREFIX = "A440100"
ASSIGNED_SSN_CAPACITY = 10**10
_ASSIGNED_SSN = re.compile(r"A440100[0-9]{10}[0-9X]")
_NATIONAL_NUMBER_TYPES = (DocumentType.RESIDENT_ID, DocumentType.HK_MACAO_RESIDENT_PERMIT,
                          DocumentType.TAIWAN_RESIDENT_PERMIT, DocumentType.FOREIGN_PERMANENT_RESIDENCE)


def social_security_number(doc: Document) -> str | None:
    """The social security number a document gives, or None when the issuing agency must assign one.

    Citizens: the citizen ID number (SIL Art. 58). Residence permits and the 2023 permanent-residence
    ID: the number itself, issued under the same national numbering. Travel permits, the 2017
    permanent-residence card and passports: None (see :func:`assign_social_security_number`)."""
    if doc.type in _NATIONAL_NUMBER_TYPES and len(doc.number) == 18:
        return doc.number
    return None


def assign_social_security_number(serial: int) -> str:
    """The assigned social security number for a sequence value 0 <= serial < 10**10."""
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial < ASSIGNED_SSN_CAPACITY:
        raise ValueError(f"serial must be an integer from 0 to {ASSIGNED_SSN_CAPACITY - 1}")
    body = f"{ASSIGNED_SSN_PREFIX}{serial:010d}"
    return body + _mod11_2(body[1:])


def is_valid_social_security_number(s: str, *, today: date | None = None) -> bool:
    """True for a national 18-digit number (citizen, residence permit, 2023 permanent residence)
    or a well-formed assigned number."""
    try:
        number = _clean(s, "social_security_number")
    except DocumentError:
        return False
    if number.startswith("A"):
        return bool(_ASSIGNED_SSN.fullmatch(number)) and _mod11_2(number[1:17]) == number[17]
    kind = {"9": DocumentType.FOREIGN_PERMANENT_RESIDENCE}.get(number[:1]) or \
        _PERMIT_REGIONS.get(number[:6], DocumentType.RESIDENT_ID)
    try:
        return len(validate_document(kind, number, today=today).number) == 18
    except DocumentError:
        return False


# --------------------------------------------------------------------------------------------
# Mobile numbers (Art. 9)
# --------------------------------------------------------------------------------------------

_MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_REGIONAL_MOBILE = {"852": re.compile(r"[4-9][0-9]{7}"),  # Hong Kong
                    "853": re.compile(r"6[0-9]{7}")}  # Macao


def normalise_mobile(s: str) -> str:
    """The canonical stored form of a mobile number (Art. 9).

    Mainland China: the 11 national digits (``13812345678``), the form SMS gateways and the
    national systems use; an optional +86 / 86 / 0086 is dropped. Hong Kong and Macao: E.164
    (``+85291234567``, ``+85366123456``), the country code being required on input because a bare
    8-digit number could be either. Spaces, hyphens and brackets are ignored."""
    cleaned = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", s)) if isinstance(s, str) else ""
    international = cleaned.startswith(("+", "00"))
    digits = cleaned[1:] if cleaned.startswith("+") else cleaned[2:] if cleaned.startswith("00") else cleaned
    if not digits.isdigit() or not digits.isascii():
        raise DocumentError("mobile", "a mobile number has only digits, with an optional + country code")
    if not international and _MAINLAND_MOBILE.fullmatch(digits):
        return digits
    country, national = (digits[:3], digits[3:]) if digits[:3] in _REGIONAL_MOBILE else (digits[:2], digits[2:])
    if country == "86" and _MAINLAND_MOBILE.fullmatch(national):
        return national
    if country in _REGIONAL_MOBILE and _REGIONAL_MOBILE[country].fullmatch(national):
        return f"+{country}{national}"
    if not international and len(digits) == 8:
        raise DocumentError("mobile", "add the country code to a Hong Kong (+852) or Macao (+853) mobile number")
    raise DocumentError("mobile", "not a mobile number of mainland China (11 digits starting 13-19), "
                                  "Hong Kong (+852) or Macao (+853)")


# --------------------------------------------------------------------------------------------
# Card numbers (Art. 17: printed on the card face)
# --------------------------------------------------------------------------------------------

#: Card number: 9 characters = a series letter + 7 digits + ISO 7064 MOD 37-2 check character.
#: serial -> letter CARD_SERIES[serial // 10**7], digits serial % 10**7: a bijection, so numbers
#: are unique per serial. I and O are not series letters (read as 1 and 0). MOD 37-2 gives '*'
#: for about 1 serial in 37, the character every masked value uses (a clerk reads ``A0000056*``
#: as masked): new numbers skip those serials (issue 13 #20), so a new number's check character
#: is always a digit or a letter; numbers issued before that keep their '*' and stay valid, under
#: the one check rule. (A second scheme such as ISO 7064 MOD 37,36 for new numbers would have
#: needed both rules at validation, letting about 1 in 37 single substitutions through, and MOD
#: 37,36 itself misses about 0.4 % of adjacent transpositions, which MOD 37-2 never does.)
CARD_SERIES = "ABCDEFGHJKLMNPQRSTUVWXYZ"
CARD_NUMBER_CAPACITY = len(CARD_SERIES) * 10**7
_CARD_NUMBER = re.compile(r"[A-HJ-NP-Z][0-9]{7}[0-9A-Z*]")


def card_number(serial: int) -> str:
    """The card number of a sequence value 0 <= serial < CARD_NUMBER_CAPACITY (240 million); it
    ends in '*' for about 1 serial in 37, which :func:`new_card_number` never issues."""
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial < CARD_NUMBER_CAPACITY:
        raise ValueError(f"serial must be an integer from 0 to {CARD_NUMBER_CAPACITY - 1}")
    body = f"{CARD_SERIES[serial // 10**7]}{serial % 10**7:07d}"
    return body + mod37_2_check_char(body)


def new_card_number(draw: Callable[[], int]) -> str:
    """A card number for a new card: ``draw()`` gives the next sequence value; the serials whose
    check character would be '*' are skipped, so the number ends in a digit or a letter."""
    while True:
        number = card_number(draw())
        if number[-1] != "*":
            return number


def is_valid_card_number(s: str) -> bool:
    """True if ``s`` (whitespace and case ignored) is a well-formed card number."""
    try:
        number = _clean(s, "card_number")
    except DocumentError:
        return False
    return bool(_CARD_NUMBER.fullmatch(number)) and mod37_2_check_char(number[:8]) == number[8]
