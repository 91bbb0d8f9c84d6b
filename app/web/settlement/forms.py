"""The settlement pages' forms: shape only (an amount in yuan with at most two decimals, a choice from the
list the rules give the role); every rule is ``app.services.settlement``'s. Each form carries an idempotency
key made when the form is first rendered, so a double submit posts once (the service answers the retry with
the first posting)."""
from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

from app.i18n import N_
from app.web.desk.forms import REQUIRED
from app.web.forms import L_, options

MAX_YUAN_DIGITS = 13  # 10^13 yuan: far above the service's own maximum, which refuses with its own message


def new_key() -> str:
    return f"web-{uuid.uuid4().hex}"


def to_fen(text: str | None) -> int | None:
    """'12.34' yuan -> 1234 fen; None when it is not a yuan amount with at most two decimals."""
    text = (text or "").strip().replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or abs(value) >= 10 ** MAX_YUAN_DIGITS:
        return None
    return int(value * 100)


class _PostingForm(FlaskForm):
    """Type, amount, reference and the idempotency key; a hidden ``step`` says review or confirm."""

    key = HiddenField()
    type = SelectField(N_("Transaction"), validators=[InputRequired(message=REQUIRED)])
    amount = StringField(N_("Amount (yuan)"), validators=[InputRequired(message=REQUIRED), Length(max=20)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    reference = StringField(N_("Your reference (optional)"), validators=[Optional(), Length(max=64)],
                            render_kw={"autocomplete": "off"})

    def __init__(self, *args, types=(), labels=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.type.choices = options([(str(t), L_(labels[str(t)])) for t in types])
        if not self.key.data:
            self.key.data = new_key()

    def validate_type(self, field):
        if field.data not in {c.value for c in field.choices}:
            raise ValidationError(N_("Choose one of the listed options."))

    def validate_amount(self, field):
        fen = to_fen(field.data)
        if fen is None:
            raise ValidationError(N_("An amount in yuan, with at most two decimals (1 fen = 0.01 yuan)."))
        if fen <= 0:
            raise ValidationError(N_("An amount is positive."))

    @property
    def amount_fen(self) -> int | None:
        return to_fen(self.amount.data)


class CreditForm(_PostingForm):
    account_id = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    card_number = StringField(N_("Card number"), validators=[Optional(), Length(max=20)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"})

    def validate_card_number(self, field):
        if not self.account_id.data and not (field.data or "").strip():
            raise ValidationError(N_("Enter the card number of the account to credit."))


class DebitForm(_PostingForm):
    card_number = StringField(N_("Card number"), validators=[Optional(), Length(max=20)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"})
    to_account_id = IntegerField(N_("To account number (transfers only)"), validators=[Optional()],
                                 render_kw={"inputmode": "numeric", "autocomplete": "off"})
    # The holder's consent, on the confirmation step only (Art. 19): the e-card code as scanned, or the PIN.
    ecard_token = StringField(N_("The holder's e-card code (scanned)"), validators=[Optional(), Length(max=400)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"})
    pin = PasswordField(N_("PIN, typed by the holder"),
                        validators=[Optional(), Regexp(r"^[0-9]{6}$", message=N_("A PIN is six digits."))],
                        render_kw={"inputmode": "numeric", "autocomplete": "off"})

    CONSENT_FIELDS = ("ecard_token", "pin")

    def validate_to_account_id(self, field):
        if self.type.data == "transfer" and not field.data:
            raise ValidationError(N_("A transfer needs the account it goes to."))

    def validate_card_number(self, field):
        if (self.pin.data or "") and not (field.data or "").strip() and not (self.ecard_token.data or "").strip():
            raise ValidationError(N_("With a PIN, enter the number of the card presented."))


class ReversalForm(FlaskForm):
    key = HiddenField()
    reason = StringField(N_("Reason"), validators=[InputRequired(message=REQUIRED), Length(min=1, max=64)],
                         render_kw={"autocomplete": "off"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.key.data:
            self.key.data = new_key()
