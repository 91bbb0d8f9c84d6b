"""The dashboard by role (issue 14): the start page after sign-in."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.web.policy import STAFF, page

bp = Blueprint("dashboard", __name__, template_folder="templates")


@bp.route("/")
@page(*STAFF)
def home():
    return render_template("dashboard/home.html")
