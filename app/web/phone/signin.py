"""Sign-in with a one-time code by SMS, sign-out, the language switch and the signed-in devices.

The same flow as ``POST /api/auth/resident/otp`` and ``…/resident/login`` (``app.services.otp``: no
enumeration, hashed single-use codes, 5 tries, audited), under the same rate limits counted once for
both (``otp_request_limited``, ``otp_login_limited``); the page opens a session row
(``app.web.phone.session``) where the API mints tokens of one."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from app.api.auth import anonymous_resident, otp_login_limited, otp_request_limited
from app.extensions import db
from app.i18n import LOCALES, N_
from app.services import otp, sessions
from app.services.documents import DocumentType
from app.services.errors import DomainError
from app.web.forms import options
from app.web.labels import DOC_LABELS
from app.web.phone import current_resident, me, resident_actor, resident_page
from app.web.phone import session as phone_session

bp = Blueprint("signin", __name__)



class DocumentForm(FlaskForm):
    doc_type = SelectField(N_("ID document"), choices=options((t.value, DOC_LABELS[t.value]) for t in DocumentType),
                           default="resident_id")
    doc_number = StringField(N_("Document number"),
                             validators=[DataRequired(message=N_("Enter the number of your ID document.")),
                                         Length(max=40)],
                             render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"})
    nationality = StringField(N_("Nationality (passport only, 3 letters)"),
                              validators=[Optional(), Length(min=3, max=3, message=N_("Three letters, e.g. USA."))],
                              render_kw={"autocapitalize": "characters"})
    next = HiddenField()


class CodeForm(DocumentForm):
    code = StringField(N_("Code from the SMS"),
                       validators=[DataRequired(message=N_("Enter the six digits of the SMS.")),
                                   Regexp(r"^[0-9]{6}$", message=N_("The code has six digits."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6,
                                  "pattern": "[0-9]{6}"})


class LocaleForm(FlaskForm):
    locale = SelectField(choices=[(code, code) for code in LOCALES])
    next = HiddenField()


def safe_next(target: str | None) -> str:
    """Only a path of the phone app (never ``//evil.example``, ``https://…`` or a back office page)."""
    if target and target.startswith("/m/") and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target:
        return target
    return url_for("phone.ecard.card")


def _doc(form: DocumentForm) -> tuple[str, str, str | None]:
    return form.doc_type.data, form.doc_number.data.strip(), (form.nationality.data or "").strip().upper() or None


def _field_error(form, e: DomainError) -> DomainError | None:
    """A refusal naming a field of the form goes beside it; otherwise it is shown above the form."""
    name = e.extra.get("field")
    if isinstance(name, str) and name in form._fields:
        form[name].errors = [*list(form[name].errors or []), e.translated()[1]]
        return None
    return e


@bp.route("/login", methods=["GET"])
@resident_page(public=True)
def login():
    if current_resident():
        return redirect(safe_next(request.args.get("next")))
    form = DocumentForm(next=request.args.get("next", ""))
    return render_template("phone/login.html", form=form, ended=request.args.get("ended") == "1",
                           signed_out=request.args.get("out") == "1")


@bp.route("/login/code", methods=["POST"])
@resident_page(public=True)
@otp_request_limited
def send_code():
    """Step 1: the document; a code goes to the registered mobile (the answer is the same whether or
    not the document is registered: no enumeration, Art. 16)."""
    form = DocumentForm()
    if not form.validate():
        return render_template("phone/login.html", form=form), 422
    settings = otp.OtpSettings.from_app()
    doc_type, doc_number, nationality = _doc(form)
    try:
        otp.request_code(db.session, anonymous_resident(), doc_type, doc_number, settings, nationality)
    except DomainError as e:
        db.session.rollback()
        return render_template("phone/login.html", form=form, refused=_field_error(form, e)), e.status
    db.session.commit()
    code_form = CodeForm(formdata=None, doc_type=doc_type, doc_number=doc_number, nationality=nationality or "",
                         next=form.next.data)
    return render_template("phone/code.html", form=code_form, minutes=int(settings.ttl.total_seconds()) // 60)


@bp.route("/login", methods=["POST"])
@resident_page(public=True)
@otp_login_limited
def verify():
    """Step 2: the code; signed in (a new session row and cookie)."""
    form = CodeForm()
    settings = otp.OtpSettings.from_app()
    minutes = int(settings.ttl.total_seconds()) // 60
    if not form.validate():
        return render_template("phone/code.html", form=form, minutes=minutes), 422
    doc_type, doc_number, nationality = _doc(form)
    try:
        person_id = otp.verify_code(db.session, anonymous_resident(), doc_type, doc_number, form.code.data,
                                    settings, nationality)
    except DomainError as e:
        db.session.commit() if e.extra.get("commit") else db.session.rollback()
        form.code.data = ""
        return render_template("phone/code.html", form=form, minutes=minutes, refused=e), e.status
    phone_session.sign_in(person_id, client=request.headers.get("User-Agent"))
    db.session.commit()
    return redirect(safe_next(form.next.data))


@bp.route("/logout", methods=["POST"])
@resident_page
def logout():
    phone_session.sign_out()
    db.session.commit()
    # ?out=1: the sign-in page's script forgets this device's e-card codes and cached pages.
    return redirect(url_for("phone.signin.login", out="1"))


@bp.route("/language", methods=["POST"])
@resident_page(public=True)
def language():
    form = LocaleForm()
    if form.validate():
        phone_session.set_locale(form.locale.data)
    return redirect(safe_next(form.next.data) if form.next.data else url_for("phone.signin.login"))


# ---------------------------------------------------------------- the account: signed-in devices


@bp.route("/account")
@resident_page
def devices():
    """The holder's signed-in devices (this phone's sessions and any API sign-in), each with "sign out
    there" (Art. 19: only the holder uses the card)."""
    person = me()
    rows = sorted(sessions.open_of_person(db.session, person.id), key=lambda r: r.id != g.resident.sid)  # this one first
    return render_template("phone/account.html", person=person, rows=rows, this_sid=g.resident.sid)


@bp.route("/account/sessions/<sid>/end", methods=["POST"])
@resident_page
def end_device(sid: str):
    if sid == g.resident.sid:
        return logout()
    if sessions.end_of_person(db.session, resident_actor(), sid):
        flash(N_("That device is signed out."), "info")
    db.session.commit()
    return redirect(url_for("phone.signin.devices"))
