"""Art. 16: every inquiry into personal information stays on record; the audit log is hash-chained."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from app.privacy import GENESIS, canonical, entry_hash, legacy_entry_hash, seal, verify_chain
from app.privacy.audit_chain import Entry

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
KEY = b"k" * 32


def build(n: int = 20, key: bytes | None = KEY, keyed_from: int = 1) -> list[Entry]:
    """A chain of ``n`` entries, keyed with ``key`` from ``keyed_from`` on (format 1 before it;
    ``key=None``: format 1 throughout, as an attacker without the key would write it)."""
    entries: list[Entry] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        record = {
            "actor": f"clerk{seq % 3}",
            "action": "person.view",
            "subject": "440104********1234",
            "reason": "办理补卡",
            "at": T0 + timedelta(minutes=seq),
        }
        keyed = key is not None and seq >= keyed_from
        digest = entry_hash(key, prev, seq, record) if keyed else legacy_entry_hash(prev, seq, record)
        entries.append((seq, prev, digest, record))
        prev = digest
    return entries


def test_intact_audit_chain_verifies_art16() -> None:
    entries = build()
    report = verify_chain(entries, KEY)
    assert report.ok and report.seq is None and report.reason is None
    assert report.checked == 20 and report.last_seq == 20 and report.last_hash == entries[-1][2]
    assert verify_chain([], KEY).ok and verify_chain([], KEY).last_hash == GENESIS


def test_edited_audit_record_is_reported_at_its_seq_art16() -> None:
    entries = build()
    seq, prev, digest, record = entries[6]
    entries[6] = (seq, prev, digest, {**record, "reason": "查询"})
    report = verify_chain(entries, KEY)
    assert not report.ok and report.seq == 7 and report.reason == "edited"
    assert report.checked == 6 and report.last_seq == 6


def test_edited_and_rehashed_record_breaks_the_next_link_art16() -> None:
    entries = build()
    seq, prev, _, record = entries[6]
    forged = {**record, "actor": "nobody"}
    entries[6] = (seq, prev, entry_hash(KEY, prev, seq, forged), forged)
    report = verify_chain(entries, KEY)
    assert (report.seq, report.reason) == (8, "reordered")
    assert "prev_hash" in report.detail


def test_deleted_audit_entry_is_reported_art16() -> None:
    entries = build()
    del entries[9]
    report = verify_chain(entries, KEY)
    assert not report.ok and report.seq == 10 and report.reason == "deleted"
    first = build()[1:]
    assert (verify_chain(first, KEY).seq, verify_chain(first, KEY).reason) == (1, "deleted")


def test_swapped_audit_entries_are_reported_as_reordered_art16() -> None:
    adjacent = build()
    adjacent[4], adjacent[5] = adjacent[5], adjacent[4]
    report = verify_chain(adjacent, KEY)
    assert not report.ok and report.seq == 5 and report.reason == "reordered"
    distant = build()
    distant[3], distant[12] = distant[12], distant[3]
    report = verify_chain(distant, KEY)
    assert (report.seq, report.reason) == (4, "reordered")
    swapped_last = build()
    swapped_last[18], swapped_last[19] = swapped_last[19], swapped_last[18]
    assert (verify_chain(swapped_last, KEY).seq, verify_chain(swapped_last, KEY).reason) == (19, "reordered")


def test_swapped_contents_under_the_same_seq_are_reported_art16() -> None:
    entries = build()
    (s4, *row4), (s5, *row5) = entries[3], entries[4]
    entries[3], entries[4] = (s4, *row5), (s5, *row4)  # type: ignore[assignment]
    report = verify_chain(entries, KEY)
    assert (report.seq, report.reason) == (4, "edited")


def test_duplicated_entry_is_reported_as_reordered_art16() -> None:
    entries = build()
    entries.insert(8, entries[7])
    assert (verify_chain(entries, KEY).seq, verify_chain(entries, KEY).reason) == (9, "reordered")


def test_verification_streams_from_a_checkpoint_art16() -> None:
    entries = build()
    checkpoint = (entries[9][0], entries[9][2])
    report = verify_chain(iter(entries[10:]), KEY, after=checkpoint)
    assert report.ok and report.checked == 10 and report.last_seq == 20
    assert verify_chain(iter(entries[11:]), KEY, after=checkpoint).reason == "deleted"


def test_canonical_form_is_stable_art16() -> None:
    record = {"b": 1, "a": "张三", "at": datetime(2026, 11, 23, 16, 0, tzinfo=timezone(timedelta(hours=8)))}
    assert canonical(record) == '{"a":"张三","at":"2026-11-23T08:00:00.000000Z","b":1}'.encode()
    assert canonical({"d": date(2026, 11, 23), "n": None, "ok": True, "l": (1, 2)}) == (
        b'{"d":"2026-11-23","l":[1,2],"n":null,"ok":true}'
    )
    assert entry_hash(KEY, GENESIS, 1, record) == entry_hash(KEY, GENESIS, 1, dict(reversed(record.items())))
    assert entry_hash(KEY, GENESIS, 1, record) != entry_hash(KEY, GENESIS, 2, record)


@pytest.mark.parametrize(
    "record",
    [{"fee": 20.0}, {"at": datetime(2026, 11, 23)}, {1: "x"}, {"tags": {"a"}}, {"nested": [{"x": 1.5}]}],
)
def test_canonical_refuses_ambiguous_values_art16(record: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(TypeError):
        canonical(record)


def test_record_with_a_float_written_into_the_log_counts_as_edited_art16() -> None:
    entries = build(3)
    seq, prev, digest, record = entries[1]
    entries[1] = (seq, prev, digest, {**record, "fee": 1.5})
    assert (verify_chain(entries, KEY).seq, verify_chain(entries, KEY).reason) == (2, "edited")


def test_a_chain_rewritten_without_the_key_fails_at_its_first_entry_art16() -> None:
    """Whoever can write the table but has not the audit key cannot rebuild a consistent chain after an
    edit: neither in the unkeyed format of old nor with a key of their own."""
    for forged in (build(key=None), build(key=b"guess" * 8)):
        report = verify_chain(forged, KEY, sealed=seal(KEY, 1, GENESIS))
        assert (report.ok, report.seq, report.reason) == (False, 1, "edited")


def test_entries_from_before_the_key_verify_under_the_seal_art16() -> None:
    """A chain written before the key (format 1) stays valid: the head seals from where the chain is keyed
    and the last unkeyed hash; entries after it must be keyed."""
    entries = build(keyed_from=8)
    sealed = seal(KEY, 8, entries[6][2])
    report = verify_chain(entries, KEY, keyed_from=8, sealed=sealed)
    assert report.ok and report.checked == 20
    only_old = entries[:7]  # sealed at upgrade time, before anything new was written
    assert verify_chain(only_old, KEY, keyed_from=8, sealed=sealed).ok


def test_rewriting_the_unkeyed_entries_or_moving_the_switch_is_detected_art16() -> None:
    entries = build(keyed_from=8)
    sealed = seal(KEY, 8, entries[6][2])
    tampered = build(7, key=None)
    tampered[2] = (3, "", "", {**tampered[2][3], "actor": "nobody"})
    prev = tampered[1][2]
    for i in range(2, 7):  # a consistent unkeyed rewrite of entries 3..7
        s, _, _, r = tampered[i]
        digest = legacy_entry_hash(prev, s, r)
        tampered[i] = (s, prev, digest, r)
        prev = digest
    report = verify_chain(tampered, KEY, keyed_from=8, sealed=sealed)
    assert (report.ok, report.seq, report.reason) == (False, 7, "edited")
    downgraded = build(12, key=None)  # entries 8.. rewritten unkeyed and the switch moved past them
    report = verify_chain(downgraded, KEY, keyed_from=13, sealed=sealed)
    assert (report.ok, report.seq, report.reason) == (False, 12, "edited")
    assert verify_chain(downgraded, KEY, keyed_from=8, sealed=sealed).seq == 8
    assert verify_chain(entries[:5], KEY, keyed_from=8, sealed=sealed).reason == "deleted"


def test_a_seal_made_with_another_key_is_reported_art16() -> None:
    report = verify_chain(build(), KEY, sealed=seal(b"other" * 8, 1, GENESIS))
    assert (report.ok, report.seq, report.reason) == (False, 1, "edited") and "audit key" in report.detail


@pytest.mark.parametrize("record", [None, [1, 2], "text", 7])
def test_a_record_that_is_not_a_json_object_is_named_art16(record) -> None:
    entries = build(5)
    seq, prev, digest, _ = entries[2]
    entries[2] = (seq, prev, digest, record)
    report = verify_chain(entries, KEY)
    assert (report.seq, report.reason) == (3, "edited") and "not a JSON object" in report.detail
