"""The format is standard COSE (checked with pycose from the published JWKS alone), and the
package stands alone: agencies install it without the back office."""

import base64
import subprocess
import sys
from pathlib import Path

import cbor2
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from ecard.base45 import b45decode, b45encode
from ecard.token import PREFIX, sign_token
from ecard.verify import Verifier
from tests.ecard.helpers import NOW, RFC8032_SECRET, Clock, fixed_key, jwks, typical_claims

REPO = Path(__file__).resolve().parents[2]


def pycose_key_from_jwk(jwk: dict) -> OKPKey:
    """Build the pycose key from the JWK JSON members only (RFC 8037)."""
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    x = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return OKPKey(crv=Ed25519, x=x)


def test_pycose_verifies_a_token_with_only_the_published_jwks():
    text = sign_token(typical_claims(), fixed_key(), now=NOW)
    (jwk,) = jwks(fixed_key())["keys"]
    cose = b45decode(text[len(PREFIX):])
    # Sign1Message.decode() wants tag 18 and trips over cbor2 6 decoding tagged arrays as
    # tuples, so hand pycose the untagged array it would have unwrapped itself.
    message = Sign1Message.from_cose_obj(cbor2.loads(cose), allow_unknown_attributes=True)
    assert message.phdr[Algorithm] is EdDSA and message.phdr[KID] == bytes.fromhex(jwk["kid"])
    message.key = pycose_key_from_jwk(jwk)
    assert message.verify_signature()
    message.payload = message.payload[:-1] + b"\x05"  # altered
    assert not message.verify_signature()


def test_a_pycose_signed_message_verifies_here_untagged_only():
    """pycose writes the same deterministic protected header; the tagged form is a second
    encoding of the same token, which the format refuses (README §2)."""
    key = fixed_key()
    payload = cbor2.loads(b45decode(sign_token(typical_claims(), key, now=NOW)[4:]))[2]
    message = Sign1Message(phdr={Algorithm: EdDSA, KID: b"\x0a"}, payload=payload)
    message.key = OKPKey(crv=Ed25519, d=RFC8032_SECRET)
    untagged = PREFIX + b45encode(message.encode(tag=False))
    assert Verifier(jwks(key), clock=Clock(NOW)).verify(untagged).ok
    tagged = PREFIX + b45encode(message.encode(tag=True))
    assert Verifier(jwks(key), clock=Clock(NOW)).verify(tagged).reason == "malformed"


BLOCK_BACK_OFFICE = """
import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"app", "flask", "sqlalchemy"}:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Blocked())
try:
    import flask
except ImportError:
    pass
else:
    raise SystemExit("block did not work")
import ecard, ecard.verify, ecard.token, ecard.keys, ecard.base45, ecard.qr
lazy = [m for m in ("qrcode", "zxingcpp", "PIL") if m in sys.modules]
assert not lazy, lazy
print("standalone")
"""


def test_package_imports_without_app_flask_or_sqlalchemy():
    done = subprocess.run([sys.executable, "-c", BLOCK_BACK_OFFICE], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "standalone"


def test_no_module_of_the_package_mentions_the_back_office():
    for path in (REPO / "ecard").glob("*.py"):
        source = path.read_text()
        for name in ("import app", "from app", "flask", "sqlalchemy"):
            assert name not in source, (path.name, name)
