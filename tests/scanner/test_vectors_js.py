"""One specification, two verifiers that agree (issue 16 #2): the JavaScript verifier of the scanner page
(static/scanner/verify.js) runs on every vector of tests/vectors/ under Node's test runner, with WebCrypto's
Ed25519 and with @noble/ed25519, and must give each the reason the Python verifier gives
(tests/ecard/test_vectors.py holds Python to the same files)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


def _vector_count() -> int:
    return sum(len(json.loads((ROOT / "tests" / "vectors" / f).read_text(encoding="utf-8"))["vectors"])
               for f in ("valid.json", "refused.json"))


def test_js_verifier_gives_every_vector_the_python_answer():
    if NODE is None:
        message = "Node.js is not installed (Debian: apt-get install nodejs; Node >= 20)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    if not (ROOT / "node_modules" / "@noble" / "ed25519").exists():
        pytest.fail("node_modules missing: run `make vendor`")
    proc = subprocess.run([NODE, "--test", "--test-reporter=tap", "tests/scanner/vectors.test.mjs"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    out = proc.stdout
    failed = [line for line in out.splitlines() if line.startswith("not ok")]
    assert proc.returncode == 0 and not failed, (failed, out[-3000:], proc.stderr[-2000:])
    passed = int(next(line.split()[-1] for line in out.splitlines() if line.startswith("# pass")))
    assert passed == 2 * _vector_count() + 2  # both Ed25519 engines on every vector + replay + never-throws
