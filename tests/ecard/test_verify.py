"""Offline verification (Art. 32: forged, altered, expired credentials are refused).

Every reason code is produced here by a real case; the verifier never raises.
"""

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecard.base45 import ALPHABET, b45decode, b45encode
from ecard.token import PREFIX, PROTECTED_HEAD, AppField, CardStatus, sig_structure_head, sign_token
from ecard.verify import MESSAGES, REASONS, ReplayCache, Result, Verifier
from tests.ecard.helpers import NOW, Clock, fixed_key, jwk, jwks, new_key, typical_claims

KEY = fixed_key()
TOKEN = sign_token(typical_claims(), KEY, now=NOW)


def verifier(keyset=None, clock=None, **kw) -> Verifier:
    return Verifier(jwks(KEY) if keyset is None else keyset, clock=clock or Clock(NOW + 1), **kw)


def cose_of(text: str) -> bytes:
    return b45decode(text[len(PREFIX):])


def text_of(cose: bytes) -> str:
    return PREFIX + b45encode(cose)


def hand_signed(payload: object, *, key=KEY, protected: object = None, unprotected=b"\xa0",
                tag: bytes = b"") -> str:
    """A COSE_Sign1 built by hand (to produce tokens sign_token never would)."""
    if protected is None:
        prot = PROTECTED_HEAD + bytes((key.kid,))
    else:
        prot = protected if isinstance(protected, bytes) else cbor2.dumps(protected)
    body = cbor2.dumps(payload) if not isinstance(payload, bytes) else payload
    signed = sig_structure_head(prot) + cbor2.dumps(body)
    sig = key.private_key.sign(signed)
    return text_of(tag + b"\x84" + cbor2.dumps(prot) + unprotected + cbor2.dumps(body) + cbor2.dumps(sig))


def good_payload(**at):
    items = cbor2.loads(cbor2.loads(cose_of(TOKEN))[2])
    for i, v in at.items():
        items[int(i[1:])] = v
    return items


# --- ok ---


def test_valid_token_is_ok_with_its_claims_art35():
    r = verifier().verify(TOKEN)
    assert r == Result(True, "ok", r.claims, "0a")
    assert r.claims.name == "张三丰" and r.claims.masked_id == "440104********1234"
    assert r.claims.locked_fields == AppField.TRANSPORT


def test_bytes_input_is_accepted():
    assert verifier().verify(TOKEN.encode()).ok


def test_loss_registered_card_verifies_and_shows_settlement_suspended_art21():
    text = sign_token(typical_claims(status=CardStatus.LOSS_REGISTERED, settlement_suspended=True),
                      KEY, now=NOW)
    r = verifier().verify(text)
    assert r.ok and r.claims.status is CardStatus.LOSS_REGISTERED and r.claims.settlement_suspended


@pytest.mark.parametrize("status", [CardStatus.REISSUE_PENDING, CardStatus.REPLACEMENT_PENDING])
def test_ecard_still_proves_identity_during_reissue_and_replacement_art28(status):
    r = verifier().verify(sign_token(typical_claims(status=status), KEY, now=NOW))
    assert r.ok and r.claims.status is status


@pytest.mark.parametrize("tag", [b"\xd2", b"\xd8\x3d\xd2", b"\xd8\x3d"])
def test_tag_18_and_cwt_tag_61_are_second_encodings_and_refused(tag):
    """Issue 13 #17: one claim set, one valid token - the tagged forms are refused (README §2)."""
    assert verifier().verify(text_of(tag + cose_of(TOKEN))).reason == "malformed"


def test_fully_specified_ed25519_alg_minus_19_is_a_second_encoding_and_refused():
    assert verifier().verify(hand_signed(good_payload(), protected={1: -19, 4: b"\x0a"})).reason == "malformed"


def test_kid_collision_tries_every_published_key_with_that_kid():
    other = new_key(0x0A)
    keyset = {"keys": [jwk(other), jwk(KEY)]}
    assert verifier(keyset).verify(TOKEN).ok
    assert verifier(keyset).verify(sign_token(typical_claims(), other, now=NOW)).ok


# --- bad_signature (Art. 32: forged or altered) ---


def test_token_signed_by_another_key_with_the_same_kid_is_bad_signature():
    forged = sign_token(typical_claims(), new_key(0x0A), now=NOW)
    assert verifier().verify(forged).reason == "bad_signature"


def test_altered_claim_is_bad_signature_art32():
    cose = cbor2.loads(cose_of(TOKEN))
    payload = cbor2.loads(cose[2])
    payload[6] = CardStatus.ACTIVE << 1  # e.g. try to clear a suspension
    payload[7] = 0  # and unlock every field
    cose[2] = cbor2.dumps(payload)
    assert verifier().verify(text_of(cbor2.dumps(cose))).reason == "bad_signature"


def test_every_single_byte_flip_of_the_cose_bytes_is_refused_art32():
    cose = cose_of(TOKEN)
    v = verifier(replay_cache=None)
    for i in range(len(cose)):
        for mask in (0x01, 0x10, 0x80, 0xFF):
            altered = cose[:i] + bytes((cose[i] ^ mask,)) + cose[i + 1:]
            r = v.verify(text_of(altered))
            assert not r.ok and r.reason in REASONS, (i, mask, r)


def test_every_single_character_change_of_the_text_is_refused_art32():
    v = verifier(replay_cache=None)
    reasons = set()
    for i, original in enumerate(TOKEN):
        for c in ALPHABET:
            if c != original:
                r = v.verify(TOKEN[:i] + c + TOKEN[i + 1:])
                assert not r.ok, (i, c)
                reasons.add(r.reason)
    assert reasons <= set(REASONS) and "bad_signature" in reasons


def test_every_truncation_is_refused():
    v = verifier(replay_cache=None)
    for n in range(len(TOKEN)):
        assert not v.verify(TOKEN[:n]).ok


# --- unknown_key / withdrawn_key ---


def test_kid_not_in_the_key_set_is_unknown_key():
    r = verifier(jwks(fixed_key(0x0B))).verify(TOKEN)
    assert (r.ok, r.reason, r.kid) == (False, "unknown_key", "0a")


def test_withdrawn_key_is_withdrawn_key():
    r = verifier(jwks(withdrawn=(KEY,))).verify(TOKEN)
    assert (r.ok, r.reason) == (False, "withdrawn_key")


def test_withdrawn_key_sharing_a_kid_with_a_published_one_is_withdrawn_key():
    published = new_key(0x0A)
    r = verifier(jwks(published, withdrawn=(KEY,))).verify(TOKEN)
    assert r.reason == "withdrawn_key"
    assert verifier(jwks(published, withdrawn=(KEY,))).verify(
        sign_token(typical_claims(), published, now=NOW)).ok


def test_key_window_must_cover_the_token():
    """A key vouches only for tokens inside its published window (nbf - skew .. exp + skew)."""
    clock = Clock(NOW + 1)
    ok_window = {"keys": [jwk(KEY, nbf=NOW - 30, exp=NOW + 60 - 30)]}
    assert verifier(ok_window, clock).verify(TOKEN).ok
    too_late = {"keys": [jwk(KEY, nbf=NOW + 31)]}
    assert verifier(too_late, clock).verify(TOKEN).reason == "unknown_key"
    too_short = {"keys": [jwk(KEY, exp=NOW + 60 - 31)]}
    assert verifier(too_short, clock).verify(TOKEN).reason == "unknown_key"


# --- time (skew 30 s, lifetime 60 s, issued at NOW) ---


@pytest.mark.parametrize(("at", "reason"), [
    (NOW - 30.001, "not_yet_valid"),
    (NOW - 30, "ok"),
    (NOW, "ok"),
    (NOW + 60 + 30, "ok"),
    (NOW + 60 + 30.001, "expired"),
    (NOW + 10 ** 6, "expired"),
])
def test_validity_window_is_lifetime_plus_skew_exactly(at, reason):
    r = verifier(clock=Clock(at)).verify(TOKEN)
    assert r.reason == reason and r.ok is (reason == "ok")


def test_skew_is_configurable():
    assert verifier(clock=Clock(NOW + 65), skew_seconds=0).verify(TOKEN).reason == "expired"
    assert verifier(clock=Clock(NOW + 65), skew_seconds=5).verify(TOKEN).ok


def test_refused_authentic_token_still_shows_its_claims():
    r = verifier(clock=Clock(NOW + 3600)).verify(TOKEN)
    assert r.reason == "expired" and r.claims.issued_at == NOW


# --- replayed ---


def test_second_use_is_replayed():
    v = verifier()
    assert v.verify(TOKEN).ok
    assert v.verify(TOKEN).reason == "replayed"
    assert v.verify(sign_token(typical_claims(), KEY, now=NOW)).ok  # a fresh token is fine


def test_replay_cache_can_be_turned_off():
    v = verifier(replay_cache=None)
    assert v.verify(TOKEN).ok and v.verify(TOKEN).ok


def test_verifiers_do_not_share_a_default_replay_cache():
    assert verifier().verify(TOKEN).ok and verifier().verify(TOKEN).ok


def test_replay_cache_forgets_ids_after_their_expiry():
    cache = ReplayCache()
    for i in range(100):
        assert not cache.seen(bytes([i]) * 6, NOW + 90 + i % 7, NOW)
    assert cache.seen(b"\x05" * 6, NOW + 90, NOW + 1)
    assert len(cache) == 100
    cache.seen(b"new-id", NOW + 200, NOW + 98)
    assert len(cache) == 1


def test_replay_cache_memory_is_bounded():
    cache = ReplayCache(max_entries=50)
    for i in range(1000):
        cache.seen(i.to_bytes(6, "big"), NOW + 90 + i // 10, NOW)
    assert len(cache) <= 50
    assert cache.seen((999).to_bytes(6, "big"), NOW + 189, NOW)


# --- malformed / unsupported_version ---


@pytest.mark.parametrize("text", [
    "", "SC2:", "SC2", "sc2:" + TOKEN[4:], "HC1:" + TOKEN[4:], " " + TOKEN, TOKEN + " ",
    TOKEN + "00", TOKEN[:-1], "SC2:GGW", "SC2:中文", "https://example.org/?t=" + TOKEN,
])
def test_garbage_text_is_malformed(text):
    assert verifier().verify(text).reason == "malformed"


@pytest.mark.parametrize("value", [None, 123, 1.5, ["SC2:"], b"\xff\xfe", bytearray(b"SC2:")])
def test_non_text_input_is_malformed_not_an_exception(value):
    assert verifier().verify(value).reason == "malformed"


@pytest.mark.parametrize("prefix", ["SC1:", "SC3:", "SCZ:"])
def test_other_prefix_version_is_unsupported_version(prefix):
    """An old SC1: token (at most minutes old) is refused with unsupported_version (README §1)."""
    assert verifier().verify(prefix + TOKEN[4:]).reason == "unsupported_version"


@pytest.mark.parametrize("version", [1, 3, 255])
def test_signed_payload_of_another_format_version_is_unsupported_version(version):
    assert verifier().verify(hand_signed(good_payload(p0=version))).reason == "unsupported_version"


@pytest.mark.parametrize("version", ["2", 2.0, True, -2, b"\x02"])
def test_non_integer_version_element_is_malformed_not_unsupported(version):
    """Issue 13 #17: only an unsigned integer is a version (README §3)."""
    assert verifier().verify(hand_signed(good_payload(p0=version))).reason == "malformed"


@pytest.mark.parametrize("cose_change", [
    lambda c: c + b"\x00",  # data after the structure
    lambda c: c[:-1],
    lambda c: b"\xd9\x00\x12" + c,  # tag 18 in a non-minimal head is not one of the accepted forms
    lambda c: b"\xd8\x3e" + c,  # some other tag
])
def test_broken_cose_framing_is_malformed(cose_change):
    assert verifier().verify(text_of(cose_change(cose_of(TOKEN)))).reason == "malformed"


@pytest.mark.parametrize("kwargs", [
    dict(protected={1: -7, 4: b"\x0a"}),  # ES256
    dict(protected={1: -8}),  # no kid
    dict(protected={4: b"\x0a"}),  # no alg
    dict(protected={1: -8, 4: b"\x0a", 2: [1]}),  # crit
    dict(protected=[1, -8]),
    dict(protected={1: -8, 4: "0a"}),
    dict(unprotected=b"\xa1\x04\x41\x0a"),  # a non-empty unprotected header
])
def test_unsupported_headers_are_malformed(kwargs):
    assert verifier().verify(hand_signed(good_payload(), **kwargs)).reason == "malformed"


@pytest.mark.parametrize("payload", [
    {"v": 1}, [], good_payload()[:7], good_payload() + [60, 1], good_payload(p1=b"12345"),
    good_payload(p2=-1), good_payload(p2="now"), good_payload(p3=b""), good_payload(p3=b"123456789"),
    good_payload(p4="张三丰"), good_payload(p4=b"\x81"), good_payload(p5=b"\x44\x01"),
    good_payload(p6=12), good_payload(p6=True), good_payload(p7=1 << 17), good_payload(p7=-1),
    good_payload() + [0], good_payload() + [True], b"\xff", b"\x1a\x00",
])
def test_signed_but_malformed_payload_is_malformed(payload):
    assert verifier().verify(hand_signed(payload)).reason == "malformed"


# --- never raises ---

TOKEN_PREFIXES = st.integers(0, len(TOKEN)).map(lambda n: TOKEN[:n])


@settings(max_examples=300)
@given(st.one_of(
    st.text(), st.binary(), st.text(alphabet=ALPHABET).map(lambda s: PREFIX + s),
    TOKEN_PREFIXES, TOKEN_PREFIXES.map(lambda s: s.encode()),
    st.binary().map(lambda b: PREFIX + b45encode(b)),
    st.binary().map(lambda b: text_of(b"\x84" + b)),
    st.tuples(TOKEN_PREFIXES, st.text(alphabet=ALPHABET)).map("".join),
))
def test_any_input_gives_a_result_with_a_known_reason(value):
    r = verifier().verify(value)
    assert isinstance(r, Result) and r.reason in REASONS
    assert r.ok == (r.reason == "ok") and (r.ok is False or value in (TOKEN, TOKEN.encode()))


def test_every_reason_has_plain_words_in_chinese_and_english():
    assert set(REASONS) == {"ok", "bad_signature", "unknown_key", "withdrawn_key", "expired",
                            "not_yet_valid", "replayed", "malformed", "unsupported_version"}
    for reason, (zh, en) in MESSAGES.items():
        r = Result(reason == "ok", reason)
        assert r.message("zh") == zh and r.message("en") == en and zh and en


# --- key set loading ---


def test_key_set_errors_are_reported_at_load_time():
    for bad in [{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "0a"}]},
                {"keys": [jwk(KEY, x="AAAA")]}, {"keys": 5}]:
        with pytest.raises(ValueError):
            Verifier(bad)


@pytest.mark.parametrize("kid", ["0A", "zz", "a", "0a0b", "00a", 10, None])
def test_jwk_kid_not_two_lower_case_hex_digits_is_ignored(kid):
    """Issue 13 #17: the JWK kid is the kid byte as two lower-case hex digits, so "0A" never
    matches a token's kid 0x0a (README §5)."""
    assert verifier({"keys": [jwk(KEY, kid=kid)]}).verify(TOKEN).reason == "unknown_key"


def test_keys_of_other_types_are_ignored():
    keyset = {"keys": [{"kty": "EC", "crv": "P-256", "kid": "0a"}, jwk(KEY)]}
    assert verifier(keyset).verify(TOKEN).ok


def test_from_file(tmp_path):
    import json
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(KEY)))
    assert Verifier.from_file(path, clock=Clock(NOW)).verify(TOKEN).ok


def test_from_url_serves_over_http(tmp_path):
    import http.server
    import json
    import threading

    body = json.dumps(jwks(KEY)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        v = Verifier.from_url(f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json",
                              clock=Clock(NOW))
    finally:
        thread.join(5)
        server.server_close()
    assert v.verify(TOKEN).ok
    with pytest.raises(ValueError):
        Verifier.from_url("file:///etc/passwd")
