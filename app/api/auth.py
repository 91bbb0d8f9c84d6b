"""Staff login, token refresh and logout (server-side revocation)."""
from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Callable

from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import Unauthorized

from app.api.common import Blueprint, commit
from app.api.schemas import DocumentQuery, LoginIn, TokensOut
from app.auth import allow, tokens
from app.extensions import db, limiter
from app.models.enums import STAFF_ROLES, Channel, Role
from app.services import otp
from app.services.actor import Actor

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Authentication")


def login_limited(view):
    """The staff login limits, shared by this endpoint and the sign-in page (app.web.signin): one count
    per address and one per account across both, so neither doubles the tries. Wrong passwords only
    count against the account (a 401 answer)."""
    view = limiter.shared_limit(lambda: current_app.config["RATELIMIT_LOGIN_ACCOUNT"], scope="staff-login-account",
                                key_func=lambda: per_account(),
                                deduct_when=lambda response: response.status_code == 401)(view)
    return limiter.shared_limit(lambda: current_app.config["RATELIMIT_LOGIN"], scope="staff-login")(view)


@blp.route("/login", methods=["POST"])
@allow(public=True)
@login_limited
@blp.arguments(LoginIn)
@blp.response(200, TokensOut)
def login(body):
    """Staff login with username and password (argon2id); returns short-lived access and refresh tokens.
    Limited per account (wrong passwords, from any address) and per client address (loosely: a bank
    branch signs in behind one NAT address)."""
    result = tokens.staff_login(body["username"], body["password"])
    if result is None:
        raise Unauthorized("Wrong username or password.")
    commit()
    return result


@blp.route("/refresh", methods=["POST"])
@allow(*STAFF_ROLES, Role.RESIDENT, refresh=True)
@blp.response(200, TokensOut)
def refresh():
    """New tokens of the same session from its current refresh token, which is replaced. Claims come
    from the account, not the old token; a deactivated or changed account, an ended session or a
    session past its absolute end gets 401; a replaced refresh token presented again ends the session."""
    result = tokens.rotate()
    if result is None:
        raise Unauthorized("This refresh token was already used.")
    commit()
    return result


@blp.route("/logout", methods=["POST"])
@allow(*STAFF_ROLES, Role.RESIDENT, any_token=True)
@blp.response(204)
def logout():
    """End the session on the server: every access and refresh token of this sign-in stops working.
    Send either the access or the refresh token."""
    tokens.end_current()
    commit()
    return None


# ---------------------------------------------------------------- resident sign-in (Art. 19, 20)
# Rate limits (Flask-Limiter; storage: RATELIMIT_STORAGE_URI, memory by default, Redis in CI and
# production) are counted per client address AND per document / per card, so neither many
# documents from one address nor one document from many addresses gets through. The limit strings
# are settings (app.config: RATELIMIT_OTP_*, RATELIMIT_PIN*).


def _keyed(kind: str, value: str) -> str:
    """A rate-limit key that does not put a document number in clear into Redis."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return f"{kind}:" + hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:32]


def per_document() -> str:
    body = request.get_json(silent=True) or request.form  # the API's JSON or the phone's sign-in form
    # normalised as app.services.documents does (NFKC, no whitespace, upper case): a full-width or spaced
    # spelling of the same number is the same document
    doc = "".join(unicodedata.normalize("NFKC", str(body.get("doc_number", ""))).split()).upper()
    return _keyed("doc", f"{body.get('doc_type', '')}:{doc}") if doc else f"ip:{get_remote_address()}"


def per_account() -> str:
    """Staff login (JSON or the sign-in form): the username, normalised as stored (case and width as
    typed are one account)."""
    body = request.get_json(silent=True) or request.form
    name = unicodedata.normalize("NFKC", str(body.get("username", ""))).strip().casefold()
    return _keyed("user", name) if name else f"ip:{get_remote_address()}"


def per_card(card_id: Callable[[], int | None] | None = None) -> str:
    """The card a PIN step is about: the URL's ``card_id`` (the API), or what ``card_id()`` finds (a page
    without one in its URL: the signed-in holder's card). Its database id, never its number. No card (the
    step will be refused): the client address."""
    card = card_id() if card_id is not None else (request.view_args or {}).get("card_id")
    return f"card:{card}" if card is not None else f"ip:{get_remote_address()}"


def _setting(name: str):
    return lambda: current_app.config[name]


def pin_limited(op: str, *, card_id: Callable[[], int | None] | None = None, methods: list[str] | None = None):
    """Rate limits of a PIN step (change, reset, activation; Art. 19): per address (``RATELIMIT_PIN``) and
    per card (``RATELIMIT_PIN_CARD``), one count per step across every channel that offers it (the API's
    ``/api/cards/{id}/pin-change`` and the phone's page ``/m/self/pin``), so that neither doubles the tries.
    ``card_id``: how a page without the card in its URL finds it (see :func:`per_card`); ``methods``: only
    these are counted (a page's GET shows the form and is not). Put it under the sign-in check (the
    policy), so that strangers cannot use up a holder's tries."""

    def decorate(view):
        view = limiter.shared_limit(_setting("RATELIMIT_PIN_CARD"), scope=f"pin-card:{op}",
                                    key_func=lambda: per_card(card_id), methods=methods)(view)
        return limiter.shared_limit(_setting("RATELIMIT_PIN"), scope=f"pin:{op}", methods=methods)(view)

    return decorate


class OtpLoginIn(DocumentQuery):
    code = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^[0-9]{6}$"))


class OtpSentOut(Schema):
    detail = fields.String()
    expires_in = fields.Integer(metadata={"description": "seconds"})


def anonymous_resident() -> Actor:
    """The actor of a resident who is signing in (no person yet), in this request."""
    return Actor(role=Role.RESIDENT, channel=Channel.ONLINE, request_id=g.get("request_id"),
                 client_ip=request.remote_addr)


def otp_request_limited(view):
    """The limits of asking for a sign-in code, shared by this endpoint and the phone's sign-in page
    (app.web.phone.signin): one count per address and one per document across both."""
    view = limiter.shared_limit(_setting("RATELIMIT_OTP_REQUEST_DOC"), scope="otp-request-doc",
                                key_func=per_document)(view)
    return limiter.shared_limit(_setting("RATELIMIT_OTP_REQUEST"), scope="otp-request")(view)


def otp_login_limited(view):
    """The limits of signing in with a code, shared likewise by the API and the phone's page."""
    view = limiter.shared_limit(_setting("RATELIMIT_OTP_LOGIN_DOC"), scope="otp-login-doc",
                                key_func=per_document)(view)
    return limiter.shared_limit(_setting("RATELIMIT_OTP_LOGIN"), scope="otp-login")(view)


@blp.route("/resident/otp", methods=["POST"])
@allow(public=True)
@otp_request_limited
@blp.arguments(DocumentQuery)
@blp.response(202, OtpSentOut)
def resident_otp(body):
    """Send a one-time sign-in code to the cardholder's registered mobile (Art. 19).

    The answer is the same whether or not the document is registered (no enumeration)."""
    settings = otp.OtpSettings.from_app()
    otp.request_code(db.session, anonymous_resident(), body["doc_type"], body["doc_number"], settings,
                     body.get("nationality"))
    commit()
    return {"detail": "If this document belongs to a cardholder with a registered mobile number, "
                      "a sign-in code has been sent to it.", "expires_in": int(settings.ttl.total_seconds())}


@blp.route("/resident/login", methods=["POST"])
@allow(public=True)
@otp_login_limited
@blp.arguments(OtpLoginIn)
@blp.response(200, TokensOut)
def resident_login(body):
    """Sign in with the document and the one-time code: access and refresh tokens for the role
    ``resident`` (identity ``resident:<id>``). Codes are single use; 5 wrong codes close the challenge."""
    person_id = otp.verify_code(db.session, anonymous_resident(), body["doc_type"], body["doc_number"], body["code"],
                                otp.OtpSettings.from_app(), body.get("nationality"))
    answer = tokens.issue_resident(person_id)
    commit()
    return answer
