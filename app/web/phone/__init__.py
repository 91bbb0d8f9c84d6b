"""The resident's phone (issue 15): a mobile web app under ``/m/``, installable (web app manifest and a
service worker of our own origin), zh_CN first with English, for the cardholder signed in with the SMS
one-time code.

A parent blueprint of its own, ``phone``, beside the back office's ``web`` (not under it): ``web``'s hooks
load a *staff* session, send strangers to the staff sign-in and render errors in the back office layout;
this one loads the *resident's* session (``app.web.phone.session``), sends strangers to ``/m/login`` and
renders errors in the phone layout. What both share is the CSRF protection (the same Flask-WTF
``csrf`` object, on every POST/PUT/PATCH/DELETE: forms carry ``csrf_token``, ``fetch`` the header
``X-CSRFToken`` from ``<meta name="csrf-token">``), the catalogues (Flask-Babel; this area's own in
``app/web/phone/translations/``), the page macros (``web/macros.html``) and the policy walk
(every view declares ``.policy``).

Writing a resident page (details: /work/wt/notes/phone-skeleton.md, README "The resident's phone")::

    bp = Blueprint("self", __name__, template_folder="templates", url_prefix="/self")

    @bp.route("/")
    @resident_page                          # policy {resident}; a stranger is sent to /m/login
    def index():
        person = me()                       # the signed-in holder (Person)
        actor = resident_actor()            # Actor(role=resident, channel=online, person_id=…)
        return render_template("self/index.html", person=person)

and list the module in ``AREAS`` below, its start page in ``NAV``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, Flask, abort, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError

from app.auth.policy import PUBLIC
from app.i18n import N_
from app.models import Person
from app.models.enums import Role
from app.services.actor import Actor
from app.services.errors import DomainError, NotFound

# Every area of the phone app: a module defining ``bp`` (its url_prefix is under /m). Add yours here.
AREAS = (
    "app.web.phone.signin",
    "app.web.phone.ecard",
    "app.web.selfservice",
    "app.web.family",
    "app.web.accounts",
)

# The tab bar at the bottom of every signed-in page: (endpoint, label, icon). Icons: the names of the
# symbols in phone/icons.html ("card", "services", "family", "account"; add one there if you need it).
# Add your area's start page, one line.
NAV = [
    ("phone.ecard.card", N_("E-card"), "card"),
    ("phone.self.index", N_("Services"), "services"),
    ("phone.family.index", N_("Family"), "family"),
    ("phone.accounts.index", N_("Accounts"), "money"),
    ("phone.signin.devices", N_("Account"), "account"),
]

RESIDENT = frozenset({Role.RESIDENT})


# ---------------------------------------------------------------- who is signed in


def current_resident():
    """The signed-in cardholder of this request (``WebResident``: ``sid``, ``person_id``), or None."""
    return g.get("resident")


def me() -> Person:
    """The signed-in cardholder's record. Only under :func:`resident_page`."""
    resident = g.get("resident")
    person = resident.person() if resident else None
    if person is None:
        raise NotFound("Your record no longer exists.")
    return person


def resident_actor() -> Actor:
    """The :class:`Actor` the services take for this holder: role resident, channel online."""
    resident = g.get("resident")
    if resident is None:
        abort(401)
    return resident.actor()


def resident_page(view=None, *, public: bool = False, json: bool = False):
    """Declare a phone view: for the signed-in cardholder (``.policy == {resident}``), or ``public=True``.

    Not signed in: a GET goes to the sign-in page and back afterwards; anything else gets 401 (as JSON
    problem details with ``json=True``, for the page's ``fetch`` calls). Use bare or with arguments:
    ``@resident_page``, ``@resident_page(public=True)``, ``@resident_page(json=True)``."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not public and g.get("resident") is None:
                if json:
                    return _json_problem(401, N_("Please sign in"),
                                         N_("Your sign-in has ended. Sign in again with a code by SMS."))
                if request.method in ("GET", "HEAD"):
                    return redirect(url_for("phone.signin.login", next=request.full_path.rstrip("?"),
                                            ended=g.get("session_ended") and "1"))
                abort(401)
            return view(*args, **kwargs)

        wrapper.policy = PUBLIC if public else RESIDENT
        wrapper.operation = None
        return wrapper

    return decorate(view) if view is not None else decorate


def _json_problem(status: int, title: str, detail: str, **extra):
    from app.i18n import translate
    from app.problems import PROBLEM_BASE, PROBLEM_JSON

    resp = jsonify({"type": PROBLEM_BASE + ("unauthenticated" if status == 401 else "error"), "title": translate(title),
                    "status": status, "detail": translate(detail), **extra})
    resp.status_code = status
    resp.mimetype = PROBLEM_JSON
    return resp


# ---------------------------------------------------------------- navigation


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    icon: str
    current: bool


def phone_nav() -> list[NavItem]:
    """The tab bar: every NAV entry whose endpoint exists, the current one marked (its blueprint's
    pages count as "current" too)."""
    if g.get("resident") is None:
        return []
    here = request.endpoint or ""
    items = []
    for endpoint, label, icon in NAV:
        if endpoint not in current_app.view_functions:
            continue
        area = endpoint.rsplit(".", 1)[0]
        items.append(NavItem(endpoint, label, icon, here == endpoint or here.startswith(area + ".")))
    return items


# ---------------------------------------------------------------- hooks


def _before():
    from app.web import csrf
    from app.web.phone import session

    session.load()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def _after(resp):
    resp.headers.setdefault("Vary", "Cookie")
    return resp


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _csrf_error(e: CSRFError):
    title = N_("The form has expired")
    detail = N_("The page was open too long or came from elsewhere. Reload it and try again.")
    if _wants_json():
        return _json_problem(400, title, detail)
    return render_template("phone/error.html", title=title, detail=detail), 400


def _refused(e: DomainError):
    """A refused step no view caught: nothing was written; the refusal with its article."""
    from app.extensions import db

    db.session.commit() if e.extra.get("commit") else db.session.rollback()
    if _wants_json():
        title, detail = e.translated()
        return _json_problem(e.status, title, detail, article=e.article)
    return render_template("phone/error.html", refusal=e), e.status


def _http_error(e):
    titles = {401: N_("Please sign in"), 403: N_("Not open to you"), 404: N_("Page not found"),
              405: N_("Method Not Allowed"), 429: N_("Too many tries")}
    details = {429: N_("Wait a minute and try again.")}
    title = titles.get(e.code, e.name)
    if _wants_json():
        return _json_problem(e.code, title, details.get(e.code, title))
    return render_template("phone/error.html", title=title, detail=details.get(e.code)), e.code


def register(app: Flask) -> None:
    """Called by ``app.web.register`` after the back office (whose CSRF and session setup it shares)."""
    import importlib

    phone = Blueprint("phone", __name__, url_prefix="/m", template_folder="templates")
    phone.before_request(_before)
    phone.after_request(_after)
    phone.register_error_handler(CSRFError, _csrf_error)
    phone.register_error_handler(DomainError, _refused)
    for code in (401, 403, 404, 405, 429):
        phone.register_error_handler(code, _http_error)
    for name in AREAS:
        phone.register_blueprint(importlib.import_module(name).bp)
    app.register_blueprint(phone)
    app.jinja_env.globals.update(phone_nav=phone_nav, current_resident=current_resident)
