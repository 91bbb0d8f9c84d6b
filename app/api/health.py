"""``GET /api/ping`` → ``{"ok": true}``: a health check for load balancers and monitoring, public.

Deliberately trivial (no database, no token, no schema, no decorator but the policy): it is also the baseline ``bench/ecard.py`` measures issuance throughput against (a trivial JSON
endpoint of the same app, same run)."""
from __future__ import annotations

from marshmallow import Schema, fields

from app.api.common import Blueprint
from app.auth import allow

blp = Blueprint("health", __name__, description="Liveness check")


class PingOut(Schema):
    ok = fields.Boolean(required=True)


def _ping():
    """Liveness: the process answers. Touches nothing else."""
    return {"ok": True}


# Documented like any view, but the baseline keeps no wrapper of its own: alt_response only lends its doc.
_ping._apidoc = blp.alt_response(200, schema=PingOut, success=True)(_ping)._apidoc
ping = blp.route("/api/ping", endpoint="ping")(allow(public=True)(_ping))
