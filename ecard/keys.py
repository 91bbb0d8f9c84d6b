"""Issuer key store: Ed25519 signing keys in a directory, rotation, withdrawal, JWKS.

Usable by the back office without ``ecard`` importing it. Layout of the directory::

    keys.json        metadata of every key ever made (public; written atomically)
    key-0001.pem     private key, PKCS#8 PEM, mode 0600, encrypted with the
                     passphrase (BestAvailableEncryption) when one is given
    .lock            flock(2) file serialising changes between processes (POSIX)

Each key has a one-byte kid, ``created_at``, ``signs_from``, ``signs_until`` (None
while it is the current key), ``published_until`` (None while it signs; then
``signs_until + max_token_reach + skew_seconds``, so it stays in the published
set until every token it signed has expired, even for a verifier allowing that
skew; ``max_token_reach`` is the longest time from signing a token to its expiry, which
for tokens signed ahead for a phone without signal is the prefetch horizon, not the
token lifetime) and ``withdrawn_at`` (compromise: out of the published set at once, listed
under ``withdrawn`` for ever). All times are integer Unix seconds.

Rules followed: new keys are published from the moment they are made, and may be
made ahead of use (``rotate(lead_seconds=...)``) so that scanners can fetch them
before they sign (verifiers failing right after a rotation was a known pain of the
systems before us); old keys stay published until their last token has expired.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ecard.token import DEFAULT_LIFETIME, SigningKey

__all__ = ["KeyInfo", "KeyStore", "canonical_json", "jwks_etag"]

_META = "keys.json"
_RELOAD_INTERVAL = 1.0  # seconds between checks for changes made by other processes


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclasses.dataclass
class KeyInfo:
    """Metadata of one key (no private material)."""

    serial: int
    kid: int
    x: str  # raw Ed25519 public key, base64url without padding (RFC 8037)
    created_at: int
    signs_from: int
    signs_until: int | None = None
    published_until: int | None = None
    withdrawn_at: int | None = None

    @property
    def kid_hex(self) -> str:
        """The JWK ``kid``: the token's one kid byte in lower-case hex."""
        return format(self.kid, "02x")

    @property
    def file(self) -> str:
        return f"key-{self.serial:04d}.pem"

    def signs_at(self, now: float) -> bool:
        return (self.withdrawn_at is None and self.signs_from <= now
                and (self.signs_until is None or now < self.signs_until))

    def published_at(self, now: float) -> bool:
        return self.withdrawn_at is None and (self.published_until is None or now <= self.published_until)


def canonical_json(obj: object) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, UTF-8) - what the app should serve."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def jwks_etag(jwks: dict) -> str:
    """Strong HTTP ETag of a key set: the same set always gives the same tag."""
    return '"' + hashlib.sha256(canonical_json(jwks)).hexdigest()[:32] + '"'


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a temporary file with ``mode``, fsync, then os.replace."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class KeyStore:
    """Signing keys in ``directory`` (created with mode 0700 if missing).

    ``max_token_reach`` and ``skew_seconds`` decide how long a retired key stays published
    (``exp`` = ``signs_until + max_token_reach + skew_seconds``). ``max_token_reach`` is the
    longest time from signing a token to its expiry: at least any ``Claims.lifetime``
    issued, and, where tokens are signed ahead (the back office signs up to
    ``ECARD_BATCH_HORIZON`` = 600 s of them), that horizon.
    Methods taking ``now`` use the clock when it is None.
    """

    def __init__(self, directory: str | os.PathLike, passphrase: str | bytes | None = None, *,
                 max_token_reach: int = DEFAULT_LIFETIME, skew_seconds: int = 60):
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if isinstance(passphrase, str):
            passphrase = passphrase.encode()
        self._passphrase = passphrase or None
        self.max_token_reach = max_token_reach
        self.skew_seconds = skew_seconds
        self._keys: list[KeyInfo] = []
        self._stamp: tuple | None = None
        self._checked = float("-inf")
        self._signers: dict[int, SigningKey] = {}
        self._load()

    # --- persistence -------------------------------------------------------------------

    def _meta_stamp(self) -> tuple | None:
        try:
            st = os.stat(self.directory / _META)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _load(self) -> None:
        """(Re)read keys.json if it changed since last read."""
        stamp = self._meta_stamp()
        self._checked = time.monotonic()
        if stamp == self._stamp:
            return
        if stamp is None:
            self._keys = []
        else:
            meta = json.loads((self.directory / _META).read_bytes())
            self._keys = [KeyInfo(**k) for k in meta["keys"]]
        self._stamp = stamp

    def _save(self) -> None:
        meta = {"format": 1, "keys": [dataclasses.asdict(k) for k in self._keys]}
        _write_atomic(self.directory / _META, json.dumps(meta, indent=1).encode(), 0o644)
        self._stamp = self._meta_stamp()

    @contextlib.contextmanager
    def _changing(self):
        """Hold the directory lock, start from the file's state, save at the end."""
        with open(self.directory / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._stamp = None  # force a re-read under the lock
            self._load()
            yield
            self._save()

    # --- key creation --------------------------------------------------------------------

    def _new_kid(self, now: int) -> int:
        """Next kid byte not used by a published or withdrawn key (wraps around)."""
        taken = {k.kid for k in self._keys if k.published_at(now) or k.withdrawn_at is not None}
        start = self._keys[-1].kid + 1 if self._keys else 1
        for step in range(256):
            kid = (start + step) % 256
            if kid not in taken:
                return kid
        raise RuntimeError("all 256 kids are published or withdrawn")

    def _create(self, now: int, signs_from: int, max_token_reach: int) -> KeyInfo:
        """Generate a key that signs from ``signs_from``; open-ended signers stop then."""
        for key in self._keys:
            if key.withdrawn_at is None and key.signs_until is None:
                key.signs_until = max(signs_from, key.signs_from)
                key.published_until = key.signs_until + max_token_reach + self.skew_seconds
        private = Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
        info = KeyInfo(serial=(self._keys[-1].serial + 1 if self._keys else 1),
                       kid=self._new_kid(now), x=_b64url(raw), created_at=now,
                       signs_from=signs_from)
        encryption = (serialization.BestAvailableEncryption(self._passphrase) if self._passphrase
                      else serialization.NoEncryption())
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8, encryption)
        _write_atomic(self.directory / info.file, pem, 0o600)
        self._keys.append(info)
        self._signers[info.serial] = SigningKey(info.kid, private)
        return info

    @staticmethod
    def _now(now: float | None) -> int:
        return int(time.time() if now is None else now)

    # --- operations ----------------------------------------------------------------------

    def ensure_key(self, now: float | None = None) -> KeyInfo:
        """The key signing at ``now``, generating one if there is none (first start, demo)."""
        now = self._now(now)
        info = self._signing(now)
        if info is None:
            with self._changing():
                info = self._signing(now) or self._create(now, now, self.max_token_reach)
        return dataclasses.replace(info)

    def rotate(self, now: float | None = None, max_token_reach: int | None = None, *,
               lead_seconds: int = 0) -> KeyInfo:
        """Make a new key that signs from ``now + lead_seconds``; the current key stops then.

        The new key is published at once (``lead_seconds`` > 0 lets scanners fetch it
        before it signs). The old key stays published until ``signs_until +
        max_token_reach + skew_seconds``, i.e. until every token it signed expired.
        """
        now = self._now(now)
        reach = self.max_token_reach if max_token_reach is None else max_token_reach
        with self._changing():
            return dataclasses.replace(self._create(now, now + lead_seconds, reach))

    def withdraw(self, kid: int | str, now: float | None = None) -> list[KeyInfo]:
        """Withdraw (compromise) the not-yet-withdrawn key(s) with ``kid`` at ``now``.

        They leave the published set at once and are listed under ``withdrawn``, so
        their tokens are refused with ``withdrawn_key``. If no key is left to sign
        from now on, a new one starts signing at ``now`` so issuance goes on.
        Returns the withdrawn keys (empty if none had that kid).
        """
        now = self._now(now)
        kid = int(kid, 16) if isinstance(kid, str) else kid
        with self._changing():
            hit = [k for k in self._keys if k.kid == kid and k.withdrawn_at is None]
            for key in hit:
                key.withdrawn_at = now
                if key.signs_until is None or key.signs_until > now:
                    key.signs_until = max(now, key.signs_from)
                self._signers.pop(key.serial, None)
            if hit and not any(k.withdrawn_at is None and k.signs_until is None for k in self._keys):
                self._create(now, now, self.max_token_reach)
        return [dataclasses.replace(k) for k in hit]

    def list(self) -> list[KeyInfo]:
        """Copies of every key's metadata, oldest first."""
        self._load()
        return [dataclasses.replace(k) for k in self._keys]

    def _signing(self, now: float) -> KeyInfo | None:
        """Newest key signing at ``now`` (re-reading keys.json at most once a second)."""
        if time.monotonic() - self._checked >= _RELOAD_INTERVAL:
            self._load()
        return next((k for k in reversed(self._keys) if k.signs_at(now)), None)

    def current_signer(self, now: float | None = None) -> SigningKey:
        """The SigningKey to issue with at ``now``: the newest key whose signing window holds now.

        Raises LookupError if no key signs then (call ``ensure_key`` or ``rotate``),
        and the loader's TypeError/ValueError if the passphrase is missing or wrong.
        """
        info = self._signing(time.time() if now is None else now)
        if info is None:
            raise LookupError("no key signs now: call ensure_key() or rotate()")
        signer = self._signers.get(info.serial)
        if signer is None:
            pem = (self.directory / info.file).read_bytes()
            private = serialization.load_pem_private_key(pem, password=self._passphrase)
            signer = self._signers[info.serial] = SigningKey(info.kid, private)
        return signer

    def jwks(self, now: float | None = None) -> dict:
        """The published key set at ``now`` (format in ecard/README.md).

        ``keys``: every key not withdrawn whose ``published_until`` has not passed,
        with ``nbf`` = signs_from and ``exp`` = published_until (absent while it signs);
        ``withdrawn``: every withdrawn key with ``withdrawn_at``.
        """
        now = self._now(now)
        self._load()
        keys = []
        for k in self._keys:
            if k.published_at(now):
                jwk = {"kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid_hex,
                       "use": "sig", "alg": "EdDSA", "nbf": k.signs_from}
                if k.published_until is not None:
                    jwk["exp"] = k.published_until
                keys.append(jwk)
        withdrawn = [{"kid": k.kid_hex, "x": k.x, "withdrawn_at": k.withdrawn_at}
                     for k in self._keys if k.withdrawn_at is not None]
        return {"keys": keys, "withdrawn": withdrawn}
