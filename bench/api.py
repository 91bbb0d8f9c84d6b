"""The real server under a realistic counter mix (issue 18): gunicorn (2+ workers) on a database loaded by
bench/seed.py, driven over loopback by wrk (one wrk process per endpoint, all at once, each with its own Lua
request list), for a bounded time.

    nice -n 10 .venv/bin/python bench/api.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/h_scale \
        --instance /tmp/ssc-scale-1m --duration 30 --out /tmp/api-1m.json
    .venv/bin/python bench/api.py --compare /tmp/api-100k.json /tmp/api-1m.json

Endpoints: lookup by ID document, status inquiry, card page read, loss registration, reissue, e-card token
issuance, the overdue list, an audit query, and a trivial endpoint (``/api/ping``) in the same run as the
baseline. Each endpoint's wrk has the same number of connections, so ``÷ ping`` compares equals. Writes use
each card once (a loss registration takes an active card, a reissue a card whose loss is registered).
``--rate R`` sends the mix as an open loop instead: requests arrive at R per second in all, an equal share
per endpoint, each latency counted from when its request was due (latency under a load the machine can
carry, with no coordinated omission); ``--repeat K`` runs it K times and reports each percentile's median.
``--alone`` runs them one after the other instead (each endpoint's own latency, without the queue behind the
other eight on a machine whose cores the mix saturates). Prints throughput and p50/p95/p99 per endpoint; the
last line is one JSON object keyed by endpoint.
Tokens are minted in this process as the app mints them (``app.auth.tokens``), so no login is measured.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent

LUA = r"""
local lines = {}
local i = 0
function init(args)
  for line in io.lines(args[1]) do
    local m, p, a, im, b = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    local h = {["Authorization"] = a ~= "" and ("Bearer " .. a) or nil}
    if im ~= "" then h["If-Match"] = im end
    if b ~= "" then h["Content-Type"] = "application/json" end
    lines[#lines + 1] = wrk.format(m, p, h, b ~= "" and b or nil)
  end
end
function request()
  i = i + 1
  if i > #lines then i = 1 end
  return lines[i]
end
function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %d}\n', summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""

ENDPOINTS = ["ping", "lookup", "status", "card_page", "loss_registration", "reissue", "ecard_token",
             "overdue_list", "audit_query"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(app, n_reads: int, n_writes: int, seed: int) -> dict[str, list[tuple[str, str, str, str, str]]]:
    """Request lists per endpoint: (method, path, token, If-Match, body)."""
    from sqlalchemy import text

    from app.auth import tokens
    from app.extensions import db
    from app.models import StaffUser
    from bench.seed import id_number

    rng = random.Random(seed)
    with app.test_request_context():
        s = db.session
        staff = {u.username: u for u in s.scalars(db.select(StaffUser))}
        tellers = {}
        for u in staff.values():
            if u.role == "bank_teller":
                tellers.setdefault(u.bank_id, u)
        tok = {name: tokens.issue_staff(staff[name])["access_token"] for name in ("sscc.clerk1", "hrss.audit")}
        teller_tok = {bank: tokens.issue_staff(u)["access_token"] for bank, u in tellers.items()}
        banks = list(tellers)

        def cards(status: str, k: int):
            """k cards in ``status`` spread over the table (a 5% sample of its pages), or all there are."""
            params = {"st": status, "b": banks, "k": k}
            spread = s.execute(text("SELECT id, person_id, bank_id, version FROM cards TABLESAMPLE SYSTEM (5) "
                                    "WHERE status = :st AND bank_id = ANY(:b) LIMIT :k"), params).all()
            return spread if len(spread) == k else s.execute(text(
                "SELECT id, person_id, bank_id, version FROM cards WHERE status = :st AND bank_id = ANY(:b) LIMIT :k"),
                params).all()

        active = cards("active", n_reads + n_writes)
        rng.shuffle(active)
        reads, losses = active[:n_reads], active[n_reads:]
        lost = cards("loss_registered", n_writes)
        residents = reads[:200]
        resident_tok = {pid: tokens.issue_resident(pid)["access_token"] for _c, pid, _b, _v in residents}
        s.commit()
        top = s.scalar(text("SELECT max(id) FROM persons"))
    clerk, auditor = tok["sscc.clerk1"], tok["hrss.audit"]
    lookups = [("POST", "/api/persons/lookup", clerk, "",
                json.dumps({"doc_type": "resident_id", "doc_number": id_number(rng.randint(1, top))[0]}))
               for _ in range(n_reads)]
    return {
        "ping": [("GET", "/api/ping", "", "", "")],
        "lookup": lookups,
        "status": [("GET", f"/api/cards/{c}/status", teller_tok[b], "", "") for c, _p, b, _v in reads],
        "card_page": [("GET", f"/api/cards/{c}", teller_tok[b], "", "") for c, _p, b, _v in reversed(reads)],
        "loss_registration": [("POST", f"/api/cards/{c}/loss-registration", teller_tok[b], f'"{c}.{v}"',
                               '{"id_verified": true}') for c, _p, b, v in losses],
        "reissue": [("POST", f"/api/cards/{c}/reissue", teller_tok[b], f'"{c}.{v}"',
                     '{"id_verified": true, "delivery_method": "pickup"}') for c, _p, b, v in lost],
        "ecard_token": [("POST", "/api/ecard/tokens", resident_tok[p], "", "{}") for _c, p, _b, _v in residents],
        "overdue_list": [("GET", "/api/applications/deadlines?page_size=50", clerk, "", "")],
        "audit_query": [("GET", f"/api/audit/?person_id={p}&newest_first=true", auditor, "", "")
                        for _c, p, _b, _v in reads],
    }


def paced(port: int, lists: dict, rate: float, duration: int, seed: int, used: dict | None = None) -> dict:
    """The mix as an open loop: requests arrive at ``rate`` per second in all (Poisson, an equal share per
    endpoint), whether or not the earlier ones are answered, and each latency is counted from the moment its
    request was due, not from when a client got round to sending it (no coordinated omission). Results in the
    shape of the wrk script's."""
    import http.client
    import threading
    from concurrent.futures import ThreadPoolExecutor

    rng = random.Random(seed)
    due = []
    used = {} if used is None else used  # rows each endpoint sent in earlier runs: writes are never sent twice
    for name in ENDPOINTS:
        t, i = rng.expovariate(rate / len(ENDPOINTS)), used.get(name, 0)
        while t < duration:
            due.append((t, name, lists[name][i % len(lists[name])]))
            t, i = t + rng.expovariate(rate / len(ENDPOINTS)), i + 1
        used[name] = i
    due.sort(key=lambda d: d[0])
    local = threading.local()
    out = {name: [] for name in ENDPOINTS}  # (latency s, status)

    def send(at: float, name: str, row) -> None:
        method, path, token, if_match, body = row
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if if_match:
            headers["If-Match"] = if_match
        if body:
            headers["Content-Type"] = "application/json"
        def on(conn) -> int:
            local.conn = conn
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            resp.read()
            return resp.status

        def dial():
            return http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        try:
            kept = getattr(local, "conn", None)
            try:
                status = on(kept or dial())
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if kept is None:
                    raise
                status = on(dial())  # as any HTTP client: a kept-alive connection the server closed is redialled
        except OSError:
            local.conn, status = None, 0
        out[name].append((time.perf_counter() - at, status))

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for t, name, row in due:
            wait = began + t - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            pool.submit(send, began + t, name, row)
    results = {}
    for name, got in out.items():
        lat = sorted(x for x, _ in got) or [0.0]

        def pct(q):
            return int(lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6)
        results[name] = {"requests": len(got), "duration_us": int(duration * 1e6),
                         "non2xx": sum(1 for _, st in got if st and not 200 <= st < 300),
                         "socket_errors": sum(1 for _, st in got if st == 0), "p50_us": pct(0.50),
                         "p95_us": pct(0.95), "p99_us": pct(0.99), "mean_us": int(sum(lat) / len(lat) * 1e6)}
    return results


def merge_runs(runs: list[dict]) -> dict:
    """Several runs of the same mix as one result: each percentile the median of the runs' (the machine is
    shared and noisy), counts summed, and every run's p95 kept (``p95_runs_us``) to show the spread."""
    from statistics import median

    if len(runs) == 1:
        return runs[0]
    merged = {}
    for name in runs[0]:
        rs = [r[name] for r in runs]
        merged[name] = {k: sum(r[k] for r in rs) for k in ("requests", "duration_us", "non2xx", "socket_errors")}
        merged[name].update({k: int(median(r[k] for r in rs)) for k in ("p50_us", "p95_us", "p99_us", "mean_us")})
        merged[name]["p95_runs_us"] = [r["p95_us"] for r in rs]
    return merged


def run(a) -> dict:
    from bench.seed import make_app

    wrk = shutil.which("wrk")
    if not wrk:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    app = make_app(a.database_url, a.instance)
    with app.app_context():
        from app.extensions import db

        cardholders = db.session.scalar(db.text("SELECT count(*) FROM persons"))
    lists = prepare(app, a.reads, a.writes, a.seed)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": a.database_url, "SSC_INSTANCE_DIR": str(a.instance),
           "SSC_PRIVACY_KEY_FILE": str(a.instance / "privacy-keys.json"),
           "SSC_ECARD_KEY_DIR": str(a.instance / "ecard-keys"), "PYTHONPATH": str(ROOT)}
    tmp = Path(tempfile.mkdtemp(prefix="ssc-api-bench-"))
    (tmp / "mix.lua").write_text(LUA)
    for name, rows in lists.items():
        (tmp / f"{name}.tsv").write_text("".join("\t".join(r) + "\n" for r in rows))
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-w", str(a.workers), "-k", "gthread", "--threads", str(a.threads),
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(tmp / "gunicorn.log", "w"),
        start_new_session=True)
    procs = {}
    try:
        deadline = time.time() + 120
        while True:  # the master listens before its workers have built the app: wait for real answers
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit(f"gunicorn did not start: {(tmp / 'gunicorn.log').read_text()[-2000:]}")
            time.sleep(0.5)
        # Warm every worker's caches (the card pages' templates, the e-card issuer, the connection pools).
        subprocess.run([wrk, "-t1", f"-c{a.workers * a.threads}", "-d5s", "-s", str(tmp / "mix.lua"),
                        f"http://127.0.0.1:{port}", "--", str(tmp / "status.tsv")], capture_output=True, timeout=60)
        def start(name):
            procs[name] = subprocess.Popen(
                [wrk, "-t1", f"-c{a.connections}", f"-d{a.duration}s", "--timeout", "10s", "-s", str(tmp / "mix.lua"),
                 f"http://127.0.0.1:{port}", "--", str(tmp / f"{name}.tsv")],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

        def result(name):
            out, _ = procs[name].communicate(timeout=a.duration + 60)
            line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(f"wrk for {name} gave no result:\n{out}")
            return json.loads(line[7:])

        results = {}
        if a.rate:  # the mix at a set arrival rate, below what the machine can serve
            used: dict = {}
            runs = [paced(port, lists, a.rate, a.duration, a.seed + k, used) for k in range(a.repeat)]
            results = merge_runs(runs)
        elif a.alone:  # one endpoint at a time: its own latency, not the queue behind the others
            for name in ENDPOINTS:
                start(name)
                results[name] = result(name)
        else:  # the mix: every endpoint at once
            for name in ENDPOINTS:
                start(name)
            results = {name: result(name) for name in ENDPOINTS}
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    print(json.dumps(results), file=sys.stderr)
    base = results["ping"]["requests"] / (results["ping"]["duration_us"] / 1e6) or float("nan")
    report = {"_run": {"cardholders": cardholders, "workers": a.workers, "threads": a.threads,
                       "connections_per_endpoint": a.connections, "duration_s": a.duration, "alone": a.alone,
                       "rate": a.rate, "repeat": a.repeat if a.rate else 1,
                       "load_average": round(os.getloadavg()[0], 1)}}
    print(f"{cardholders:,} cardholders; gunicorn {a.workers} workers x {a.threads} threads; "
          f"{a.connections} connection(s) per endpoint, "
          f"{f'the mix arriving at {a.rate:g} requests/s in all' if a.rate else 'one endpoint at a time' if a.alone else f'all {len(ENDPOINTS)} at once'}"
          f" for {a.duration} s each"
          f"{f', {a.repeat} runs (median of each percentile)' if a.rate and a.repeat > 1 else ''} "
          f"(load average {os.getloadavg()[0]:.1f})")
    print(f"{'endpoint':<20}{'req/s':>9}{'÷ ping':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
          f"{'  p95 ms of each run' if a.rate and a.repeat > 1 else ''}")
    for name in ENDPOINTS:
        r = results[name]
        rps = r["requests"] / (r["duration_us"] / 1e6)
        report[name] = {"rps": round(rps, 1), "ratio_to_ping": round(rps / base, 3),
                        "p50_ms": round(r["p50_us"] / 1000, 1), "p95_ms": round(r["p95_us"] / 1000, 1),
                        "p99_ms": round(r["p99_us"] / 1000, 1), "requests": r["requests"],
                        "non2xx": r["non2xx"], "socket_errors": r["socket_errors"]}
        if "p95_runs_us" in r:
            report[name]["p95_runs_ms"] = [round(v / 1000, 1) for v in r["p95_runs_us"]]
        x = report[name]
        print(f"{name:<20}{x['rps']:>9.1f}{x['ratio_to_ping']:>8.3f}{x['p50_ms']:>9.1f}{x['p95_ms']:>9.1f}"
              f"{x['p99_ms']:>9.1f}{x['non2xx']:>9}  {' '.join(f'{v:g}' for v in x.get('p95_runs_ms', []))}")
    shutil.rmtree(tmp, ignore_errors=True)
    return report


def compare(small: Path, big: Path) -> None:
    s, b = json.loads(small.read_text()), json.loads(big.read_text())
    print(f"p95 at {b['_run']['cardholders']:,} ÷ p95 at {s['_run']['cardholders']:,} cardholders (target ≤ 1.5)")
    out = {}
    for name in ENDPOINTS:
        out[name] = round(b[name]["p95_ms"] / s[name]["p95_ms"], 2) if s[name]["p95_ms"] else None
        print(f"{name:<20}{s[name]['p95_ms']:>9.1f}{b[name]['p95_ms']:>9.1f}{out[name]:>8}")
    print(json.dumps(out))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    ap.add_argument("--instance", type=Path, default=Path(os.environ.get("SSC_INSTANCE_DIR", "/tmp/ssc-bench")))
    ap.add_argument("--duration", type=int, default=30, help="seconds of load")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--connections", type=int, default=1, help="per endpoint")
    ap.add_argument("--rate", type=float, default=0,
                    help="requests/s in all: the mix as an open loop at this arrival rate (latency under a load the "
                         "machine can carry), instead of wrk's closed loop")
    ap.add_argument("--repeat", type=int, default=1,
                    help="with --rate: run the paced mix this many times on the same server and report each "
                         "percentile's median over the runs")
    ap.add_argument("--alone", action="store_true",
                    help="run the endpoints one after the other instead of all at once (latency without the mix's queue)")
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--writes", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("SMALL.json", "BIG.json"))
    a = ap.parse_args(argv)
    if a.compare:
        compare(*a.compare)
        return 0
    if not a.database_url:
        ap.error("--database-url (or DATABASE_URL) is required")
    report = run(a)
    if a.out:
        a.out.write_text(json.dumps(report))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
