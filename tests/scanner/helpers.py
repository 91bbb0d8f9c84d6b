"""Tokens and QR images for the scanner tests and bench/scanner.py: signed by the app's own key store."""
from __future__ import annotations

import io
import os
import time

from ecard.qr import render_png
from ecard.token import AppField, CardStatus, Claims, sign_token


def claims(**changes) -> Claims:
    base = Claims(card_ref=bytes.fromhex("3fa2c7d91e04"), name="欧阳娜娜", masked_id="440104********1234",
                  status=CardStatus.ACTIVE, locked_fields=AppField.TRANSPORT | AppField.MEDICAL)
    return base._replace(**changes)


def token(app, *, issued_at: int | None = None, **changes) -> str:
    """A token signed now (or at ``issued_at``) by the key the app signs with."""
    store = app.extensions["ecard_issuer"].store
    store.ensure_key()
    return sign_token(claims(issued_at=issued_at if issued_at is not None else int(time.time()),
                             token_id=os.urandom(6), **changes), store.current_signer())


def tampered(text: str) -> str:
    """The same token with one signature bit flipped (Base45 re-encoded)."""
    from ecard.base45 import b45decode, b45encode

    cose = bytearray(b45decode(text[4:]))
    cose[-1] ^= 1
    return text[:4] + b45encode(bytes(cose))


def qr_png(text: str) -> bytes:
    return render_png(text, box_size=6)


def y4m(text: str, frames: int = 10, size: int = 480) -> bytes:
    """A Y4M video (4:2:0) of the QR code of ``text`` on a white square, for Chromium's fake camera."""
    from PIL import Image

    qr = Image.open(io.BytesIO(qr_png(text))).convert("L")
    side = min(size - 40, qr.width)
    canvas = Image.new("L", (size, size), 255)
    canvas.paste(qr.resize((side, side), Image.NEAREST), ((size - side) // 2, (size - side) // 2))
    luma = canvas.tobytes()
    chroma = bytes([128]) * (size * size // 4)
    head = f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode()
    return head + b"".join(b"FRAME\n" + luma + chroma + chroma for _ in range(frames))
