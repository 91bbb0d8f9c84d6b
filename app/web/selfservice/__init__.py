"""The cardholder's self-service in the phone app (issue 15 item 3), under ``/m/self/``.

Thin: each action calls the same service the API calls (``app.services.lifecycle`` for card steps,
``selfservice`` for corrections, ``app.services.resident`` for the steps overview, the application form,
tracking and complaints) with the signed-in holder's own :class:`Actor` (role resident, channel online).
Which steps are offered is read from the channel and state tables (``resident.steps``); a step that is not
open online shows where it is done and why, with the article, instead of a button. A refusal re-renders the
page with the service's reason and article, and nothing is written (rolled back; a wrong PIN's count is
the one thing kept, as the API keeps it, Art. 19); the PIN change is under the API's rate limits
(``pin_limited``, one count with it). There is no person id in any URL; the only ids are the holder's own
complaints (another's: 404, as for none) and the card's version (a stale page: 412).
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.api.auth import pin_limited
from app.extensions import db
from app.i18n import N_, translate
from app.models import Bank, Outlet
from app.models.complaint import ComplaintKind, PartyKind
from app.models.enums import DeliveryMethod, Field
from app.services import lifecycle, resident, selfservice
from app.services.errors import DomainError, InvalidInput
from app.services.lifecycle_rules import Op
from app.web.forms import helpers, optional_int
from app.web.phone import me, resident_actor, resident_page

bp = Blueprint("self", __name__, template_folder="templates", url_prefix="/self")
helpers(bp)

# Each self-service step as the holder would name it (the lifecycle labels name what happened, not what to do).
STEP_WORDS = {
    Op.APPLY: N_("Apply for a card"), Op.REGISTER_LOSS: N_("Report my card lost"),
    Op.REISSUE: N_("Apply for a reissue"), Op.LOCK_FIELD: N_("Lock a card function"),
    Op.CHANGE_PIN: N_("Change my PIN"), Op.INQUIRE_STATUS: N_("My applications and card status"),
    Op.DEREGISTER_LOSS: N_("Cancel a loss report (card found)"), Op.REPLACE: N_("Replace the card (damaged, data or bank changed)"),
    Op.RESET_PIN: N_("Reset a forgotten or locked PIN"), Op.UNLOCK_FIELD: N_("Unlock a card function"),
}

# The items of an application (Art. 9) and of a correction (Art. 20), in words.
ITEM_LABELS = {
    "name": N_("Name"), "doc_number": N_("ID document number"), "ethnicity": N_("Ethnicity"), "photo": N_("Photo"),
    "sex": N_("Sex"), "nationality": N_("Nationality"), "phone": N_("Mobile number"),
    "address": N_("Mailing address"), "occupation": N_("Occupation"), "card_status": N_("Card status"),
    "card_event": N_("A card event"), "card_bank": N_("The card's bank"),
    "delivery_address": N_("Delivery address"),
}


def item_label(item: str) -> str:
    from app.web import labels

    if item in ITEM_LABELS:
        return translate(ITEM_LABELS[item])
    return translate(labels.label(Field(item))) if item in Field.__members__.values() else item


@bp.context_processor
def _words():
    from app.web import labels
    from app.web.complaints import AUTHORITY_LABELS, STEP_LABELS, clabel

    return {"item_label": item_label, "item_words": lambda items: ", ".join(item_label(i) for i in items),
            "words": lambda values: ", ".join(translate(labels.label(v)) for v in values),
            "clabel": clabel, "cstep_label": lambda s: STEP_LABELS.get(s, s),
            "step_words": lambda op: translate(STEP_WORDS[op]),
            "authority_label": lambda a: AUTHORITY_LABELS.get(a, a)}

# The pages of the steps open online (the overview links a step to its page only when the table says so).
STEP_PAGES = {Op.APPLY: "phone.self.apply", Op.REGISTER_LOSS: "phone.self.loss", Op.REISSUE: "phone.self.reissue",
              Op.LOCK_FIELD: "phone.self.fields", Op.CHANGE_PIN: "phone.self.pin",
              Op.INQUIRE_STATUS: "phone.self.applications"}


def _refused(template: str, e: DomainError, **context):
    """Nothing written (a wrong PIN's count excepted, ``commit``); the page again with the reason and article."""
    db.session.commit() if e.extra.get("commit") else db.session.rollback()
    return render_template(template, refused=e, **context), e.status


def _done(message: str, endpoint: str = "phone.self.index", **values):
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def _card():
    return lifecycle.current_card(db.session, me().id)


def _version() -> int | None:
    return optional_int(request.form.get("version"))


def _delivery(bank_id: int) -> lifecycle.Delivery:
    method = request.form.get("delivery_method") or ""
    try:
        method = DeliveryMethod(method)
    except ValueError:
        raise InvalidInput("Choose pickup at an outlet or express delivery.", article="Art. 12",
                           field="delivery_method") from None
    outlet_id = optional_int(request.form.get("pickup_outlet_id")) if method is DeliveryMethod.PICKUP else None
    return lifecycle.Delivery(method, (request.form.get("delivery_address") or "").strip() or None, outlet_id)


# ---------------------------------------------------------------- overview


@bp.route("/")
@resident_page
def index():
    """My card and application information (Art. 20) and every self-service step: open online, or where
    it is done and why (Art. 19, 22, 24)."""
    person = me()
    card = lifecycle.current_card(db.session, person.id)
    steps = resident.steps(db.session, person.id)
    locked = set(lifecycle.locked_fields(db.session, person.id))
    return render_template("self/index.html", person=person, card=card, steps=steps, step_pages=STEP_PAGES,
                           suspended=lifecycle.settlement_suspended(db.session, person.id), locked=locked)


# ---------------------------------------------------------------- apply online (Art. 7, 9, 12)


def _apply_context():
    return {"form": resident.application_form(db.session, resident_actor()),
            "step": resident.step(db.session, me().id, Op.APPLY), "values": request.form}


@bp.route("/apply", methods=["GET", "POST"])
@resident_page
def apply():
    """Apply for a card online: what the government platform holds is not asked (Art. 9), the bank from the
    Bureau's list, pickup outlet or express address (Art. 12)."""
    if request.method == "GET":
        return render_template("self/apply.html", **_apply_context())
    try:
        bank_id = optional_int(request.form.get("bank_id"))
        if bank_id is None:
            raise InvalidInput("Choose a bank from the published list.", article="Art. 9", field="bank_id")
        lifecycle.apply(db.session, resident_actor(), me().id, bank_id=bank_id, delivery=_delivery(bank_id))
    except DomainError as e:
        return _refused("self/apply.html", e, **_apply_context())
    return _done(N_("Your application was submitted. Follow it here."), "phone.self.applications")


@bp.route("/applications")
@resident_page
def applications():
    """My applications: due date (Art. 10, 25), delivery and tracking (Art. 12), progress."""
    return render_template("self/applications.html", rows=resident.tracking(db.session, me().id),
                           outlets={o.id: o for o in db.session.query(Outlet)})


# ---------------------------------------------------------------- card steps


@bp.route("/loss", methods=["GET", "POST"])
@resident_page
def loss():
    """Report the card lost, at any hour (Art. 21): both accounts are suspended at once."""
    ctx = {"card": _card(), "step": resident.step(db.session, me().id, Op.REGISTER_LOSS)}
    if request.method == "GET":
        return render_template("self/loss.html", **ctx)
    try:
        if ctx["card"] is None:
            raise InvalidInput("You have no card to report lost.", article="Art. 21")
        lifecycle.register_loss(db.session, resident_actor(), ctx["card"].id, expected_version=_version())
    except DomainError as e:
        return _refused("self/loss.html", e, **ctx)
    return _done(N_("Your card is reported lost. Payments from its accounts are suspended."))


def _reissue_context():
    card = _card()
    bank = db.session.get(Bank, card.bank_id) if card else None
    fee = lifecycle.reissue_fee(card)[0] if card else None
    return {"card": card, "bank": bank, "fee_fen": fee, "values": request.form,
            "outlets": list(db.session.query(Outlet).filter_by(bank_id=bank.id).order_by(Outlet.code)) if bank else [],
            "step": resident.step(db.session, me().id, Op.REISSUE)}


@bp.route("/reissue", methods=["GET", "POST"])
@resident_page
def reissue():
    """Apply for a reissue of a lost card online (Art. 23): the old card ends for ever."""
    if request.method == "GET":
        return render_template("self/reissue.html", **_reissue_context())
    ctx = _reissue_context()
    try:
        if ctx["card"] is None:
            raise InvalidInput("You have no card to reissue.", article="Art. 23")
        lifecycle.reissue(db.session, resident_actor(), ctx["card"].id, delivery=_delivery(ctx["card"].bank_id),
                          expected_version=_version())
    except DomainError as e:
        return _refused("self/reissue.html", e, **_reissue_context())
    return _done(N_("Your reissue was applied for. Follow the new card here."), "phone.self.applications")


def _fields_context():
    person = me()
    return {"card": _card(), "locked": set(lifecycle.locked_fields(db.session, person.id)), "fields": list(Field),
            "step": resident.step(db.session, person.id, Op.LOCK_FIELD),
            "unlock": resident.step(db.session, person.id, Op.UNLOCK_FIELD)}


@bp.route("/fields", methods=["GET", "POST"])
@resident_page
def fields():
    """Lock an application field online (Art. 6, 14); unlocking is done at an outlet (the channel table)."""
    if request.method == "GET":
        return render_template("self/fields.html", **_fields_context())
    ctx = _fields_context()
    try:
        name = request.form.get("field") or ""
        try:
            field = Field(name)
        except ValueError:
            raise InvalidInput("Unknown application field '{name}'.", field="field", params={"name": name}) from None
        if ctx["card"] is None:
            raise InvalidInput("You have no card whose field could be locked.", article="Art. 6")
        lifecycle.set_field_lock(db.session, resident_actor(), ctx["card"].id, field=field, locked=True,
                                 reason=(request.form.get("reason") or "").strip()[:200] or None,
                                 expected_version=_version())
    except DomainError as e:
        return _refused("self/fields.html", e, **_fields_context())
    return _done(N_("The field is locked."), "phone.self.fields")


def _card_id() -> int | None:
    """The card whose PIN the page changes (the rate limit's key): the one the view finds."""
    card = _card()
    return card.id if card else None


@bp.route("/pin", methods=["GET", "POST"])
@resident_page
@pin_limited(Op.CHANGE_PIN, card_id=_card_id, methods=["POST"])
def pin():
    """Change the PIN with the old PIN (Art. 6, 19); a forgotten or locked PIN is reset at an outlet.
    Under the API's PIN limits, one count with ``POST /api/cards/{id}/pin-change`` (per address and per
    card; over them: 429, the phone's error page, nothing checked)."""
    ctx = {"card": _card(), "step": resident.step(db.session, me().id, Op.CHANGE_PIN),
           "reset": resident.step(db.session, me().id, Op.RESET_PIN)}
    if request.method == "GET":
        return render_template("self/pin.html", **ctx)
    try:
        old, new, again = (request.form.get(k) or "" for k in ("old_pin", "new_pin", "new_pin_again"))
        if not (old.isdigit() and len(old) == 6 and new.isdigit() and len(new) == 6):
            raise InvalidInput("A PIN is six digits.", article="Art. 19", field="new_pin")
        if new != again:
            raise InvalidInput("The two new PINs differ.", field="new_pin_again")
        if ctx["card"] is None:
            raise InvalidInput("You have no card whose PIN could be changed.", article="Art. 19")
        lifecycle.change_pin(db.session, resident_actor(), ctx["card"].id, old_pin=old, new_pin=new,
                             expected_version=_version())
    except DomainError as e:
        ctx["card"] = _card()
        return _refused("self/pin.html", e, **ctx)
    return _done(N_("Your PIN is changed."))


# ---------------------------------------------------------------- my data (Art. 16, 20)


@bp.route("/access-log")
@resident_page
def access_log():
    """Who read or changed my data, when and why (Art. 16, 20)."""
    return render_template("self/access_log.html", rows=selfservice.access_log(db.session, me().id, limit=100))


CORRECTABLE = tuple(i for i in selfservice.ITEMS if i != "phone")  # the mobile: changed with a code (Art. 19)


def _corrections_context():
    return {"rows": selfservice.for_resident(db.session, me().id), "items": CORRECTABLE, "values": request.form}


@bp.route("/corrections", methods=["GET", "POST"])
@resident_page
def corrections():
    """Ask for a correction of my data and follow it (Art. 20 ¶2)."""
    if request.method == "GET":
        return render_template("self/corrections.html", **_corrections_context())
    try:
        item = request.form.get("field") or ""
        selfservice.scope_of(item)
        value, reason = ((request.form.get(k) or "").strip() for k in ("proposed_value", "reason"))
        if not value or not reason:
            raise InvalidInput("Give the correct value and the reason.", article="Art. 20", field="proposed_value")
        selfservice.file(db.session, resident_actor(), field=item, proposed_value=value[:500], reason=reason[:1000])
    except DomainError as e:
        return _refused("self/corrections.html", e, **_corrections_context())
    return _done(N_("Your correction request was sent."), "phone.self.corrections")


# ---------------------------------------------------------------- complaints and reports (Art. 29)


def _complaints_context():
    from app.services import complaints

    banks, agencies = complaints.parties(db.session)
    return {"rows": resident.my_complaints(db.session, me().id), "banks": banks, "agencies": agencies,
            "kinds": list(ComplaintKind), "parties": list(PartyKind), "values": request.form, "filed": None}


@bp.route("/complaints", methods=["GET", "POST"])
@resident_page
def complaints_page():
    """File a complaint or report (Art. 29) and follow it."""
    if request.method == "GET":
        return render_template("self/complaints.html", **_complaints_context())
    f = request.form
    try:
        try:
            kind, party = ComplaintKind(f.get("kind") or ""), PartyKind(f.get("party_kind") or "")
        except ValueError:
            raise InvalidInput("Choose whether it is a complaint or a report, and whom it is about.",
                               article="Art. 29", field="kind") from None
        party_id = optional_int(f.get("party_id"))
        filed = resident.file_complaint(
            db.session, resident_actor(), kind=kind, party_kind=party, summary=f.get("summary") or "",
            party_bank_id=party_id if party is PartyKind.BANK else None,
            party_agency_id=party_id if party is PartyKind.APPLICATION else None,
            about_staff=bool(f.get("about_staff")), staff_description=f.get("staff_description") or None,
            anonymous=bool(f.get("anonymous")))
    except DomainError as e:
        return _refused("self/complaints.html", e, **_complaints_context())
    db.session.commit()
    if filed.complaint.person_id is None:  # an anonymous report: reference and code shown once, here
        return render_template("self/complaints.html", **{**_complaints_context(), "filed": filed, "values": {}})
    flash(N_("Your complaint was filed. Follow it here."), "success")
    return redirect(url_for("phone.self.complaint", complaint_id=filed.complaint.id))


@bp.route("/complaints/<int:complaint_id>")
@resident_page
def complaint(complaint_id: int):
    """One of my complaints with its timeline and the reply (another's: 404, as for none)."""
    return render_template("self/complaint.html", f=resident.my_complaint(db.session, me().id, complaint_id))
