"""Audited writes per second with 8 concurrent writers (issue 18). A chain's head row serialises the audited
transactions appending to it (``audit_head`` is locked FOR UPDATE until commit): with one chain
(``AUDIT_CHAINS=1``, the design before issue 18) every audited transaction queues on it; with several (the
default, 16) each transaction takes a chain no other one holds. Each writer is a process with its own
connection committing one transaction per audited write (``app.services.audit.record``, as a counter's read
does); the baseline is the same transactions writing the same row into an unchained copy of the table,
measured in the same run, so the ratios are the cost of the chain alone.

    nice -n 10 .venv/bin/python bench/audit_chain.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/h_scale_small \
        --instance /tmp/ssc-scale-small --writers 8 --seconds 10
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _writer(url: str, instance: str, mode: str, chains: int, seconds: float, start, out) -> None:
    from sqlalchemy import text

    from app.extensions import db
    from app.models.enums import Channel, Role
    from app.services import audit
    from app.services.actor import Actor
    from bench.seed import make_app

    app = make_app(url, Path(instance))
    app.config["AUDIT_CHAINS"] = chains
    actor = Actor(role=Role.AGENCY_CLERK, channel=Channel.AGENCY, user_id=1)
    done = 0
    with app.app_context():
        start.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            if mode == "chain":
                audit.record(db.session, actor, "read.person", person_id=done + 1, subject="bench")
            else:
                db.session.execute(text("INSERT INTO bench_unchained (at, action, person_id) "
                                        "VALUES (now(), 'read.person', :p)"), {"p": done + 1})
            db.session.commit()
            done += 1
    out.put(done)


def measure(url: str, instance: str, mode: str, chains: int, writers: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, instance, mode, chains, seconds, start, out))
             for _ in range(writers)]
    for p in procs:
        p.start()
    time.sleep(20)  # every process has built its app (slow on a loaded machine)
    start.set()
    total = sum(out.get(timeout=seconds + 300) for _ in procs)
    for p in procs:
        p.join()
    return total / seconds


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--instance", required=True)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--chains", type=int, default=16, help="AUDIT_CHAINS of the several-chains runs")
    a = ap.parse_args()
    import psycopg

    raw = a.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw, autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS bench_unchained (id bigserial PRIMARY KEY, at timestamptz, "
                  "action varchar(40), person_id int)")
    res = {}
    runs = {"unchained": ("unchained", 1, a.writers), "one_chain": ("chain", 1, a.writers),
            "chains": ("chain", a.chains, a.writers), "chains_1writer": ("chain", a.chains, 1)}
    for name, (mode, chains, n) in runs.items():
        res[name] = measure(a.database_url, a.instance, mode, chains, n, a.seconds)
        print(f"{name:<15} {n} writer(s), {chains:>2} chain(s): {res[name]:8.1f} audited commits/s", flush=True)
    with psycopg.connect(raw, autocommit=True) as c:
        c.execute("DROP TABLE bench_unchained")
    print(f"with {a.writers} writers: {a.chains} chains ÷ unchained {res['chains'] / res['unchained']:.2f}, "
          f"one chain ÷ unchained {res['one_chain'] / res['unchained']:.2f}, "
          f"{a.chains} chains ÷ one chain {res['chains'] / res['one_chain']:.2f}")
    print(json.dumps({k: round(v, 1) for k, v in res.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
