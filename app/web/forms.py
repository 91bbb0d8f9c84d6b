"""What the Bureau, guide, complaint and certificate pages share: a refused step shown beside the field
it names (``DomainError.extra["field"]``, the same name the service and the API use), else above the form."""
from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm

from app.extensions import db
from app.services.errors import DomainError


def refuse_into(form: FlaskForm, e: DomainError) -> DomainError | None:
    """Roll back (nothing written), put the refusal's reason beside its field when the form has that
    field, and return the error when it belongs above the form instead (no field, or not this form's)."""
    db.session.rollback()
    name = e.extra.get("field")
    if name and name in form._fields:
        from app.i18n import article

        detail = e.translated()[1]
        if e.article:
            detail = f"{detail} ({article(e.article)})"
        form[name].errors = [*list(form[name].errors or []), detail]
        return None
    return e


def optional_int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def actor(channel=None):
    """The signed-in member of staff as the services' Actor."""
    from flask import g

    return g.staff.actor(channel)


def helpers(bp) -> None:
    """Template helpers of an area. ``art("Art. 6 ¶2")`` writes an article reference in the reader's language;
    a literal piped into the ``article`` filter would be folded by Jinja's optimizer when the template is
    first compiled, in whatever language that request had."""
    from app.i18n import article

    @bp.context_processor
    def _helpers():
        return {"art": article}


def L_(message: str):
    """A select option's label, translated when the option is rendered (WTForms prints option labels as
    they are; the field macro translates labels, hints and errors, not options). Mark the source with N_."""
    return lazy_gettext(message)


def options(pairs) -> list:
    """Select options from (value, label) pairs (WTForms 3.3 deprecates bare tuples)."""
    from wtforms.fields.choices import SelectChoice

    return [SelectChoice(v, label) for v, label in pairs]
