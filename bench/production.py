"""Production batch benchmark, one command: ``.venv/bin/python bench/production.py [--cards N] [--rounds R]``.

A temporary SQLite database with N accepted cards (through the real lifecycle), one batch of them, then,
per round: the factory's rows read and audited (``export_rows``, the baseline: the reveal audit entries
and decryption every export needs), the CSV export, the XLSX export, and the check of an import file of
all N cards (``check_rows``) — each a median over the rounds, with its ratio to the baseline measured in
the same run. Last, the whole import once (every card through ``finish_production``), per card.
The LAST line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cards", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    from argon2 import PasswordHasher

    from app import create_app
    from app.extensions import db
    from app.models.enums import CardStatus
    from app.services import hashing, production
    from tests.factories import World

    hashing.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    tmp = Path(tempfile.mkdtemp(prefix="bench-production-"))
    app = create_app({"TESTING": True, "INSTANCE_DIR": tmp, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/b.sqlite3",
                      "PRIVACY_KEY_FILE": tmp / "keys.json", "ECARD_KEY_DIR": tmp / "ecard", "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.create_all()
        s = db.session
        world = World.build(s)
        cards = [world.card(CardStatus.ACCEPTED) for _ in range(args.cards)]
        batch = production.create_batch(s, world.clerk)
        s.commit()
        data = ("card_number\n" + "\n".join(c.number for c in cards) + "\n").encode()

        def timed(fn) -> float:
            t = time.perf_counter()
            fn()
            s.rollback()  # the audit entries of a round are not kept: every round starts alike
            return time.perf_counter() - t

        steps = {
            "export_rows": lambda: production.export_rows(s, world.clerk, batch.id),
            "export_csv": lambda: production.export_batch(s, world.clerk, batch.id, "csv"),
            "export_xlsx": lambda: production.export_batch(s, world.clerk, batch.id, "xlsx"),
            "check_import": lambda: production.check_rows(s, batch, production.read_table(data)),
        }
        timed(steps["export_csv"])  # warm-up
        times: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.rounds):  # the steps alternate, so drift affects them alike
            for name, fn in steps.items():
                times[name].append(timed(fn))
        med = {name: statistics.median(v) for name, v in times.items()}
        t = time.perf_counter()
        result = production.import_produced(s, world.clerk, batch.id, data)
        s.commit()
        import_s = time.perf_counter() - t
        assert len(result.produced) == args.cards
    out = {"cards": args.cards, "rounds": args.rounds,
           **{f"{k}_ms": round(v * 1000, 1) for k, v in med.items()},
           **{f"{k}_ratio": round(v / med["export_rows"], 2) for k, v in med.items() if k != "export_rows"},
           "import_ms_per_card": round(import_s * 1000 / args.cards, 2)}
    for k, v in out.items():
        print(f"{k:>24}: {v}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
