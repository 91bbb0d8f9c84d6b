"""QR rendering of the token text: alphanumeric mode, error correction level M.

The text ("SC2:" + Base45) uses only QR alphanumeric characters, so it is put in
one alphanumeric segment (5.5 bits a character, against 8 in byte mode) - forced,
so a wrong character raises instead of silently falling back to byte mode. Level M
is what the Swiss verifier app moved to for fast reads from phone screens.
``qrcode`` (and Pillow for PNG) are imported only here, lazily.
"""

from __future__ import annotations

import io

__all__ = ["render_png", "render_svg", "qr_version"]


def _qr(text: str, box_size: int, border: int, image_factory=None):
    import qrcode
    from qrcode.util import MODE_ALPHA_NUM, QRData

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size,
                       border=border, image_factory=image_factory)
    qr.add_data(QRData(text, mode=MODE_ALPHA_NUM))  # ValueError if not alphanumeric
    return qr


def qr_version(text: str) -> int:
    """QR version (1-40) that ``text`` needs at level M in alphanumeric mode."""
    return _qr(text, 1, 0).best_fit()


def render_png(text: str, *, box_size: int = 8, border: int = 4) -> bytes:
    """PNG bytes of the QR code for ``text`` (``border`` modules of quiet zone)."""
    qr = _qr(text, box_size, border)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out, format="PNG")
    return out.getvalue()


def render_svg(text: str, *, box_size: int = 10, border: int = 4) -> str:
    """Standalone SVG document (one path on a white background) for ``text``."""
    from qrcode.image.svg import SvgPathFillImage

    qr = _qr(text, box_size, border, SvgPathFillImage)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out)
    return out.getvalue().decode("utf-8")
