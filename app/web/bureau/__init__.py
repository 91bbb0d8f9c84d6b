"""The Bureau's pages (Art. 5, 6 ¶2, 10, 16, 25): cooperating banks and outlets, the holiday calendar with the
preview of the due dates a load would change, staff accounts with deactivation, the audit trail with filters
and chain verification. Thin: every write and every rule is a service call (``app.services.bureau``,
``deadlines``, ``sessions``, ``audit``); who may open each page comes from the same role tuples as the API."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.extensions import db
from app.i18n import N_
from app.replica import replica_reads
from app.web.forms import L_, options
from app.models import Bank, Outlet, StaffUser
from app.models.enums import STAFF_ROLES, Role
from app.services import audit, bureau, deadlines, sessions
from app.services.errors import DomainError
from app.web.forms import actor, helpers, refuse_into
from app.web.policy import page

bp = Blueprint("bureau", __name__, url_prefix="/bureau", template_folder="templates")
helpers(bp)

REQUIRED = N_("This field is required.")


# ---------------------------------------------------------------- banks and outlets (Art. 6 ¶2)


class BankForm(FlaskForm):
    code = StringField(N_("Bank code"), validators=[DataRequired(REQUIRED), Length(max=24)])
    name = StringField(N_("Bank name"), validators=[DataRequired(REQUIRED), Length(max=100)])
    published = BooleanField(N_("Published: applicants may choose this bank"), default=True)


class OutletForm(FlaskForm):
    code = StringField(N_("Outlet code"), validators=[DataRequired(REQUIRED), Length(max=24)])
    name = StringField(N_("Outlet name"), validators=[DataRequired(REQUIRED), Length(max=120)])
    district = StringField(N_("District"), validators=[DataRequired(REQUIRED), Length(max=20)])
    address = StringField(N_("Address"), validators=[DataRequired(REQUIRED), Length(max=200)])
    instant = BooleanField(N_("Instant card-making outlet"))


@bp.route("/banks")
@page(*bureau.PUBLISHERS)
@replica_reads
def banks():
    return render_template("bureau/banks.html", banks=bureau.banks(db.session))


def _bank_page(form, bank, refusal=None, status=200):
    return render_template("bureau/bank_form.html", form=form, bank=bank, refusal=refusal), status


@bp.route("/banks/new", methods=["GET", "POST"])
@bp.route("/banks/<int:bank_id>", methods=["GET", "POST"])
@page(*bureau.PUBLISHERS)
def bank(bank_id=None):
    row = None
    if bank_id is not None:
        row = db.session.get(Bank, bank_id) or abort(404)
    form = BankForm(obj=row) if request.method == "GET" else BankForm()
    if request.method == "GET":
        return _bank_page(form, row)
    if not form.validate():
        return _bank_page(form, row, status=422)
    try:
        saved = bureau.save_bank(db.session, actor(), bank_id,
                                 bureau.BankIn(form.code.data, form.name.data, form.published.data))
    except DomainError as e:
        return _bank_page(form, row, refuse_into(form, e), 422)
    db.session.commit()
    flash(N_("The bank was saved."), "success")
    return redirect(url_for(".banks", _anchor=f"bank-{saved.id}"))


@bp.route("/banks/<int:bank_id>/outlets/new", methods=["GET", "POST"])
@bp.route("/banks/<int:bank_id>/outlets/<int:outlet_id>", methods=["GET", "POST"])
@page(*bureau.PUBLISHERS)
def outlet(bank_id, outlet_id=None):
    row_bank = db.session.get(Bank, bank_id) or abort(404)
    row = None
    if outlet_id is not None:
        row = db.session.get(Outlet, outlet_id)
        if row is None or row.bank_id != bank_id:
            abort(404)
    form = OutletForm(obj=row) if request.method == "GET" else OutletForm()

    def show(refusal=None, status=200):
        return render_template("bureau/outlet_form.html", form=form, bank=row_bank, outlet=row,
                               refusal=refusal), status

    if request.method == "GET":
        return show()
    if not form.validate():
        return show(status=422)
    try:
        bureau.save_outlet(db.session, actor(), bank_id, outlet_id, bureau.OutletIn(
            form.code.data, form.name.data, form.district.data, form.address.data, form.instant.data))
    except DomainError as e:
        return show(refuse_into(form, e), 422)
    db.session.commit()
    flash(N_("The outlet was saved."), "success")
    return redirect(url_for(".banks", _anchor=f"bank-{bank_id}"))


# ---------------------------------------------------------------- the holiday calendar (Art. 10, 25)


class YearForm(FlaskForm):
    year = IntegerField(N_("Year"), validators=[DataRequired(REQUIRED), NumberRange(2000, 2100)])
    holidays = TextAreaField(N_("Holidays (one date per line, YYYY-MM-DD)"), validators=[DataRequired(REQUIRED)],
                             render_kw={"rows": 8})
    workdays = TextAreaField(N_("Adjusted working days (weekend days worked, one per line)"),
                             render_kw={"rows": 4})
    source = StringField(N_("Source (the State Council notice)"), validators=[DataRequired(REQUIRED),
                                                                               Length(max=200)])
    confirm = BooleanField(N_("Load it although it looks unlike any published year"))


def _dates(text: str | None) -> list[str]:
    return [d for d in (text or "").replace(",", "\n").split() if d]


def _calendar_page(form, plan=None, refusal=None, status=200):
    return render_template("bureau/calendar.html", form=form, plan=plan, refusal=refusal,
                           loaded=deadlines.loaded_years(db.session),
                           without=deadlines.years_without_data(db.session)), status


@bp.route("/calendar", methods=["GET"])
@page(Role.BUREAU)
def calendar():
    year = request.args.get("year", type=int)
    form = YearForm()
    if year:
        y = deadlines.year_in_force(db.session, year)
        form.year.data = year
        if y.schedule:
            data = y.schedule.to_json()
            form.holidays.data = "\n".join(data["holidays"])
            form.workdays.data = "\n".join(data["workdays"])
            form.source.data = data.get("source")
    return _calendar_page(form)


@bp.route("/calendar", methods=["POST"])
@page(Role.BUREAU)
def calendar_post():
    """``action=preview``: the warnings and the due dates a load would change, nothing written;
    ``action=load``: load it (a schedule unlike any published year needs the confirmation box)."""
    form = YearForm()
    if not form.validate():
        return _calendar_page(form, status=422)
    data = {"year": form.year.data, "holidays": _dates(form.holidays.data), "workdays": _dates(form.workdays.data),
            "source": form.source.data}
    try:
        if request.form.get("action") == "load":
            row, plan = deadlines.load_year(db.session, data, loaded_by=f"staff:{g.staff.user_id}",
                                            confirm=form.confirm.data)
            db.session.commit()
            flash(N_("The year was loaded; open due dates were recomputed."), "success")
            return redirect(url_for(".calendar", year=row.year))
        plan = deadlines.plan_year(db.session, data)
    except DomainError as e:
        if e.extra.get("field") == "schedule":
            e.extra["field"] = "holidays"
        preview = _preview(e.extra["warnings"], e.extra["changes"]) if "changes" in e.extra else None
        refusal = refuse_into(form, e)
        return _calendar_page(form, plan=preview, refusal=refusal, status=e.status)
    return _calendar_page(form, plan=_preview(plan.warnings, plan.changes_json()))


def _preview(warnings: list[str], changes: list[dict]) -> dict:
    """The preview as the page shows it, from a plan or from the refusal of a load that needs a
    confirmation (``ConfirmationRequired`` carries the same preview): dates as dates."""
    from datetime import date

    def as_dates(c: dict) -> dict:
        return {k: date.fromisoformat(v) if k in ("accepted_on", "due_on", "new_due_on") else v for k, v in c.items()}

    return {"warnings": warnings, "changes": [as_dates(c) for c in changes]}


# ---------------------------------------------------------------- staff accounts (Art. 16)


class StaffFilter(FlaskForm):
    class Meta:
        csrf = False

    role = SelectField(N_("Role"), choices=[], validators=[Optional()])
    active = SelectField(N_("Status"), choices=options([("", L_(N_("All"))), ("1", L_(N_("Active"))),
                                                         ("0", L_(N_("Deactivated")))]),
                         validators=[Optional()])


class DeactivateForm(FlaskForm):
    reason = StringField(N_("Reason for deactivation"), validators=[DataRequired(REQUIRED), Length(min=3, max=500)])


@bp.route("/staff")
@page(*bureau.ADMINS)
@replica_reads
def staff():
    from app.web.labels import role_label

    f = StaffFilter(request.args)
    f.role.choices = options([("", L_(N_("All")))] + [(str(r), L_(role_label(r))) for r in sorted(STAFF_ROLES)])
    role = Role(f.role.data) if f.role.data in {str(r) for r in STAFF_ROLES} else None
    active = {"1": True, "0": False}.get(f.active.data or "")
    rows = bureau.staff_accounts(db.session, actor(), role=role, active=active)
    return render_template("bureau/staff.html", rows=rows, filter=f, form=DeactivateForm())


@bp.route("/staff/<int:user_id>/deactivate", methods=["GET", "POST"])
@page(*bureau.ADMINS)
def deactivate(user_id):
    user = db.session.get(StaffUser, user_id) or abort(404)
    form = DeactivateForm()
    if request.method == "GET":
        return render_template("bureau/deactivate.html", user=user, form=form)
    if not form.validate():
        return render_template("bureau/deactivate.html", user=user, form=form), 422
    try:
        sessions.deactivate_staff(db.session, actor(), user_id, form.reason.data.strip())
    except DomainError as e:
        return render_template("bureau/deactivate.html", user=user, form=form,
                               refusal=refuse_into(form, e)), e.status
    db.session.commit()
    flash(N_("The account was deactivated; its sessions have ended."), "success")
    return redirect(url_for(".staff"))


# ---------------------------------------------------------------- the audit trail (Art. 16)


class AuditFilter(FlaskForm):
    class Meta:
        csrf = False

    person_id = IntegerField(N_("Cardholder id"), validators=[Optional(), NumberRange(min=1)])
    actor_id = IntegerField(N_("Staff account id"), validators=[Optional(), NumberRange(min=1)])
    action = StringField(N_("Action"), validators=[Optional(), Length(max=40)])
    action_prefix = StringField(N_("Action starts with"), validators=[Optional(), Length(max=40)])
    since = DateField(N_("From (date)"), validators=[Optional()])
    until = DateField(N_("Before (date)"), validators=[Optional()])
    page = HiddenField()


PAGE_SIZE = 50


def _day(d):
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc) if d else None


@bp.route("/audit")
@page(*audit.READERS)
@replica_reads
def audit_trail():
    f = AuditFilter(request.args)
    entries, total, number = [], 0, max(request.args.get("page", 1, type=int) or 1, 1)
    status = 200
    if request.args and not f.validate():
        status = 422
    else:
        filters = {k: getattr(f, k).data for k in ("person_id", "actor_id", "action", "action_prefix")}
        filters.update(since=_day(f.since.data), until=_day(f.until.data))
        entries, total = audit.search(db.session, actor(), filters, page=number, page_size=PAGE_SIZE,
                                      newest_first=True)
        db.session.commit()  # the search is itself on record (read.audit)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("bureau/audit.html", filter=f, entries=entries, total=total, page_no=number,
                           pages=pages, args=args, report=None), status


@bp.route("/audit/verify", methods=["POST"])
@page(*audit.READERS)
def audit_verify():
    """Check the whole hash chain now (as ``flask audit verify``) and show the report."""
    report = audit.verify(db.session)
    audit.record(db.session, actor(), "audit.verify", subject="audit",
                 changes={"ok": report.ok, "checked": report.checked})
    db.session.commit()
    return render_template("bureau/audit.html", filter=AuditFilter(), entries=[], total=0, page_no=1, pages=1,
                           args={}, report=report)
