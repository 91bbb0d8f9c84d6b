"""Family e-cards on the phone (亲情服务, /m/family): list my members, add one (with the member's consent
code), show a member's e-card, remove; and, for me as a member, who may show my e-card and every time
they did (Art. 19, 20, 35).

Thin: every step is ``app.services.family`` (the same functions as ``/api/me/family``); the e-card page
reuses the phone app's card section and ``static/phone/ecard.js`` with this area's tokens URL, so the
code drawn is the MEMBER's token, refused as the member's own would be.
"""
from __future__ import annotations

import hashlib
import hmac
import time

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.extensions import db
from app.i18n import N_
from app.models import Person
from app.models.family import LinkStatus, Relation
from app.privacy import mask_name
from app.services import ecard, family, otp
from app.services.errors import DomainError
from app.web import labels
from app.web.forms import options
from app.web.phone import me, resident_actor, resident_page
from app.web.phone.ecard import TOKEN_HINTS, _status_words
from app.web.labels import DOC_LABELS
from app.web.phone.signin import _field_error

bp = Blueprint("family", __name__, template_folder="templates", url_prefix="/family")

RELATION_LABELS = {Relation.ELDERLY: N_("Elderly relative"), Relation.CHILD: N_("Child"),
                   Relation.SPOUSE: N_("Spouse"), Relation.OTHER: N_("Other relative")}
STATUS_LABELS = {LinkStatus.PENDING: N_("Waiting for consent"), LinkStatus.ACTIVE: N_("Active"),
                 LinkStatus.REMOVED: N_("Removed")}
REMOVED_BY = {"guardian": N_("by the family member who added it"), "member": N_("by you"),
              "staff": N_("at a counter")}


class AddForm(FlaskForm):
    relation = SelectField(N_("Relationship"), choices=options((r.value, RELATION_LABELS[r]) for r in Relation),
                           default=Relation.ELDERLY.value)
    name = StringField(N_("Their name, as on their ID document"),
                       validators=[DataRequired(message=N_("Enter their name.")), Length(max=60)],
                       render_kw={"autocomplete": "off"})
    doc_type = SelectField(N_("Their ID document"), choices=options((k, v) for k, v in DOC_LABELS.items()),
                           default="resident_id")
    doc_number = StringField(N_("Document number"),
                             validators=[DataRequired(message=N_("Enter the number of their ID document.")),
                                         Length(max=40)],
                             render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"})
    nationality = StringField(N_("Nationality (passport only, 3 letters)"),
                              validators=[Optional(), Length(min=3, max=3, message=N_("Three letters, e.g. USA."))],
                              render_kw={"autocapitalize": "characters"})


class ConsentForm(FlaskForm):
    code = StringField(N_("Code from their SMS"),
                       validators=[DataRequired(message=N_("Enter the six digits of the SMS.")),
                                   Regexp(r"^[0-9]{6}$", message=N_("The code has six digits."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 6,
                                  "pattern": "[0-9]{6}"})


def _name(person_id: int) -> str:
    p = db.session.get(Person, person_id)
    return mask_name(p.name) if p else "?"


def _ctx(**kw):
    return dict(relation_label=lambda r: RELATION_LABELS[Relation(r)],
                status_label=lambda s: STATUS_LABELS[LinkStatus(s)], name_of=_name, **kw)


@bp.route("/")
@resident_page
def index():
    person = me()
    members = family.members_of(db.session, person.id)
    guardians = [x for x in family.guardians_of(db.session, person.id) if x.status is not LinkStatus.REMOVED]
    return render_template("family/index.html", **_ctx(members=members, guardians=guardians,
                                                       limits=family.LIMITS))


@bp.route("/add", methods=["GET", "POST"])
@resident_page
def add():
    form = AddForm()
    if request.method == "GET" or not form.validate():
        return render_template("family/add.html", **_ctx(form=form, limits=family.LIMITS)), \
            (200 if request.method == "GET" else 422)
    try:
        added = family.add_member(db.session, resident_actor(), relation=form.relation.data,
                                  doc_type=form.doc_type.data, doc_number=form.doc_number.data.strip(),
                                  nationality=(form.nationality.data or "").strip().upper() or None,
                                  name=form.name.data.strip(), settings=otp.OtpSettings.from_app())
    except DomainError as e:
        db.session.rollback()
        return render_template("family/add.html", **_ctx(form=form, limits=family.LIMITS,
                                                         refused=_field_error(form, e))), e.status
    db.session.commit()
    if added.link.status is LinkStatus.ACTIVE:
        flash(N_("Added. Their e-card is shown below."), "info")
        return redirect(url_for("phone.family.member", link_id=added.link.id))
    return redirect(url_for("phone.family.consent", link_id=added.link.id))


def _consent_page(link, form, status=200, refused=None):
    return render_template("family/consent.html", **_ctx(link=link, form=form, refused=refused,
                                                         minutes=int(otp.OtpSettings.from_app().ttl.seconds) // 60)
                           ), status


@bp.route("/<int:link_id>/consent", methods=["GET", "POST"])
@resident_page
def consent(link_id):
    link = family.member_link(db.session, resident_actor(), link_id)
    if link.status is LinkStatus.ACTIVE:
        return redirect(url_for("phone.family.member", link_id=link.id))
    form = ConsentForm()
    if request.method == "GET":
        return _consent_page(link, form)
    if not form.validate():
        return _consent_page(link, form, 422)
    try:
        family.confirm_code(db.session, resident_actor(), link.id, form.code.data, otp.OtpSettings.from_app())
    except DomainError as e:
        db.session.commit() if e.extra.get("commit") else db.session.rollback()
        form.code.data = ""
        return _consent_page(family.member_link(db.session, resident_actor(), link_id), form, e.status, e)
    db.session.commit()
    flash(N_("They agreed. Their e-card is shown below."), "info")
    return redirect(url_for("phone.family.member", link_id=link.id))


@bp.route("/<int:link_id>/consent/code", methods=["POST"])
@resident_page
def resend(link_id):
    try:
        family.resend_code(db.session, resident_actor(), link_id, otp.OtpSettings.from_app())
    except DomainError as e:
        db.session.rollback()
        link = family.member_link(db.session, resident_actor(), link_id)
        return _consent_page(link, ConsentForm(formdata=None), e.status, e)
    db.session.commit()
    flash(N_("A new code has been sent to their mobile."), "info")
    return redirect(url_for("phone.family.consent", link_id=link_id))


def holder_key(link_id: int) -> str:
    """This guardian's key for the member's codes in the device's IndexedDB (never the member's own)."""
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, f"family:{g.resident.sid}:{link_id}".encode(), hashlib.sha256).hexdigest()[:24]


@bp.route("/<int:link_id>/")
@resident_page
def member(link_id):
    link = family.member_link(db.session, resident_actor(), link_id)
    if link.status is not LinkStatus.ACTIVE:
        return redirect(url_for("phone.family.consent", link_id=link.id))
    face = ecard.face(db.session, link.member_id)  # the MEMBER's card face, as their token states it
    issuer = current_app.extensions["ecard_issuer"]
    return render_template(
        "family/member.html", **_ctx(
            link=link, face=face, holder=holder_key(link.id), batch=max(1, issuer.horizon // issuer.lifetime),
            lifetime=issuer.lifetime, tokens_url=url_for("phone.family.tokens", link_id=link.id),
            status_words=_status_words(face), status_hint=TOKEN_HINTS.get(face.token_status) if face else None,
            field_label=lambda f: labels.label(f)))


@bp.route("/<int:link_id>/ecard/tokens", methods=["POST"])
@resident_page(json=True)
def tokens(link_id):
    """The member's tokens (``family.member_tokens``: active link of this guardian only, each batch
    recorded for the member), in the shape of the phone's own ``/m/ecard/tokens``."""
    issuer = current_app.extensions["ecard_issuer"]
    body = request.get_json(silent=True) or {}
    most = max(1, issuer.horizon // issuer.lifetime)
    try:
        count = min(max(int(body.get("count", most)), 1), most)
    except (TypeError, ValueError):
        count = most
    issued = family.member_tokens(db.session, resident_actor(), link_id, issuer, count=count)
    db.session.commit()
    first = issued[0]
    return current_app.json.response({
        "token": first.token, "issued_at": first.issued_at, "expires_at": first.expires_at,
        "refresh_after": first.refresh_after, "server_time": round(time.time(), 3),
        "batch": [{"token": t.token, "issued_at": t.issued_at, "expires_at": t.expires_at} for t in issued]})


@bp.route("/<int:link_id>/remove", methods=["POST"])
@resident_page
def remove(link_id):
    family.remove(db.session, resident_actor(), link_id)
    db.session.commit()
    flash(N_("Removed: their e-card is no longer shown to you."), "info")
    return redirect(url_for("phone.family.index"))


@bp.route("/views")
@resident_page
def views():
    """Every time a family member was shown my e-card (Art. 19, 20)."""
    person = me()
    return render_template("family/views.html", **_ctx(views=family.views_of(db.session, person.id)))
