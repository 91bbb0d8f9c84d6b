"""QR rendering: alphanumeric mode, level M, version <= 7 for the typical token; PNG and
SVG decode back to the exact text; the CLI verifies from an image end to end."""

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from ecard.qr import qr_version, render_png, render_svg
from ecard.token import sign_token
from tests.ecard.helpers import NOW, fixed_key, jwks, typical_claims

REPO = Path(__file__).resolve().parents[2]
TEXT = sign_token(typical_claims(), fixed_key(), now=NOW)
V7_M_BYTE_CAPACITY = 122


def read(png: bytes):
    (code,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return code


def test_png_decodes_to_the_exact_text_at_version_7_level_m():
    code = read(render_png(TEXT))
    assert code.text == TEXT and code.format == zxingcpp.BarcodeFormat.QRCode
    assert code.extra["Version"] == "7" and code.extra["ECLevel"] == "M"
    # 178 characters in version 7-M is only possible in alphanumeric mode (byte mode holds 122)
    assert len(TEXT) == 178 > V7_M_BYTE_CAPACITY and qr_version(TEXT) == 7


def test_svg_rasterised_by_cairosvg_decodes_to_the_exact_text():
    import cairosvg  # requirements-dev: a real SVG rasteriser (libcairo)

    svg = render_svg(TEXT)
    assert svg.startswith("<?xml") and "<svg" in svg
    code = read(cairosvg.svg2png(bytestring=svg.encode(), output_width=500))
    assert code.text == TEXT and code.extra["Version"] == "7"


def test_non_alphanumeric_text_is_refused_not_put_in_byte_mode():
    with pytest.raises(ValueError):
        qr_version("sc1:lower case")


def test_long_name_renders_at_a_higher_version():
    text = sign_token(typical_claims(name="迪丽热巴·迪力木拉提·阿不都热合曼"), fixed_key(), now=NOW)
    code = read(render_png(text))
    assert code.text == text and code.extra["Version"] == str(qr_version(text)) == "9"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ecard.verify", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def keyfile(tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(fixed_key())))
    return path


def test_cli_verifies_a_qr_image_end_to_end(tmp_path, keyfile):
    text = sign_token(typical_claims(), fixed_key(), now=time.time())
    image = tmp_path / "qr.png"
    image.write_bytes(render_png(text))
    done = run_cli("--keys", str(keyfile), "--image", str(image))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ok"] and out["reason"] == "ok" and out["kid"] == "0a"
    assert out["claims"]["name"] == "张三丰" and out["claims"]["masked_id"] == "440104********1234"
    assert out["message"] == {"zh": "电子社保卡有效。", "en": "Valid e-card."}


def test_cli_refuses_with_exit_status_1(keyfile, tmp_path):
    stale = sign_token(typical_claims(), fixed_key(), now=time.time() - 3600)
    done = run_cli("--keys", str(keyfile), stale)
    out = json.loads(done.stdout)
    assert (done.returncode, out["ok"], out["reason"]) == (1, False, "expired")
    assert out["claims"]["name"] == "张三丰"  # authentic, shown, but refused
    fresh = sign_token(typical_claims(), fixed_key(), now=time.time())
    assert run_cli("--keys", str(keyfile), fresh).returncode == 0
    done = run_cli("--keys", str(keyfile), "SC2:garbage")
    assert done.returncode == 1 and json.loads(done.stdout)["reason"] == "malformed"
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 255).save(blank)
    done = run_cli("--keys", str(keyfile), "--image", str(blank))
    assert done.returncode == 1 and json.loads(done.stdout)["reason"] == "malformed"


def test_cli_usage_errors_exit_2(tmp_path, keyfile):
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    assert run_cli("--keys", str(bad), TEXT).returncode == 2
    assert run_cli("--keys", str(keyfile), "--image", str(bad)).returncode == 2
    assert run_cli("--keys", str(keyfile)).returncode == 2
