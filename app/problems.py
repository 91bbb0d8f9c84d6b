"""RFC 9457 problem details for every error the API returns; never a stack trace.

One :class:`Problem` schema documents them all (``application/problem+json``, see app.extensions)."""
from __future__ import annotations

import logging
import traceback

from flask import Flask, current_app, g, jsonify, request
from marshmallow import INCLUDE, Schema, ValidationError, fields
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, StatementError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.i18n import N_, translate
from app.i18n_library import translate_messages
from app.services.errors import DomainError

PROBLEM_BASE = "https://ssc.gz.gov.cn/problems/"
PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("app.problems")


class Problem(Schema):
    """RFC 9457 problem details: every error answer of the API."""

    class Meta:
        unknown = INCLUDE  # RFC 9457 §3.2: extension members; clients ignore those they do not know

    type = fields.String(required=True, metadata={"description": "A stable URI naming the kind of problem."})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String(metadata={"description": "The request path."})
    request_id = fields.String(metadata={"description": "Quote it to the operator: the log names it."})
    article = fields.String(metadata={"description": "The article of the Measures that forbids the step."})
    field = fields.String(metadata={"description": "The offending input, named as the request names it "
                                                   "(`applicant.doc_number`)."})
    errors = fields.Dict(metadata={"description": "Schema errors by location and field, as the request names "
                                                  "them (`{\"json\": {\"doc_number\": [\"…\"]}}`)."})


def request_name(name: str) -> str:
    """The name the request gives to the input a service calls ``name``: the data_key path of the field
    with that attribute in the view's argument schemas (``applicant.doc_number`` in an application).
    A name no argument schema holds is returned as it is."""
    view = current_app.view_functions.get(request.endpoint or "")
    for arg in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        schema = arg["schema"]
        path = _path(schema() if isinstance(schema, type) else schema, name)
        if path:
            return path
    return name


def _path(schema: Schema, name: str, prefix: str = "") -> str | None:
    nested = []
    for key, f in schema.fields.items():
        if (f.attribute or key) == name:
            return prefix + (f.data_key or key)
        if isinstance(f, fields.Nested) and isinstance(f.schema, Schema):
            nested.append((f.schema, prefix + (f.data_key or key) + "."))
    return next((p for s, pre in nested if (p := _path(s, name, pre))), None)


def problem(status: int, type_: str, title: str, detail: str | None = None, **extra):
    """A problem+json answer; ``title`` and ``detail`` are English source messages, translated here
    into the request's language (Accept-Language; app.i18n)."""
    body = {"type": PROBLEM_BASE + type_, "title": translate(title), "status": status}
    if detail:
        body["detail"] = translate(detail)
    body["instance"] = request.path
    if getattr(g, "request_id", None):
        body["request_id"] = g.request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = PROBLEM_JSON
    return resp


def register(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(e: DomainError):
        from app.extensions import db

        # A refused operation changes nothing, except a wrong-PIN count, which must stick (Art. 19).
        db.session.commit() if e.extra.get("commit") else db.session.rollback()
        extra = {k: v for k, v in e.extra.items() if k != "commit"}
        if isinstance(extra.get("field"), str):
            extra["field"] = request_name(extra["field"])
        title, detail = e.translated()
        return problem(e.status, e.type, title, detail, article=e.article, **extra)

    @app.errorhandler(StaleDataError)
    def stale(e):
        from app.extensions import db

        db.session.rollback()
        return problem(409, "concurrent-change", N_("Changed by someone else"),
                       N_("Another operation changed this record at the same time; reload and retry."))

    @app.errorhandler(IntegrityError)
    def integrity(e):
        from app.extensions import db

        db.session.rollback()
        log.warning("integrity error: %s", type(e.orig).__name__)
        return problem(409, "conflict", N_("Conflicts with existing data"),
                       N_("The change conflicts with the current data (for example a second valid card)."))

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def out_of_range(e):
        """A value the database cannot hold (a number beyond 64 bits…): the caller's input, not our fault."""
        from app.extensions import db

        db.session.rollback()
        return problem(422, "invalid-input", N_("Invalid input"), N_("A value is out of range."))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(e):
        """The database is unreachable or the connection was lost: nothing was committed (the transaction
        dies with its connection), the caller may retry. The pool drops the dead connections, so the next
        request after PostgreSQL is back connects afresh: no restart (issue 18)."""
        from app.extensions import db

        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone already
            db.session.close()
        log.error("database unavailable: %s", type(e.orig).__name__ if getattr(e, "orig", None) else type(e).__name__)
        resp = problem(503, "database-unavailable", N_("Service temporarily unavailable"),
                       N_("The database cannot be reached; nothing was changed. Try again in a moment."))
        resp.headers["Retry-After"] = "5"
        return resp

    try:
        from redis.exceptions import RedisError
    except ImportError:  # pragma: no cover - redis is only needed with RATELIMIT_STORAGE_URI=redis://
        RedisError = None
    if RedisError is not None:
        @app.errorhandler(RedisError)
        def rate_limit_storage_unavailable(e):
            """The rate-limit counters (Redis) cannot be reached: a limited endpoint (login, OTP, PIN) fails
            closed, since it cannot count the tries; unlimited ones (reads) never ask Redis and stay open."""
            from app.extensions import db

            db.session.rollback()
            log.error("rate-limit storage unavailable: %s", type(e).__name__)
            resp = problem(503, "rate-limit-unavailable", N_("Service temporarily unavailable"),
                           N_("Tries cannot be counted right now, so sign-in and PIN checks are refused. "
                              "Try again in a moment."))
            resp.headers["Retry-After"] = "5"
            return resp

    @app.errorhandler(StatementError)
    def statement_error(e):
        if isinstance(e.orig, OverflowError):
            return out_of_range(e)
        return unexpected(e)

    @app.errorhandler(ValidationError)
    def validation(e: ValidationError):
        return problem(422, "invalid-input", N_("Invalid input"), N_("The request has invalid fields."),
                       errors=translate_messages(e.normalized_messages()))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        # flask-smorest puts marshmallow messages in e.data["messages"].
        messages = getattr(e, "data", {}).get("messages") if hasattr(e, "data") else None
        # One problem type per meaning: a schema error (422 from webargs) is invalid input, like a domain one.
        slug = "invalid-input" if e.code == 422 else (e.name or "error").lower().replace(" ", "-")
        detail = getattr(e, "data", {}).get("message") if hasattr(e, "data") else None
        if detail is None and hasattr(e, "params"):  # a source message with values (RoleForbidden)
            detail = translate(e.message, **e.params)
        return problem(e.code or 500, slug, e.name, detail or e.description, errors=translate_messages(messages))

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        # The exception's type and where it was raised, never its message or arguments: they may carry
        # personal data (Art. 16). The request id ties the line to the answer the caller got.
        where = "".join(traceback.format_list(traceback.extract_tb(e.__traceback__)))
        log.error("unhandled %s in request %s (%s %s)\n%s", type(e).__name__, g.get("request_id", "-"),
                  request.method, request.path, where)
        return problem(500, "internal-error", N_("Internal error"), N_("Something went wrong; it has been logged."))
