"""What every API module shares: the Blueprint (strict JSON), the session, If-Match / ETag."""
from __future__ import annotations

import json
import re

import flask_smorest
from flask import current_app, request
from flask.json.provider import DefaultJSONProvider
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.models import Card
from app.services.errors import PreconditionFailed

# A lone surrogate can only come from a \u escape (UTF-8 cannot encode one): look only then.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONProvider(DefaultJSONProvider):
    """The app's one JSON codec. Out: UTF-8 as it is (``"张*明"``, not ``"\\u5f20*\\u660e"``; RFC 8259 §8.1).
    In: a document Python could parse but not use is invalid JSON (400), never a 500 later on: nesting
    deeper than the interpreter can follow, a lone surrogate (``"\\ud800"``), which no UTF-8 text can
    hold (RFC 8259 §8.2) and which every encoder, database and hash downstream would choke on."""

    ensure_ascii = False

    def loads(self, s, **kwargs):
        text = s.decode("utf-8") if isinstance(s, (bytes, bytearray)) else s
        try:
            value = json.loads(text, **kwargs)
        except RecursionError:
            raise json.JSONDecodeError("JSON nested too deeply", text, 0) from None
        if _SURROGATE_ESCAPE.search(text):
            _refuse_lone_surrogates(value, text)
        return value


def _refuse_lone_surrogates(value, text: str) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                raise json.JSONDecodeError("lone surrogate in a JSON string (not Unicode text)", text, 0) from e


class _Parser(FlaskParser):
    """webargs reads JSON bodies with the app's codec, like ``request.get_json``: one decoder, one set of
    rules. Its invalid-JSON answer is the usual 400."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return super()._raw_load_json(req)
        data = req.get_data(cache=True)
        if not data:
            raise json.JSONDecodeError("no body", "", 0)  # webargs reads an empty doc as "no body"
        return current_app.json.loads(data)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint with the strict JSON body parser; every API module uses this one."""

    ARGUMENTS_PARSER = _Parser()


# Public data that a browser or proxy may keep a while; every other answer is no-store (app/__init__.py).
CACHEABLE = {"Cache-Control": "public, max-age=300"}

_ETAG = re.compile(r'^(?:W/)?"(\d+)\.(\d+)"$')


class PreconditionRequired(HTTPException):
    code = 428
    name = "Precondition Required"
    description = "State-changing calls on a card need If-Match with the card's ETag (GET the card first)."


def etag(card: Card) -> str:
    return f'"{card.id}.{card.version}"'


def expected_version(card_id: int) -> int:
    """The version named by If-Match; two counters cannot overwrite each other (RFC 9110 §13.1.1)."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    m = _ETAG.match(header.strip())
    if not m or int(m.group(1)) != card_id:
        raise PreconditionFailed("If-Match {header!r} is not an ETag of card {card_id}.",
                                 params={"header": header, "card_id": card_id})
    return int(m.group(2))


def commit() -> None:
    db.session.commit()


IF_MATCH_PARAM = {"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"},
                  "description": "The card's ETag, as returned by GET /api/cards/{card_id}."}
