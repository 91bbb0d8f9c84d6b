"""The Flask core of the Guangzhou social security card system.

``create_app()`` binds the extensions, the privacy key ring, the API blueprints, the error
handlers and the CLI. See README.md for the layout and docs/lifecycle.md for the state table.
"""
from __future__ import annotations

import logging
import uuid

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from werkzeug.routing import IntegerConverter

from app.config import Config


class BoundedInt(IntegerConverter):
    """``<int:…>`` path ids within a signed 64-bit integer, as the databases store them."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: type[Config] | dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False, static_folder="../static", static_url_path="/static")
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    _secrets(app)
    _privacy(app)

    from app.extensions import api, db, jwt, limiter, migrate

    app.url_map.converters["int"] = BoundedInt  # ids beyond a BIGINT are simply not found
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", _root() / "migrations")))
    jwt.init_app(app)
    limiter.init_app(app)
    api.init_app(app)
    api.register_converter(BoundedInt, lambda c: {"type": "integer", "format": "int64", "minimum": 0})

    from app import problems
    from app.api import register_blueprints
    from app.auth import tokens
    from app.cli import register_cli

    problems.register(app)
    tokens.register(jwt)
    _ecard(app)
    register_blueprints(api)
    from app.api.ecard import well_known
    from app.api.health import blp as health

    app.register_blueprint(well_known)
    app.register_blueprint(health)
    register_cli(app)

    @app.before_request
    def _request_id():
        g.request_id = request.headers.get("X-Request-ID", "")[:40] or uuid.uuid4().hex

    @app.after_request
    def _headers(resp):
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        return resp

    return app


def _root():
    from app.config import ROOT

    return ROOT


def _secrets(app: Flask) -> None:
    from app.secrets import file_secret

    inst = app.config["INSTANCE_DIR"]
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or file_secret(inst / "secret_key")
    app.config["JWT_SECRET_KEY"] = app.config.get("JWT_SECRET_KEY") or file_secret(inst / "jwt_secret")


def _ecard(app: Flask) -> None:
    """The e-card issuer: signing keys under ECARD_KEY_DIR (generated on first start, Art. 35).

    A retired key stays published until every token it signed has expired, plus the verifiers'
    skew: tokens are signed up to ECARD_BATCH_HORIZON ahead and the last one of a batch expires
    at most that long after it was signed, so the JWKS ``exp`` of a key retired at ``signs_until`` is
    ``signs_until + ECARD_BATCH_HORIZON + skew`` (600 + 60 s; ecard/README.md §5)."""
    import hashlib

    from app.services.ecard import Issuer
    from ecard.keys import KeyStore

    cfg = app.config
    lifetime, horizon = cfg["ECARD_TOKEN_LIFETIME"], cfg["ECARD_BATCH_HORIZON"]
    store = KeyStore(cfg.get("ECARD_KEY_DIR") or cfg["INSTANCE_DIR"] / "ecard-keys", cfg.get("ECARD_KEY_PASSPHRASE"),
                     max_token_reach=max(horizon, lifetime))
    store.ensure_key()
    secret = hashlib.sha256(b"ecard-card-ref|" + cfg["SECRET_KEY"].encode()).digest()
    app.extensions["ecard_issuer"] = Issuer(store, secret, lifetime=lifetime, horizon=horizon)


def _privacy(app: Flask) -> None:
    """Load the data-encryption key ring (Art. 16): from the environment, else a 0600 key file. The cipher
    reloads the keys when it meets a value under a key added by ``flask privacy rotate-key`` meanwhile."""
    from app.privacy.rotation import configure_reloading

    configure_reloading(app.config.get("PRIVACY_KEY_FILE") or app.config["INSTANCE_DIR"] / "privacy-keys.json")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, WAL for concurrent readers, wait rather than fail on a lock."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.close()


logging.getLogger("app").addHandler(logging.NullHandler())


class _WithholdDecryptedRows(logging.Filter):
    """SQLAlchemy's DEBUG echo logs each result row AFTER the encrypted columns were decrypted, so with
    ``sqlalchemy.engine`` at DEBUG every name, ID number and mobile read would reach the logs (Art. 16).
    The row is withheld; statements and their (encrypted) parameters still log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Row %r":
            record.msg, record.args = "Row withheld (may hold decrypted personal data, Art. 16)", ()
        return True


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_WithholdDecryptedRows())
