"""docs/lifecycle.md is generated from the one state table; it must not drift from it."""
from pathlib import Path

from app.services.lifecycle_rules import CHANNELS, TRANSITIONS, Op, markdown_table


def test_lifecycle_doc_is_generated_from_the_table():
    doc = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"
    assert doc.read_text(encoding="utf-8") == markdown_table(), "run `make lifecycle-doc`"


def test_every_operation_has_a_transition_and_a_channel_row():
    assert {t.op for t in TRANSITIONS} == set(Op) == set(CHANNELS)
