"""Service guides (Art. 18): public pages, no sign-in, free; the editor for each agency's own staff.
The rules (who edits which guide, what each kind of agency must state, versions) are ``app.services.guides``."""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.extensions import db
from app.i18n import N_
from app.models.enums import AgencyKind
from app.services import guides
from app.services.errors import DomainError
from app.web.forms import actor, helpers, refuse_into
from app.web.policy import page

bp = Blueprint("guides", __name__, url_prefix="/guides", template_folder="templates")
helpers(bp)

LABELS = {
    "title": N_("Title"), "service_items": N_("Service items"), "scope": N_("Scope of use"),
    "usage": N_("Method of use"), "conditions": N_("Conditions"), "procedure": N_("Procedure"),
    "time_limit": N_("Time limit"), "contact": N_("Where to ask"),
}
# What the editor's label says for an application agency: what it offers with the card.
OFFER = N_("What we offer with the card")


class GuideForm(FlaskForm):
    title = StringField(LABELS["title"], validators=[Optional(), Length(max=guides.LIMITS["title"])])
    service_items = TextAreaField(LABELS["service_items"], validators=[Optional(), Length(max=guides.TEXT_LIMIT)])
    scope = TextAreaField(LABELS["scope"], validators=[Optional(), Length(max=guides.TEXT_LIMIT)])
    usage = TextAreaField(LABELS["usage"], validators=[Optional(), Length(max=guides.TEXT_LIMIT)])
    conditions = TextAreaField(LABELS["conditions"], validators=[Optional(), Length(max=guides.TEXT_LIMIT)])
    procedure = TextAreaField(LABELS["procedure"], validators=[Optional(), Length(max=guides.TEXT_LIMIT)])
    time_limit = StringField(LABELS["time_limit"], validators=[Optional(), Length(max=guides.LIMITS["time_limit"])])
    contact = StringField(LABELS["contact"], validators=[Optional(), Length(max=guides.LIMITS["contact"])])


def _fields_for(kind: AgencyKind) -> list[str]:
    """The fields the editor shows: what that kind of agency must state, then the optional contact."""
    return [*guides.REQUIRED[kind], "contact"]


@bp.route("/")
@page(public=True)
def index():
    return render_template("guides/index.html", views=guides.published(db.session), labels=LABELS)


@bp.route("/<int:agency_id>")
@page(public=True)
def show(agency_id):
    view = guides.guide_of(db.session, agency_id)
    history = guides.history(db.session, agency_id)
    editable = bool(g.get("staff")) and guides.may_edit(actor(), view.agency)
    return render_template("guides/show.html", view=view, history=history, labels=LABELS, editable=editable,
                           fields=_fields_for(view.agency.kind))


@bp.route("/<int:agency_id>/edit", methods=["GET", "POST"])
@page(*guides.EDITORS)
def edit(agency_id):
    view = guides.guide_of(db.session, agency_id)
    if not guides.may_edit(actor(), view.agency):
        abort(403)
    fields = _fields_for(view.agency.kind)
    form = GuideForm(obj=view.guide) if request.method == "GET" else GuideForm()
    for name in guides.REQUIRED[view.agency.kind]:
        form[name].flags.required = True  # the asterisk: the service says what is required (Art. 18)

    def show_form(refusal=None, status=200):
        return render_template("guides/edit.html", form=form, view=view, fields=fields, refusal=refusal,
                               required=guides.REQUIRED[view.agency.kind], offer=OFFER), status

    if request.method == "GET":
        return show_form()
    if not form.validate():
        return show_form(status=422)
    try:
        guides.publish(db.session, actor(), agency_id, {k: form[k].data for k in fields})
    except DomainError as e:
        return show_form(refuse_into(form, e), 422)
    db.session.commit()
    flash(N_("The new version of the guide is published."), "success")
    return redirect(url_for(".show", agency_id=agency_id))
