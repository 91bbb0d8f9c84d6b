"""Old identity certificates of a cardholder (Art. 34, 36): the list (numbers masked) and the link form,
a section of its own linked from the cardholder page; and the look-up of a holder by an old certificate.
Rules in ``app.services.legacy``."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.extensions import db
from app.i18n import N_
from app.web.forms import L_, options
from app.models.legacy import LegacyKind
from app.services import legacy
from app.services.errors import DomainError
from app.web.forms import actor, helpers, refuse_into
from app.web.policy import page

bp = Blueprint("legacy", __name__, url_prefix="/legacy-certificates", template_folder="templates")
helpers(bp)

REQUIRED = N_("This field is required.")
KIND_LABELS = {
    "social_insurance_card": N_("Guangzhou social insurance card"), "medical_certificate": N_("Medical certificate"),
    "health_card": N_("Resident health card"), "elderly_card": N_("Senior citizen card"),
    "employment_certificate": N_("Employment certificate"), "other": N_("Other certificate"),
}
KINDS = [(str(k), L_(KIND_LABELS[str(k)])) for k in LegacyKind]  # pairs: options() per form


class LinkForm(FlaskForm):
    kind = SelectField(N_("Certificate"), choices=options(KINDS), validators=[DataRequired(REQUIRED)])
    number = StringField(N_("Certificate number"), validators=[DataRequired(REQUIRED), Length(max=legacy.NUMBER_MAX)],
                         render_kw={"autocomplete": "off"})
    issuer = StringField(N_("Issued by"), validators=[DataRequired(REQUIRED), Length(max=legacy.ISSUER_MAX)])
    issued_on = DateField(N_("Issued on"), validators=[DataRequired(N_("Enter a date."))], render_kw={"type": "date"})
    legal_basis = StringField(N_("Legal basis (only for a certificate issued on or after 1 February 2022)"),
                              validators=[Optional(), Length(max=legacy.BASIS_MAX)])


class LookupForm(FlaskForm):
    kind = SelectField(N_("Certificate"), choices=options(KINDS), validators=[DataRequired(REQUIRED)])
    number = StringField(N_("Certificate number"), validators=[DataRequired(REQUIRED), Length(max=legacy.NUMBER_MAX)],
                         render_kw={"autocomplete": "off"})


@bp.app_context_processor
def _link_from_the_cardholder_page():
    """``legacy_link(person_id)``: the URL of this section for the cardholder page, or None when the signed-in
    role may not open it (the view's own policy decides, as the navigation does)."""
    def legacy_link(person_id):
        staff = g.get("staff")
        if staff is None or staff.role not in person.policy:
            return None
        return url_for("web.legacy.person", person_id=person_id)

    return {"legacy_link": legacy_link}


def cardholder_url(person_id: int) -> str | None:
    """The cardholder page (the card desk's), when the app has one."""
    for endpoint in ("web.desk.holder", "web.desk.cardholder", "web.cardholders.show"):
        if endpoint in current_app.view_functions:
            try:
                return url_for(endpoint, person_id=person_id)
            except BuildError:
                continue
    return None


def _page(person_id: int, form: LinkForm, refusal=None, status: int = 200):
    certs = legacy.of_person(db.session, actor(), person_id)
    db.session.commit()  # the read is on record (Art. 16)
    return render_template("legacy/person.html", person_id=person_id, certs=certs, form=form, refusal=refusal,
                           may_link=actor().role in legacy.LINKERS, kinds=KIND_LABELS, masked=legacy.masked,
                           cardholder=cardholder_url(person_id), cutoff=legacy.IN_FORCE), status


@bp.route("/persons/<int:person_id>")
@page(*legacy.READERS)
def person(person_id):
    return _page(person_id, LinkForm(formdata=None))


@bp.route("/persons/<int:person_id>", methods=["POST"])
@page(*legacy.LINKERS)
def link(person_id):
    form = LinkForm()
    if not form.validate():
        return _page(person_id, form, status=422)
    try:
        legacy.link(db.session, actor(), person_id, legacy.LegacyIn(
            kind=LegacyKind(form.kind.data), number=form.number.data, issuer=form.issuer.data,
            issued_on=form.issued_on.data, legal_basis=form.legal_basis.data or None))
    except DomainError as e:
        refusal = refuse_into(form, e)
        return _page(person_id, form, refusal=refusal, status=e.status)
    db.session.commit()
    flash(N_("The certificate is linked to the cardholder."), "success")
    return redirect(url_for(".person", person_id=person_id))


@bp.route("/lookup", methods=["GET", "POST"])
@page(*legacy.LINKERS)
def lookup():
    """Find the cardholder an old certificate was folded into (number in a POST body, never a URL)."""
    form = LookupForm()
    if request.method == "GET":
        return render_template("legacy/lookup.html", form=form)
    if not form.validate():
        return render_template("legacy/lookup.html", form=form), 422
    try:
        person_id = legacy.find_holder(db.session, actor(), LegacyKind(form.kind.data), form.number.data)
    except DomainError as e:
        refusal = refuse_into(form, e)
        return render_template("legacy/lookup.html", form=form, refusal=refusal), e.status
    db.session.commit()
    return redirect(url_for(".person", person_id=person_id))
