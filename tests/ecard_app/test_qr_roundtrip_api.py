"""QR round trip through the API (Art. 35): the PNG and SVG the app serves decode with a real
decoder (zxing-cpp; the SVG rasterised with cairosvg) to a token that verifies against the
published key set."""
from __future__ import annotations

import io

import cairosvg
import pytest
import zxingcpp
from PIL import Image

from app.models.enums import CardStatus
from ecard.qr import qr_version
from ecard.token import PREFIX
from ecard.token import CardStatus as T
from tests.ecard_app.conftest import verifier


def _decode(image: Image.Image) -> zxingcpp.Barcode:
    # QR only: a scan for every symbology now and then reads a QR's module rows as a 1-D ITF code
    # (seen in CI), which a scanner set to QR, as agencies' are, never reports.
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1, [(f.format, f.text) for f in found]
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0]


def _png_image(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(data))


def _svg_image(svg: bytes) -> Image.Image:
    assert b"<svg" in svg[:400]
    png = cairosvg.svg2png(bytestring=svg, output_width=600, output_height=600, background_color="white")
    return _png_image(png)


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_served_qr_decodes_to_a_token_that_verifies(client, world, resident, kind):
    card = world.card(CardStatus.LOSS_REGISTERED, person=world.person(name="张三丰"))
    world.session.commit()
    resp = client.get(f"/api/ecard/qr.{kind}", headers=resident(card.person_id))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == {"png": "image/png", "svg": "image/svg+xml"}[kind]
    assert "no-store" in resp.headers["Cache-Control"]
    image = (_png_image if kind == "png" else _svg_image)(resp.get_data())
    code = _decode(image)
    text = code.text
    assert text.startswith(PREFIX)
    assert code.ec_level == "M"
    assert code.symbology_identifier == "]Q1"  # QR model 2, no ECI / FNC1
    result = verifier(client).verify(text)
    assert result.ok, result
    assert result.claims.expires_at == int(resp.headers["X-Token-Expires"])
    assert result.claims.name == "张三丰"
    assert result.claims.status is T.LOSS_REGISTERED and result.claims.settlement_suspended is True
    assert qr_version(text) <= 7


def test_png_and_svg_carry_different_fresh_tokens(client, world, resident):
    card = world.card(CardStatus.ACTIVE)
    world.session.commit()
    h = resident(card.person_id)
    a = _decode(_png_image(client.get("/api/ecard/qr.png", headers=h).get_data())).text
    b = _decode(_svg_image(client.get("/api/ecard/qr.svg", headers=h).get_data())).text
    assert a != b
    v = verifier(client)
    assert v.verify(a).ok and v.verify(b).ok  # two distinct token ids: no replay


@pytest.mark.parametrize("name", ["陈小明", "张三丰", "欧阳修", "李白"])
def test_demo_names_of_three_characters_fit_version_7_at_level_m(client, world, issue, name):
    """The size target (ecard/README.md §8): 3-character names, the app's 6-byte card reference."""
    card = world.card(CardStatus.ACTIVE, person=world.person(name=name))
    token = issue(card.person_id).get_json()["token"]
    assert qr_version(token) <= 7
    # the worst case the app emits for a 3-character name: locked field and suspended settlement
    from app.models.enums import Field
    from app.services import lifecycle

    lifecycle.set_field_lock(world.session, world.teller, card.id, field=Field.TRANSPORT, locked=True)
    lifecycle.register_loss(world.session, world.teller, card.id, id_verified=True)
    token = issue(card.person_id).get_json()["token"]
    assert qr_version(token) <= 7, (len(token), qr_version(token))


def test_demo_database_names_fit_version_7(app):
    """Every name the demo seeder can produce with a one-character given name (3 chars) fits."""
    import random

    from app import demo
    from app.services.ecard import card_ref
    from ecard.token import AppField, Claims, sign_token

    issuer = app.extensions["ecard_issuer"]
    signer = issuer.store.current_signer()
    rng = random.Random(7)
    given = demo.GIVEN_MALE + demo.GIVEN_FEMALE
    for _ in range(50):
        name = rng.choice(demo.SURNAMES) + rng.choice(given) + rng.choice(given)
        claims = Claims(card_ref=card_ref(issuer.secret, rng.randrange(1, 10**9)), name=name,
                        masked_id="440106********123X", status=T.LOSS_REGISTERED, settlement_suspended=True,
                        locked_fields=AppField.TRANSPORT | AppField.MEDICAL)
        assert qr_version(sign_token(claims, signer)) <= 7, name
