"""Shared test material: a fixed Ed25519 key (RFC 8032 test 1), JWKS builders, claims."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecard.token import AppField, CardStatus, Claims, SigningKey

NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


def fixed_key(kid: int = 0x0A, secret: bytes = RFC8032_SECRET) -> SigningKey:
    return SigningKey(kid, Ed25519PrivateKey.from_private_bytes(secret))


def new_key(kid: int = 0x0A) -> SigningKey:
    return SigningKey(kid, Ed25519PrivateKey.generate())


def x_of(key: SigningKey) -> str:
    raw = key.private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(key: SigningKey, **members) -> dict:
    return {"kty": "OKP", "crv": "Ed25519", "x": x_of(key), "kid": key.kid_hex,
            "use": "sig", "alg": "EdDSA", **members}


def jwks(*keys: SigningKey, withdrawn: tuple[SigningKey, ...] = ()) -> dict:
    return {"keys": [jwk(k) for k in keys],
            "withdrawn": [{"kid": k.kid_hex, "x": x_of(k), "withdrawn_at": NOW} for k in withdrawn]}


def typical_claims(**changes) -> Claims:
    """The size target's typical token: 3-character name, 8-byte card reference."""
    base = Claims(card_ref=bytes.fromhex("0000000000123456"), name="张三丰",
                  masked_id="440104********1234", status=CardStatus.ACTIVE,
                  locked_fields=AppField.TRANSPORT)
    return base._replace(**changes)


class Clock:
    """Settable clock for Verifier(clock=...)."""

    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now
