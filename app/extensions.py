"""Extension objects, created unbound and bound to the app in create_app()."""
import http

from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from app.models.base import Base
from app.problems import PROBLEM_JSON, Problem
from app.replica import RoutingSession


class ProblemApi(Api):
    """flask-smorest documenting every error answer as what it is: ``application/problem+json`` with the
    one :class:`~app.problems.Problem` schema (its own ``Error`` schema and ``application/json`` are not
    what the API sends)."""

    ERROR_SCHEMA = Problem

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["content"] = {PROBLEM_JSON: {"schema": Problem}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, {
            "description": "Error: RFC 9457 problem details", "content": {PROBLEM_JSON: {"schema": Problem}},
        }, lazy=True)


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})  # reads of marked views: app.replica
migrate = Migrate()
api = ProblemApi()
jwt = JWTManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
