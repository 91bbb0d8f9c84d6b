"""The committed test vectors (tests/vectors/, format in its README.md) are what the generator
writes, and the Python verifier gives each one its expected answer (issue 13 #17: accept ONLY the
deterministic encoding; a JavaScript verifier must pass the same files)."""

import json
from pathlib import Path

import pytest

from ecard.verify import Verifier
from tests.vectors import generate

VECTORS = Path(generate.__file__).resolve().parent


def _load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _cases() -> list:
    cases = []
    for name in ("valid.json", "refused.json"):
        for vector in _load(name)["vectors"]:
            cases.append(pytest.param(vector, id=vector["id"]))
    return cases


def test_committed_vectors_are_what_the_generator_writes():
    for name, content in generate.build().items():
        assert (VECTORS / name).read_text(encoding="utf-8") == content, f"run python -m tests.vectors.generate ({name})"


def test_vectors_cover_every_rule_of_the_deterministic_encoding():
    ids = {v["id"] for v in _load("refused.json")["vectors"]}
    for rule in ("protected-trailing-byte", "payload-trailing-byte", "protected-duplicate-label-last-wins",
                 "protected-label-true-for-1", "protected-label-float-1.0", "protected-label-float-4.0-for-kid",
                 "protected-indefinite-map", "payload-indefinite-array", "protected-kid-two-bytes",
                 "payload-version-text", "payload-name-empty", "jwk-kid-upper-case", "old-format-sc1",
                 "cose-tag-18", "payload-lifetime-60-written", "payload-masked-run-of-8-as-c7",
                 "payload-version-3-with-map", "payload-version-3-with-float", "payload-version-3-with-tag-0-date",
                 "payload-name-lone-0x80", "payload-name-gb18030-edition-dependent-a3a0",
                 "payload-name-gb18030-edition-dependent-8135f437"):
        assert rule in ids, rule


@pytest.mark.parametrize("vector", _cases())
def test_verifier_gives_each_vector_its_expected_answer(vector):
    keyset = _load(vector["jwks"])
    verifier = Verifier(keyset, skew_seconds=vector["skew_seconds"], clock=lambda: vector["now"])
    result = verifier.verify(vector["token"])
    expected = vector["expected"]
    assert (result.ok, result.reason) == (expected["ok"], expected["reason"])
    if expected["ok"]:
        assert result.kid == expected["kid"]
        assert result.claims.to_json() == expected["claims"]
