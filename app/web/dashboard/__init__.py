"""The dashboard by role (issue 14): the start page after sign-in.

It is a list of panels, each shown to the roles of the work it lists, taken from the API's tables
(the channel table's roles of the operation that clears the list, or the roles of the API view
that serves it). Another area adds its panel with :func:`panel` (complaints, Art. 29: a panel of
``app.web.complaints`` registered the same way)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, g, render_template

from app.api.applications import WATCHERS
from app.extensions import db
from app.models.enums import Role
from app.replica import replica_reads
from app.services import clock, disclosure, selfservice, worklists
from app.services.lifecycle_rules import Op, roles_for
from app.web.policy import STAFF, page

bp = Blueprint("dashboard", __name__, template_folder="templates")


@dataclass(frozen=True)
class Panel:
    name: str
    template: str  # rendered with ``data`` = load(session, actor)
    roles: frozenset[Role]
    load: Callable


PANELS: list[Panel] = []


def panel(name: str, template: str, roles, load: Callable) -> None:
    """Add a panel to the dashboard (in order), shown to ``roles``."""
    PANELS.append(Panel(name, template, frozenset(roles), load))


def _log(actor, rows, what, subject):
    disclosure.log_read(db.session, actor, [card.person_id for _, card in rows], what, subject=subject)


def _queue(session, actor):
    wl = worklists.counter_queue(session, actor)
    _log(actor, wl.rows, "cards", "dashboard:counter-queue")
    return wl


def _pickup(session, actor):
    wl = worklists.awaiting_pickup(session, actor)
    _log(actor, wl.rows, "cards", "dashboard:pickup")
    return wl


def _acceptance(session, actor):
    wl = worklists.awaiting_acceptance(session)
    _log(actor, wl.rows, "cards", "dashboard:acceptance")
    return wl


def _deadlines(session, actor):
    wl = worklists.deadline_watch(session)
    disclosure.log_read(session, actor, [r.card.person_id for r in wl.rows], "deadlines", subject="dashboard:deadlines")
    return wl


panel("queue", "dashboard/panel_queue.html", set(roles_for(Op.APPLY)) - {Role.RESIDENT}, _queue)
panel("deadlines", "dashboard/panel_deadlines.html", WATCHERS, _deadlines)
panel("acceptance", "dashboard/panel_acceptance.html", roles_for(Op.ACCEPT), _acceptance)
panel("pickup", "dashboard/panel_pickup.html", set(roles_for(Op.PICK_UP)) | set(roles_for(Op.DISPATCH)), _pickup)
panel("corrections", "dashboard/panel_corrections.html", (*selfservice.HANDLERS, *selfservice.SUPERVISORS),
      lambda session, actor: worklists.open_corrections(session, actor))
# Complaints and reports (Art. 29): web3 registers its panel here with panel("complaints", …).


@bp.route("/")
@page(*STAFF)
@replica_reads
def home():
    actor = g.staff.actor()
    shown = [(p, p.load(db.session, actor)) for p in PANELS if g.staff.role in p.roles]
    disclosure.commit_read(db.session)  # the reads are on record before the page leaves (Art. 16)
    return render_template("dashboard/home.html", panels=shown, today=clock.today())
