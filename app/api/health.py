"""``GET /api/ping`` → ``{"ok": true}``: a health check for load balancers and monitoring, public.

Deliberately trivial (no database, no token): it is also the baseline ``bench/ecard.py`` measures
issuance throughput against (a trivial JSON endpoint of the same app, same run)."""
from __future__ import annotations

from flask import Blueprint

from app.auth import allow

blp = Blueprint("health", __name__)


@blp.route("/api/ping")
@allow(public=True)
def ping():
    """Liveness: the process answers. Touches nothing else."""
    return {"ok": True}
