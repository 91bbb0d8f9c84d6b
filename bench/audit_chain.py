"""Audited writes per second with 8 concurrent writers (issue 18): the audit chain's head row serialises every
audited transaction (``audit_head`` is locked FOR UPDATE until commit). Each writer is a process with its own
connection committing one transaction per audited write (``app.services.audit.record``, as a counter's read
does); the baseline is the same transactions writing the same row into an unchained copy of the table,
measured in the same run, so the ratio is the cost of the chain's serialisation alone.

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


def _writer(url: str, instance: str, mode: str, seconds: float, start, out) -> None:
    from sqlalchemy import text

    from app.extensions import db
    from app.models.enums import Channel, Role
    from app.services import audit
    from app.services.actor import Actor
    from bench.seed import make_app

    app = make_app(url, Path(instance))
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


def measure(url: str, instance: str, mode: str, writers: int, seconds: float) -> float:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(url, instance, mode, seconds, start, out)) for _ in range(writers)]
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
    a = ap.parse_args()
    import psycopg

    raw = a.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw, autocommit=True) as c:
        c.execute("CREATE TABLE IF NOT EXISTS bench_unchained (id bigserial PRIMARY KEY, at timestamptz, "
                  "action varchar(40), person_id int)")
    res = {}
    for mode in ("unchained", "chain", "chain_1writer"):
        n = 1 if mode == "chain_1writer" else a.writers
        res[mode] = measure(a.database_url, a.instance, "chain" if mode.startswith("chain") else mode, n, a.seconds)
        print(f"{mode:<15} {n} writer(s): {res[mode]:8.1f} audited commits/s", flush=True)
    with psycopg.connect(raw, autocommit=True) as c:
        c.execute("DROP TABLE bench_unchained")
    print(f"chain ÷ unchained with {a.writers} writers: {res['chain'] / res['unchained']:.2f}; "
          f"{a.writers} writers ÷ 1 writer on the chain: {res['chain'] / res['chain_1writer']:.2f}")
    print(json.dumps({k: round(v, 1) for k, v in res.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
