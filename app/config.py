"""Settings, read from the environment (twelve-factor).

Everything has a safe default for the embedded demo: a SQLite file under
``instance/``, secrets and keys generated there on first run (mode 0600).
Set ``DATABASE_URL`` (e.g. ``postgresql+psycopg://user@host/db``) for PostgreSQL, and
``DATABASE_REPLICA_URL`` for a read replica (app.replica).
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


SIGN_IN = """Back office and resident self-service of the Guangzhou social security card.

**Signing in.** Every operation needs a bearer token unless it says *Public*; each says which roles it admits.

* Staff: `POST /api/auth/login {"username", "password"}` returns a short-lived `access_token` and a
  `refresh_token`; `POST /api/auth/refresh` with the refresh token as bearer gives new ones;
  `POST /api/auth/logout` ends the session.
* Residents: `POST /api/auth/resident/otp {"doc_type", "doc_number"}` sends a one-time code to the
  registered mobile (demo: `flask demo sms`), then `POST /api/auth/resident/login {"doc_type", "doc_number", "code"}`
  returns the tokens.

Send `Authorization: Bearer <access_token>` (in this page: *Authorize*). State-changing card operations need
the card's `ETag` in `If-Match`. Errors are RFC 9457 `application/problem+json`; `article` names the article
of the Measures that forbids a step."""


class Config:
    INSTANCE_DIR = Path(os.environ.get("SSC_INSTANCE_DIR", ROOT / "instance"))
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'ssc.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # A PostgreSQL hot standby (streaming replica) for the plain reads of the views marked
    # ``@replica_reads`` (dashboards, lists, audit search): app.replica says what goes where. Unset: every
    # statement goes to DATABASE_URL.
    DATABASE_REPLICA_URI = os.environ.get("DATABASE_REPLICA_URL")
    # PostgreSQL: `flask db upgrade` connects with this URL (the schema owner) when it is set, while the
    # application connects with DATABASE_URL as a role that is a member of `ssc_app` and owns nothing:
    # it may read and append to the audit trail, never change, delete or truncate it (Art. 16; README).
    MIGRATION_DATABASE_URI = os.environ.get("MIGRATION_DATABASE_URL")
    # Secrets: from the environment, else generated into INSTANCE_DIR (see app.secrets).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY")
    # HMAC key of the audit hash chain (Art. 16): never in the database, so that whoever can write the
    # tables cannot rebuild the chain after an edit. Back it up with the privacy keys: without it no
    # entry verifies. Migrations need it too (they seal the chain's head).
    AUDIT_KEY = os.environ.get("SSC_AUDIT_KEY")
    # Chains of the audit trail side by side (app.services.audit): concurrent audited transactions append
    # to different chains instead of queueing on one head row. More chains, more parallel appends.
    AUDIT_CHAINS = _int("SSC_AUDIT_CHAINS", 16)
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_ALGORITHMS = ["HS256"]  # never "none", never an asymmetric alg with our HMAC secret
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=_int("JWT_ACCESS_MINUTES", 15))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(hours=_int("JWT_REFRESH_HOURS", 8))
    # A session's absolute end (app.services.sessions): however often its refresh token rotates,
    # no token of one sign-in lives past this. A working day and a bit.
    JWT_SESSION_MAX = timedelta(hours=_int("JWT_SESSION_MAX_HOURS", 12))
    JWT_TOKEN_LOCATION = ["headers"]
    # The back office pages (app/web/): a web sign-in is one of the same server-side sessions; it ends
    # after WEB_IDLE_MINUTES without a request, and WEB_SESSION_MAX after sign-in whatever happens.
    WEB_IDLE_MINUTES = _int("SSC_WEB_IDLE_MINUTES", 15)
    WEB_SESSION_MAX = timedelta(hours=_int("SSC_WEB_SESSION_MAX_HOURS", 12))
    # The resident's phone pages (app/web/phone/): one of the same server-side sessions; a phone stays
    # signed in (the e-card must open at a counter without an SMS each time) until PHONE_SESSION_MAX after
    # sign-in, or PHONE_IDLE without a request, or "sign out there" from the devices list.
    PHONE_SESSION_MAX = timedelta(days=_int("SSC_PHONE_SESSION_MAX_DAYS", 30))
    PHONE_IDLE = timedelta(hours=_int("SSC_PHONE_IDLE_HOURS", 7 * 24))
    # A phone session's cookie is persistent; Flask would re-send it on every answer (refreshing its
    # expiry), and an answer to a request sent with an older cookie (a page's parallel requests, the
    # service worker's) would then put the older cookie back. It is sent when it changes instead (the idle
    # clock moves it at most once a minute, app.web.phone.session).
    SESSION_REFRESH_EACH_REQUEST = False
    SESSION_COOKIE_NAME = "ssc_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure whenever the request came over https (app.web.session); set 1 to force it (behind a proxy
    # that terminates TLS without ProxyFix).
    SESSION_COOKIE_SECURE = os.environ.get("SSC_SESSION_COOKIE_SECURE", "0") == "1"
    PRIVACY_KEY_FILE = os.environ.get("SSC_PRIVACY_KEY_FILE")  # default: INSTANCE_DIR/privacy-keys.json
    ECARD_KEY_DIR = os.environ.get("SSC_ECARD_KEY_DIR")  # default: INSTANCE_DIR/ecard-keys
    ECARD_KEY_PASSPHRASE = os.environ.get("SSC_ECARD_KEY_PASSPHRASE")
    ECARD_TOKEN_LIFETIME = _int("SSC_ECARD_TOKEN_LIFETIME", 60)
    ECARD_BATCH_HORIZON = _int("SSC_ECARD_BATCH_HORIZON", 600)  # at most 10 minutes of tokens ahead
    # The offline scanner page (/scanner/): clock skew it tolerates, seconds between key-set refreshes while
    # online, and the age of its key-set copy beyond which it warns (served in /scanner/messages.json).
    ECARD_SCANNER_SKEW = _int("SSC_ECARD_SCANNER_SKEW", 30)
    ECARD_SCANNER_REFRESH = _int("SSC_ECARD_SCANNER_REFRESH", 300)
    ECARD_SCANNER_KEYSET_MAX_AGE = _int("SSC_ECARD_SCANNER_KEYSET_MAX_AGE", 86_400)
    # Art. 27: the fee is set by the price and finance authorities; configurable, in fen (1/100 yuan).
    CARD_FEE_FEN = _int("SSC_CARD_FEE_FEN", 2000)
    # Art. 21: whether inflows still post to a suspended account (default: they post).
    SUSPENDED_ACCOUNTS_ACCEPT_INFLOWS = os.environ.get("SSC_SUSPENDED_INFLOWS", "1") == "1"
    PIN_MAX_FAILURES = _int("SSC_PIN_MAX_FAILURES", 5)  # Art. 19
    # Application agencies' machine credentials (app.services.agency_api): access tokens of the token
    # endpoint live this long; a rotated secret stays valid this long by default (the overlap).
    AGENCY_TOKEN_SECONDS = _int("SSC_AGENCY_TOKEN_SECONDS", 300)
    AGENCY_ROTATION_OVERLAP_HOURS = _int("SSC_AGENCY_ROTATION_OVERLAP_HOURS", 24)
    # Webhooks of the agencies' feed (app.services.webhooks): "inline" sends after the request's commit in
    # this process (make run, SQLite); "procrastinate" leaves it to `flask agency worker` on PostgreSQL.
    WEBHOOK_RUNNER = os.environ.get("SSC_WEBHOOK_RUNNER", "inline")
    WEBHOOK_MAX_ATTEMPTS = _int("SSC_WEBHOOK_MAX_ATTEMPTS", 8)
    WEBHOOK_BACKOFF_BASE = _int("SSC_WEBHOOK_BACKOFF_BASE", 30)  # seconds; doubled after every failure
    WEBHOOK_BACKOFF_MAX = _int("SSC_WEBHOOK_BACKOFF_MAX", 6 * 3600)
    WEBHOOK_TIMEOUT = _int("SSC_WEBHOOK_TIMEOUT", 10)
    WEBHOOK_ALLOW_HTTP = os.environ.get("SSC_WEBHOOK_ALLOW_HTTP", "0") == "1"  # else https:// URLs only
    # "1": a webhook may point inside a private network (a developer's local receiver); else every address
    # of its host must be public, at registration and at each attempt (SSRF; webhooks.addresses_to_call).
    WEBHOOK_ALLOW_PRIVATE = os.environ.get("SSC_WEBHOOK_ALLOW_PRIVATE", "0") == "1"
    # Art. 13: who holds each settlement account's money (app.services.settlement_port). Keys: "medical",
    # "financial", or "financial:<bank code>" for one bank's core; values "package.module:Class". The
    # embedded double-entry ledger is the default for both (demo, tests, `make run`).
    SETTLEMENT_HOLDERS = {
        "medical": os.environ.get("SSC_MEDICAL_HOLDER", "app.services.ledger:EmbeddedLedger"),
        "financial": os.environ.get("SSC_FINANCIAL_HOLDER", "app.services.ledger:EmbeddedLedger"),
    }
    # Largest amount of one transaction, in fen (10 million yuan): far inside a BIGINT, so balances never
    # overflow; larger amounts are refused as input.
    LEDGER_MAX_AMOUNT_FEN = _int("SSC_LEDGER_MAX_AMOUNT_FEN", 1_000_000_000)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    # Staff login (Art. 16): wrong passwords per account from any address, and every attempt per
    # address, loosely enough for a bank
    # branch whose tellers all sign in behind one NAT address at opening time.
    RATELIMIT_LOGIN = os.environ.get("SSC_RATELIMIT_LOGIN", "60/minute;600/hour")
    RATELIMIT_LOGIN_ACCOUNT = os.environ.get("SSC_RATELIMIT_LOGIN_ACCOUNT", "5/minute;20/hour")
    # Resident sign-in and PIN endpoints (Art. 19): per client address, and per document / per card.
    RATELIMIT_OTP_REQUEST = os.environ.get("SSC_RATELIMIT_OTP_REQUEST", "5/minute;30/hour")
    RATELIMIT_OTP_REQUEST_DOC = os.environ.get("SSC_RATELIMIT_OTP_REQUEST_DOC", "5/minute;10/hour;20/day")
    RATELIMIT_OTP_LOGIN = os.environ.get("SSC_RATELIMIT_OTP_LOGIN", "5/minute")
    RATELIMIT_OTP_LOGIN_DOC = os.environ.get("SSC_RATELIMIT_OTP_LOGIN_DOC", "5/minute")
    RATELIMIT_PIN = os.environ.get("SSC_RATELIMIT_PIN", "30/minute")  # per address: an outlet's tellers share one
    RATELIMIT_PIN_CARD = os.environ.get("SSC_RATELIMIT_PIN_CARD", "5/minute")
    # Public complaint intake and follow-up (Art. 29): no sign-in, so limited per address.
    RATELIMIT_COMPLAINT_FILE = os.environ.get("SSC_RATELIMIT_COMPLAINT_FILE", "5/minute;30/hour")
    RATELIMIT_COMPLAINT_FOLLOW = os.environ.get("SSC_RATELIMIT_COMPLAINT_FOLLOW", "10/minute;60/hour")
    OTP_TTL_SECONDS = _int("SSC_OTP_TTL_SECONDS", 300)
    OTP_MAX_ATTEMPTS = _int("SSC_OTP_MAX_ATTEMPTS", 5)
    # "package.module:Class" implementing app.services.otp.SmsGateway; the default stores messages
    # in the sms_outbox table (demo: `flask demo sms`). Production: the operator's gateway adapter.
    SMS_GATEWAY = os.environ.get("SSC_SMS_GATEWAY", "app.services.otp:OutboxGateway")
    # flask-smorest / OpenAPI; Swagger UI served from our own static/vendor/ (no CDN on government intranets),
    # copied there from npm's swagger-ui-dist by `make vendor` (scripts/vendor_static.py).
    API_TITLE = "Guangzhou Social Security Card"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"
    API_SPEC_OPTIONS = {
        "info": {"description": SIGN_IN},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        },
        "security": [{"bearer": []}],
    }
    PAGE_SIZE_MAX = 200
    # A request body larger than this is refused (413) before it is read: the largest real one is an
    # application with its photo (base64).
    MAX_CONTENT_LENGTH = _int("SSC_MAX_CONTENT_LENGTH", 2 * 1024 * 1024)


class TestConfig(Config):
    TESTING = True
    RATELIMIT_ENABLED = True
