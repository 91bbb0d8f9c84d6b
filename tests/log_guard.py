"""Log guard (Art. 16, 19): the test run FAILS if any log line carries a secret or a full ID number.

Loaded from ``tests/conftest.py`` (``pytest_plugins``). For the whole session it puts a handler on the
root logger at DEBUG, and sets the ``werkzeug``, ``sqlalchemy`` (SQL statements with their parameters)
and ``app`` loggers to DEBUG, so every record anybody emits is formatted (message, arguments and
traceback) and scanned as it is emitted. What counts as a leak:

* a PIN: ``tests.factories.PIN``, every 6-digit string hashed with argon2 during the run (every PIN set
  through the lifecycle), every ``pin`` / ``new_pin`` / ``old_pin`` sent through the Flask test client,
  and whatever a test registers with :func:`add_secret` (e.g. a one-time code). Matched as a whole
  number, after datetime reprs and clock times are blanked (microseconds are 6 digits too);
* a staff password: ``f"{name}-pw"`` for the factories' staff, every ``password`` sent through the
  test client, every other string of 8+ characters hashed with argon2;
* key material: each data key and the blind-index key (base64, as in the privacy key file, and hex) of
  every ``KeyRing`` built during the run, the ``SECRET_KEY`` and ``JWT_SECRET_KEY`` of every app (and
  every secret ``app.secrets.file_secret`` returns), any ``-----BEGIN …-----`` PEM block;
* a full citizen ID number: 18 characters ``\\d{17}[\\dX]`` standing alone that pass
  ``app.services.documents.is_valid_resident_id`` (region, birth date, MOD 11-2 check).

At the end the guard prints each offending line, secret masked, with the test that was running and the
logger, and turns the exit status into a failure. Lines from loggers other than SQLAlchemy's are also
kept and scanned again at the end, for secrets registered after the line was written. Works with
pytest-xdist (workers send their findings to the controller).

Register a secret from a test or helper: ``from tests.log_guard import add_secret; add_secret(code)``.
"""
from __future__ import annotations

import base64
import logging
import re
import threading
from dataclasses import dataclass

import pytest

# ---------------------------------------------------------------- the registry

STAFF_NAMES = ("bureau", "clerk", "teller", "teller_yx", "teller_ccb", "hotline", "medical", "auditor")
_PIN = re.compile(r"[0-9]{6}")
_lock = threading.Lock()
_pins: set[str] = set()
_strings: set[str] = set()
_pin_re: re.Pattern | None = None
# Secrets of 8+ characters, indexed by their first 8: a line is scanned in time independent of how many
# secrets are registered (every KeyRing a test builds adds two or more). Secrets containing a delimiter
# (quote, bracket, comma, space) are searched for one by one.
_TOKEN = re.compile(r"[^\s'\",()\[\]{}<>]{8,}")
_prefix: dict[str, set[str]] = {}
_odd: set[str] = set()


def add_secret(value, *, kind: str | None = None) -> None:
    """Register a value that must never appear in a log line. Six digits are matched as a whole number
    (a PIN or one-time code); anything else as a substring, if it has at least 8 characters."""
    global _pin_re
    if isinstance(value, bytes):
        for form in (base64.b64encode(value).decode(), value.hex()):
            add_secret(form)
        return
    if not isinstance(value, str):
        return
    value = value.strip()
    with _lock:
        if _PIN.fullmatch(value):
            if value not in _pins:
                _pins.add(value)
                _pin_re = None
        elif len(value) >= 8 and not any(c.isspace() for c in value) and value not in _strings:
            _strings.add(value)
            if _TOKEN.fullmatch(value):
                _prefix.setdefault(value[:8], set()).add(value)
            else:
                _odd.add(value)


def _pin_pattern() -> re.Pattern | None:
    global _pin_re
    with _lock:
        if _pin_re is None and _pins:
            _pin_re = re.compile(r"(?<![0-9A-Za-z.])(?:" + "|".join(sorted(_pins)) + r")(?![0-9A-Za-z])")
        return _pin_re


def _known() -> None:
    try:
        from tests.factories import PIN
    except Exception:  # noqa: BLE001 - the guard must work in any sub-run
        PIN = "135790"
    add_secret(PIN)
    for name in STAFF_NAMES:
        add_secret(f"{name}-pw")


# ---------------------------------------------------------------- the scanner

PEM = re.compile(r"-----BEGIN [A-Z0-9 ]+")
CITIZEN_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# Noise that looks like a PIN: microseconds in datetime reprs and clock times.
_TIME_NOISE = re.compile(r"datetime\.(?:datetime|time|timedelta)\([^)]*\)|\d{1,2}:\d{2}:\d{2}[.,]\d{1,6}")


@dataclass(frozen=True)
class Hit:
    kind: str  # pin | secret | pem | citizen-id
    start: int
    end: int


def _valid_citizen_id(number: str) -> bool:
    from app.services.documents import is_valid_resident_id

    return is_valid_resident_id(number.upper())


def scan(line: str) -> list[Hit]:
    """Every secret in ``line`` (positions in ``line``)."""
    hits = [Hit("pem", m.start(), m.end()) for m in PEM.finditer(line)]
    hits += [Hit("citizen-id", m.start(), m.end()) for m in CITIZEN_ID.finditer(line) if _valid_citizen_id(m[0])]
    for m in _TOKEN.finditer(line):
        token, base = m[0], m.start()
        for i in range(len(token) - 7):
            candidates = _prefix.get(token[i:i + 8])
            if candidates:
                hits += [Hit("secret", base + i, base + i + len(s)) for s in list(candidates) if token.startswith(s, i)]
    for s in list(_odd):
        i = line.find(s)
        while i >= 0:
            hits.append(Hit("secret", i, i + len(s)))
            i = line.find(s, i + 1)
    pin_re = _pin_pattern()
    if pin_re is not None:
        blanked = _TIME_NOISE.sub(lambda m: "~" * len(m[0]), line)
        hits += [Hit("pin", m.start(), m.end()) for m in pin_re.finditer(blanked)]
    return sorted(hits, key=lambda h: h.start)


def mask(line: str, hits: list[Hit]) -> str:
    """``line`` with every hit replaced (a citizen ID keeps its region and last 4, as everywhere)."""
    out, pos = [], 0
    for h in hits:
        if h.start < pos:
            continue
        out.append(line[pos:h.start])
        value = line[h.start:h.end]
        out.append(value[:6] + "********" + value[-4:] if h.kind == "citizen-id" else
                   "-----BEGIN <PEM>" if h.kind == "pem" else f"<{h.kind.upper()}>")
        pos = h.end
    out.append(line[pos:])
    return "".join(out)


# ---------------------------------------------------------------- capture

@dataclass(frozen=True)
class Finding:
    test: str
    logger: str
    level: str
    kinds: tuple[str, ...]
    line: str  # masked

    def render(self) -> str:
        return f"{self.test or '(outside a test)'}  [{self.logger} {self.level}] {','.join(self.kinds)}: {self.line}"


class GuardHandler(logging.Handler):
    RETAIN_MAX = 200_000  # lines kept for the final rescan (SQLAlchemy's are scanned once, as emitted)

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.current_test = ""
        self.findings: list[Finding] = []
        self.retained: list[tuple[str, str, str, str]] = []
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - a bad format string: scan what we have
            line = f"{record.name} {record.levelname} {record.msg!r} {record.args!r}"
        self.count += 1
        self.check(line, self.current_test, record.name, record.levelname)
        if not record.name.startswith("sqlalchemy") and len(self.retained) < self.RETAIN_MAX:
            self.retained.append((self.current_test, record.name, record.levelname, line))

    def check(self, line: str, test: str, logger: str, level: str) -> bool:
        hits = scan(line)
        if hits:
            f = Finding(test, logger, level, tuple(sorted({h.kind for h in hits})), mask(line, hits)[:600])
            if f not in self.findings:
                self.findings.append(f)
        return bool(hits)

    def rescan(self) -> None:
        for test, logger, level, line in self.retained:
            self.check(line, test, logger, level)
        self.retained.clear()


_handler: GuardHandler | None = None
_restore: list = []
_LOGGERS = ("werkzeug", "sqlalchemy", "app", "ecard", "flask_limiter")


def _patch(owner, name: str, make) -> None:
    original = getattr(owner, name)
    setattr(owner, name, make(original))
    _restore.append(lambda: setattr(owner, name, original))


def _install_harvesters() -> None:
    """Register secrets where they enter: argon2 hashing (PINs, passwords), the Flask test client
    (pin, new_pin, old_pin, password), key rings, generated file secrets, each app's configuration."""
    import argon2
    import flask
    from flask.testing import FlaskClient

    def hashing(original):
        def hash_(self, password, *a, **kw):
            add_secret(password.decode() if isinstance(password, bytes) else password)
            return original(self, password, *a, **kw)
        return hash_

    _patch(argon2.PasswordHasher, "hash", hashing)

    def client_open(original):
        def open_(self, *args, **kwargs):
            body = kwargs.get("json")
            if isinstance(body, dict):
                for key in ("pin", "new_pin", "old_pin", "password"):
                    add_secret(body.get(key))
            return original(self, *args, **kwargs)
        return open_

    _patch(FlaskClient, "open", client_open)

    try:
        from app import secrets as app_secrets
        from app.privacy.keys import KeyRing
    except Exception:  # noqa: BLE001 - the guard also runs outside this project's app
        return

    def ring_init(original):
        def init(self, data_keys, active_id, blind_index_key):
            original(self, data_keys, active_id, blind_index_key)
            for key in dict(data_keys).values():
                add_secret(bytes(key))
            add_secret(bytes(blind_index_key))
        return init

    _patch(KeyRing, "__init__", ring_init)

    def file_secret(original):
        def fs(*args, **kwargs):
            value = original(*args, **kwargs)
            add_secret(value)
            return value
        return fs

    _patch(app_secrets, "file_secret", file_secret)

    def on_context(sender, **_):
        for key in ("SECRET_KEY", "JWT_SECRET_KEY"):
            add_secret(sender.config.get(key))

    flask.appcontext_pushed.connect(on_context, weak=False)
    _restore.append(lambda: flask.appcontext_pushed.disconnect(on_context))


def pytest_configure(config):
    global _handler
    if _handler is not None:
        return
    _known()
    _handler = GuardHandler()
    root = logging.getLogger()
    levels = {"": root.level, **{n: logging.getLogger(n).level for n in _LOGGERS}}
    root.addHandler(_handler)
    root.setLevel(logging.DEBUG)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    _restore.append(lambda: root.removeHandler(_handler))
    _restore.append(lambda: [logging.getLogger(n or None).setLevel(lv) for n, lv in levels.items()])
    _install_harvesters()


def pytest_unconfigure(config):
    global _handler
    while _restore:
        _restore.pop()()
    _handler = None


_healed: list[str] = []


def _heal() -> None:
    """Undo what would blind the guard: ``logging.config.fileConfig`` (Alembic's env.py) drops the root
    handlers, lowers the root level and disables existing loggers. Checked before every test."""
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
        _healed.append("guard handler re-attached to the root logger")
    if root.level != logging.DEBUG:
        root.setLevel(logging.DEBUG)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    for name, lg in list(logging.root.manager.loggerDict.items()):
        if isinstance(lg, logging.Logger) and lg.disabled:
            lg.disabled = False
            _healed.append(f"logger {name} re-enabled")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if _handler is not None:
        _heal()
        _handler.current_test = item.nodeid
    yield
    if _handler is not None:
        _handler.current_test = ""


_from_workers: list[Finding] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):  # xdist controller: collect the workers' findings
    for f in getattr(node, "workeroutput", {}).get("log_guard", []):
        _from_workers.append(Finding(**{**f, "kinds": tuple(f["kinds"])}))


def _findings() -> list[Finding]:
    if _handler is None:
        return list(_from_workers)
    _handler.rescan()
    return _handler.findings + _from_workers


def pytest_sessionfinish(session, exitstatus):
    findings = _findings()
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["log_guard"] = [f.__dict__ for f in findings]
        return
    if findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workeroutput"):
        return
    findings = _findings()
    scanned = _handler.count if _handler else 0
    if _healed:
        terminalreporter.write_line(f"log guard: logging was reconfigured during the run and repaired "
                                    f"({len(_healed)} fixes, first: {_healed[0]})")
    if not findings:
        terminalreporter.write_line(f"log guard: {scanned} log records scanned, no secret or full ID number found")
        return
    terminalreporter.section("LOG GUARD: secrets or full ID numbers in the logs", sep="=", red=True, bold=True)
    for f in findings[:50]:
        terminalreporter.write_line(f.render())
    if len(findings) > 50:
        terminalreporter.write_line(f"... and {len(findings) - 50} more")
    terminalreporter.write_line(f"log guard: {len(findings)} offending line(s) in {scanned} records: the run FAILS")
