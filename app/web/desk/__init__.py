"""The card desk (issue 14): find a cardholder, see them masked, reveal with a reason, and do every
Art. 6 service with a confirmation step that shows the fee and its waiver (Art. 27).

Thin: every step is the lifecycle / people / disclosure service the API calls; who may do it is the
channel table's (``@page(op=…)``); the forms carry the card's version, passed to the service as the
expected version, so a clerk on a stale page is told to reload (412) instead of overwriting.
"""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

from flask_wtf import FlaskForm
from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from app.api.cards import STAFF_READERS
from app.api.persons import READERS
from app.api.schemas import AccountOut, CardOut, EventOut, PersonOut
from app.extensions import db
from app.i18n import N_, translate
from app.models import Bank, Card, CardEvent, Person
from app.models.enums import (AccountStatus, CancellationReason, Channel, DeliveryMethod, Field, ReplacementReason,
                              Role, ServiceMode)
from app.services import disclosure, lifecycle, people
from app.services.errors import DomainError, InvalidInput
from app.services.lifecycle_rules import CHANNELS, TRANSITION_INDEX, Op, article_of
from app.auth.policy import DEFAULT_CHANNEL
from app.web.desk import forms
from app.web.policy import page

bp = Blueprint("desk", __name__, template_folder="templates", url_prefix="/desk")


def _actor(channel: str | None = None):
    return g.staff.actor(channel or None)


def _refused(template: str, e: DomainError, form=None, **context):
    """Re-render a form after a refused step: nothing written; a service's field error beside its field."""
    db.session.commit() if e.extra.get("commit") else db.session.rollback()
    field = e.extra.get("field")
    if form is not None and isinstance(field, str) and field in form:
        form[field].errors = [*form[field].errors, e.translated()[1]]
    return render_template(template, form=form, refused=e, **context), e.status


# ---------------------------------------------------------------- find a cardholder


@bp.route("/", methods=["GET", "POST"])
@page(*READERS)
def search():
    """Find a cardholder by card number, ID document or mobile number, with a stated purpose (Art. 16)."""
    form = forms.SearchForm(purposes=disclosure.lookup_purposes(g.staff.role))
    if request.method == "GET" or not form.validate():
        status = 422 if request.method == "POST" else 200
        return render_template("desk/search.html", form=form), status
    try:
        found = disclosure.lookup(db.session, _actor(), disclosure.LookupBy(form.by.data), form.value.data,
                                  purpose=form.purpose.data or None, detail=form.detail.data,
                                  doc_type=form.doc_type.data, nationality=form.nationality.data or None)
    except DomainError as e:
        return _refused("desk/search.html", e, form)
    db.session.commit()
    if len(found) == 1:
        return redirect(url_for("web.desk.holder", person_id=found[0].id))
    people_shown = [PersonOut().dump(p) for p in found]
    return render_template("desk/search.html", form=forms.SearchForm(
        purposes=disclosure.lookup_purposes(g.staff.role), formdata=None), results=people_shown, searched=True)


# ---------------------------------------------------------------- the 12345 hotline's caller (Art. 21)


@bp.route("/hotline", methods=["GET", "POST"])
@page(Role.HOTLINE_OPERATOR)
def hotline():
    """Find the caller's card by ID document and identity answers (the same check as
    ``POST /api/hotline/callers``); the verification opens the operator's remit on this holder, and the
    loss registration is the desk's own action page (Art. 16, 21)."""
    form = forms.HotlineCallerForm()
    if request.method == "GET" or not form.validate():
        return render_template("desk/hotline.html", form=form), 422 if request.method == "POST" else 200
    try:
        caller = disclosure.hotline_caller(db.session, _actor(), form.doc_type.data, form.doc_number.data,
                                           name=form.name.data, phone=form.phone.data,
                                           nationality=form.nationality.data or None)
    except DomainError as e:
        return _refused("desk/hotline.html", e, form)
    disclosure.commit_read(db.session)
    return render_template("desk/hotline.html", form=forms.HotlineCallerForm(formdata=None), caller=caller)


# ---------------------------------------------------------------- the cardholder page


def holder_context(person_id: int) -> dict:
    """The cardholder page's data, each read within the caller's remit and on record (Art. 16)."""
    actor = _actor()
    person = db.session.get(Person, person_id)
    if person is None:
        abort(404)
    disclosure.disclose(db.session, actor, person.id, "person", subject="desk")
    cards = list(db.session.scalars(select(Card).where(Card.person_id == person.id).order_by(Card.id.desc())))
    disclosure.log_read(db.session, actor, [person.id], "person_cards", subject="desk")
    accounts = lifecycle.accounts(db.session, person.id, open_only=False)
    disclosure.log_read(db.session, actor, [person.id], "accounts", subject="desk")
    events = list(db.session.scalars(select(CardEvent).where(CardEvent.person_id == person.id)
                                     .order_by(CardEvent.created_at.desc(), CardEvent.id.desc())))
    disclosure.log_read(db.session, actor, [person.id], "card_events", subject="desk")
    current = lifecycle.current_card(db.session, person.id)
    banks = {b.id: b for b in db.session.scalars(select(Bank))}
    return {
        "person": PersonOut().dump(person), "person_id": person.id,
        "cards": [(c, CardOut().dump(c)) for c in cards], "current": current,
        "accounts": [AccountOut().dump(a) for a in accounts], "events": [EventOut().dump(e) for e in events],
        "banks": banks, "actions": available_actions(current, person.id),
        "reveal_form": forms.RevealForm(purposes=[p for p in disclosure.PURPOSES
                                                  if g.staff.role in disclosure.PURPOSES[p].roles],
                                        formdata=None),
        "can_reveal": g.staff.role in disclosure.REVEAL, "reveal_labels": forms.REVEAL_LABELS,
        # Art. 24 ¶2: the former bank's teller confirms the unbinding of its account after a bank change
        "unbind_form": FlaskForm(formdata=None) if any(
            a.status is AccountStatus.UNBINDING and a.bank_id == g.staff.bank_id for a in accounts)
        and g.staff.role in {r for _, r in CHANNELS[Op.CONFIRM_UNBIND]} else None,
    }


@bp.route("/holders/<int:person_id>")
@page(*READERS)
def holder(person_id: int):
    context = holder_context(person_id)
    disclosure.commit_read(db.session)
    return render_template("desk/holder.html", **context)


@bp.route("/holders/<int:person_id>/unbind-confirmation", methods=["POST"])
@page(op=Op.CONFIRM_UNBIND)
def unbind(person_id: int):
    """The former bank confirms the unbinding of its financial account after a bank change (Art. 24 ¶2):
    the same service as ``POST /api/persons/{id}/unbind-confirmation``."""
    try:
        lifecycle.confirm_unbind(db.session, _actor(), person_id)
    except DomainError as e:
        context = holder_context(person_id)
        return _refused("desk/holder.html", e, **context)
    db.session.commit()
    flash(translate(N_("Unbinding confirmed.")))
    return redirect(url_for("web.desk.holder", person_id=person_id))


@bp.route("/holders/<int:person_id>/reveal", methods=["POST"])
@page(*READERS)
def reveal(person_id: int):
    """Full values with a purpose, a few words and the case (Art. 16); the reveal, or its refusal, is audited."""
    form = forms.RevealForm(purposes=[p for p in disclosure.PURPOSES if g.staff.role in disclosure.PURPOSES[p].roles])
    revealed, refused, status = None, None, 200
    if form.validate():
        try:
            revealed = disclosure.reveal(db.session, _actor(), person_id, form.fields.data, form.purpose.data,
                                         form.detail.data, form.case.data or None)
            db.session.commit()
        except DomainError as e:
            db.session.commit() if e.extra.get("commit") else db.session.rollback()
            refused, status = e, e.status
    else:
        status = 422
    context = holder_context(person_id)
    context["reveal_form"] = form
    disclosure.commit_read(db.session)
    return render_template("desk/holder.html", revealed=revealed, reveal_refused=refused, **context), status


# ---------------------------------------------------------------- the Art. 6 services


@dataclass(frozen=True)
class Action:
    slug: str
    op: Op
    label: str
    form: type
    call: Callable  # (session, actor, card, form) -> Card | object
    fee: Callable | None = None  # (card, form) -> (fen, waiver)
    on_person: bool = False  # acts on the holder (cancellation, information change)
    kind: str = "primary"


def _delivery(f) -> lifecycle.Delivery:
    return lifecycle.Delivery(DeliveryMethod(f.delivery_method.data), f.delivery_address.data or None)


ACTIONS: dict[str, Action] = {a.slug: a for a in [
    Action("activation", Op.ACTIVATE, N_("Activate"), forms.ActivateForm,
           lambda s, a, c, f: lifecycle.activate(s, a, c.id, pin=f.pin.data, expected_version=f.version.data)),
    Action("loss-registration", Op.REGISTER_LOSS, N_("Register the loss"), forms.IdCheckForm,
           lambda s, a, c, f: lifecycle.register_loss(s, a, c.id, id_verified=f.id_verified.data,
                                                      expected_version=f.version.data), kind="danger"),
    Action("loss-deregistration", Op.DEREGISTER_LOSS, N_("Deregister the loss"), forms.IdCheckForm,
           lambda s, a, c, f: lifecycle.deregister_loss(s, a, c.id, id_verified=f.id_verified.data,
                                                        expected_version=f.version.data)),
    Action("reissue", Op.REISSUE, N_("Reissue"), forms.ReissueForm,
           lambda s, a, c, f: lifecycle.reissue(s, a, c.id, delivery=_delivery(f), service_mode=ServiceMode(f.service_mode.data),
                                                id_verified=f.id_verified.data, expected_version=f.version.data),
           fee=lambda c, f: lifecycle.reissue_fee(c)),
    Action("replacement", Op.REPLACE, N_("Replace"), forms.ReplaceForm,
           lambda s, a, c, f: lifecycle.replace(
               s, a, c.id, reason=ReplacementReason(f.reason.data), delivery=_delivery(f),
               quality_defect=f.quality_defect.data, new_bank_id=f.new_bank_id.data or None,
               service_mode=ServiceMode(f.service_mode.data), id_verified=f.id_verified.data, expected_version=f.version.data),
           fee=lambda c, f: lifecycle.replacement_fee(c, ReplacementReason(f.reason.data), f.quality_defect.data)),
    Action("field-lock", Op.LOCK_FIELD, N_("Lock a field"), forms.FieldLockForm,
           lambda s, a, c, f: lifecycle.set_field_lock(s, a, c.id, field=Field(f.field.data), locked=True,
                                                       reason=f.reason.data or None, expected_version=f.version.data)),
    Action("field-unlock", Op.UNLOCK_FIELD, N_("Unlock a field"), forms.FieldLockForm,
           lambda s, a, c, f: lifecycle.set_field_lock(s, a, c.id, field=Field(f.field.data), locked=False,
                                                       reason=f.reason.data or None, expected_version=f.version.data)),
    Action("pin-reset", Op.RESET_PIN, N_("Reset the PIN"), forms.PinResetForm,
           lambda s, a, c, f: lifecycle.reset_pin(s, a, c.id, new_pin=f.pin.data, id_verified=f.id_verified.data,
                                                  expected_version=f.version.data)),
    Action("cancellation", Op.CANCEL, N_("Cancel the card"), forms.CancelForm,
           lambda s, a, c, f: lifecycle.cancel(s, a, c.person_id, reason=CancellationReason(f.reason.data), effective=f.effective.data),
           on_person=True, kind="danger"),
    Action("information-change", Op.CHANGE_INFO, N_("Change information"), forms.InfoChangeForm,
           lambda s, a, c, f: people.change_info(s, a, c.person_id, f.changes(), id_verified=f.id_verified.data),
           on_person=True),
]}


def channels_for(op: Op, role: Role) -> list[Channel]:
    """The channels the channel table gives ``role`` for ``op`` (a teller: the outlet, or the bank's hotline)."""
    return [c for c, r in CHANNELS[op] if r is role]


def available_actions(card: Card | None, person_id: int) -> list[Action]:
    """The services the signed-in role may do on this card in its state, from the two tables."""
    if card is None or g.get("staff") is None:
        return []
    out = []
    for a in ACTIONS.values():
        if g.staff.role in {r for _, r in CHANNELS[a.op]} and (a.op, card.status) in TRANSITION_INDEX:
            out.append(a)
    return out


def _make_form(action: Action, card: Card, formdata=None):
    kwargs = {"channels": channels_for(action.op, g.staff.role), "default": DEFAULT_CHANNEL.get(g.staff.role)}
    if action.form is forms.ReplaceForm:
        kwargs["banks"] = list(db.session.scalars(select(Bank).where(Bank.published.is_(True)).order_by(Bank.id)))
    form = action.form(formdata=formdata, **kwargs) if formdata is not None else action.form(**kwargs)
    if not form.version.data:
        form.version.data = card.version
    return form


def _action_view(action: Action):
    def view(card_id: int):
        card = db.session.get(Card, card_id)
        if card is None:
            abort(404)
        disclosure.check_remit(db.session, _actor(), card.person_id)  # Art. 16, as every read
        form = _make_form(action, card, request.form if request.method == "POST" else None)
        context = {"action": action, "card": card, "card_out": CardOut().dump(card), "form": form,
                   "article": article_of(action.op), "person_id": card.person_id}
        if request.method == "GET":
            return render_template("desk/action.html", **context)
        confirming = request.form.get("step") == "confirm"
        valid = form.validate()
        if not confirming:  # a PIN is typed on the confirmation step only, never carried in the page
            for name in forms.PIN_FIELDS:
                if name in form:
                    form[name].errors = []
            valid = not any(f.errors for f in form)
        if not valid:
            return render_template("desk/action.html", confirm=confirming, **context), 422
        if action.fee:
            try:
                context["fee"] = action.fee(card, form)
            except DomainError as e:
                return _refused("desk/action.html", e, **{**context, "form": form})
        if not confirming:  # the confirmation step: what it does and what it costs
            return render_template("desk/action.html", confirm=True, **context)
        try:
            result = action.call(db.session, _actor(form.channel.data), card, form)
        except DomainError as e:
            return _refused("desk/action.html", e, **{k: v for k, v in context.items() if k != "form"}, form=form)
        db.session.commit()
        flash(translate("{action}: done.", action=translate(action.label)), "success")
        new_card = result if isinstance(result, Card) else None
        if new_card is not None and new_card.id != card.id:
            flash(N_("A new card was applied for."), "success")
        return redirect(url_for("web.desk.holder", person_id=card.person_id))

    view.__name__ = f"action_{action.slug.replace('-', '_')}"
    return view


for _a in ACTIONS.values():
    bp.add_url_rule(f"/cards/<int:card_id>/{_a.slug}", endpoint=_a.slug.replace("-", "_"),
                    view_func=page(op=_a.op)(_action_view(_a)), methods=["GET", "POST"])


@bp.route("/cards/<int:card_id>/status")
@page(op=Op.INQUIRE_STATUS)
def status_inquiry(card_id: int):
    """Application status inquiry (Art. 6, 20): which fields are usable; an application agency sees its own."""
    actor = _actor()
    report = lifecycle.inquire_status(db.session, actor, card_id)
    fields_ = disclosure.fields_shown(db.session, actor, report.fields)
    disclosure.disclose(db.session, actor, report.card.person_id, "card_status", subject=f"card:{report.card.id}")
    disclosure.commit_read(db.session)
    return render_template("desk/status.html", report=report, fields=fields_, card=report.card,
                           person_id=report.card.person_id)
