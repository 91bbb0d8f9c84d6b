"""E-card benchmark, one command: ``.venv/bin/python bench/ecard.py`` (``make bench``).

1. Core (``bench/ecard_core.py``, same process): token length and QR version at level M for the
   reference claim set (ecard/README.md §7), ``verify_ratio`` = verifications/s through
   ``ecard.verify.Verifier`` ÷ raw Ed25519 verifications/s (target ≥ 0.85), ``sign_ratio`` =
   ``sign_token``/s ÷ raw Ed25519 signatures/s. Medians over rounds.
2. HTTP, through the real app: a demo SQLite database (``app.demo.Seeder``) in a temporary
   directory, ``gunicorn -w 2 wsgi:app`` on a free port, then requests/s of
   ``POST /api/ecard/tokens`` (cycling over every resident who can get a token, each with their own
   access token) ÷ requests/s of ``GET /api/ping`` (a trivial JSON endpoint of the same app), the two
   alternated over several rounds after a warm-up; ``http_issue_ratio`` = median ÷ median (target
   ≥ 0.5). Load from ``wrk`` (Lua script rotating the Authorization header) if installed, else a
   Python load generator with several processes; the output says which. Every answer must be 200;
   the database files must not change while tokens are issued (issuance writes nothing).

Options: ``--rounds``, ``--n`` (core); ``--http-rounds``, ``--seconds``, ``--residents``,
``--connections``, ``--no-http``. The LAST line printed is one JSON object with ``token_chars``,
``qr_version``, ``verify_ratio``, ``sign_ratio`` and ``http_issue_ratio``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# This file is bench/ecard.py: keep the ``ecard`` package (ROOT/ecard) ahead of it on the path.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != BENCH]


def _load_core():
    spec = importlib.util.spec_from_file_location("ecard_core", BENCH / "ecard_core.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def log(msg: str = "") -> None:
    print(msg, flush=True)


# ------------------------------------------------------------------------------------ 1. core


def core(rounds: int, n: int) -> dict:
    result = _load_core().measure(rounds, n)
    log(f"core: {rounds} rounds x {n} tokens, medians")
    log(f"  token (reference claims, 3-character name, 8-byte card ref): {result['token_chars']} chars, "
        f"{result['cose_bytes']} COSE bytes, QR version {result['qr_version_M']} at level M")
    log(f"  raw Ed25519 verify {result['raw_verify_per_s']}/s, Verifier {result['verify_per_s']}/s "
        f"(replay cache on) -> verify_ratio {result['verify_ratio']} (target >= 0.85); "
        f"cache off {result['verify_nocache_per_s']}/s -> {result['verify_ratio_nocache']}")
    log(f"  per round: {result['verify_ratio_per_round']}")
    log(f"  raw Ed25519 sign {result['raw_sign_per_s']}/s, sign_token {result['sign_per_s']}/s "
        f"-> sign_ratio {result['sign_ratio']}")
    return result


# ------------------------------------------------------------------------------------ 2. HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SSC_", "DATABASE_URL", "SECRET_KEY", "JWT_SECRET_KEY"))}
    env.update(SSC_INSTANCE_DIR=str(tmp), DATABASE_URL=f"sqlite:///{tmp / 'ssc.sqlite3'}", FLASK_APP="wsgi.py",
               PYTHONPATH=str(ROOT))
    return env


_SEED = r"""
import json, sys, time
from argon2 import PasswordHasher
from app.services import hashing
# PIN and password hashes are irrelevant here: cheap parameters keep the seeding short.
hashing.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
from sqlalchemy import select
from app import create_app
from app.auth.tokens import issue_resident
from app.extensions import db
from app.demo import Seeder
from app.models import Person
from app.services.errors import DomainError

residents, out = int(sys.argv[1]), sys.argv[2]
app = create_app()
t = time.perf_counter()
with app.app_context():
    db.create_all()
    Seeder(db.session, residents=residents, seed=42, echo=lambda *a, **k: None).seed_all()
    db.session.commit()
    seeded = time.perf_counter() - t
    issuer = app.extensions["ecard_issuer"]
    tokens, refused = [], 0
    for pid in db.session.scalars(select(Person.id).order_by(Person.id)):
        try:
            issuer.claims(db.session, pid)
        except DomainError:
            refused += 1
            continue
        tokens.append(issue_resident(pid)["access_token"])  # a real sign-in session each
    db.session.commit()
with open(out, "w") as f:
    f.write("\n".join(tokens) + "\n")
print(json.dumps({"seconds": round(seeded, 1), "holders": len(tokens), "no_token": refused}))
"""


def seed(tmp: Path, residents: int) -> tuple[list[str], dict]:
    """Demo database + one access token per resident who can get an e-card token."""
    tokens_file = tmp / "access-tokens.txt"
    proc = subprocess.run([sys.executable, "-c", _SEED, str(residents), str(tokens_file)], cwd=ROOT,
                          env=_env(tmp), capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"seeding failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return tokens_file.read_text().split(), info


class Server:
    def __init__(self, tmp: Path, workers: int = 2):
        self.tmp, self.port = tmp, _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / "gunicorn.log", "w")  # noqa: SIM115 - open while the server runs
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "wsgi:app"],
            cwd=ROOT, env=_env(tmp), stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{(self.tmp / 'gunicorn.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/api/ping", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not answer in time")

    def workers(self) -> list[int]:
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds used so far by the worker processes (Linux /proc), else None."""
        total, tick = 0, os.sysconf("SC_CLK_TCK")
        pids = self.workers()
        if not pids:
            return None
        try:
            for pid in pids:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            return None
        return total / tick

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _post(base: str, token: str) -> tuple[int, dict]:
    req = urllib.request.Request(base + "/api/ecard/tokens", data=b"{}", method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def sanity(base: str, tokens: list[str]) -> dict:
    """A few issuances through the server verify with the key set it publishes."""
    from ecard.qr import qr_version
    from ecard.verify import Verifier

    with urllib.request.urlopen(base + "/.well-known/jwks.json", timeout=10) as r:
        verifier = Verifier(json.loads(r.read()))
    sizes = []
    for token in tokens[:: max(1, len(tokens) // 40)]:
        status, body = _post(base, token)
        assert status == 200, (status, body)
        result = verifier.verify(body["token"])
        assert result.ok, result
        sizes.append((len(body["token"]), qr_version(body["token"])))
    return {"checked": len(sizes), "chars_median": statistics.median(s[0] for s in sizes),
            "chars_max": max(s[0] for s in sizes), "qr_version_max": max(s[1] for s in sizes),
            "qr_version_median": statistics.median(s[1] for s in sizes)}


_LUA = r"""
local tokens = {}
for line in io.lines("%(tokens)s") do
  if #line > 0 then tokens[#tokens + 1] = line end
end
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 97)
end
function init(args)
  i = offset or 0
end
function request()
  i = i + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[(i %% #tokens) + 1]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/ecard/tokens", headers, "{}")
end
"""


def _parse_wrk(out: str) -> tuple[float, int, int]:
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if found is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    rate = float(found[1])
    total = int(re.search(r"(\d+) requests in", out)[1])
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors:.*?read (\d+), write (\d+), timeout (\d+)", out)
    n_bad = int(bad[1]) if bad else 0
    # write errors and timeouts count; "read" errors are the sync workers closing each connection
    n_err = sum(map(int, errors.groups()[1:])) if errors else 0
    return rate, total, n_bad + n_err


class Wrk:
    name = "wrk"

    def __init__(self, tmp: Path, base: str, connections: int, tokens_file: Path):
        self.base, self.c = base, connections
        self.script = tmp / "issue.lua"
        self.script.write_text(_LUA % {"tokens": tokens_file})

    def run(self, endpoint: str, seconds: float) -> tuple[float, int, int]:
        cmd = ["wrk", "-t", "1", "-c", str(self.c), "-d", f"{seconds}s", "--timeout", "10s"]
        if endpoint == "issue":
            cmd += ["-s", str(self.script), self.base + "/api/ecard/tokens"]
        else:
            cmd += [self.base + "/api/ping"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
        return _parse_wrk(proc.stdout + proc.stderr)


def _py_worker(args) -> tuple[int, int]:
    import http.client

    base_port, endpoint, tokens, offset, seconds = args
    ok = bad = 0
    i = offset
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=10)
        try:
            if endpoint == "issue":
                i += 1
                conn.request("POST", "/api/ecard/tokens", body=b"{}", headers={
                    "Authorization": "Bearer " + tokens[i % len(tokens)], "Content-Type": "application/json"})
            else:
                conn.request("GET", "/api/ping")
            resp = conn.getresponse()
            resp.read()
            ok += resp.status == 200
            bad += resp.status != 200
        except OSError:
            bad += 1
        finally:
            conn.close()
    return ok, bad


class PyLoad:
    name = "python"

    def __init__(self, port: int, tokens: list[str], processes: int):
        self.port, self.tokens, self.n = port, tokens, processes
        self.pool = multiprocessing.get_context("fork").Pool(processes)

    def run(self, endpoint: str, seconds: float) -> tuple[float, int, int]:
        start = time.perf_counter()
        res = self.pool.map(_py_worker, [(self.port, endpoint, self.tokens, k * 97, seconds) for k in range(self.n)])
        elapsed = time.perf_counter() - start
        ok, bad = sum(r[0] for r in res), sum(r[1] for r in res)
        return ok / elapsed, ok + bad, bad


def _db_stamp(tmp: Path) -> tuple:
    out = []
    for name in ("ssc.sqlite3", "ssc.sqlite3-wal"):
        try:
            st = os.stat(tmp / name)
            out.append((name, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            out.append((name, None, None))
    return tuple(out)


def http(rounds: int, seconds: float, residents: int, connections: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="ecard-bench-"))
    server = None
    try:
        t = time.perf_counter()
        tokens, info = seed(tmp, residents)
        log(f"http: demo SQLite database in {tmp}: {residents} residents seeded in {info['seconds']} s; "
            f"{info['holders']} can get an e-card token (cycled over), {info['no_token']} cannot")
        server = Server(tmp)
        server.wait()
        checks = sanity(server.base, tokens)
        log(f"  gunicorn -w 2 wsgi:app at {server.base}; {checks['checked']} issued tokens verified against "
            f"the served jwks; app tokens {checks['chars_median']:.0f} chars (max {checks['chars_max']}), QR version "
            f"median {checks['qr_version_median']:.0f}, max {checks['qr_version_max']} at level M")
        if shutil.which("wrk"):
            load = Wrk(tmp, server.base, connections, tmp / "access-tokens.txt")
            log(f"  load generator: wrk (1 thread, {connections} connections; Lua script rotating "
                f"Authorization over {len(tokens)} residents)")
        else:
            load = PyLoad(server.port, tokens, connections)
            log(f"  load generator: python ({connections} processes; wrk not installed)")
        # Warm-up: imports, connection pools, and each worker's first verification of every access token.
        load.run("ping", 1)
        load.run("issue", 3)
        stamp = _db_stamp(tmp)
        rates: dict[str, list[float]] = {"ping": [], "issue": []}
        cpu: dict[str, list[float]] = {"ping": [], "issue": []}  # worker CPU microseconds per request
        bad = 0
        for r in range(rounds):
            order = ("ping", "issue") if r % 2 == 0 else ("issue", "ping")
            for endpoint in order:
                before = server.cpu_seconds()
                rate, total, errors = load.run(endpoint, seconds)
                after = server.cpu_seconds()
                bad += errors
                rates[endpoint].append(rate)
                if before is not None and after is not None and total:
                    cpu[endpoint].append((after - before) / total * 1e6)
            ping, issue = rates["ping"], rates["issue"]
            log(f"  round {r + 1}: ping {ping[-1]:7.0f} req/s   issue {issue[-1]:7.0f} req/s   "
                f"ratio {issue[-1] / ping[-1]:.3f}")
        writes = _db_stamp(tmp) != stamp
        ping, issue = rates["ping"], rates["issue"]
        med_ping, med_issue = statistics.median(ping), statistics.median(issue)
        ratio = med_issue / med_ping
        paired = statistics.median(i / p for i, p in zip(issue, ping))
        log(f"  medians: ping {med_ping:.0f} req/s, issue {med_issue:.0f} req/s -> http_issue_ratio {ratio:.3f} "
            f"(target >= 0.5; median of the per-round ratios {paired:.3f})")
        if cpu["ping"] and cpu["issue"]:
            cp, ci = statistics.median(cpu["ping"]), statistics.median(cpu["issue"])
            log(f"  gunicorn workers' CPU per request (less sensitive to other load on the machine): ping {cp:.0f} us, "
                f"issue {ci:.0f} us -> {cp / ci:.3f}")
        log(f"  non-200 answers or socket errors: {bad}; database files changed while tokens were issued: "
            f"{'YES' if writes else 'no'}")
        log(f"  (whole HTTP part {time.perf_counter() - t:.0f} s)")
        if isinstance(load, PyLoad):
            load.pool.terminate()
        return {"ping_per_s": round(med_ping), "issue_per_s": round(med_issue), "http_issue_ratio": round(ratio, 3),
                "paired_ratio": round(paired, 3), "errors": bad, "db_written": writes, "load": load.name}
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="E-card benchmark: core ratios and HTTP issuance ratio.")
    parser.add_argument("--rounds", type=int, default=7, help="core rounds")
    parser.add_argument("--n", type=int, default=3000, help="tokens per core round")
    parser.add_argument("--http-rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=3, help="seconds per HTTP measurement")
    parser.add_argument("--residents", type=int, default=300)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    c = core(args.rounds, args.n)
    h = None if args.no_http else http(args.http_rounds, args.seconds, args.residents, args.connections)
    log(f"total {time.perf_counter() - start:.0f} s")
    print(json.dumps({"token_chars": c["token_chars"], "qr_version": c["qr_version_M"],
                      "verify_ratio": c["verify_ratio"], "sign_ratio": c["sign_ratio"],
                      "http_issue_ratio": h["http_issue_ratio"] if h else None}), flush=True)


if __name__ == "__main__":
    main()
