"""The worked example in ecard/README.md is what the code produces."""

import re
from pathlib import Path

from ecard.token import cose_from_text, decode_token, sign_token
from ecard.verify import Verifier
from tests.ecard.helpers import NOW, Clock, fixed_key, jwks, typical_claims

README = (Path(__file__).resolve().parents[2] / "ecard" / "README.md").read_text()


def test_worked_example_matches_the_code():
    key = fixed_key()
    claims = typical_claims(token_id=bytes.fromhex("a1b2c3d4e5f6"), issued_at=NOW)
    text = sign_token(claims, key)
    compact = re.sub(r"\s", "", README)
    assert text in README and len(text) == 178
    assert cose_from_text(text).hex() in compact
    assert decode_token(text).signature.hex() in compact
    (jwk,) = jwks(key)["keys"]
    assert f'"x": "{jwk["x"]}"' in README
    assert Verifier(jwks(key), clock=Clock(NOW)).verify(text).ok
