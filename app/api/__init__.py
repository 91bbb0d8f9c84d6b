"""REST API (flask-smorest): thin views over app.services; OpenAPI at /api/openapi.json."""
from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api

from app.auth import PUBLIC


def register_blueprints(api: Api) -> None:
    from app.api import (
        agency,
        applications,
        audit,
        auth,
        banks,
        bureau,
        calendar,
        cards,
        complaints,
        corrections,
        ecard,
        family,
        home_visits,
        guides,
        hotline,
        health,
        legacy,
        ledger,
        me,
        persons,
        production,
        staff,
    )

    for module in (auth, banks, persons, applications, cards, calendar, audit, agency, hotline, ecard, me,
                   corrections, staff, production, home_visits, guides, complaints, legacy, bureau, ledger,
                   family):
        api.register_blueprint(module.blp)
    api.register_blueprint(ecard.well_known)
    api.register_blueprint(health.blp)


class PolicyDoc(BasePlugin):
    """Writes each operation's access policy into the OpenAPI document from the view's own ``@allow``
    declaration (``view.policy``, itself often ``roles_for(op)`` of the channel table), so the document
    cannot say other than what is enforced: ``security: []`` on a public operation; otherwise the roles
    it admits, as ``x-roles`` and in its description."""

    def __init__(self, app: Flask):
        super().__init__()
        self.app = app

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        policy = getattr(self.app.view_functions.get(rule.endpoint if rule else None), "policy", None)
        if not policy:
            return
        for operation in operations.values():
            if policy == PUBLIC:
                operation["security"] = []
                roles = "Public: no token."
            else:
                operation["x-roles"] = sorted(str(r) for r in policy)
                roles = "Roles: " + ", ".join(f"`{r}`" for r in operation["x-roles"]) + "."
            operation["description"] = "\n\n".join(filter(None, (operation.get("description"), roles)))
