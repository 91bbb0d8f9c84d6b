"""The Flask core of the Guangzhou social security card system.

``create_app()`` binds the extensions, the privacy key ring, the API blueprints, the error
handlers and the CLI. See README.md for the layout and docs/lifecycle.md for the state table.
"""
from __future__ import annotations

import logging
import uuid

from flask import Flask, g, has_request_context, request
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
    from app import replica

    replica.configure(app)  # DATABASE_REPLICA_URL: the engine the reads of marked views go to
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.config.get("MIGRATIONS_DIR", _root() / "migrations")))
    jwt.init_app(app)
    limiter.init_app(app)
    from app.api import PolicyDoc
    from app.api.common import JSONProvider

    app.json = JSONProvider(app)
    _rate_limit_storage(app)
    api.init_app(app, spec_kwargs={"extra_plugins": [PolicyDoc(app)]})
    api.register_converter(BoundedInt, lambda c: {"type": "integer", "format": "int64", "minimum": 0})

    from app import problems
    from app.api import register_blueprints
    from app.auth import tokens
    from app.cli import register_cli

    from app import i18n, web

    i18n.init_app(app)
    problems.register(app)
    tokens.register(jwt)
    _ecard(app)
    register_blueprints(api)
    web.register(app)  # the back office pages (app/web/)
    register_cli(app)
    from app import tasks

    tasks.register(app)  # webhook deliveries of the agencies' feed, after a request's commit

    @app.before_request
    def _request_id():
        g.request_id = request.headers.get("X-Request-ID", "")[:40] or uuid.uuid4().hex

    @app.after_request
    def _headers(resp):
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        # Answers carry personal data and tokens (Art. 16): no browser or proxy keeps one, unless its view
        # says it is public and cacheable (the key set, the bank list; static files say no-cache).
        resp.headers.setdefault("Cache-Control", "no-store")
        if resp.mimetype == "text/html":  # pages and the API docs: our own scripts only, never inside a frame
            resp.headers.setdefault("Content-Security-Policy", CSP)
            resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp

    _logging()
    return app


CSP = ("default-src 'self'; script-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def _logging() -> None:
    """Errors reach the operator: unless logging was configured (a handler on the root logger, e.g.
    gunicorn --log-config or a test run), the ``app`` loggers write WARNING and above to stderr, each
    line with the request id it belongs to."""
    logger = logging.getLogger("app")
    if logging.getLogger().handlers or any(h.get_name() == "ssc-stderr" for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.set_name("ssc-stderr")
    handler.addFilter(_RequestId())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    logger.addHandler(handler)


def _rate_limit_storage(app: Flask) -> None:
    """Say where rate limits are counted: ``memory://`` counts in each process alone, so with
    several workers (gunicorn -w N) every limit is N times looser. RATELIMIT_STORAGE_URI=redis://…"""
    uri = str(app.config.get("RATELIMIT_STORAGE_URI", "memory://"))
    if uri.startswith("memory:") and not app.config.get("TESTING"):
        logging.getLogger("app").warning(
            "Rate limits are counted per process (RATELIMIT_STORAGE_URI=%s): with several workers each "
            "counts alone. Set RATELIMIT_STORAGE_URI=redis://host:6379/0 to share them.", uri)


def _root():
    from app.config import ROOT

    return ROOT


def _secrets(app: Flask) -> None:
    from app.secrets import file_secret

    inst = app.config["INSTANCE_DIR"]
    app.config["SECRET_KEY"] = app.config.get("SECRET_KEY") or file_secret(inst / "secret_key")
    app.config["JWT_SECRET_KEY"] = app.config.get("JWT_SECRET_KEY") or file_secret(inst / "jwt_secret")
    app.config["AUDIT_KEY"] = app.config.get("AUDIT_KEY") or file_secret(inst / "audit_key")


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
    try:  # the private key itself, now: a missing, unreadable or undecryptable key stops the start
        store.current_signer()
    except (OSError, ValueError, TypeError) as e:
        raise RuntimeError(f"The e-card signing key in {store.directory} cannot be loaded ({type(e).__name__}): "
                           "restore the key file, set SSC_ECARD_KEY_PASSPHRASE, or rotate to a new key "
                           "(flask ecard keys rotate). The app does not start without it (Art. 35).") from None
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


class _WithholdDecryptedRows(logging.Filter):
    """SQLAlchemy's DEBUG echo logs each result row AFTER the encrypted columns were decrypted, so with
    ``sqlalchemy.engine`` at DEBUG every name, ID number and mobile read would reach the logs (Art. 16).
    The row is withheld; statements and their (encrypted) parameters still log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Row %r":
            record.msg, record.args = "Row withheld (may hold decrypted personal data, Art. 16)", ()
        return True


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_WithholdDecryptedRows())
