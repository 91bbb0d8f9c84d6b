"""Draw the phone app's icons (static/phone/icon-192.png, icon-512.png; committed): a white card with
a QR-like mark on the card's blue, inside the maskable safe zone (the middle 80 %)."""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "static" / "phone"


def icon(n: int) -> Image.Image:
    img = Image.new("RGB", (n, n), (11, 79, 156))
    d = ImageDraw.Draw(img)
    u = n / 100
    d.rounded_rectangle((22 * u, 30 * u, 78 * u, 70 * u), radius=6 * u, fill="white")
    d.rectangle((28 * u, 40 * u, 46 * u, 44 * u), fill=(11, 79, 156))
    d.rectangle((28 * u, 50 * u, 52 * u, 54 * u), fill=(11, 79, 156))
    for x, y in ((56, 37), (66, 37), (56, 47), (66, 53), (61, 58)):
        d.rectangle((x * u, y * u, (x + 7) * u, (y + 7) * u), fill=(11, 79, 156))
    return img


if __name__ == "__main__":
    for n in (192, 512):
        icon(n).save(OUT / f"icon-{n}.png", optimize=True)
