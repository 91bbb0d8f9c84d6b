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


@calendar_cli.command("load")
@click.argument("schedule", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_load(schedule: Path) -> None:
    """Load a year's holidays and adjusted working days from a JSON file (see docs/calendar.md)."""
    try:
        row, changed = deadlines.load_year(db.session, json.loads(schedule.read_text()), loaded_by="cli")
    except (DomainError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    db.session.commit()
    click.echo(f"Loaded {row.year}: {len(row.holidays)} holidays, {len(row.workdays)} adjusted working days; "
               f"{changed} provisional due dates recomputed.")


@calendar_cli.command("status")
def calendar_status() -> None:
    """Which years still have provisional (weekday-only) due dates."""
    missing = deadlines.years_without_data(db.session)
    click.echo("All years loaded." if not missing else f"No holiday data for: {', '.join(map(str, missing))}")


@lifecycle_cli.command("table")
def lifecycle_table() -> None:
    """Print the state table and the channel table as Markdown."""
    click.echo(markdown_table(), nl=False)


def register_cli(app: Flask) -> None:
    app.cli.add_command(calendar_cli)
    app.cli.add_command(lifecycle_cli)
    from app.demo import demo_cli  # noqa: E402

    app.cli.add_command(demo_cli)
