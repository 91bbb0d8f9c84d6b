"""The forms of the applications pages. They check the shape of the input (required, length, choice); the
rules are the services' (a refusal names its field and lands beside it, see ``views._on_field``)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from app.i18n import N_
from app.models.enums import DeliveryMethod, EligibilityBasis, Referral, ServiceMode
from app.models.home_visit import VisitReason
from app.services.documents import DocumentType
from app.web.forms import options
from app.web.labels import DOC_LABELS, LABELS

VISIT_REASONS = {"elderly": N_("Elderly"), "disabled": N_("Disabled"), "illness": N_("Ill or injured"),
                 "other": N_("Other limited mobility")}


def _choices(enum, labels: dict[str, str]):
    return options((str(m), labels[str(m)]) for m in enum)


class LookupForm(FlaskForm):
    """Step 1 of the counter intake: the applicant's ID document (Art. 9)."""

    doc_type = SelectField(N_("ID document"), choices=_choices(DocumentType, DOC_LABELS), default="resident_id")
    doc_number = StringField(N_("Document number"), validators=[
        DataRequired(message=N_("Enter the document number.")), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false"})
    nationality = StringField(N_("Nationality (passport: ISO code, e.g. USA)"), validators=[
        Optional(), Length(min=3, max=3, message=N_("Three letters."))])
    service_mode = HiddenField(default="counter")
    home_visit = HiddenField()


class IntakeForm(LookupForm):
    """Step 2: only what the government platform does not hold valid (Art. 9 ¶2), the eligibility basis
    (Art. 4), the bank (Art. 9 ¶3), pickup outlet or express address (Art. 12), the way of service."""

    name = StringField(N_("Name"), validators=[Optional(), Length(max=60)])
    phone = StringField(N_("Mobile number"), validators=[Optional(), Length(max=24)], render_kw={"type": "tel"})
    address = StringField(N_("Home address"), validators=[Optional(), Length(max=200)])
    occupation = StringField(N_("Occupation"), validators=[Optional(), Length(max=60)])
    photo = FileField(N_("Photo (JPEG or PNG)"), render_kw={"accept": "image/jpeg,image/png"})
    eligibility = SelectField(N_("Eligibility basis"), choices=_choices(EligibilityBasis, LABELS[EligibilityBasis]))
    bank_id = SelectField(N_("Bank"), coerce=int, validators=[InputRequired(message=N_("Choose the bank."))])
    delivery_method = SelectField(N_("How the card reaches the holder"),
                                  choices=_choices(DeliveryMethod, LABELS[DeliveryMethod]), default="pickup")
    pickup_outlet_id = SelectField(N_("Pickup outlet"), coerce=int, default=0)
    delivery_address = StringField(N_("Mailing address for express delivery"), validators=[Optional(), Length(max=200)])
    service_mode = SelectField(N_("Way of service"), choices=_choices(ServiceMode, LABELS[ServiceMode]),
                               default="counter")
    referral = SelectField(N_("Who prompted the application"), choices=_choices(Referral, LABELS[Referral]),
                           default="self")
    id_verified = BooleanField(N_("I have checked the applicant's own valid ID document in person"))


class VersionForm(FlaskForm):
    """A step on one card: the version the clerk saw (a stale page is told to reload)."""

    version = HiddenField(validators=[DataRequired(), Regexp(r"^\d+$")])


class RejectForm(VersionForm):
    reason = StringField(N_("Reason for rejection"), validators=[
        DataRequired(message=N_("Give the reason for the rejection.")), Length(max=200)])


class DispatchForm(VersionForm):
    tracking_ref = StringField(N_("Tracking number"), validators=[
        DataRequired(message=N_("Enter the courier's tracking number.")),
        Length(min=3, max=40, message=N_("A tracking number has 3 to 40 characters."))])


class PickupForm(VersionForm):
    id_verified = BooleanField(N_("I have checked the holder's own valid ID document in person"))


class BatchForm(FlaskForm):
    limit = IntegerField(N_("At most this many cards"), default=1000, validators=[
        InputRequired(message=N_("Give a number.")),
        NumberRange(min=1, max=1000, message=N_("From 1 to 1000."))])


class ImportForm(FlaskForm):
    file = FileField(N_("The factory's file of produced cards (CSV or XLSX)"),
                     render_kw={"accept": ".csv,.xlsx,text/csv"})


class HomeVisitForm(FlaskForm):
    name = StringField(N_("Name"), validators=[DataRequired(message=N_("Enter the name.")), Length(max=60)])
    phone = StringField(N_("Mobile number"), validators=[DataRequired(message=N_("Enter the mobile number.")),
                                                        Length(max=24)], render_kw={"type": "tel"})
    address = StringField(N_("Address to visit"), validators=[DataRequired(message=N_("Enter the address.")),
                                                             Length(max=200)])
    reason = SelectField(N_("Why the person cannot come"), choices=_choices(VisitReason, VISIT_REASONS))
    visit_on = DateField(N_("Visit date (if arranged)"), validators=[Optional()])


class ScheduleForm(FlaskForm):
    visit_on = DateField(N_("Visit date"), validators=[DataRequired(message=N_("Enter the visit date."))])


class VisitContactForm(FlaskForm):
    detail = StringField(N_("Why you need the full details"), validators=[
        DataRequired(message=N_("Say in a few words why.")), Length(max=200)])


class CancelVisitForm(FlaskForm):
    outcome = StringField(N_("Why the visit is not made"), validators=[
        DataRequired(message=N_("Give the reason.")), Length(max=200)])
