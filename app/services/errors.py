"""Domain errors. Each carries an HTTP status, a stable problem type and, where a rule of the
Measures forbids the step, the article. The API renders them as RFC 9457 problem details, the pages
with the refusal macro; both translate ``title`` and ``detail`` when rendering (``app.i18n``).

The detail is an English source message; values inside it are placeholders filled from ``params``
(``NotFound("No card {card_id}.", params={"card_id": 7})``), so that the message can be looked up in
the catalogue and the values put into its translation."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    type = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, article: str | None = None, params: dict | None = None, **extra):
        self.message = detail  # the source message (catalogue key)
        self.params = params or {}
        self.detail = detail.format(**self.params) if params else detail
        super().__init__(self.detail)
        self.article = article
        self.extra = extra

    def translated(self) -> tuple[str, str]:
        """(title, detail) in the request's language."""
        from app.i18n import translate

        return translate(self.title), translate(self.message, **self.params)


class NotFound(DomainError):
    status, type, title = 404, "not-found", "Not found"


class InvalidInput(DomainError):
    """Well-formed request, but a value breaks a rule (bad ID number, unknown bank…)."""

    status, type, title = 422, "invalid-input", "Invalid input"


class IllegalTransition(DomainError):
    """The state machine does not allow the operation from the card's current state."""

    status, type, title = 409, "illegal-transition", "Operation not allowed in this state"


class ChannelNotAllowed(DomainError):
    """The operation is not allowed through this channel or for this role."""

    status, type, title = 403, "channel-not-allowed", "Operation not allowed through this channel"


class OutOfScope(DomainError):
    """The actor may do the operation, but not on this cardholder (e.g. another bank's card)."""

    status, type, title = 403, "out-of-scope", "Outside your remit"


class Ineligible(DomainError):
    status, type, title = 422, "ineligible", "Applicant not eligible"


class PreconditionFailed(DomainError):
    """If-Match did not match: somebody changed the card since the caller read it."""

    status, type, title = 412, "precondition-failed", "The card changed since you read it"


class PinRefused(DomainError):
    status, type, title = 403, "pin-refused", "PIN refused"


class PinLocked(DomainError):
    status, type, title = 423, "pin-locked", "PIN locked"


class ConfirmationRequired(DomainError):
    """The request is valid but looks like a mistake (e.g. a holiday schedule unlike any published
    year): it is applied only when sent again with an explicit confirmation."""

    status, type, title = 409, "confirmation-required", "Confirmation required"
