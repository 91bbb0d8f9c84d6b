"""The log guard (tests/log_guard.py) can fail a run: it finds PINs, passwords, key material, PEM
blocks and full citizen ID numbers in log lines, masks them in its report, and leaves ordinary lines
(timestamps with microseconds, masked IDs, card numbers, hashes) alone."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests import log_guard
from tests.factories import PIN, citizen_id

ROOT = Path(__file__).resolve().parents[2]


def _record(msg: str, *args) -> str:
    rec = logging.LogRecord("app.test", logging.INFO, __file__, 1, msg, args, None)
    return log_guard.GuardHandler().format(rec)


def _kinds(line: str) -> set[str]:
    return {h.kind for h in log_guard.scan(line)}


def test_a_full_citizen_id_in_a_record_is_found_and_masked():
    number = citizen_id(region="440106", birth="19880808", seq=123)
    line = _record("applicant %s registered", number)
    hits = log_guard.scan(line)
    assert [h.kind for h in hits] == ["citizen-id"]
    masked = log_guard.mask(line, hits)
    assert number not in masked and "440106********" in masked


def test_a_wrong_check_digit_or_a_masked_id_is_not_a_finding():
    number = citizen_id(seq=124)
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert _kinds(_record("id %s", wrong)) == set()
    assert _kinds(_record("id %s", number[:6] + "********" + number[-4:])) == set()
    assert _kinds(_record("part of a longer number 9%s", number)) == set()


def test_pins_passwords_keys_and_pem_are_found():
    log_guard.add_secret(PIN)
    log_guard.add_secret("teller-pw")
    log_guard.add_secret("482915")
    key = os.urandom(32)
    log_guard.add_secret(key)
    import base64

    assert _kinds(_record("activate with pin=%s", PIN)) == {"pin"}
    assert _kinds(_record("{'new_pin': '482915'}")) == {"pin"}
    assert _kinds(_record("login teller/%s", "teller-pw")) == {"secret"}
    assert _kinds(_record("key %s", base64.b64encode(key).decode())) == {"secret"}
    assert _kinds(_record("cfg data_key=%s;next", base64.b64encode(key).decode())) == {"secret"}  # inside a token
    assert _kinds(_record("hex %r", key.hex())) == {"secret"}
    log_guard.add_secret("it's,odd-pw")
    assert _kinds(_record("password it's,odd-pw")) == {"secret"}
    assert _kinds(_record("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI...")) == {"pem"}
    masked = log_guard.mask(_record("pin %s", PIN), log_guard.scan(_record("pin %s", PIN)))
    assert PIN not in masked and "<PIN>" in masked


def test_ordinary_lines_are_not_findings():
    log_guard.add_secret("135790")
    noise = [
        "INSERT INTO t (at) VALUES (datetime.datetime(2026, 11, 23, 2, 0, 0, 135790, tzinfo=datetime.timezone.utc))",
        "at 2026-11-23 02:00:00.135790+00:00",
        "card A1357900X issued",
        "hash 9f1357905ab and 0.135790s",
        "[generated in 0.00012s] ('ab135790cd',)",
    ]
    for line in noise:
        assert _kinds(line) == set(), line


def _run(tmp_path, body: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_sub.py").write_text(textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.log_guard", "-p", "no:randomly", "-p", "no:cacheprovider",
         str(tmp_path / "test_sub.py")],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_a_sub_run_that_logs_a_full_id_fails_and_names_the_line(tmp_path):
    number = citizen_id(region="440106", birth="19750303", seq=55)
    result = _run(tmp_path, f"""
        import logging

        def test_leaks():
            logging.getLogger("app.leaky").info("looked up %s", "{number}")

        def test_clean():
            logging.getLogger("app.fine").info("looked up %s", "{number[:6]}********{number[-4:]}")
        """)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "2 passed" in out and "LOG GUARD" in out
    assert "test_sub.py::test_leaks" in out and "app.leaky" in out and "440106********" in out
    assert number not in out and "test_clean" not in out.split("LOG GUARD")[1]


def test_a_sub_run_that_logs_a_pin_fails_and_a_clean_one_passes(tmp_path):
    leaky = _run(tmp_path, """
        import logging

        def test_leaks(caplog):
            logging.getLogger("werkzeug").debug("body {'pin': '135790'}")
        """)
    assert leaky.returncode == 1 and "<PIN>" in leaky.stdout and "135790" not in leaky.stdout, leaky.stdout
    clean = _run(tmp_path, """
        import logging

        def test_fine():
            logging.getLogger("sqlalchemy.engine").info("SELECT 1")
        """)
    assert clean.returncode == 0, clean.stdout
    assert "no secret or full ID number found" in clean.stdout
