"""Load N synthetic cardholders into PostgreSQL fast (issue 18): cards in every state, their applications,
events, settlement accounts and audit entries, through COPY (psycopg 3), in batches.

Personal data is encrypted and blind-indexed exactly as the application does it: each value goes through
the model column's own type (``EncryptedText("person.name").process_bind_param``, i.e. the process-wide
``FieldCipher`` of app.privacy with the column's context) and the blind indexes through
``app.privacy.blind_index`` / ``people.document_index``, with the keys of the instance directory the server
will use. ID numbers are GB 11643 numbers with the check character of ``documents.mod11_2_check_char``,
one in every thousand re-checked with ``documents.validate_document``. The audit entries form a valid keyed
chain (``audit_chain.entry_hash``) ending at the head row, so ``flask audit verify`` passes.

    nice -n 10 .venv/bin/python bench/seed.py --n 100000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/h_scale --instance /tmp/ssc-bench --reset

Organisations and staff come from the demo seeder (``app.demo.Seeder``); their passwords are written to
``<instance>/bench-staff.json`` for bench/api.py. ``--workers K`` encrypts in K processes (the main one
COPYs); on 2 shared cores 1 is usually as fast.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, datetime, timedelta, timezone
from multiprocessing import get_context
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BATCH = 10_000
# A bijective scramble of person index -> (district, birth day, sequence): unique numbers, spread dates.
_DAYS = 29_200  # 80 years of birth dates
_SPACE = 11 * _DAYS * 1000
_MULT = 1_000_003  # prime, coprime with _SPACE
BIRTH_START = date(1940, 1, 1)

# Share of cardholders in each story (sums to 1): every card state appears.
# Share of cardholders in each story (sums to 1): every card state appears. Cards being made are a
# realistic few: ~350 new applications a working day per million holders, each running 12 working days.
STORIES = [
    ("active", 0.8795), ("issued", 0.02), ("loss_registered", 0.01), ("replacement_pending", 0.005),
    ("reissued", 0.04), ("replaced", 0.02), ("cancelled", 0.01), ("rejected", 0.002),
    ("applied", 0.001), ("accepted", 0.007), ("in_production", 0.003), ("produced", 0.0015),
    ("in_transit", 0.001),
]
RUNNING = ("accepted", "in_production", "produced", "in_transit")

PERSON_COLS = ("id", "doc_type", "doc_number", "doc_number_bidx", "ssn", "ssn_bidx", "name", "name_bidx",
               "ethnicity", "nationality", "sex", "phone", "phone_bidx", "address", "occupation", "eligibility",
               "eligible", "deceased_on", "created_at", "updated_at")
CARD_COLS = ("id", "number", "person_id", "status", "kind", "predecessor_id", "bank_id", "received_on",
             "activated_at", "ended_at", "pin_failures", "created_at", "updated_at", "version")
APP_COLS = ("id", "card_id", "person_id", "kind", "channel", "service_mode", "referral", "outlet_id",
            "replacement_reason", "quality_defect", "submitted_at", "accepted_on", "due_on", "due_provisional",
            "delivery_method", "delivery_address", "fee_fen", "rejection_reason", "running")
ACCOUNT_COLS = ("id", "person_id", "kind", "bank_id", "status", "suspended_at", "opened_at", "closed_at")
EVENT_COLS = ("id", "person_id", "card_id", "operation", "from_status", "to_status", "article", "channel",
              "actor_role", "outlet_id", "reason", "details", "created_at")
AUDIT_COLS = ("seq", "chain", "pos", "prev_hash", "hash", "at", "action", "actor_role", "actor_id", "person_id", "record")


def make_app(database_url: str, instance: Path):
    from app import create_app

    instance.mkdir(parents=True, exist_ok=True)
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_DIR": instance,
                       "PRIVACY_KEY_FILE": str(instance / "privacy-keys.json"),
                       "ECARD_KEY_DIR": str(instance / "ecard-keys"), "TESTING": True})


# ------------------------------------------------------------------ generation (pure, runs in any process)

class _Ctx:
    """What a generating process needs: the column types (encryption through app.privacy) and the org ids."""

    def __init__(self, orgs: dict):
        from app.models import CardApplication, Person

        t = Person.__table__.c
        self.enc = {c: t[c].type for c in ("doc_number", "ssn", "name", "ethnicity", "phone", "address")}
        self.enc_delivery = CardApplication.__table__.c.delivery_address.type
        self.orgs = orgs


_CTX: _Ctx | None = None


def _init_worker(key_file: str, orgs: dict) -> None:
    global _CTX
    from app.privacy import KeyRing, configure

    configure(KeyRing.load(key_file))
    _CTX = _Ctx(orgs)


def id_number(i: int) -> tuple[str, date, bool]:
    """The i-th synthetic citizen ID number (GB 11643-1999), with the project's MOD 11-2 check character."""
    from app.demo import DISTRICT_CODES
    from app.services.documents import mod11_2_check_char

    k = (i * _MULT) % _SPACE
    region = list(DISTRICT_CODES.values())[k % 11]
    born = BIRTH_START + timedelta(days=(k // 11) % _DAYS)
    seq = k // (11 * _DAYS)
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + mod11_2_check_char(first17), born, seq % 2 == 1


def generate(args: tuple[int, int, int, int, int, int]) -> dict:
    """Rows of one batch of persons [start, start + count), with ids from the given bases."""
    from app.demo import ESTATES, GIVEN_FEMALE, GIVEN_MALE, MOBILE_PREFIXES, STREETS, SURNAMES
    from app.privacy import blind_index
    from app.services.documents import validate_document
    from app.services.people import check_phone

    start, count, card_base, app_base, event_base, seed = args
    ctx = _CTX
    rng = Random(seed * 1_000_003 + start)
    now = datetime.now(timezone.utc)
    today = now.date()
    banks, outlets = ctx.orgs["banks"], ctx.orgs["outlets"]
    enc = {c: (lambda v, t=t: t.process_bind_param(v, None)) for c, t in ctx.enc.items()}
    districts = list(STREETS)
    persons, cards, apps, accounts, events, audits = [], [], [], [], [], []
    card_id, app_id, event_id = card_base, app_base, event_base
    names, weights = zip(*STORIES)
    for pid in range(start, start + count):
        number, born, male = id_number(pid)
        if pid % 1000 == 0:  # the project's own validator agrees with every number we make
            validate_document("resident_id", number, today=today)
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_MALE if male else GIVEN_FEMALE) + (
            rng.choice(GIVEN_MALE if male else GIVEN_FEMALE) if rng.random() < 0.85 else "")
        phone = check_phone(rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}")
        district = rng.choice(districts)
        address = (f"广州市{district}{rng.choice(STREETS[district])}{rng.randint(1, 600)}号"
                   f"{rng.choice(ESTATES)}{rng.randint(1, 30)}栋{rng.randint(1, 33)}{rng.randint(1, 8):02d}房")
        story = rng.choices(names, weights)[0]
        created = now - timedelta(days=rng.randint(30, 3000), seconds=rng.randint(0, 86_399))
        idx = blind_index("id_number", number)
        persons.append((pid, "resident_id", enc["doc_number"](number), idx, enc["ssn"](number), idx,
                        enc["name"](name), blind_index("name", name), enc["ethnicity"]("汉族"), "CHN",
                        "M" if male else "F", enc["phone"](phone), blind_index("phone", phone),
                        enc["address"](address), "退休人员" if born.year < 1964 else "职员",
                        "household_registration", story != "cancelled",
                        today - timedelta(days=5) if story == "cancelled" else None, created, created))
        bank = rng.choice(banks)
        outlet = rng.choice(outlets[str(bank)])

        def card(status, kind, at, predecessor=None, ended=None):
            nonlocal card_id, app_id
            card_id += 1
            app_id += 1
            serial = 2 * card_id
            from app.services.documents import card_number
            num = card_number(serial)
            if num.endswith("*"):
                num = card_number(serial + 1)
            issued = status in ("issued", "active", "loss_registered", "replacement_pending", "invalidated",
                                "replaced", "cancelled")
            cards.append((card_id, num, pid, status, kind, predecessor, bank,
                          (at + timedelta(days=14)).date() if issued else None,
                          at + timedelta(days=20) if issued and status != "issued" else None,
                          ended, 0, at, ended or at, 1))
            accepted = None if status in ("applied", "rejected") else at.date()
            due = None
            if accepted is not None:  # overdue for a few running ones, else within the next 3 weeks
                due = (today + timedelta(days=rng.randint(-3 if rng.random() < 0.05 else 0, 20))
                       if status in RUNNING else accepted + timedelta(days=16))
            apps.append((app_id, card_id, pid, kind, "outlet", "counter", "self", outlet, None, False, at,
                         accepted, due, False, "pickup", None, 0 if kind == "first" else 2000,
                         "not eligible (Art. 4)" if status == "rejected" else None,
                         status in ("accepted", "in_production")))  # deadlines.RUNNING: the deadline runs
            event(card_id, "apply", None, "applied", at, "Art. 7")
            if accepted is not None:
                event(card_id, "accept", "applied", "accepted", at + timedelta(hours=2), "Art. 10")
            if issued:
                event(card_id, "issue", "produced", "issued", at + timedelta(days=14), "Art. 12")
            return card_id

        def event(cid, op, old, new, at, article, reason=None):
            nonlocal event_id
            event_id += 1
            events.append((event_id, pid, cid, op, old, new, article, "outlet", "bank_teller", outlet, reason,
                           "{}", at))

        t0 = created
        if story in ("reissued", "replaced"):
            old = card("invalidated" if story == "reissued" else "replaced", "first", t0,
                       ended=t0 + timedelta(days=400))
            card("active", "reissue" if story == "reissued" else "replacement", t0 + timedelta(days=400),
                 predecessor=old)
        elif story == "replacement_pending":
            old = card("replacement_pending", "first", t0)
            card("accepted", "replacement", now - timedelta(days=rng.randint(0, 10)), predecessor=old)
        elif story == "cancelled":
            card("cancelled", "first", t0, ended=now - timedelta(days=2))
        elif story in RUNNING or story in ("applied", "rejected"):
            card(story, "first", now - timedelta(days=rng.randint(0, 12)) if story in RUNNING else t0)
        else:
            card(story, "first", t0)
        if story not in ("applied", "rejected") + RUNNING:
            suspended = story == "loss_registered"
            closed = story == "cancelled"
            status = "closed" if closed else "suspended" if suspended else "active"
            at = t0 + timedelta(days=20)
            accounts.append((None, pid, "medical", None, status, now if suspended else None, at,
                             now if closed else None))
            accounts.append((None, pid, "financial", bank, status, now if suspended else None, at,
                             now if closed else None))
        # One staff read on record per holder (the counter's lookup), plus a status inquiry for one in four.
        for action in ("read.person",) + (("read.card_status",) if rng.random() < 0.25 else ()):
            at = now - timedelta(days=rng.randint(0, 365), seconds=rng.randint(0, 86_399))
            audits.append((at, action, pid))
    return {"persons": persons, "cards": cards, "apps": apps, "accounts": accounts, "events": events,
            "audits": audits, "card_id": card_id, "app_id": app_id, "event_id": event_id}


# ------------------------------------------------------------------ loading (the main process)

COPY_SECONDS: dict[str, float] = {}


def _copy(cur, table: str, cols: tuple[str, ...], rows) -> int:
    t = time.perf_counter()
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    COPY_SECONDS[table] = COPY_SECONDS.get(table, 0.0) + time.perf_counter() - t
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="cardholders to add")
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"), required="DATABASE_URL" not in os.environ)
    ap.add_argument("--instance", type=Path, default=Path(os.environ.get("SSC_INSTANCE_DIR", "/tmp/ssc-bench")))
    ap.add_argument("--reset", action="store_true", help="drop the schema and migrate it afresh first")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes that generate and encrypt while the main one COPYs (0: all in one)")
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--seed", type=int, default=18)
    a = ap.parse_args(argv)

    from flask_migrate import upgrade
    from sqlalchemy import text

    from app.extensions import db

    app = make_app(a.database_url, a.instance)
    began = time.perf_counter()
    if a.reset:
        with app.app_context():
            with db.engine.begin() as c:
                c.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            upgrade()
    counts = load(app, a.n, batch=a.batch, seed=a.seed, workers=a.workers, staff_file=a.instance / "bench-staff.json")
    total = sum(counts.values())
    elapsed = time.perf_counter() - began
    print(f"{total:,} rows in {elapsed:.1f} s with the schema's set-up: {total / elapsed:,.0f} rows/s")
    return 0


def load(app, n: int, *, batch: int = BATCH, seed: int = 18, workers: int = 1, staff_file: Path | None = None,
         echo=lambda m: print(m, flush=True)) -> dict[str, int]:
    """Add ``n`` cardholders to the (migrated) database of ``app``; organisations and staff first if
    there are none (their passwords into ``staff_file``). Returns the rows written per table."""
    from sqlalchemy import text

    from app.extensions import db
    from app.models import AuditHead, Bank, Outlet, StaffUser
    from app.privacy.audit_chain import GENESIS, canonical, entry_hash, seal

    a = argparse.Namespace(n=n, batch=batch, seed=seed, workers=workers)
    with app.app_context():
        engine = db.engine
        s = db.session
        if s.scalar(db.select(db.func.count()).select_from(Bank)) == 0:
            from app.demo import Seeder

            seeder = Seeder(s, residents=10**6, seed=a.seed, echo=lambda m: None)
            seeder.organisations()
            seeder.staff()
            s.commit()
            if staff_file is not None:
                staff_file.write_text(json.dumps(
                    [{"username": u, "role": r, "password": p} for u, r, _o, p in seeder.credentials]))
                os.chmod(staff_file, 0o600)
        began = time.perf_counter()
        banks = [b for b, in s.execute(db.select(Bank.id).where(Bank.published))]
        outlets = {}
        for o_id, b_id in s.execute(db.select(Outlet.id, Outlet.bank_id)):
            outlets.setdefault(str(b_id), []).append(o_id)
        orgs = {"banks": banks, "outlets": outlets}
        clerk = s.execute(db.select(StaffUser.id, StaffUser.role).where(StaffUser.username == "sscc.clerk1")).one()
        key_file = app.config["PRIVACY_KEY_FILE"]
        audit_key = app.config["AUDIT_KEY"].encode()

        def top(table, col="id"):
            return s.scalar(text(f"SELECT COALESCE(MAX({col}), 0) FROM {table}"))

        first = top("persons") + 1
        card_id, app_id, event_id = top("cards"), top("card_applications"), top("card_events")
        head = s.get(AuditHead, 1)
        written = top("audit_log", "seq")  # the written order across every chain; ours go to chain 1
        s.commit()

        raw = engine.raw_connection()
        conn = raw.driver_connection
        cur = conn.cursor()
        # A crash loses at most the last batches (each is whole or absent): no WAL flush wait per batch.
        cur.execute("SET synchronous_commit = off")
        # The chain's head row (created here if the chain is empty) is locked for the whole load, as the app does.
        if head is None:
            cur.execute("INSERT INTO audit_head (id, seq, hash, keyed_from, seal) VALUES (1, 0, %s, 1, %s)",
                        (GENESIS, seal(audit_key, 1, GENESIS)))
        cur.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        pos, prev = cur.fetchone()

        chain_start = datetime.now(timezone.utc) - timedelta(days=365)
        batches = [(b, min(a.batch, first + a.n - b)) for b in range(first, first + a.n, a.batch)]
        counts = dict.fromkeys(("persons", "cards", "card_applications", "settlement_accounts", "card_events",
                                "audit_log"), 0)
        timing = {"generate": 0.0, "copy": 0.0}
        if a.workers > 0:  # generation and encryption in other processes, overlapping the COPY
            pool = get_context("fork").Pool(a.workers, _init_worker, (key_file, orgs))
            imap = pool.imap
        else:
            pool = None
            _init_worker(key_file, orgs)
            imap = map

        def jobs():
            # Id bases for each batch: at most 2 cards, 2 applications and 6 events per person.
            for b, n in batches:
                off = b - first
                yield (b, n, card_id + 2 * off, app_id + 2 * off, event_id + 6 * off, a.seed)

        done = 0
        t_gen = time.perf_counter()
        for out in imap(generate, jobs()):
            t_copy = time.perf_counter()
            timing["generate"] += t_copy - t_gen
            counts["persons"] += _copy(cur, "persons", PERSON_COLS, out["persons"])
            counts["cards"] += _copy(cur, "cards", CARD_COLS, out["cards"])
            counts["card_applications"] += _copy(cur, "card_applications", APP_COLS, out["apps"])
            counts["settlement_accounts"] += _copy(cur, "settlement_accounts", ACCOUNT_COLS[1:],
                                                   (r[1:] for r in out["accounts"]))
            counts["card_events"] += _copy(cur, "card_events", EVENT_COLS, out["events"])
            entries = []
            for _at, action, pid in out["audits"]:
                pos += 1
                written += 1
                at = chain_start + timedelta(seconds=pos * 7)  # the chain is in time order, as written live
                rec = json.loads(canonical({"at": at, "action": action, "actor_id": clerk.id,
                                            "actor_role": str(clerk.role), "channel": "agency",
                                            "person_id": pid, "subject": "lookup:resident_id",
                                            "fields": ["name", "doc_number"]}))
                digest = entry_hash(audit_key, prev, pos, rec)
                entries.append((written, 1, pos, prev, digest, at, action, str(clerk.role), clerk.id, pid, json.dumps(rec)))
                prev = digest
            counts["audit_log"] += _copy(cur, "audit_log", AUDIT_COLS, entries)
            cur.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (pos, prev))
            conn.commit()  # one transaction per batch: a failed load keeps whole batches only
            cur.execute("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE")  # the next batch's chain lock
            done += out["persons"] and len(out["persons"])
            timing["copy"] += time.perf_counter() - t_copy
            t_gen = time.perf_counter()
            elapsed = time.perf_counter() - began
            echo(f"  {done:>9,} cardholders  {sum(counts.values()) / elapsed:>9,.0f} rows/s")
        conn.commit()
        if pool:
            pool.close()
            pool.join()
        # The application draws the next ids and card serials after ours.
        for table in ("persons", "cards", "card_applications", "settlement_accounts", "card_events"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
        cur.execute("SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), "
                    "(SELECT COALESCE(MAX(seq), 1) FROM audit_log))")
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM cards")
        serial = 2 * cur.fetchone()[0] + 2
        cur.execute("INSERT INTO counters (name, value) VALUES ('card_number', %s) "
                    "ON CONFLICT (name) DO UPDATE SET value = GREATEST(counters.value, EXCLUDED.value)", (serial,))
        conn.commit()
        loaded = time.perf_counter() - began
        conn.autocommit = True
        cur.execute("ANALYZE")
        raw.close()
    total = sum(counts.values())
    elapsed = time.perf_counter() - began
    echo(f"loaded {a.n:,} cardholders: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    echo(f"generate+encrypt {timing['generate']:.1f} s, COPY {timing['copy']:.1f} s ("
         + ", ".join(f"{k} {v:.1f}" for k, v in COPY_SECONDS.items()) + f"), analyze {elapsed - loaded:.1f} s")
    echo(f"{total:,} rows in {elapsed:.1f} s: {total / elapsed:,.0f} rows/s "
         f"({a.n / elapsed:,.0f} cardholders/s)")
    echo(json.dumps({"cardholders": a.n, "rows": total, "seconds": round(elapsed, 1),
                     "rows_per_s": round(total / elapsed), **counts}))
    return counts


if __name__ == "__main__":
    raise SystemExit(main())
