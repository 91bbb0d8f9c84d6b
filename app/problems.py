"""RFC 9457 problem details for every error the API returns; never a stack trace."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.services.errors import DomainError

PROBLEM_BASE = "https://ssc.gz.gov.cn/problems/"
log = logging.getLogger("app.problems")


def problem(status: int, type_: str, title: str, detail: str | None = None, **extra):
    body = {"type": PROBLEM_BASE + type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if getattr(g, "request_id", None):
        body["request_id"] = g.request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(e: DomainError):
        from app.extensions import db

        # A refused operation changes nothing, except a wrong-PIN count, which must stick (Art. 19).
        db.session.commit() if e.extra.get("commit") else db.session.rollback()
        extra = {k: v for k, v in e.extra.items() if k != "commit"}
        return problem(e.status, e.type, e.title, e.detail, article=e.article, **extra)

    @app.errorhandler(StaleDataError)
    def stale(e):
        from app.extensions import db

        db.session.rollback()
        return problem(409, "concurrent-change", "Changed by someone else",
                       "Another operation changed this record at the same time; reload and retry.")

    @app.errorhandler(IntegrityError)
    def integrity(e):
        from app.extensions import db

        db.session.rollback()
        log.warning("integrity error: %s", type(e.orig).__name__)
        return problem(409, "conflict", "Conflicts with existing data",
                       "The change conflicts with the current data (for example a second valid card).")

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def out_of_range(e):
        """A value the database cannot hold (a number beyond 64 bits…): the caller's input, not our fault."""
        from app.extensions import db

        db.session.rollback()
        return problem(422, "invalid-input", "Invalid input", "A value is out of range.")

    @app.errorhandler(StatementError)
    def statement_error(e):
        if isinstance(e.orig, OverflowError):
            return out_of_range(e)
        return unexpected(e)

    @app.errorhandler(ValidationError)
    def validation(e: ValidationError):
        return problem(422, "invalid-input", "Invalid input", "The request has invalid fields.",
                       errors=e.normalized_messages())

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # flask-smorest puts marshmallow messages in e.data["messages"].
        messages = getattr(e, "data", {}).get("messages") if hasattr(e, "data") else None
        # One problem type per meaning: a schema error (422 from webargs) is invalid input, like a domain one.
        slug = "invalid-input" if e.code == 422 else (e.name or "error").lower().replace(" ", "-")
        detail = getattr(e, "data", {}).get("message") if hasattr(e, "data") else None
        return problem(e.code or 500, slug, e.name, detail or e.description, errors=messages)

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unhandled error")
        return problem(500, "internal-error", "Internal error", "Something went wrong; it has been logged.")
