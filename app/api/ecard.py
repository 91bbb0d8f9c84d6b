"""The electronic card (Art. 35): tokens and QR codes for the holder, the published key set for
verifiers. The rules (who gets a token, what it says) are in ``app.services.ecard``."""
from __future__ import annotations

from flask import Response, current_app, request
from flask_jwt_extended import get_jwt
from marshmallow import INCLUDE, Schema, fields, validate

from app.api.common import CACHEABLE, Blueprint
from app.auth import allow
from app.extensions import db
from app.models.enums import Role
from app.services.ecard import Issuer, Revoked
from app.services.errors import NotFound
from ecard.keys import jwks_etag
from ecard.qr import render_png, render_svg

blp = Blueprint("ecard", __name__, url_prefix="/api/ecard",
                description="Electronic card tokens for the holder's phone (Art. 35)")
well_known = Blueprint("well_known", __name__, description="Published e-card verification keys (Art. 35)")


def issuer() -> Issuer:
    return current_app.extensions["ecard_issuer"]


class EcardTokenRequest(Schema):
    count = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10), metadata={
        "description": "Consecutive tokens for a phone without signal (at most 10 minutes ahead)."})


class EcardToken(Schema):
    token = fields.String(required=True)
    issued_at = fields.Integer(required=True)
    expires_at = fields.Integer(required=True)


class EcardTokens(EcardToken):
    refresh_after = fields.Integer(required=True, metadata={"description": "ask for a new token after this"})
    batch = fields.List(fields.Nested(EcardToken))


def _issue(count: int = 1):
    claims = get_jwt()  # a resident's access token (the policy checked the role): its pid is the holder
    person_id = claims.get("pid")
    if not isinstance(person_id, int):
        raise NotFound("This token names no cardholder.")
    # No session in use in this request (the usual case): the issuer borrows a pooled connection for
    # its one query instead of opening (and at teardown closing) an ORM session.
    source = db.session if db.session.registry.has() else db.engine
    sid = claims.get("sid")
    if not isinstance(sid, str):  # every token the app mints has one (app.services.sessions)
        raise Revoked("This token belongs to no session.")
    return issuer().issue(source, person_id, count=count, sid=sid)


# Hot path (bench/ecard.py): the request schema is ONE instance (webargs would build one per request
# from a class) and the answer, plain ints and strings, is serialised directly: EcardTokens documents it.
_TOKEN_REQUEST = EcardTokenRequest()


@blp.route("/tokens", methods=["POST"])
@allow(Role.RESIDENT, cached=True)
@blp.arguments(_TOKEN_REQUEST)
@blp.response(200, EcardTokens)
def issue_tokens(body):
    """A fresh signed token (and optionally the next ones) for the holder's QR code.
    No token for a cancelled card (Art. 26); during reissue or replacement the token still
    proves identity and says settlement is suspended where a loss is in force (Art. 21, 28)."""
    tokens = _issue(body["count"])
    first = tokens[0]
    out = {"token": first.token, "issued_at": first.issued_at, "expires_at": first.expires_at,
           "refresh_after": first.refresh_after}
    if len(tokens) > 1:
        out["batch"] = [{"token": t.token, "issued_at": t.issued_at, "expires_at": t.expires_at} for t in tokens]
    return current_app.json.response(out)


def _qr(render, mimetype: str) -> Response:
    token = _issue()[0]
    return Response(render(token.token), mimetype=mimetype,
                    headers={"Cache-Control": "no-store", "X-Token-Expires": str(token.expires_at)})


@blp.route("/qr.svg")
@allow(Role.RESIDENT, cached=True)
@blp.response(200, content_type="image/svg+xml")
def qr_svg():
    """A fresh token as an SVG QR code (level M, alphanumeric mode)."""
    return _qr(render_svg, "image/svg+xml")


@blp.route("/qr.png")
@allow(Role.RESIDENT, cached=True)
@blp.response(200, content_type="image/png")
def qr_png():
    """A fresh token as a PNG QR code (level M, alphanumeric mode)."""
    return _qr(render_png, "image/png")


class Jwk(Schema):
    class Meta:
        unknown = INCLUDE

    kty = fields.String(required=True, metadata={"example": "OKP"})
    crv = fields.String(required=True, metadata={"example": "Ed25519"})
    x = fields.String(required=True, metadata={"description": "the public key, base64url"})
    kid = fields.String(required=True)


class Jwks(Schema):
    """RFC 7517 key set (Ed25519 keys as RFC 8037 OKP); what else it holds is in ecard/README.md §5."""

    class Meta:
        unknown = INCLUDE

    keys = fields.List(fields.Nested(Jwk), required=True)


@well_known.route("/.well-known/jwks.json")
@allow(public=True)
@well_known.alt_response(200, schema=Jwks, success=True, description="The key set; ETag, cacheable, CORS open")
@well_known.alt_response(304, description="Not modified (If-None-Match)")
def jwks():
    """The published verification keys (RFC 7517/8037), for offline verifiers. Cacheable; CORS open."""
    keys = issuer().store.jwks()
    tag = jwks_etag(keys)
    headers = {"ETag": tag, **CACHEABLE, "Access-Control-Allow-Origin": "*"}
    # weak comparison (RFC 9110 §13.1.2): a proxy that compresses turns the tag weak (W/"…"), and a
    # scanner sending that back has the same set; "*" matches too
    if request.if_none_match.contains_weak(tag.strip('"')) or request.if_none_match.star_tag:
        return Response(status=304, headers=headers)
    resp = current_app.json.response(keys)
    resp.headers.update(headers)
    return resp
