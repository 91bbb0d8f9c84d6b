"""Command-line interface (``flask …``): calendar loading, the lifecycle table, demo data."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from app.extensions import db
from app.services import deadlines
from app.services.errors import DomainError
from app.services.lifecycle_rules import markdown_table

calendar_cli = AppGroup("calendar", help="Working-day calendar (Art. 10, 25).")
lifecycle_cli = AppGroup("lifecycle", help="The card lifecycle tables.")
audit_cli = AppGroup("audit", help="The hash-chained audit trail (Art. 16).")
ecard_cli = AppGroup("ecard", help="Electronic card signing keys (Art. 35).")
ledger_cli = AppGroup("ledger", help="The embedded settlement ledger (Art. 13).")
ecard_keys_cli = AppGroup("keys", help="Signing keys: list, rotate, withdraw.")
ecard_cli.add_command(ecard_keys_cli)


def _keystore():
    from flask import current_app

    return current_app.extensions["ecard_issuer"].store


def _fmt_time(ts: int | None) -> str:
    from datetime import datetime, timezone

    return "-" if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


@ecard_keys_cli.command("list")
def ecard_keys_list() -> None:
    """Every key: kid, signing window, published until, withdrawn."""
    import time

    now = time.time()
    for k in _keystore().list():
        state = "withdrawn" if k.withdrawn_at else ("signing" if k.signs_at(now) else
                                                    "published" if k.published_at(now) else "retired")
        click.echo(f"kid {k.kid_hex}  {state:9}  signs {_fmt_time(k.signs_from)} .. {_fmt_time(k.signs_until)}  "
                   f"published until {_fmt_time(k.published_until)}  withdrawn {_fmt_time(k.withdrawn_at)}")


@ecard_keys_cli.command("rotate")
@click.option("--lead", default=0, show_default=True, help="seconds the new key is published before it signs")
def ecard_keys_rotate(lead: int) -> None:
    """A new key signs from now (+lead); the old one stays published until its last token expired."""
    k = _keystore().rotate(lead_seconds=lead)
    click.echo(f"New key {k.kid_hex} signs from {_fmt_time(k.signs_from)}.")


@ecard_keys_cli.command("withdraw")
@click.argument("kid")
def ecard_keys_withdraw(kid: str) -> None:
    """Withdraw a compromised key (hex kid): out of the published set at once."""
    try:
        hit = _keystore().withdraw(kid)
    except ValueError:
        raise click.ClickException(f"{kid!r} is not a hex key id.") from None
    if not hit:
        raise click.ClickException(f"No active key with kid {kid}.")
    click.echo(f"Withdrew {len(hit)} key(s) with kid {kid}; verifiers refuse their tokens once they refresh.")


def _head_spec(ctx, param, value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter("expected SEQ:HASH, as a previous `flask audit verify` printed it")
    return int(seq), digest.lower()


@audit_cli.command("verify")
@click.option("--expect", metavar="SEQ:HASH", callback=_head_spec,
              help="A head recorded earlier outside the database (printed or logged by a previous run): "
                   "the chain must still hold it.")
def audit_verify(expect: tuple[int, str] | None) -> None:
    """Check the audit chains with the audit key; name the first edited, deleted or reordered entry.

    First anchors every chain's head in chain 1, then checks, then prints chain 1's head and logs it
    (logger app.audit): run it at intervals and keep the heads outside the database; `--expect` one of
    them later to catch a trail that was cut back or wiped."""
    import logging

    from app.models import AuditHead
    from app.services import audit

    audit.anchor(db.session)
    db.session.commit()
    report = audit.verify(db.session, expect=expect)
    if not report.ok:
        where = f"chain {report.chain}, " if report.chain != audit.HEAD_ID else ""
        raise click.ClickException(f"Audit trail broken at {where}entry {report.seq}: {report.reason} "
                                   f"({report.detail})")
    head = db.session.get(AuditHead, audit.HEAD_ID)
    keyed = f"; keyed from entry {head.keyed_from}" if head is not None and head.keyed_from > 1 else ""
    logging.getLogger("app.audit").info("audit head %d:%s (%d entries verified)", report.last_seq,
                                        report.last_hash, report.checked)
    chains = db.session.scalar(db.select(db.func.count()).select_from(AuditHead))
    click.echo(f"Audit trail intact: {report.checked} entries in {chains} chain(s){keyed}, "
               f"head {report.last_seq}:{report.last_hash}")


privacy_cli = AppGroup("privacy", help="Personal-information protection: data keys (Art. 16).")


def _privacy_key_file(app: Flask) -> Path:
    from app.privacy.rotation import key_file_for

    return key_file_for(app.config.get("PRIVACY_KEY_FILE"), app.config["INSTANCE_DIR"])


@privacy_cli.command("rotate-key")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction.")
@click.option("--resume", is_flag=True,
              help="Add no key: only re-encrypt what is not yet under the active key (after an interrupted "
                   "run, or after adding a key in the environment).")
def privacy_rotate_key(batch: int, resume: bool) -> None:
    """Add a new data key and re-encrypt every encrypted column under it, in batches, while the
    application keeps running (old keys stay and still decrypt). Safe to run again."""
    from flask import current_app

    from app.models.enums import Channel, Role
    from app.privacy import rotation
    from app.privacy.types import get_cipher
    from app.services import audit
    from app.services.actor import Actor

    previous = get_cipher()._active_id
    if not resume:
        try:
            ring = rotation.add_data_key(_privacy_key_file(current_app))
        except (rotation.RotationRefused, ValueError) as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"New active data key {ring.active_id} (was {previous}); old keys kept for reading.")
    columns = rotation.encrypted_columns(db.metadata)
    result = rotation.reencrypt(db.engine, columns, batch=batch, progress=click.echo)
    for name, res in result.columns.items():
        click.echo(f"{name}: {res.scanned} values, {res.rotated} re-encrypted"
                   + (f", {res.changed_meanwhile} changed meanwhile" if res.changed_meanwhile else "")
                   + (f", {res.unreadable} UNREADABLE" if res.unreadable else ""))
    click.echo(f"Re-encrypted {result.rotated} of {result.scanned} values under key {result.active_key}.")
    audit.record(db.session, Actor(role=Role.SYSTEM, channel=Channel.AGENCY),
                 "privacy.rotate_key" if not resume else "privacy.reencrypt",
                 changes={"active_key": [previous, result.active_key], "reencrypted": result.rotated,
                          "scanned": result.scanned, "unreadable": result.unreadable})
    db.session.commit()
    if result.unreadable:
        raise click.ClickException(f"{result.unreadable} values could not be read; see above.")


@privacy_cli.command("status")
def privacy_status() -> None:
    """How many stored values use each data key, in total and per column."""
    from app.privacy import rotation
    from app.privacy.types import get_cipher

    usage = rotation.key_usage(db.engine, rotation.encrypted_columns(db.metadata))
    total: dict[str, int] = {}
    for counts in usage.values():
        for key_id, n in counts.items():
            total[key_id] = total.get(key_id, 0) + n
    click.echo(f"Active data key: {get_cipher()._active_id}")
    for key_id in sorted(total):
        click.echo(f"{key_id}: {total[key_id]} values")
    for name, counts in usage.items():
        click.echo(f"  {name}: " + (", ".join(f"{k}={n}" for k, n in sorted(counts.items())) or "no values"))


@calendar_cli.command("load")
@click.argument("schedule", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Load a schedule unlike any published year without asking.")
def calendar_load(schedule: Path, yes: bool) -> None:
    """Load a year's holidays and adjusted working days from a JSON file (format: docs/calendar.md).
    A schedule unlike any published year is shown with the due dates it would change, and loaded
    only when confirmed (or with --yes)."""
    try:
        data = json.loads(schedule.read_text(encoding="utf-8"))
        plan = deadlines.plan_year(db.session, data)
        confirm = yes
        if plan.warnings and not yes:
            for warning in plan.warnings:
                click.echo(f"Warning: {warning}", err=True)
            click.echo(f"{len(plan.changes)} due date(s) would change:", err=True)
            for c in plan.changes_json():
                click.echo(f"  application {c['application_id']} (card {c['card_id']}), accepted {c['accepted_on']}: "
                           f"{c['due_on']} -> {c['new_due_on']}", err=True)
            confirm = click.confirm("Load it anyway?", default=False, err=True)
            if not confirm:
                raise click.ClickException("Not loaded.")
        row, plan = deadlines.load_year(db.session, data, loaded_by="cli", confirm=confirm)
    except (DomainError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    db.session.commit()
    click.echo(f"Loaded {row.year}: {len(row.holidays)} holidays, {len(row.workdays)} adjusted working days; "
               f"{len(plan.changes)} due dates recomputed.")


@calendar_cli.command("status")
def calendar_status() -> None:
    """Which years still have provisional (weekday-only) due dates."""
    missing = deadlines.years_without_data(db.session)
    click.echo("All years loaded." if not missing else f"No holiday data for: {', '.join(map(str, missing))}")


feed_cli = AppGroup("feed", help="Notices from the government side (Art. 15, 26).")


@feed_cli.command("notices")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def feed_notices(csv_file: Path) -> None:
    """Apply a CSV of notices: doc_type,doc_number,kind(death|ineligible),effective(YYYY-MM-DD).
    Each row commits on its own; a bad row is reported and changes nothing."""
    import csv
    from datetime import date

    from app.services import people
    from app.services.actor import SYSTEM

    done = failed = 0
    with csv_file.open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            try:
                cards = people.apply_government_notice(
                    db.session, SYSTEM, row["doc_type"], row["doc_number"], kind=row["kind"],
                    effective=date.fromisoformat(row["effective"]))
                db.session.commit()
                done += 1
                click.echo(f"line {n}: {row['kind']}: {len(cards)} card(s) cancelled")
            except (DomainError, ValueError, KeyError) as e:
                db.session.rollback()
                failed += 1
                click.echo(f"line {n}: refused: {e}", err=True)
    click.echo(f"{done} notices applied, {failed} refused.")
    if failed:
        raise SystemExit(1)


staff_cli = AppGroup("staff", help="Staff accounts (Art. 16).")


@staff_cli.command("deactivate")
@click.argument("username")
@click.option("--reason", required=True, help="Why (kept in the audit trail).")
def staff_deactivate(username: str, reason: str) -> None:
    """Deactivate a staff account and end its sessions at once (its tokens stop working now)."""
    from app.models.enums import Channel, Role
    from app.services import sessions
    from app.services.actor import Actor

    user = sessions.find_staff(db.session, username)
    if user is None:
        raise click.ClickException(f"No staff account {username!r}.")
    sessions.deactivate_staff(db.session, Actor(role=Role.SYSTEM, channel=Channel.AGENCY), user.id,
                              f"cli: {reason}")
    db.session.commit()
    click.echo(f"Deactivated {username}; its sessions have ended.")


@ledger_cli.command("reconcile")
def ledger_reconcile() -> None:
    """Recompute the ledger from its journal: every balance equals its postings and is not negative, every
    transaction balances, money in = money out + balances. Prints what differs; exit status 1 if anything does."""
    from app.services.ledger import reconcile

    r = reconcile(db.session)
    for line in r.problems:
        click.echo(f"DIFFERS: {line}")
    click.echo(f"{r.transactions} transactions; money in {r.money_in} fen = money out {r.money_out} fen + "
               f"balances {r.balances} fen: {'clean' if r.clean else f'{len(r.problems)} difference(s)'}")
    if not r.clean:
        raise SystemExit(1)


@lifecycle_cli.command("table")
def lifecycle_table() -> None:
    """Print the state table and the channel table as Markdown."""
    click.echo(markdown_table(), nl=False)


def register_cli(app: Flask) -> None:
    app.cli.add_command(calendar_cli)
    app.cli.add_command(lifecycle_cli)
    app.cli.add_command(ledger_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(feed_cli)
    app.cli.add_command(ecard_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(staff_cli)
    from app.agency_cli import agency_cli; app.cli.add_command(agency_cli)  # noqa: E402, E702
    from app.demo import demo_cli  # noqa: E402
    from app.services.otp import demo_sms_command; demo_cli.add_command(demo_sms_command)  # noqa: E702

    app.cli.add_command(demo_cli)
