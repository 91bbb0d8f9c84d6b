"""Electronic social security card (电子社保卡) tokens: issue, publish keys, verify offline.

Standalone: agencies install this package alone. It needs only ``cryptography`` and
``cbor2`` (plus ``qrcode`` / ``zxing-cpp`` for rendering and decoding images) and never
imports the back-office application. Modules:

* :mod:`ecard.base45` - RFC 9285 codec;
* :mod:`ecard.token` - claim format, enums, signing and unverified decoding;
* :mod:`ecard.keys` - key store, rotation, withdrawal, published key set (JWKS);
* :mod:`ecard.verify` - offline verifier, replay cache, CLI (``python -m ecard.verify``);
* :mod:`ecard.qr` - QR rendering (PNG, SVG) and version.

The format is specified in ``ecard/README.md``.
"""
