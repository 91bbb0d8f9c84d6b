"""Complaints and reports (Art. 29): the public form and the follow-up page (no sign-in), the 12345 operator's
intake, and the authority's list and case page (assign, investigate, close). Every rule is in
``app.services.complaints``; the forms post to views that call it, as the API does."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.extensions import db, limiter
from app.i18n import N_
from app.replica import replica_reads
from app.web.forms import L_, options
from app.models.complaint import (
    ComplainantType,
    ComplaintKind,
    ComplaintOutcome,
    ComplaintStatus,
    IntakeChannel,
    PartyKind,
)
from app.services import complaints
from app.services.errors import DomainError, NotFound
from app.web.forms import actor, helpers, optional_int, refuse_into
from app.web.policy import page

bp = Blueprint("complaints", __name__, url_prefix="/complaints", template_folder="templates")
helpers(bp)

REQUIRED = N_("This field is required.")

LABELS = {
    ComplaintKind: {"complaint": N_("Complaint (a wrong done to me; I want a reply)"),
                    "report": N_("Report (a wrongdoing; may be anonymous)")},
    ComplainantType: {"natural_person": N_("A natural person"), "legal_person": N_("A legal person"),
                      "organisation": N_("An unincorporated organisation")},
    PartyKind: {"bureau": N_("The Municipal HRSS Bureau"), "issuing": N_("The card issuing agency"),
                "application": N_("An agency that uses the card"), "bank": N_("A cooperating bank")},
    IntakeChannel: {"hotline": N_("12345 hotline"), "web": N_("Web page"), "api": N_("API")},
    ComplaintStatus: {"received": N_("Received"), "assigned": N_("Assigned"), "investigating": N_("Under investigation"),
                      "closed": N_("Closed"), "referred": N_("Referred to the higher authority")},
    ComplaintOutcome: {"upheld": N_("Upheld"), "partly_upheld": N_("Partly upheld"), "not_upheld": N_("Not upheld"),
                       "withdrawn": N_("Withdrawn")},
}
STEP_LABELS = {"file": N_("Received"), "refer": N_("Referred to the higher authority"), "assign": N_("Assigned"),
               "investigate": N_("Investigation started"), "close": N_("Closed"), "withdraw": N_("Withdrawn")}
AUTHORITY_LABELS = {"bureau": N_("Guangzhou Municipal Human Resources and Social Security Bureau"),
                    "municipal_government": N_("Guangzhou Municipal People's Government")}


def clabel(value) -> str:
    """The source label of a complaint vocabulary value (translated in the template)."""
    return LABELS[type(value)][str(value)]


@bp.context_processor
def _helpers():
    from app.privacy import mask_name, mask_phone

    return {"clabel": clabel, "mask_name": lambda v: mask_name(v) if v else "",
            "mask_phone": lambda v: mask_phone(v) if v else ""}


def choices(enum) -> list[tuple[str, str]]:
    return [(str(m), L_(LABELS[enum][str(m)])) for m in enum]  # pairs: see options()


class ComplaintForm(FlaskForm):
    kind = RadioField(N_("What do you want to file?"), choices=options(choices(ComplaintKind)),
                      validators=[DataRequired(REQUIRED)], default="complaint")
    complainant_type = SelectField(N_("You are"), choices=options(choices(ComplainantType)), validators=[DataRequired(REQUIRED)])
    anonymous = BooleanField(N_("File anonymously (reports only)"))
    complainant_name = StringField(N_("Your name, or your organisation's"),
                                   validators=[Optional(), Length(max=complaints.NAME_MAX)])
    complainant_phone = StringField(N_("Mobile phone for the reply"), validators=[Optional(), Length(max=24)],
                                    render_kw={"type": "tel", "autocomplete": "tel"})
    party_kind = SelectField(N_("Whom is it about?"), choices=options(choices(PartyKind)), validators=[DataRequired(REQUIRED)])
    party_bank_id = SelectField(N_("Which bank"), coerce=optional_int, validators=[Optional()])
    party_agency_id = SelectField(N_("Which agency"), coerce=optional_int, validators=[Optional()])
    about_staff = BooleanField(N_("It is about a member of their staff"))
    staff_description = StringField(N_("Who (name, post or window number, if you know)"),
                                    validators=[Optional(), Length(max=complaints.NOTE_MAX)])
    summary = TextAreaField(N_("What happened"), validators=[DataRequired(REQUIRED),
                                                             Length(max=complaints.SUMMARY_MAX)],
                            render_kw={"rows": 6})


def _complaint_form() -> ComplaintForm:
    form = ComplaintForm()
    banks, agencies = complaints.parties(db.session)
    form.party_bank_id.choices = options([(None, L_(N_("— not a bank —")))] + [(b.id, b.name) for b in banks])
    form.party_agency_id.choices = options([(None, L_(N_("— not an agency that uses the card —")))]
                                           + [(a.id, a.name) for a in agencies])
    return form


def _intake(form: ComplaintForm) -> complaints.Intake:
    return complaints.Intake(
        kind=ComplaintKind(form.kind.data), complainant_type=ComplainantType(form.complainant_type.data),
        party_kind=PartyKind(form.party_kind.data), summary=form.summary.data or "", anonymous=form.anonymous.data,
        complainant_name=form.complainant_name.data or None, complainant_phone=form.complainant_phone.data or None,
        party_agency_id=form.party_agency_id.data if form.party_kind.data == "application" else None,
        party_bank_id=form.party_bank_id.data if form.party_kind.data == "bank" else None,
        about_staff=form.about_staff.data, staff_description=form.staff_description.data or None)


def _file(template: str, channel: IntakeChannel, staff_actor=None):
    form = _complaint_form()

    def show(refusal=None, status=200):
        return render_template(template, form=form, refusal=refusal), status

    if request.method == "GET":
        return show()
    if not form.validate():
        return show(status=422)
    try:
        filed = complaints.file(db.session, _intake(form), channel=channel, actor=staff_actor)
    except DomainError as e:
        return show(refuse_into(form, e), 422)
    db.session.commit()
    return render_template("complaints/filed.html", filed=filed, authority=AUTHORITY_LABELS[filed.complaint.authority],
                           status_label=LABELS[ComplaintStatus][str(filed.complaint.status)]), 201


@bp.route("/new", methods=["GET", "POST"])
@page(public=True)
@limiter.limit(lambda: current_app.config["RATELIMIT_COMPLAINT_FILE"], methods=["POST"])
def new():
    """Anyone files a complaint or report without signing in (Art. 29)."""
    return _file("complaints/new.html", IntakeChannel.WEB)


@bp.route("/hotline", methods=["GET", "POST"])
@page(*complaints.INTAKE_ROLES)
def hotline():
    """A 12345 operator records a caller's complaint (Art. 29) and reads out reference and code."""
    return _file("complaints/hotline.html", IntakeChannel.HOTLINE, actor())


class FollowForm(FlaskForm):
    reference = StringField(N_("Reference"), validators=[DataRequired(REQUIRED), Length(max=20)],
                            render_kw={"autocomplete": "off"})
    code = StringField(N_("Follow-up code"), validators=[DataRequired(REQUIRED), Length(max=40)],
                       render_kw={"autocomplete": "off"})


@bp.route("/follow", methods=["GET", "POST"])
@page(public=True)
@limiter.limit(lambda: current_app.config["RATELIMIT_COMPLAINT_FOLLOW"], methods=["POST"])
def follow():
    """The complainant follows the case with reference and code (a POST: neither lands in a URL or a log)."""
    form = FollowForm()
    if request.method == "GET":
        return render_template("complaints/follow.html", form=form, view=None)
    if not form.validate():
        return render_template("complaints/follow.html", form=form, view=None), 422
    try:
        view = complaints.follow(db.session, form.reference.data, form.code.data)
    except NotFound as e:
        form.code.errors = [e.translated()[1]]
        return render_template("complaints/follow.html", form=form, view=None), 404
    return render_template("complaints/follow.html", form=form, view=view, labels=LABELS, steps=STEP_LABELS,
                           authority=AUTHORITY_LABELS[view.authority.code])


# ---------------------------------------------------------------- the authority's handlers


class StatusFilter(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(N_("Status"), choices=options([("", L_(N_("All")))] + choices(ComplaintStatus)), validators=[Optional()])
    mine = BooleanField(N_("Only those assigned to me"))


class AssignForm(FlaskForm):
    version = HiddenField()
    assignee_id = SelectField(N_("Assign to"), coerce=optional_int, validators=[DataRequired(REQUIRED)])


class InvestigateForm(FlaskForm):
    version = HiddenField()
    note = TextAreaField(N_("Investigation note (internal)"), validators=[DataRequired(REQUIRED),
                                                                          Length(max=complaints.NOTE_MAX)])


class CloseForm(FlaskForm):
    version = HiddenField()
    outcome = SelectField(N_("Outcome"), choices=options(choices(ComplaintOutcome)), validators=[DataRequired(REQUIRED)])
    reply = TextAreaField(N_("Reply to the complainant"), validators=[DataRequired(REQUIRED),
                                                                      Length(max=complaints.REPLY_MAX)])
    note = TextAreaField(N_("Closing note (internal)"), validators=[Optional(), Length(max=complaints.NOTE_MAX)])


@bp.route("/")
@page(*complaints.HANDLERS)
@replica_reads
def index():
    f = StatusFilter(request.args)
    status = ComplaintStatus(f.status.data) if f.status.data in {str(s) for s in ComplaintStatus} else None
    rows = complaints.for_staff(db.session, actor(), status, mine=bool(f.mine.data))
    db.session.commit()  # the reads are on record (Art. 16)
    return render_template("complaints/index.html", rows=rows, filter=f, labels=LABELS)


def _handlers() -> list:
    return options([(None, "—")] + [(u.id, f"{u.display_name} ({u.username})")
                                    for u in complaints.assignable(db.session, actor())])


def _case(complaint_id: int, forms: dict | None = None, refusal=None, status: int = 200):
    c, steps = complaints.get(db.session, actor(), complaint_id)
    db.session.commit()
    forms = forms or {}
    assign = forms.get("assign") or AssignForm(formdata=None, version=c.version, assignee_id=c.assignee_id)
    assign.assignee_id.choices = _handlers()
    investigate = forms.get("investigate") or InvestigateForm(formdata=None, version=c.version)
    close = forms.get("close") or CloseForm(formdata=None, version=c.version)
    for f in (assign, investigate, close):
        f.version.data = c.version
    allowed = {step for (step, st) in complaints.STEPS if st is c.status}
    return render_template("complaints/case.html", c=c, steps=steps, labels=LABELS, step_labels=STEP_LABELS,
                           assign=assign, investigate=investigate, close=close, allowed=allowed, refusal=refusal,
                           authority=AUTHORITY_LABELS[c.authority], me=actor().user_id), status


@bp.route("/<int:complaint_id>")
@page(*complaints.HANDLERS)
def case(complaint_id):
    return _case(complaint_id)


def _step(complaint_id: int, key: str, form: FlaskForm, call):
    if key == "assign":
        form.assignee_id.choices = _handlers()
    if not form.validate():
        return _case(complaint_id, {key: form}, status=422)
    try:
        call(optional_int(form.version.data))
    except DomainError as e:
        refusal = refuse_into(form, e)
        return _case(complaint_id, {key: form}, refusal=refusal, status=e.status)
    db.session.commit()
    flash(N_("Saved."), "success")
    return redirect(url_for(".case", complaint_id=complaint_id))


@bp.route("/<int:complaint_id>/assign", methods=["POST"])
@page(*complaints.HANDLERS)
def assign(complaint_id):
    form = AssignForm()
    return _step(complaint_id, "assign", form, lambda v: complaints.assign(
        db.session, actor(), complaint_id, form.assignee_id.data, version=v))


@bp.route("/<int:complaint_id>/investigate", methods=["POST"])
@page(*complaints.HANDLERS)
def investigate(complaint_id):
    form = InvestigateForm()
    return _step(complaint_id, "investigate", form, lambda v: complaints.investigate(
        db.session, actor(), complaint_id, form.note.data, version=v))


@bp.route("/<int:complaint_id>/close", methods=["POST"])
@page(*complaints.HANDLERS)
def close(complaint_id):
    form = CloseForm()
    return _step(complaint_id, "close", form, lambda v: complaints.close(
        db.session, actor(), complaint_id, ComplaintOutcome(form.outcome.data), form.reply.data,
        note=form.note.data or None, version=v))
