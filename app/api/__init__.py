"""REST API (flask-smorest): thin views over app.services; OpenAPI at /api/openapi.json."""
from flask_smorest import Api


def register_blueprints(api: Api) -> None:
    from app.api import (agency, applications, audit, auth, banks, calendar, cards, corrections, ecard, hotline, me,
                         persons)

    for module in (auth, banks, persons, applications, cards, calendar, audit, agency, hotline, ecard, me,
                   corrections):
        api.register_blueprint(module.blp)
