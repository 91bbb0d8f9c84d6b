"""Offline e-card verification: published keys + own clock, nothing else (Art. 32, 35).

    v = Verifier.from_file("jwks.json")
    r = v.verify(text)          # never raises; r.ok, r.reason, r.claims, r.kid
    r.message("zh")             # plain words for the scanner UI

CLI: ``python -m ecard.verify --keys jwks.json TOKEN`` or ``--image qr.png``; prints the
result as JSON, exit status 0 when ok, 1 otherwise.

Steps and reason codes (ecard/README.md has the details):

1. text -> "SC2:" prefix, Base45, COSE_Sign1, protected header   ``malformed`` /
   ``unsupported_version`` (another "SCn:" prefix, e.g. an old "SC1:" token)
2. kid -> published keys with that kid (several after a kid wraps around)
   ``unknown_key``; only withdrawn keys have it ``withdrawn_key``
3. Ed25519 signature, trying each candidate key   ``bad_signature`` (or
   ``withdrawn_key`` if a withdrawn key with that kid made it)
4. payload claims (signed, so checked only now)   ``malformed`` / ``unsupported_version``
5. the key's published window (nbf/exp) must cover the token's lifetime   ``unknown_key``
6. clock: issued_at - skew <= now <= expires_at + skew   ``not_yet_valid`` / ``expired``
7. replay cache: token id seen before   ``replayed``
"""

from __future__ import annotations

import argparse
import base64
import heapq
import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request
from typing import Callable, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ecard.token import (Claims, FormatError, cose_from_text, parse_claims,
                         parse_protected, sig_structure_head, split_cose)

__all__ = ["Verifier", "Result", "ReplayCache", "REASONS", "MESSAGES", "main"]

MESSAGES: dict[str, tuple[str, str]] = {  # reason -> (Chinese, English)
    "ok": ("电子社保卡有效。", "Valid e-card."),
    "bad_signature": ("签名无效：此码是伪造或被篡改的，不予受理。",
                      "Invalid signature: this code was forged or altered. Do not accept it."),
    "unknown_key": ("本机没有此码的签发公钥：请更新公钥后重扫；仍失败则不予受理。",
                    "This scanner does not have the key that signed this code: update the key set "
                    "and scan again; if it still fails, do not accept it."),
    "withdrawn_key": ("此码的签发密钥已被撤销，不予受理；请持卡人刷新电子社保卡。",
                      "This code was signed with a withdrawn key. Do not accept it; ask the holder "
                      "to refresh the e-card."),
    "expired": ("此码已过期：请持卡人刷新后重新出示。",
                "This code has expired: ask the holder to refresh it and show it again."),
    "not_yet_valid": ("此码尚未生效：请检查本机时间是否准确。",
                      "This code is not valid yet: check that this scanner's clock is right."),
    "replayed": ("此码已被使用过：请持卡人刷新后重新出示。",
                 "This code has already been used: ask the holder to refresh it and show it again."),
    "malformed": ("无法识别：这不是电子社保卡二维码。", "Unreadable: this is not an e-card code."),
    "unsupported_version": ("此码的格式版本不受支持：请持卡人刷新电子社保卡后重新出示；仍失败请更新扫码软件。",
                            "This code's format version is not supported: ask the holder to refresh the "
                            "e-card and show it again; if it still fails, update the scanner software."),
}
REASONS = tuple(MESSAGES)


class Result(NamedTuple):
    """Outcome of one verification. ``ok`` is the only decision to act on.

    ``claims`` is set when the signature checked out (the content is authentic), even if
    the token is refused for time or replay; otherwise None. ``kid`` is the token's kid
    in hex once the header could be read.
    """

    ok: bool
    reason: str
    claims: Claims | None = None
    kid: str | None = None

    def message(self, lang: str = "zh") -> str:
        """The reason in plain words, ``lang`` "zh" or "en"."""
        zh, en = MESSAGES[self.reason]
        return en if lang == "en" else zh

    def to_json(self) -> dict:
        return {"ok": self.ok, "reason": self.reason, "kid": self.kid,
                "message": {"zh": self.message("zh"), "en": self.message("en")},
                "claims": self.claims.to_json() if self.claims is not None else None}


_MALFORMED = Result(False, "malformed")
_new_result = tuple.__new__
_UNSUPPORTED = Result(False, "unsupported_version")


class ReplayCache:
    """Token ids seen, each kept until its expiry (+ skew); O(1) amortised per token.

    Ids are filed in one-second buckets by the time they may be forgotten; a bucket is
    dropped whole once that second has passed. Memory is bounded by ``max_entries``:
    beyond it the soonest-expiring bucket is dropped early (a replay window opens only
    for those ids, and only under a flood beyond the bound). Not thread-safe: use one
    verifier per thread, or a lock.
    """

    def __init__(self, max_entries: int = 100_000):
        self.max_entries = max_entries
        self._ids: set[bytes] = set()
        self._buckets: dict[int, list[bytes]] = {}
        self._seconds: list[int] = []  # heap of bucket keys
        self._next_drop = math.inf

    def __len__(self) -> int:
        return len(self._ids)

    def _drop_first(self) -> None:
        self._ids.difference_update(self._buckets.pop(heapq.heappop(self._seconds)))
        self._next_drop = self._seconds[0] if self._seconds else math.inf

    def seen(self, token_id: bytes, keep_until: float, now: float) -> bool:
        """True if ``token_id`` was seen before; otherwise remember it until ``keep_until``."""
        while now >= self._next_drop:
            self._drop_first()
        if token_id in self._ids:
            return True
        if len(self._ids) >= self.max_entries:
            self._drop_first()
        self._ids.add(token_id)
        second = int(keep_until) + 1
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = []
            heapq.heappush(self._seconds, second)
            self._next_drop = self._seconds[0]
        bucket.append(token_id)
        return False


class _Key(NamedTuple):
    public: Ed25519PublicKey
    nbf: float
    exp: float


_KID = re.compile(r"[0-9a-f]{2}")


def _kid(entry: dict) -> bytes | None:
    """The kid byte of a JWK: exactly two lower-case hex digits (``"0a"``), else None (ignored)."""
    kid = entry["kid"]
    if type(kid) is not str or not _KID.fullmatch(kid):
        return None
    return bytes.fromhex(kid)


def _public_key(jwk: dict) -> Ed25519PublicKey:
    x = jwk["x"]
    raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


_NEW = object()
_MAX_CACHED_HEADERS = 64


class Verifier:
    """Verifies e-card tokens offline against a published key set (JWKS dict).

    ``skew_seconds`` tolerates a scanner clock that is off (both directions).
    ``replay_cache``: a fresh :class:`ReplayCache` by default, None to turn replay
    detection off, or a shared instance. ``clock`` returns Unix seconds.
    Raises ValueError at construction if the key set is not well formed.
    """

    def __init__(self, jwks: dict, *, skew_seconds: float = 30,
                 replay_cache: ReplayCache | None = _NEW,  # type: ignore[assignment]
                 clock: Callable[[], float] = time.time):
        self.skew = skew_seconds
        self.replay_cache = ReplayCache() if replay_cache is _NEW else replay_cache
        self.clock = clock
        self._keys: dict[bytes, list[_Key]] = {}
        self._withdrawn: dict[bytes, list[Ed25519PublicKey]] = {}
        self._headers: dict[bytes, tuple[bytes, str, bytes]] = {}
        try:
            for jwk in jwks.get("keys", ()):
                if (jwk.get("kty"), jwk.get("crv"), jwk.get("use", "sig")) != ("OKP", "Ed25519", "sig"):
                    continue  # not an e-card key: ignored
                kid = _kid(jwk)
                if kid is None:
                    continue  # "0A", "0a0b", 10: no token kid is written so (README §5): ignored
                nbf, exp = jwk.get("nbf"), jwk.get("exp")
                key = _Key(_public_key(jwk), -math.inf if nbf is None else float(nbf),
                           math.inf if exp is None else float(exp))
                self._keys.setdefault(kid, []).append(key)
            for entry in jwks.get("withdrawn", ()):
                kid = _kid(entry)
                if kid is None:
                    continue
                keys = self._withdrawn.setdefault(kid, [])
                if "x" in entry:
                    keys.append(_public_key(entry))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad key set: {exc!r}") from None

    @classmethod
    def from_file(cls, path, **kwargs) -> Verifier:
        """Verifier over a JWKS JSON file downloaded earlier."""
        with open(path, "rb") as f:
            return cls(json.load(f), **kwargs)

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 10, **kwargs) -> Verifier:
        """Verifier over the key set fetched from ``url`` (http or https) now."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("key set URL must be http or https")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return cls(json.load(response), **kwargs)

    def _header(self, protected: bytes) -> tuple[bytes, str, bytes]:
        """(kid, kid hex, Sig_structure head) for a protected header, cached when valid."""
        header = self._headers.get(protected)
        if header is None:
            _, kid = parse_protected(protected)
            header = (kid, kid.hex(), sig_structure_head(protected))
            if len(self._headers) < _MAX_CACHED_HEADERS:
                self._headers[protected] = header
        return header

    def verify(self, text: str | bytes) -> Result:
        """Verify one QR text. Never raises: anything unexpected counts as malformed."""
        try:
            return self._verify(text)
        except Exception:  # noqa: BLE001 - last resort of the never-raise contract
            return _MALFORMED

    def _verify(self, text: str | bytes) -> Result:
        try:
            cose = cose_from_text(text)
            protected, payload, signature = split_cose(cose)
            kid, kid_hex, tbs_head = self._header(protected)
        except FormatError as exc:
            return _UNSUPPORTED if exc.reason == "unsupported_version" else _MALFORMED
        keys = self._keys.get(kid)
        if keys is None:
            reason = "withdrawn_key" if kid in self._withdrawn else "unknown_key"
            return Result(False, reason, None, kid_hex)
        signed = tbs_head + cose[9:-66]  # the payload with its head, as split_cose found it (README §2)
        for key in keys:
            try:
                key.public.verify(signature, signed)
                break
            except InvalidSignature:
                pass
        else:
            for public in self._withdrawn.get(kid, ()):
                try:
                    public.verify(signature, signed)
                    return Result(False, "withdrawn_key", None, kid_hex)
                except InvalidSignature:
                    pass
            return Result(False, "bad_signature", None, kid_hex)
        try:
            claims = parse_claims(payload)
        except FormatError as exc:
            return Result(False, exc.reason, None, kid_hex)
        skew = self.skew
        issued_at = claims.issued_at
        expires_at = issued_at + claims.lifetime
        if issued_at < key.nbf - skew or expires_at > key.exp + skew:
            return Result(False, "unknown_key", claims, kid_hex)
        now = self.clock()
        if now < issued_at - skew:
            return Result(False, "not_yet_valid", claims, kid_hex)
        if now > expires_at + skew:
            return Result(False, "expired", claims, kid_hex)
        cache = self.replay_cache
        if cache is not None and cache.seen(claims.token_id, expires_at + skew, now):
            return Result(False, "replayed", claims, kid_hex)
        return _new_result(Result, (True, "ok", claims, kid_hex))  # Result(...) minus NamedTuple's __new__


def _read_image(path: str) -> str | None:
    """Text of the first QR code in an image file (zxing-cpp, Pillow), or None.
    Reading images is optional for a verifier: ``pip install zxing-cpp pillow``."""
    try:
        import zxingcpp
        from PIL import Image
    except ImportError as exc:
        raise ValueError(f"--image needs the optional packages zxing-cpp and pillow ({exc.name} is missing): "
                         "pip install zxing-cpp pillow") from None

    with Image.open(path) as image:
        codes = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return codes[0].text if codes else None


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status (0 ok, 1 refused, 2 usage error)."""
    parser = argparse.ArgumentParser(prog="python -m ecard.verify",
                                     description="Verify an e-card QR token offline.")
    parser.add_argument("--keys", required=True, help="published key set (JWKS JSON file)")
    parser.add_argument("--skew", type=float, default=30, help="clock skew tolerated, seconds")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("token", nargs="?", help="the QR text, e.g. SC2:...")
    source.add_argument("--image", help="PNG/JPEG image holding the QR code")
    args = parser.parse_args(argv)
    try:
        verifier = Verifier.from_file(args.keys, skew_seconds=args.skew, replay_cache=None)
        text = args.token if args.image is None else _read_image(args.image)
    except (OSError, ValueError) as exc:  # unreadable key set or image file
        parser.error(str(exc))
    result = _MALFORMED if text is None else verifier.verify(text)
    json.dump(result.to_json(), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
