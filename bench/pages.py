"""Back office page benchmark: ``.venv/bin/python bench/pages.py [--residents 300] [--rounds 7] [--n 30]``.

Server time per request, measured in-process through the Flask test client (no network, no browser),
on a demo database of the demo's size (``app.demo.Seeder``, as ``flask demo seed`` makes it) in a
temporary SQLite file:

* ``dashboard``: ``GET /`` as the issuing agency's clerk (every panel: deadlines, acceptance, pickup,
  corrections) and as a bank teller (today's counter, pickups);
* ``holder``: ``GET /desk/holders/<id>`` as the clerk, cycling over the holders with the most events
  (masked data, cards, accounts, timeline; four audit entries per view, Art. 16);
* ``trivial``: ``GET /login`` of the same app in the same run (a template, no query): the baseline.

Each round times ``--n`` requests of each kind, alternated; the medians of the per-round means are
printed, and each page's ratio to the trivial page. Not a test: no threshold, nothing asserted but
that every answer is 200. The LAST line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _login(client, username: str, password: str) -> None:
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    resp = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()

    from argon2 import PasswordHasher

    from app.services import hashing

    hashing.configure(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    from sqlalchemy import func, select

    from app import create_app
    from app.demo import Seeder
    from app.extensions import db
    from app.models import CardEvent, StaffUser
    from app.models.enums import Role
    from app.services.hashing import hash_password

    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    app = create_app({"INSTANCE_DIR": tmp, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'demo.sqlite3'}",
                      "PRIVACY_KEY_FILE": tmp / "keys.json", "ECARD_KEY_DIR": tmp / "ecard-keys",
                      "RATELIMIT_ENABLED": False, "WEB_IDLE_MINUTES": 600})
    with app.app_context():
        db.create_all()
        t = time.perf_counter()
        Seeder(db.session, residents=args.residents, seed=42, echo=lambda *a, **k: None).seed_all()
        db.session.commit()
        seeded = time.perf_counter() - t
        users = {}
        for role in (Role.AGENCY_CLERK, Role.BANK_TELLER):
            user = db.session.scalars(select(StaffUser).where(StaffUser.role == role).order_by(StaffUser.id)).first()
            user.password_hash = hash_password("bench-pw")
            users[role] = user.username
        busiest = [pid for pid, _ in db.session.execute(
            select(CardEvent.person_id, func.count()).group_by(CardEvent.person_id)
            .order_by(func.count().desc()).limit(20))]
        db.session.commit()

    clerk, teller, anon = app.test_client(), app.test_client(), app.test_client()
    _login(clerk, users[Role.AGENCY_CLERK], "bench-pw")
    _login(teller, users[Role.BANK_TELLER], "bench-pw")

    def timed(client, paths) -> float:
        began = time.perf_counter()
        for i in range(args.n):
            resp = client.get(paths[i % len(paths)])
            assert resp.status_code == 200, (paths[i % len(paths)], resp.status_code)
        return (time.perf_counter() - began) / args.n

    kinds = {
        "trivial": (anon, ["/login"]),
        "dashboard_clerk": (clerk, ["/"]),
        "dashboard_teller": (teller, ["/"]),
        "holder": (clerk, [f"/desk/holders/{pid}" for pid in busiest]),
    }
    for client, paths in kinds.values():  # warm-up: templates compiled, caches filled
        timed(client, paths)
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.rounds):
        for name, (client, paths) in kinds.items():
            samples[name].append(timed(client, paths))
    med = {k: statistics.median(v) for k, v in samples.items()}
    result = {"residents": args.residents, "seed_seconds": round(seeded, 1),
              **{f"{k}_ms": round(v * 1000, 2) for k, v in med.items()},
              **{f"{k}_ratio": round(v / med["trivial"], 1) for k, v in med.items() if k != "trivial"}}
    for k, v in med.items():
        print(f"{k:18s} median {v * 1000:8.2f} ms/request" +
              ("" if k == "trivial" else f"   ×{v / med['trivial']:.1f} the trivial page"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
