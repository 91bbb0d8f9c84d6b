"""The card desk's forms: shape only (a six-digit PIN, a choice from a list); the rules are the services'.
Labels and messages are English source strings, translated by the field macro."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from app.i18n import N_
from app.models.enums import CancellationReason, DeliveryMethod, Field, ReplacementReason, ServiceMode
from app.services.disclosure import MAX_DETAIL, LookupBy, Revealable
from app.services.documents import DocumentType
from app.web.labels import DOC_LABELS, source_label

LOOKUP_LABELS = {"card_number": N_("Card number"), "document": N_("ID document"), "phone": N_("Mobile number")}
PURPOSE_LABELS = {"counter_service": N_("Serving the holder at the counter"),
                  "card_production": N_("Making, delivering or handing over the card"),
                  "correction": N_("Deciding a correction request"), "complaint": N_("Handling a complaint"),
                  "own_inquiry": N_("The holder's own inquiry"),
                  "bank_change": N_("A change to this bank (Art. 24(3))")}
REVEAL_LABELS = {"doc_number": N_("ID number"), "ssn": N_("Social security number"), "name": N_("Name"),
                 "phone": N_("Mobile number"), "address": N_("Address"), "photo": N_("Photo")}

REQUIRED = N_("This is required.")
PIN_FIELDS = ("pin", "pin_again")  # asked on the confirmation step, never sent back in a page
PIN = [InputRequired(message=REQUIRED), Regexp(r"^[0-9]{6}$", message=N_("A PIN is six digits."))]


def _choices(values, labels=None):
    return [SelectChoice(str(v), (labels or {}).get(str(v)) or source_label(v)) for v in values]


class CardActionForm(FlaskForm):
    """Every card action carries the card's version (the ETag the API uses) and, where the channel
    table gives the role more than one, the channel."""

    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])
    channel = SelectField(N_("Channel"), validators=[Optional()])

    def __init__(self, *args, channels=(), default=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel.choices = _choices(channels)
        self.channel_count = len(channels)
        if not self.channel.data and channels:
            self.channel.data = str(default if default in channels else channels[0])

    def validate_channel(self, field):
        if field.data and field.data not in {c.value for c in field.choices}:
            raise ValidationError(N_("Choose one of the listed options."))


ID_CHECK = N_("I checked the holder's own valid ID document in person")


class IdCheckForm(CardActionForm):
    id_verified = BooleanField(ID_CHECK)


class ActivateForm(CardActionForm):
    pin = PasswordField(N_("New PIN"), validators=PIN, render_kw={"inputmode": "numeric", "autocomplete": "off"})
    pin_again = PasswordField(N_("New PIN again"), validators=[InputRequired(message=REQUIRED),
                                                               EqualTo("pin", message=N_("The two PINs differ."))],
                              render_kw={"inputmode": "numeric", "autocomplete": "off"})


class PinResetForm(ActivateForm):
    id_verified = BooleanField(ID_CHECK)


class _DeliveryForm(CardActionForm):
    delivery_method = RadioField(N_("Delivery"), choices=_choices(DeliveryMethod), default="pickup",
                                 validators=[InputRequired(message=REQUIRED)])
    delivery_address = StringField(N_("Mailing address (express)"), validators=[Length(max=200)])
    service_mode = SelectField(N_("Service"), choices=_choices(ServiceMode), default="counter")
    id_verified = BooleanField(ID_CHECK)

    def validate_delivery_address(self, field):
        if self.delivery_method.data == "express" and not (field.data or "").strip():
            raise ValidationError(N_("Express delivery needs a mailing address."))


class ReissueForm(_DeliveryForm):
    pass


class ReplaceForm(_DeliveryForm):
    reason = SelectField(N_("Reason"), choices=_choices(ReplacementReason), validators=[InputRequired()])
    quality_defect = BooleanField(N_("A quality defect made the card unusable (within a year of receipt: free)"))
    new_bank_id = SelectField(N_("New bank (change of bank only)"), coerce=lambda v: int(v) if v else None)

    def __init__(self, *args, banks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.new_bank_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(b.id), b.name) for b in banks]

    def validate_new_bank_id(self, field):
        if self.reason.data == "bank_change" and not field.data:
            raise ValidationError(N_("Choose the new bank."))


class FieldLockForm(CardActionForm):
    field = SelectField(N_("Application field"), choices=_choices(Field), validators=[InputRequired()])
    reason = StringField(N_("Reason (optional)"), validators=[Optional(), Length(max=200)])


class CancelForm(CardActionForm):
    reason = SelectField(N_("Reason"), choices=_choices(CancellationReason), validators=[InputRequired()])
    effective = DateField(N_("Date of death, or when the entitlement ended"), validators=[Optional()])


class InfoChangeForm(CardActionForm):
    phone = StringField(N_("Mobile number"), validators=[Length(max=24)],
                        render_kw={"autocomplete": "off", "inputmode": "tel"})
    address = StringField(N_("Address"), validators=[Optional(), Length(max=200)], render_kw={"autocomplete": "off"})
    occupation = StringField(N_("Occupation"), validators=[Optional(), Length(max=60)])
    name = StringField(N_("Name (card face)"), validators=[Optional(), Length(max=60)], render_kw={"autocomplete": "off"})
    ethnicity = StringField(N_("Ethnicity (card face)"), validators=[Optional(), Length(max=20)])
    id_verified = BooleanField(N_("I checked the holder's documents in person (card-face data)"))

    CHANGEABLE = ("phone", "address", "occupation", "name", "ethnicity")

    def changes(self) -> dict:
        return {k: self[k].data.strip() for k in self.CHANGEABLE if (self[k].data or "").strip()}

    def validate_phone(self, field):
        if not self.changes():
            raise ValidationError(N_("Enter at least one new value."))


class SearchForm(FlaskForm):
    by = RadioField(N_("Find by"), choices=_choices(LookupBy, LOOKUP_LABELS), default="card_number",
                    validators=[InputRequired(message=REQUIRED)])
    value = StringField(N_("Card number, ID number or mobile number"),
                        validators=[DataRequired(message=REQUIRED), Length(max=40)],
                        render_kw={"autocomplete": "off", "spellcheck": "false"})
    doc_type = SelectField(N_("Document type (ID document only)"), choices=_choices(DocumentType, DOC_LABELS),
                           default="resident_id")
    nationality = StringField(N_("Nationality (passport only, 3 letters)"),
                              validators=[Optional(), Length(min=3, max=3, message=N_("Three letters, e.g. USA."))])
    purpose = SelectField(N_("Purpose"), validators=[Optional()])
    detail = StringField(N_("What for, in a few words"),
                         validators=[DataRequired(message=REQUIRED), Length(max=MAX_DETAIL)])

    def __init__(self, *args, purposes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.purpose.choices = _choices(purposes, PURPOSE_LABELS)
        self.has_purposes = bool(purposes)

    def validate_purpose(self, field):
        if self.has_purposes and field.data not in {c.value for c in field.choices}:
            raise ValidationError(N_("Choose one of the listed options."))


class HotlineCallerForm(FlaskForm):
    """The 12345 caller's ID document and the answers to the identity questions (Art. 16, 21)."""
    doc_type = SelectField(N_("ID document"), choices=_choices(DocumentType, DOC_LABELS), default="resident_id")
    doc_number = StringField(N_("ID number, as the caller reads it out"),
                             validators=[DataRequired(message=REQUIRED), Length(max=40)],
                             render_kw={"autocomplete": "off", "spellcheck": "false"})
    nationality = StringField(N_("Nationality (passport only, 3 letters)"),
                              validators=[Optional(), Length(min=3, max=3, message=N_("Three letters, e.g. USA."))])
    name = StringField(N_("Full name, as the caller gives it"),
                       validators=[DataRequired(message=REQUIRED), Length(max=60)], render_kw={"autocomplete": "off"})
    phone = StringField(N_("Registered mobile number, as the caller gives it"),
                        validators=[DataRequired(message=REQUIRED), Length(max=24)], render_kw={"autocomplete": "off"})


class RevealForm(FlaskForm):
    fields = SelectMultipleField(N_("Show in full"), choices=_choices(Revealable, REVEAL_LABELS),
                                 option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
                                 validators=[DataRequired(message=N_("Choose at least one item."))])
    purpose = SelectField(N_("Purpose"), validators=[InputRequired(message=REQUIRED)])
    detail = StringField(N_("What for, in a few words"),
                         validators=[DataRequired(message=REQUIRED), Length(max=MAX_DETAIL)])
    case = StringField(N_("Case (card id, correction request number or complaint reference)"),
                       validators=[Optional(), Length(max=60)])

    def __init__(self, *args, purposes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.purpose.choices = _choices(purposes, PURPOSE_LABELS)
