"""``flask agency …``: the Bureau's management of application agencies' credentials (Art. 16, 33), and the
webhook worker. Secrets are printed once, at creation or rotation; only their digests are kept."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from app.services.errors import DomainError

agency_cli = AppGroup("agency", help="Application agencies: credentials, webhooks worker (Art. 15, 33).")


def _actor():
    from app.models.enums import Channel, Role
    from app.services.actor import Actor

    return Actor(role=Role.BUREAU, channel=Channel.AGENCY)  # the Bureau's operator at the console


def _fail(e: DomainError):
    db.session.rollback()
    raise click.ClickException(e.detail)


def _line(cred) -> str:
    from app.models import Agency

    agency = db.session.get(Agency, cred.agency_id)
    state = "revoked" if cred.revoked_at else ("rotating" if cred.previous_valid_until else "active")
    return (f"{cred.id:>4}  {agency.code:<10} {agency.field!s:<16} {cred.kind:<12} {cred.client_id}  {state:<8}  "
            f"{' '.join(cred.scopes)}  {cred.label}")


@agency_cli.command("create")
@click.argument("agency")
@click.option("--kind", type=click.Choice(["oauth_client", "api_key"]), default="oauth_client", show_default=True)
@click.option("--label", required=True)
@click.option("--scope", "scopes", multiple=True, help="repeat; default: every scope")
def create(agency: str, kind: str, label: str, scopes: tuple[str, ...]) -> None:
    """A credential for application agency AGENCY (its code); prints the secret once."""
    from app.services import agency_api

    try:
        cred, secret = agency_api.create_credential(db.session, _actor(), agency, kind=kind, label=label,
                                                    scopes=list(scopes) or None)
    except DomainError as e:
        _fail(e)
    db.session.commit()
    click.echo(_line(cred))
    click.echo(f"client_id: {cred.client_id}")
    click.echo(f"secret (shown once): {secret}")


@agency_cli.command("list")
@click.option("--agency", default=None)
def list_(agency: str | None) -> None:
    """Every credential: id, agency, field, kind, client id, state, scopes."""
    from app.services import agency_api

    try:
        for cred in agency_api.credentials(db.session, agency):
            click.echo(_line(cred))
    except DomainError as e:
        _fail(e)


@agency_cli.command("rotate")
@click.argument("credential_id", type=int)
@click.option("--overlap-hours", type=int, default=None, help="the previous secret stays valid this long")
def rotate(credential_id: int, overlap_hours: int | None) -> None:
    """A new secret (printed once); the previous one stays valid for the overlap."""
    from app.services import agency_api

    try:
        cred, secret = agency_api.rotate(db.session, _actor(), credential_id, overlap_hours=overlap_hours)
    except DomainError as e:
        _fail(e)
    db.session.commit()
    click.echo(_line(cred))
    click.echo(f"previous secret valid until {cred.previous_valid_until:%Y-%m-%d %H:%M:%SZ}")
    click.echo(f"secret (shown once): {secret}")


@agency_cli.command("revoke")
@click.argument("credential_id", type=int)
@click.option("--reason", required=True)
def revoke(credential_id: int, reason: str) -> None:
    """End a credential now: its secrets and every access token it obtained."""
    from app.services import agency_api

    try:
        cred = agency_api.revoke(db.session, _actor(), credential_id, f"cli: {reason}")
    except DomainError as e:
        _fail(e)
    db.session.commit()
    click.echo(_line(cred))


@agency_cli.command("worker")
def worker() -> None:
    """Run the procrastinate worker that sends webhook deliveries (PostgreSQL; WEBHOOK_RUNNER=procrastinate)."""
    from app import tasks

    tasks.run_worker(current_app._get_current_object())


@agency_cli.command("queue-schema")
def queue_schema() -> None:
    """Create procrastinate's tables in the app's PostgreSQL database (once)."""
    from app import tasks

    tasks.apply_schema(current_app._get_current_object())
    click.echo("procrastinate schema applied")


@agency_cli.command("send-webhooks")
def send_webhooks() -> None:
    """Send every due webhook delivery once, in this process (SQLite, make run)."""
    from app.services import webhooks

    click.echo(f"{webhooks.run_due(db.session)} deliveries attempted")
