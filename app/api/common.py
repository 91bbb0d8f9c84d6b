"""What every API module shares: the session, If-Match / ETag, scope-checked loads."""
from __future__ import annotations

import re

from flask import request
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.models import Card
from app.services.errors import PreconditionFailed

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
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag of card {card_id}.")
    return int(m.group(2))


def commit() -> None:
    db.session.commit()


IF_MATCH_PARAM = {"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"},
                  "description": "The card's ETag, as returned by GET /api/cards/{card_id}."}
