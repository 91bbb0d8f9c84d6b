"""The staff back office in the browser (issue 14): server-rendered Jinja2, htmx for progressive
enhancement, no inline script.

One parent blueprint, ``web``, holds every area's blueprint (``app/web/<area>/``, templates beside
it under ``templates/<area>/``); its hooks apply to all of them:

* the signed-in member of staff (``g.staff``) from the web session, checked against the same
  server-side session rows as the API's tokens (``app.services.sessions``): logout, deactivation,
  idle timeout and absolute lifetime end it (``app.web.session``);
* CSRF (Flask-WTF) on every POST/PUT/PATCH/DELETE, forms and htmx alike (header ``X-CSRFToken``,
  set by ``static/js/app.js``). The API (bearer tokens) is not under this blueprint, so it stays exempt;
* a refused step (:class:`~app.services.errors.DomainError`) not handled by its view is shown as a
  page with the same article and reason as the API gives, in the clerk's language.

Who may open a page is declared with :func:`app.web.policy.page`, from the same tables as the API.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from app.auth.policy import PUBLIC
from app.i18n import N_
from app.services.errors import DomainError
from app.web import labels

csrf = CSRFProtect()

# Every area's blueprint module (each defines ``bp``). Add yours here.
AREAS = (
    "app.web.signin",
    "app.web.dashboard",
    "app.web.desk",
    "app.web.applications",
    "app.web.bureau",
    "app.web.guides",
    "app.web.complaints",
    "app.web.legacy",
)

# The main navigation: (endpoint, label). A link shows only to the roles its page admits (the view's
# own ``policy``), so no role list is written here. Add your area's start page.
NAV = [
    ("web.dashboard.home", N_("Start page")),
    ("web.desk.search", N_("Card desk")),
    ("web.applications.index", N_("Applications")),
    ("web.bureau.banks", N_("Banks and outlets")),
    ("web.bureau.calendar", N_("Holiday calendar")),
    ("web.bureau.staff", N_("Staff accounts")),
    ("web.bureau.audit_trail", N_("Audit trail")),
    ("web.complaints.index", N_("Complaints")),
    ("web.complaints.hotline", N_("Record a complaint")),
    ("web.legacy.lookup", N_("Old certificates")),
    ("web.guides.index", N_("Service guides")),
]


def _before():
    from app.web import session

    session.load()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def _after(resp):
    from app.web import session

    return session.after(resp)


def _csrf_error(e: CSRFError):
    from app.i18n import N_

    return render_template("web/error.html", title=N_("The form has expired"),
                           detail=N_("The page was open too long or came from elsewhere. Reload it and try again."),
                           status=400), 400


def _refused(e: DomainError):
    """A refused step no view caught: nothing was written; the refusal with its article."""
    from app.extensions import db

    db.session.commit() if e.extra.get("commit") else db.session.rollback()
    return render_template("web/error.html", refusal=e, status=e.status), e.status


def _http_error(e):
    from app.i18n import N_

    titles = {401: N_("Please sign in"), 403: N_("Not open to your role"), 404: N_("Page not found"), 405: N_("Method Not Allowed")}
    return render_template("web/error.html", title=titles.get(e.code, e.name), detail=None,
                           status=e.code), e.code


def register(app: Flask) -> None:
    import importlib

    from app import i18n

    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked by the web blueprint only
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # a token lives as long as its session
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRFToken"])
    csrf.init_app(app)
    from app.web.session import StaffSessionInterface

    app.session_interface = StaffSessionInterface()
    # The parent blueprint is made per app (a registered blueprint takes no more children).
    web = Blueprint("web", __name__, template_folder="templates")
    web.before_request(_before)
    web.after_request(_after)
    web.register_error_handler(CSRFError, _csrf_error)
    web.register_error_handler(DomainError, _refused)
    for code in (401, 403, 404, 405):
        web.register_error_handler(code, _http_error)
    for name in AREAS:
        web.register_blueprint(importlib.import_module(name).bp)
    app.register_blueprint(web)
    importlib.import_module("app.web.phone").register(app)  # the resident's phone, /m/ (its own parent)

    @app.context_processor
    def _globals():
        return {"staff": g.get("staff"), "locales": i18n.LOCALES}

    app.jinja_env.globals.update(can=can, nav_items=nav_items, html_lang=i18n.html_lang, current_locale=i18n.current_locale,
                                 role_label=labels.role_label, label=labels.label,
                                 refusal_text=labels.refusal_text)


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: str
    current: bool


def can(endpoint: str) -> bool:
    """Whether the signed-in member of staff may open ``endpoint`` (its view's declared policy): a
    template shows a link or a button only then."""
    staff = g.get("staff")
    policy = getattr(current_app.view_functions.get(endpoint), "policy", frozenset())
    return policy == PUBLIC or (staff is not None and staff.role in policy)


def nav_items() -> list[NavItem]:
    staff = g.get("staff")
    if staff is None:
        return []
    items = []
    for endpoint, label in NAV:
        view = current_app.view_functions.get(endpoint)
        policy = getattr(view, "policy", frozenset())
        if staff.role in policy or policy == PUBLIC:
            items.append(NavItem(endpoint, label, request.endpoint == endpoint))
    return items
