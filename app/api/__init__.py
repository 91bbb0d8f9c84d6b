"""REST API (flask-smorest): thin views over app.services; OpenAPI at /api/openapi.json."""
from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    from app.api import applications, auth, banks, calendar, cards, persons

    for module in (auth, banks, persons, applications, cards, calendar):
        api.register_blueprint(module.blp)
