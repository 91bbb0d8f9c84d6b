"""E-card hot paths against raw Ed25519, measured in the same process.

Run: ``.venv/bin/python bench/ecard_core.py [--rounds 7] [--n 3000]``. Prints medians over
the rounds and the ratios ENGINEERING.md sets targets for:

* ``verify_ratio`` = tokens verified/s through ``Verifier`` (replay cache on, every token
  distinct, so each one is also filed in the cache) / raw ``Ed25519PublicKey.verify``
  calls/s over messages of the token's Sig_structure size. Target >= 0.85.
  ``verify_ratio_nocache`` is the same with the replay cache off.
* ``sign_ratio`` = tokens signed/s through ``sign_token`` (claims -> QR text) / raw
  ``Ed25519PrivateKey.sign`` calls/s over messages of the same size.

Each round measures raw and token rates back to back, so machine noise hits both.
The functions are importable (bench/ecard.py wraps them with the HTTP part).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from ecard.qr import qr_version  # noqa: E402
from ecard.token import (AppField, CardStatus, Claims, SigningKey, bstr_head,  # noqa: E402
                         cose_from_text, decode_token, sig_structure_head, sign_token)
from ecard.verify import Verifier  # noqa: E402

NOW = 1_800_000_000
CLAIMS = Claims(card_ref=bytes.fromhex("0000000000123456"), name="张三丰",
                masked_id="440104********1234", status=CardStatus.ACTIVE,
                locked_fields=AppField.TRANSPORT)


class Fixture(NamedTuple):
    key: SigningKey
    jwks: dict
    tokens: list[str]  # n distinct tokens (fresh token ids)
    messages: list[bytes]  # n random messages of the Sig_structure's size
    signatures: list[bytes]  # their signatures


def setup(n: int = 3000) -> Fixture:
    key = SigningKey(0x0A, Ed25519PrivateKey.generate())
    raw = key.private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": key.kid_hex, "use": "sig",
                      "alg": "EdDSA", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}]}
    tokens = [sign_token(CLAIMS, key, now=NOW) for _ in range(n)]
    token = decode_token(tokens[0])
    size = len(sig_structure_head(token.protected) + bstr_head(len(token.payload)) + token.payload)
    messages = [os.urandom(size) for _ in range(n)]
    return Fixture(key, jwks, tokens, messages, [key.private_key.sign(m) for m in messages])


def _rate(fn: Callable, items: Iterable) -> float:
    """Calls per second of ``fn``, one call per item."""
    items = list(items)
    start = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - start)


def raw_sign_rate(f: Fixture) -> float:
    return _rate(f.key.private_key.sign, f.messages)


def raw_verify_rate(f: Fixture) -> float:
    verify = f.key.private_key.public_key().verify
    return _rate(lambda i: verify(f.signatures[i], f.messages[i]), range(len(f.messages)))


def token_sign_rate(f: Fixture) -> float:
    key = f.key
    return _rate(lambda _: sign_token(CLAIMS, key, now=NOW), range(len(f.messages)))


def token_verify_rate(f: Fixture, *, replay_cache: bool = True) -> float:
    """Verifications/s of the n distinct tokens by a fresh Verifier (all must pass)."""
    kwargs = {} if replay_cache else {"replay_cache": None}
    verifier = Verifier(f.jwks, clock=lambda: NOW + 1, **kwargs)
    rate = _rate(verifier.verify, f.tokens)
    assert verifier.verify(f.tokens[-1]).reason == ("replayed" if replay_cache else "ok")
    return rate


def token_size(f: Fixture) -> dict:
    text = f.tokens[0]
    return {"token_chars": len(text), "cose_bytes": len(cose_from_text(text)),
            "qr_version_M": qr_version(text)}


def measure(rounds: int = 7, n: int = 3000) -> dict:
    """Medians over ``rounds`` of raw and token sign/verify rates, their ratios, the size."""
    f = setup(n)
    runs: dict[str, list[float]] = {k: [] for k in
                                    ("raw_sign", "sign", "raw_verify", "verify", "verify_nocache")}
    for _ in range(rounds):
        runs["raw_sign"].append(raw_sign_rate(f))
        runs["sign"].append(token_sign_rate(f))
        runs["raw_verify"].append(raw_verify_rate(f))
        runs["verify"].append(token_verify_rate(f))
        runs["verify_nocache"].append(token_verify_rate(f, replay_cache=False))
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "rounds": rounds, "n": n,
        **{f"{k}_per_s": round(v) for k, v in med.items()},
        "verify_ratio": round(med["verify"] / med["raw_verify"], 3),
        "verify_ratio_nocache": round(med["verify_nocache"] / med["raw_verify"], 3),
        "sign_ratio": round(med["sign"] / med["raw_sign"], 3),
        "verify_ratio_per_round": [round(a / b, 3) for a, b in zip(runs["verify"], runs["raw_verify"])],
        **token_size(f),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="E-card token sign/verify vs raw Ed25519.")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=3000)
    args = parser.parse_args()
    print(json.dumps(measure(args.rounds, args.n), indent=1))


if __name__ == "__main__":
    main()
