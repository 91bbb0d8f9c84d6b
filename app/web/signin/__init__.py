"""Sign-in, sign-out and the language switch of the back office.

The same staff accounts and password check as ``POST /api/auth/login`` (``app.auth.tokens`` and
``app.services.sessions``), the same rate limits (``login_limited``: one count for both)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.api.auth import login_limited
from app.auth.tokens import _dummy_hash
from app.extensions import db
from app.i18n import LOCALES, N_
from app.services import sessions
from app.services.hashing import verify_password
from app.web import session as web_session
from app.web.policy import STAFF, page

bp = Blueprint("signin", __name__, template_folder="templates")

LANGUAGE_NAMES = {"zh_CN": "中文", "en": "English"}  # each in its own language, never translated


class LoginForm(FlaskForm):
    username = StringField(N_("User name"), validators=[DataRequired(message=N_("Enter your user name.")),
                                                        Length(max=60)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(N_("Password"), validators=[DataRequired(message=N_("Enter your password.")),
                                                         Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class LocaleForm(FlaskForm):
    locale = SelectField(N_("Language"), choices=[SelectChoice(code, LANGUAGE_NAMES[code]) for code in LOCALES])
    next = HiddenField()


def safe_next(target: str | None) -> str:
    """Only a path of this site (never ``//evil.example`` or ``https://…``): no open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target:
        return target
    return url_for("web.dashboard.home")


def _authenticate(username: str, password: str):
    """The API's check (``app.auth.tokens.staff_login``) without minting tokens: an unknown or
    inactive account costs the same hash as a wrong password."""
    user = sessions.find_staff(db.session, username)
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        return None
    return user if verify_password(user.password_hash, password) else None


@bp.route("/login", methods=["GET"])
@page(public=True)
def login():
    if g.get("staff"):
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm(next=request.args.get("next", ""))
    ended = request.args.get("ended") == "1"
    return render_template("signin/login.html", form=form, ended=ended)


@bp.route("/login", methods=["POST"])
@page(public=True)
@login_limited
def login_post():
    form = LoginForm()
    if not form.validate():
        return render_template("signin/login.html", form=form), 422
    user = _authenticate(form.username.data.strip(), form.password.data)
    if user is None:
        # 401: counted against the account by the shared limit, like the API's answer.
        return render_template("signin/login.html", form=form, failed=True), 401
    web_session.sign_in(user)
    db.session.commit()
    return redirect(safe_next(form.next.data))


@bp.route("/logout", methods=["POST"])
@page(*STAFF)
def logout():
    web_session.sign_out()
    db.session.commit()
    flash(N_("You have signed out."), "info")
    return redirect(url_for("web.signin.login"))


@bp.route("/language", methods=["POST"])
@page(public=True)
def language():
    """Switch the language: kept on the account when signed in, else in the cookie."""
    form = LocaleForm()
    if form.validate():
        web_session.set_locale(form.locale.data)
        db.session.commit()
    return redirect(safe_next(form.next.data))
