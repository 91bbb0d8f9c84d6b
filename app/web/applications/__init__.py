"""The applications pages (issue 14): counter intake with the government platform's pre-fill (Art. 9),
acceptance and rejection (Art. 4, 10), production batches for the card factory (Art. 5, 10, 17),
dispatch with a tracking number, delivery and pickup (Art. 12), instant issuance (Art. 10 ¶2, 25 ¶2),
door-to-door requests (Art. 8 ¶2), and each card's timeline.

Thin: every step is the service function the API calls (``lifecycle``, ``people``, ``disclosure``,
``production``, ``home_visits``), who may open a page is the same policy (``page(op=…)`` from the channel
table), and a refusal is the service's own error, shown beside the field it names or as the refusal box
with its article. A refused step writes nothing (the session is rolled back).
"""
from __future__ import annotations

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from sqlalchemy import select

from app.api.cards import STAFF_READERS
from app.api.production import FACTORY_DESK
from app.api.production import READERS as BATCH_READERS
from app.extensions import db
from app.i18n import N_, translate
from app.i18n import article as fmt_article
from app.models import Bank, Card, CardEvent, Outlet, Person
from app.models.enums import DeliveryMethod, EligibilityBasis, Referral, Role, ServiceMode
from app.models.home_visit import VisitReason
from app.models.production import BatchStatus
from app.privacy import mask_address, mask_id_number, mask_name, mask_phone
from app.services import disclosure, home_visits, lifecycle, people, production, worklists
from app.services.errors import DomainError, InvalidInput
from app.services.lifecycle_rules import Op
from app.web.applications import forms
from app.web.forms import options
from app.web.labels import refusal_text
from app.web.policy import page

bp = Blueprint("applications", __name__, url_prefix="/applications", template_folder="templates")

# How the timeline names each lifecycle operation (``lifecycle_rules.Op``), translated when shown.
OP_LABELS = {
    Op.APPLY: N_("Application"), Op.ACCEPT: N_("Accepted"), Op.REJECT: N_("Rejected"),
    Op.START_PRODUCTION: N_("Sent to the card factory"), Op.FINISH_PRODUCTION: N_("Produced"),
    Op.DISPATCH: N_("Handed to the courier"), Op.DELIVER: N_("Delivered"), Op.PICK_UP: N_("Picked up"),
    Op.ISSUE_INSTANTLY: N_("Issued on the spot"), Op.ACTIVATE: N_("Activated"),
    Op.REGISTER_LOSS: N_("Loss registered"), Op.DEREGISTER_LOSS: N_("Loss deregistered"),
    Op.REISSUE: N_("Reissue"), Op.REPLACE: N_("Replacement"), Op.CONFIRM_UNBIND: N_("Unbinding confirmed"),
    Op.CANCEL: N_("Cancelled"), Op.LOCK_FIELD: N_("Application field locked"),
    Op.UNLOCK_FIELD: N_("Application field unlocked"), Op.INQUIRE_STATUS: N_("Status inquiry"),
    Op.CHANGE_PIN: N_("PIN changed"), Op.RESET_PIN: N_("PIN reset"), Op.CHANGE_INFO: N_("Information changed"),
}


@bp.app_context_processor
def _helpers():
    return {"op_label": lambda op: translate(OP_LABELS.get(op, op))}


def _actor():
    return g.staff.actor()


def _on_field(form, e: DomainError, aliases: dict[str, str] | None = None) -> bool:
    """Put a refusal that names an input beside that field (translated); True if it did."""
    name = (aliases or {}).get(e.extra.get("field"), e.extra.get("field"))
    f = getattr(form, name, None) if isinstance(name, str) else None
    if f is None or not hasattr(f, "errors"):
        return False
    f.errors = [*(f.errors or []), refusal_text(e)[1] + (f" ({fmt_article(e.article)})" if e.article else "")]
    return True


def _refused(e: DomainError) -> None:
    db.session.commit() if e.extra.get("commit") else db.session.rollback()


def _card(card_id: int) -> Card:
    return lifecycle.load_card(db.session, card_id, lock=False)


def _shown(cards, what: str = "cards", subject: str = "applications") -> None:
    """The masked data of these holders was shown: on the audit trail (Art. 16), committed with the page."""
    disclosure.log_read(db.session, _actor(), [c.person_id for c in cards], what, subject=subject)
    disclosure.commit_read(db.session)


def _names(cards) -> dict[int, str]:
    return {c.id: mask_name(c.person.name) for c in cards}


# ---------------------------------------------------------------- overview


@bp.route("/")
@page(Role.BANK_TELLER, Role.AGENCY_CLERK, Role.BUREAU)
def index():
    actor = _actor()
    counts = {}
    if actor.role is Role.AGENCY_CLERK:
        counts = {"decisions": worklists.awaiting_acceptance(db.session).total,
                  "waiting": len(production.waiting_cards(db.session)),
                  "dispatch": len(worklists.to_dispatch(db.session, actor)),
                  "transit": len(worklists.in_transit(db.session, actor))}
    elif actor.role is Role.BANK_TELLER:
        counts = {"pickup": worklists.awaiting_pickup(db.session, actor).total,
                  "visits": len(home_visits.requests(db.session, actor))}
    return render_template("applications/index.html", counts=counts, role=actor.role)


# ---------------------------------------------------------------- counter intake (Art. 4, 7, 9, 12)


def _bank_choices(form: forms.IntakeForm) -> None:
    banks = db.session.scalars(select(Bank).where(Bank.published.is_(True)).order_by(Bank.code)).all()
    form.bank_id.choices = options((b.id, b.name) for b in banks)
    own = g.staff.bank_id
    if not form.bank_id.data and own:
        form.bank_id.data = own
    outlets = db.session.scalars(select(Outlet).where(Outlet.bank_id == (form.bank_id.data or own))
                                 .order_by(Outlet.code)).all()
    form.pickup_outlet_id.choices = options([(0, translate(N_("Any outlet of the bank")))] + [
        (o.id, f"{o.name} · {o.district}") for o in outlets])
    if not form.is_submitted() and g.staff.outlet_id:
        form.pickup_outlet_id.data = g.staff.outlet_id


def _details(form, info: dict, status: int = 200, **kw):
    """Step 2 of the intake, with the document shown masked."""
    return render_template("applications/intake_details.html", form=form, doc_labels=forms.DOC_LABELS,
                           masked_doc=mask_id_number(form.doc_number.data or ""), **info, **kw), status


def _lookup(form) -> dict:
    """What the platform and the register already know of this document (Art. 9 ¶2), audited."""
    actor = _actor()
    needed = people.prefill(db.session, actor, form.doc_type.data, form.doc_number.data.strip(),
                            form.nationality.data or None)
    existing = people.find_by_document(db.session, form.doc_type.data, form.doc_number.data.strip(),
                                       form.nationality.data or None)
    known = None
    if existing is not None and disclosure.within_remit(db.session, actor, existing.id):
        disclosure.log_read(db.session, actor, [existing.id], "person", subject="intake:existing",
                            fields=["name"])
        known = mask_name(existing.name)
    if existing is not None:
        needed = []  # registered: nothing of Art. 9 is asked again
    return {"needed": needed, "known": known, "registered": existing is not None,
            "from_platform": [f for f in people.REQUIRED_FROM_APPLICANT if f not in needed]}


@bp.route("/intake", methods=["GET", "POST"])
@page(op=Op.APPLY)
def intake():
    """Step 1: the ID document; the platform says what it holds (Art. 9 ¶2)."""
    form = forms.LookupForm(service_mode=request.args.get("mode", "counter"),
                            home_visit=request.args.get("visit", ""))
    if request.method == "POST" and form.validate():
        try:
            info = _lookup(form)
        except DomainError as e:
            _refused(e)
            if not _on_field(form, e):
                return render_template("applications/intake.html", form=form, refusal=e), e.status
            return render_template("applications/intake.html", form=form), 422
        db.session.commit()  # the platform inquiry is on the audit trail (Art. 16)
        details = forms.IntakeForm(formdata=None, doc_type=form.doc_type.data, doc_number=form.doc_number.data,
                                   nationality=form.nationality.data, service_mode=form.service_mode.data or "counter",
                                   home_visit=form.home_visit.data)
        _bank_choices(details)
        return _details(details, info)
    return render_template("applications/intake.html", form=form), 422 if form.errors else 200


@bp.route("/intake/application", methods=["POST"])
@page(op=Op.APPLY)
def intake_submit():
    """Step 2: register (what is still needed) and apply, as ``POST /api/applications`` does."""
    form = forms.IntakeForm()
    _bank_choices(form)
    if request.form.get("registered") == "1":
        del form.eligibility  # a registered holder's eligibility is not asked again (Art. 9 ¶2)
    needed = request.form.getlist("needed")
    info = {"needed": [n for n in needed if n in people.REQUIRED_FROM_APPLICANT],
            "known": None, "registered": request.form.get("registered") == "1"}
    info["from_platform"] = [f for f in people.REQUIRED_FROM_APPLICANT if f not in info["needed"]]
    if not form.validate():
        return _details(form, info, 422)
    actor = _actor()
    photo = form.photo.data.read() if form.photo.data else None
    try:
        applicant = people.Applicant(
            doc_type=form.doc_type.data, doc_number=form.doc_number.data.strip(),
            nationality=form.nationality.data or None, name=form.name.data or None, phone=form.phone.data or None,
            address=form.address.data or None, photo=photo or None, occupation=form.occupation.data or None,
            eligibility=EligibilityBasis(form.eligibility.data) if "eligibility" in form else None)
        person, _created = disclosure.register(db.session, actor, applicant)
        card = lifecycle.apply(
            db.session, actor, person.id, bank_id=form.bank_id.data,
            delivery=lifecycle.Delivery(DeliveryMethod(form.delivery_method.data), form.delivery_address.data or None,
                                        form.pickup_outlet_id.data or None),
            service_mode=ServiceMode(form.service_mode.data), referral=Referral(form.referral.data),
            id_verified=form.id_verified.data)
        if form.home_visit.data and form.home_visit.data.isdigit():
            home_visits.complete(db.session, actor, int(form.home_visit.data), card.id)
    except DomainError as e:
        _refused(e)
        if _on_field(form, e):
            return _details(form, info, e.status)
        return _details(form, info, e.status, refusal=e)
    db.session.commit()
    return redirect(url_for(".timeline", card_id=card.id, done="applied"))


# ---------------------------------------------------------------- acceptance and rejection (Art. 4, 10, 25)


def _decision_forms(cards):
    return {c.id: (forms.VersionForm(prefix=f"a{c.id}", version=c.version, formdata=None),
                   forms.RejectForm(prefix=f"r{c.id}", version=c.version, formdata=None)) for c in cards}


@bp.route("/decisions")
@page(op=Op.ACCEPT)
def decisions(refusal=None, bad=None, status=200):
    cards = [card for _, card in worklists.awaiting_acceptance(db.session).rows]
    fs = _decision_forms(cards)
    if bad is not None:
        fs[bad[0]] = bad[1]
    _shown(cards)
    return render_template("applications/decisions.html", cards=cards, forms=fs, names=_names(cards),
                           refusal=refusal), status


def _version(form) -> int:
    return int(form.version.data)


@bp.route("/<int:card_id>/acceptance", methods=["POST"])
@page(op=Op.ACCEPT)
def accept(card_id):
    form = forms.VersionForm(prefix=f"a{card_id}")
    if not form.validate():
        return decisions(status=422)
    try:
        lifecycle.accept(db.session, _actor(), card_id, expected_version=_version(form))
    except DomainError as e:
        _refused(e)
        return decisions(refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".decisions", done=card_id))


@bp.route("/<int:card_id>/rejection", methods=["POST"])
@page(op=Op.REJECT)
def reject(card_id):
    form = forms.RejectForm(prefix=f"r{card_id}")
    if not form.validate():
        db.session.rollback()
        return decisions(bad=(card_id, (forms.VersionForm(prefix=f"a{card_id}", version=form.version.data,
                                                          formdata=None), form)), status=422)
    try:
        lifecycle.reject(db.session, _actor(), card_id, reason=form.reason.data.strip(),
                         expected_version=_version(form))
    except DomainError as e:
        _refused(e)
        return decisions(refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".decisions", done=card_id))


# ---------------------------------------------------------------- production batches (Art. 5, 10, 16, 17)


@bp.route("/batches")
@page(*BATCH_READERS)
def batches(form=None, refusal=None, status=200):
    rows = production.list_batches(db.session)
    waiting = len(production.waiting_cards(db.session))
    return render_template("applications/batches.html", rows=rows, waiting=waiting,
                           form=form or forms.BatchForm(), refusal=refusal,
                           may_create=g.staff.role in FACTORY_DESK), status


@bp.route("/batches", methods=["POST"])
@page(op=Op.START_PRODUCTION)
def batch_create():
    form = forms.BatchForm()
    if not form.validate():
        return batches(form=form, status=422)
    try:
        batch = production.create_batch(db.session, _actor(), limit=form.limit.data)
    except DomainError as e:
        _refused(e)
        if _on_field(form, e, {"card_ids": "limit"}):
            return batches(form=form, status=e.status)
        return batches(form=form, refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".batch", batch_id=batch.id))


@bp.route("/batches/<int:batch_id>")
@page(*BATCH_READERS)
def batch(batch_id, form=None, errors=None, refusal=None, status=200, imported=None):
    b = production.get_batch(db.session, batch_id)
    rows = production.batch_cards(db.session, b)
    _shown([c for _, c in rows], subject=f"batch:{b.reference}")
    return render_template("applications/batch.html", batch=b, rows=rows, summary=production.summary(db.session, b),
                           form=form or forms.ImportForm(), errors=errors, refusal=refusal, imported=imported,
                           may_export=g.staff.role in FACTORY_DESK, complete=b.status is BatchStatus.COMPLETE,
                           import_article=lifecycle.article_of(Op.FINISH_PRODUCTION)), status


@bp.route("/batches/<int:batch_id>/export.<fmt>")
@page(*FACTORY_DESK)
def batch_export(batch_id, fmt):
    try:
        name, content_type, data = production.export_batch(db.session, _actor(), batch_id, fmt)
    except DomainError as e:
        _refused(e)
        return batch(batch_id, refusal=e, status=e.status)
    db.session.commit()  # every holder's reveal is on the audit trail before the file leaves (Art. 16)
    return Response(data, mimetype=content_type, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/batches/<int:batch_id>/import", methods=["POST"])
@page(op=Op.FINISH_PRODUCTION)
def batch_import(batch_id):
    form = forms.ImportForm()
    upload = form.file.data
    if not upload or not getattr(upload, "filename", ""):
        form.file.errors = [translate(N_("Choose the factory's file."))]
        return batch(batch_id, form=form, status=422)
    try:
        result = production.import_produced(db.session, _actor(), batch_id,
                                            upload.read(production.MAX_IMPORT_BYTES + 1))
    except production.ImportRefused as e:
        db.session.rollback()
        return batch(batch_id, form=form, errors=e.errors, status=422)
    except DomainError as e:
        _refused(e)
        if _on_field(form, e):
            return batch(batch_id, form=form, status=e.status)
        return batch(batch_id, form=form, refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".batch", batch_id=batch_id, imported=len(result.produced)))


# ---------------------------------------------------------------- dispatch and delivery (Art. 12)


@bp.route("/dispatch")
@page(op=Op.DISPATCH)
def dispatch_list(bad=None, refusal=None, status=200):
    actor = _actor()
    ready, moving = worklists.to_dispatch(db.session, actor), worklists.in_transit(db.session, actor)
    send = {c.id: forms.DispatchForm(prefix=f"d{c.id}", version=c.version, formdata=None) for c in ready}
    done = {c.id: forms.VersionForm(prefix=f"v{c.id}", version=c.version, formdata=None) for c in moving}
    if bad is not None:
        send[bad[0]] = bad[1]
    _shown([*ready, *moving])
    addresses = {c.id: mask_address(c.application.delivery_address or "") for c in ready}
    return render_template("applications/dispatch.html", ready=ready, moving=moving, send=send, done=done,
                           names=_names([*ready, *moving]), addresses=addresses, refusal=refusal), status


@bp.route("/<int:card_id>/dispatch", methods=["POST"])
@page(op=Op.DISPATCH)
def dispatch(card_id):
    form = forms.DispatchForm(prefix=f"d{card_id}")
    if not form.validate():
        return dispatch_list(bad=(card_id, form), status=422)
    try:
        lifecycle.dispatch(db.session, _actor(), card_id, tracking_ref=form.tracking_ref.data.strip(),
                           expected_version=_version(form))
    except DomainError as e:
        _refused(e)
        if _on_field(form, e):
            return dispatch_list(bad=(card_id, form), status=e.status)
        return dispatch_list(refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".dispatch_list", done=card_id))


@bp.route("/<int:card_id>/delivery", methods=["POST"])
@page(op=Op.DELIVER)
def deliver(card_id):
    form = forms.VersionForm(prefix=f"v{card_id}")
    if not form.validate():
        return dispatch_list(status=422)
    try:
        lifecycle.deliver(db.session, _actor(), card_id, expected_version=_version(form))
    except DomainError as e:
        _refused(e)
        return dispatch_list(refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".dispatch_list", done=card_id))


# ---------------------------------------------------------------- pickup (Art. 12, 27(2))


@bp.route("/pickup")
@page(op=Op.PICK_UP)
def pickup_list(bad=None, refusal=None, status=200):
    cards = [card for _, card in worklists.awaiting_pickup(db.session, _actor()).rows]
    fs = {c.id: forms.PickupForm(prefix=f"p{c.id}", version=c.version, formdata=None) for c in cards}
    if bad is not None:
        fs[bad[0]] = bad[1]
    _shown(cards)
    return render_template("applications/pickup.html", cards=cards, forms=fs, names=_names(cards),
                           refusal=refusal), status


@bp.route("/<int:card_id>/pickup", methods=["POST"])
@page(op=Op.PICK_UP)
def pickup(card_id):
    form = forms.PickupForm(prefix=f"p{card_id}")
    if not form.validate():
        return pickup_list(bad=(card_id, form), status=422)
    try:
        lifecycle.pick_up(db.session, _actor(), card_id, expected_version=_version(form),
                          id_verified=form.id_verified.data)
    except DomainError as e:
        _refused(e)
        if _on_field(form, e):
            return pickup_list(bad=(card_id, form), status=e.status)
        return pickup_list(refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".timeline", card_id=card_id, done="picked_up"))


# ---------------------------------------------------------------- door-to-door requests (Art. 8 ¶2)


@bp.route("/door-to-door")
@page(Role.BANK_TELLER)
def visits(form=None, bad=None, refusal=None, status=200, revealed=None):
    actor = _actor()
    rows = home_visits.requests(db.session, actor)
    sched = {r.id: forms.ScheduleForm(prefix=f"s{r.id}", formdata=None, visit_on=r.visit_on) for r in rows}
    cancel = {r.id: forms.CancelVisitForm(prefix=f"x{r.id}", formdata=None) for r in rows}
    contact = {r.id: forms.VisitContactForm(prefix=f"c{r.id}", formdata=None) for r in rows}
    if bad is not None:
        {forms.ScheduleForm: sched, forms.CancelVisitForm: cancel, forms.VisitContactForm: contact}[
            type(bad[1])][bad[0]] = bad[1]
    taken = worklists.door_to_door(db.session, actor)[:20]
    home_visits.log_list(db.session, actor, rows)
    _shown(taken)
    masked = {r.id: (mask_name(r.name), mask_phone(r.phone), mask_address(r.address)) for r in rows}
    if revealed:  # (request id, full values) of the one request whose details were just revealed
        masked[revealed[0]] = (revealed[1]["name"], revealed[1]["phone"], revealed[1]["address"])
    return render_template("applications/visits.html", rows=rows, masked=masked, sched=sched, cancel=cancel,
                           contact=contact, revealed=revealed[0] if revealed else None,
                           form=form or forms.HomeVisitForm(formdata=None), taken=taken, names=_names(taken),
                           refusal=refusal, reasons=forms.VISIT_REASONS), status


@bp.route("/door-to-door", methods=["POST"])
@page(Role.BANK_TELLER)
def visit_file():
    form = forms.HomeVisitForm()
    if not form.validate():
        return visits(form=form, status=422)
    try:
        home_visits.file_request(db.session, _actor(), name=form.name.data, phone=form.phone.data,
                                 address=form.address.data, reason=VisitReason(form.reason.data),
                                 visit_on=form.visit_on.data)
    except DomainError as e:
        _refused(e)
        if _on_field(form, e):
            return visits(form=form, status=e.status)
        return visits(form=form, refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".visits", done="filed"))


@bp.route("/door-to-door/<int:request_id>/schedule", methods=["POST"])
@page(Role.BANK_TELLER)
def visit_schedule(request_id):
    form = forms.ScheduleForm(prefix=f"s{request_id}")
    if not form.validate():
        return visits(bad=(request_id, form), status=422)
    try:
        home_visits.schedule(db.session, _actor(), request_id, form.visit_on.data)
    except DomainError as e:
        _refused(e)
        if _on_field(form, e):
            return visits(bad=(request_id, form), status=e.status)
        return visits(refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".visits", done="scheduled"))


@bp.route("/door-to-door/<int:request_id>/contact", methods=["POST"])
@page(Role.BANK_TELLER)
def visit_contact(request_id):
    """The requester's full contact details, to arrange and make the visit (Art. 8 ¶2); audited (Art. 16)."""
    form = forms.VisitContactForm(prefix=f"c{request_id}")
    if not form.validate():
        return visits(bad=(request_id, form), status=422)
    try:
        full = home_visits.reveal_contact(db.session, _actor(), request_id, form.detail.data)
    except DomainError as e:
        _refused(e)
        return visits(refusal=e, status=e.status)
    db.session.commit()  # the reveal's audit entry; the page is answered, not redirected, so no URL holds it
    return visits(revealed=(request_id, full))


@bp.route("/door-to-door/<int:request_id>/cancellation", methods=["POST"])
@page(Role.BANK_TELLER)
def visit_cancel(request_id):
    form = forms.CancelVisitForm(prefix=f"x{request_id}")
    if not form.validate():
        return visits(bad=(request_id, form), status=422)
    try:
        home_visits.cancel(db.session, _actor(), request_id, form.outcome.data)
    except DomainError as e:
        _refused(e)
        return visits(refusal=e, status=e.status)
    db.session.commit()
    return redirect(url_for(".visits", done="cancelled"))


# ---------------------------------------------------------------- one card's application and timeline


@bp.route("/<int:card_id>")
@page(*STAFF_READERS)
def timeline(card_id):
    card = _card(card_id)
    actor = _actor()
    disclosure.disclose(db.session, actor, card.person_id, "card", subject=f"card:{card.id}")
    disclosure.log_read(db.session, actor, [card.person_id], "card_events", subject=f"card:{card.id}")
    events = db.session.scalars(select(CardEvent).where(CardEvent.person_id == card.person_id)
                                .order_by(CardEvent.id)).all()
    disclosure.commit_read(db.session)
    cards = {c.id: c for c in db.session.scalars(select(Card).where(Card.person_id == card.person_id))}
    outlet = db.session.get(Outlet, card.application.pickup_outlet_id) if card.application.pickup_outlet_id else None
    bank = db.session.get(Bank, card.bank_id)
    return render_template("applications/timeline.html", card=card, app_=card.application, events=events,
                           cards=cards, name=mask_name(card.person.name), outlet=outlet, bank=bank,
                           done=request.args.get("done"))
