"""ecard/README.md §11: the Python SDK example is five lines and runs as printed."""
import json
import re
from pathlib import Path

from ecard.verify import Verifier

ROOT = Path(__file__).resolve().parents[2]


def _block(title: str) -> str:
    text = (ROOT / "ecard" / "README.md").read_text(encoding="utf-8")
    return re.search(re.escape(title) + r"\n\n```python\n(.*?)```", text, re.S).group(1)


def test_python_sdk_example_is_five_lines_that_verify_a_token(monkeypatch, capsys):
    code = _block("### Python, in five lines")
    assert len(code.strip().splitlines()) == 5
    vectors = ROOT / "tests" / "vectors"
    vector = json.loads((vectors / "valid.json").read_text(encoding="utf-8"))["vectors"][0]
    jwks = json.loads((vectors / "jwks.json").read_text(encoding="utf-8"))
    monkeypatch.setattr(Verifier, "from_url", classmethod(lambda cls, url, **kw: cls(jwks, clock=lambda: vector["now"])))
    exec(code, {"qr_text": vector["token"]})
    out = capsys.readouterr().out.splitlines()
    assert out == ["True ok 电子社保卡有效。", "张三丰 440104********1234 ACTIVE False"]
