"""The card lifecycle as data: one state-machine table and one channel table.

``TRANSITIONS``: (operation, from-state) → to-state, with the article that allows it. Where one
                 operation may lead from one state to several (a loss deregistration returns the card
                 to the state it was in before the loss), each is a row; the service picks the one the
                 card's own facts call for, and nothing else.
``CHANNELS``:    operation → the (channel, role) pairs through which it may be done.
``ID_CHECK_REQUIRED``: (operation, channel) → the article that requires the holder's own valid ID
                 document checked in person (持本人有效身份证件).

The lifecycle service reads both and refuses anything not listed, naming the
article; ``docs/lifecycle.md`` is generated from them (``flask lifecycle table``).
Nothing else in the code base decides whether a step is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.models.enums import CardStatus as S
from app.models.enums import Channel as C
from app.models.enums import Role as R
from app.services.errors import ChannelNotAllowed


class Op(StrEnum):
    APPLY = "apply"
    ACCEPT = "accept"
    REJECT = "reject"
    START_PRODUCTION = "start_production"
    FINISH_PRODUCTION = "finish_production"
    DISPATCH = "dispatch"
    DELIVER = "deliver"
    PICK_UP = "pick_up"
    ISSUE_INSTANTLY = "issue_instantly"
    ACTIVATE = "activate"
    REGISTER_LOSS = "register_loss"
    DEREGISTER_LOSS = "deregister_loss"
    REISSUE = "reissue"
    REPLACE = "replace"
    CONFIRM_UNBIND = "confirm_unbind"
    CANCEL = "cancel"
    LOCK_FIELD = "lock_field"
    UNLOCK_FIELD = "unlock_field"
    INQUIRE_STATUS = "inquire_status"
    CHANGE_PIN = "change_pin"
    RESET_PIN = "reset_pin"
    CHANGE_INFO = "change_info"


@dataclass(frozen=True)
class Transition:
    op: Op
    source: S | None  # None: the operation creates the card
    target: S | None  # None: the card's state does not change
    article: str


def _t(op: Op, sources: tuple[S | None, ...], target: S | None, article: str) -> list[Transition]:
    return [Transition(op, s, target, article) for s in sources]


_HELD = (S.ISSUED, S.ACTIVE, S.LOSS_REGISTERED, S.REPLACEMENT_PENDING)  # valid, in the holder's hands
_LIVE = (S.APPLIED, S.ACCEPTED, S.IN_PRODUCTION, S.PRODUCED, S.IN_TRANSIT, *_HELD)

TRANSITIONS: tuple[Transition, ...] = tuple(
    _t(Op.APPLY, (None,), S.APPLIED, "Art. 7, 9")
    + _t(Op.ACCEPT, (S.APPLIED,), S.ACCEPTED, "Art. 10, 25")
    + _t(Op.REJECT, (S.APPLIED,), S.REJECTED, "Art. 4")
    + _t(Op.START_PRODUCTION, (S.ACCEPTED,), S.IN_PRODUCTION, "Art. 5, 10")
    + _t(Op.FINISH_PRODUCTION, (S.IN_PRODUCTION,), S.PRODUCED, "Art. 5, 10")
    + _t(Op.DISPATCH, (S.PRODUCED,), S.IN_TRANSIT, "Art. 12")
    + _t(Op.DELIVER, (S.IN_TRANSIT,), S.ISSUED, "Art. 12")
    + _t(Op.PICK_UP, (S.PRODUCED,), S.ISSUED, "Art. 12")
    + _t(Op.ISSUE_INSTANTLY, (S.APPLIED,), S.ISSUED, "Art. 10 ¶2, 25 ¶2")
    + _t(Op.ACTIVATE, (S.ISSUED,), S.ACTIVE, "Art. 6")
    # Art. 21 is conditioned only on the loss (持卡人遗失社会保障卡的): any card in the holder's hands,
    # activated or not, also one still in use while its replacement is made (Art. 24).
    + _t(Op.REGISTER_LOSS, (S.ISSUED, S.ACTIVE, S.REPLACEMENT_PENDING), S.LOSS_REGISTERED, "Art. 21")
    # Art. 22: 恢复正常使用, back to the state the card was in before the loss: in use, not yet
    # activated, or still awaiting its replacement (Art. 22 bars only a reissue, 补领, not a 换领).
    + _t(Op.DEREGISTER_LOSS, (S.LOSS_REGISTERED,), S.ACTIVE, "Art. 22")
    + _t(Op.DEREGISTER_LOSS, (S.LOSS_REGISTERED,), S.ISSUED, "Art. 21, 22")
    + _t(Op.DEREGISTER_LOSS, (S.LOSS_REGISTERED,), S.REPLACEMENT_PENDING, "Art. 22, 24")
    # Art. 23: applying for a reissue ends the old card for ever; no prior loss registration needed.
    + _t(Op.REISSUE, (S.ISSUED, S.ACTIVE, S.LOSS_REGISTERED), S.INVALIDATED, "Art. 23")
    # Art. 24: the old card stays usable until its replacement is issued.
    + _t(Op.REPLACE, (S.ISSUED, S.ACTIVE), S.REPLACEMENT_PENDING, "Art. 24")
    + _t(Op.CONFIRM_UNBIND, _LIVE, None, "Art. 24 ¶2")
    + _t(Op.CANCEL, _LIVE, S.CANCELLED, "Art. 26, 6")
    + _t(Op.LOCK_FIELD, _HELD, None, "Art. 6, 14")
    + _t(Op.UNLOCK_FIELD, _HELD, None, "Art. 6, 14")
    + _t(Op.INQUIRE_STATUS, (*_LIVE, S.REJECTED, S.INVALIDATED, S.REPLACED, S.CANCELLED), None, "Art. 6, 20")
    + _t(Op.CHANGE_PIN, (S.ACTIVE,), None, "Art. 6, 19")
    + _t(Op.RESET_PIN, (S.ACTIVE,), None, "Art. 6, 19")
    + _t(Op.CHANGE_INFO, _LIVE, None, "Art. 6, 24(2)")
)

# (operation, from-state) → its rows, the first being the ordinary one.
TRANSITION_INDEX: dict[tuple[Op, S | None], tuple[Transition, ...]] = {}
for _row in TRANSITIONS:
    TRANSITION_INDEX[(_row.op, _row.source)] = (*TRANSITION_INDEX.get((_row.op, _row.source), ()), _row)
del _row

# Why an operation is refused in a state the table does not list: the article that says so.
REFUSAL_ARTICLES: dict[Op, str] = {
    Op.DEREGISTER_LOSS: "Art. 22",  # only a registered loss, and only before a reissue was applied for
    Op.REISSUE: "Art. 23",
    Op.REPLACE: "Art. 24",
    Op.REGISTER_LOSS: "Art. 21",
    Op.CANCEL: "Art. 26",
    Op.ISSUE_INSTANTLY: "Art. 10 ¶2, 25 ¶2",
}

# Side effects on a card's predecessor, written as events of the operation on its successor:
# the successor is issued → the replaced card ends (Art. 24), void for ever if it was lost meanwhile
# (Art. 21); the successor's application is rejected → the card awaiting replacement is back in use
# as it was (Art. 24, 25).
SIDE_EFFECTS: dict[tuple[Op, S, S], str] = {
    (Op.REPLACE, S.REPLACEMENT_PENDING, S.REPLACED): "Art. 24",
    (Op.REPLACE, S.LOSS_REGISTERED, S.INVALIDATED): "Art. 21, 24",  # lost while being replaced: void
    (Op.REJECT, S.REPLACEMENT_PENDING, S.ACTIVE): "Art. 24, 25",
    (Op.REJECT, S.REPLACEMENT_PENDING, S.ISSUED): "Art. 24, 25",
}


def event_article(op: str, source: str | None, target: str | None) -> str | None:
    """The article allowing an event (op, from, to): a row of TRANSITIONS or a side effect; else None."""
    src = S(source) if source else None
    for t in TRANSITION_INDEX.get((Op(op), src), ()):
        if (target or None) == (t.target or src):
            return t.article
    return SIDE_EFFECTS.get((Op(op), src, S(target))) if src and target else None


def article_of(op: Op) -> str:
    """The article of an operation's ordinary row."""
    return next(t.article for t in TRANSITIONS if t.op is op)

_ANYONE_STAFF = (R.BUREAU, R.AGENCY_CLERK, R.BANK_TELLER, R.APP_AGENCY)

CHANNELS: dict[Op, tuple[tuple[C, R], ...]] = {
    Op.APPLY: ((C.ONLINE, R.RESIDENT), (C.OUTLET, R.BANK_TELLER)),  # Art. 7; door-to-door is an outlet mode (Art. 8)
    Op.ACCEPT: ((C.AGENCY, R.AGENCY_CLERK),),  # Art. 5, 10
    Op.REJECT: ((C.AGENCY, R.AGENCY_CLERK),),  # Art. 4
    Op.START_PRODUCTION: ((C.AGENCY, R.AGENCY_CLERK),),  # Art. 5
    Op.FINISH_PRODUCTION: ((C.AGENCY, R.AGENCY_CLERK),),
    Op.DISPATCH: ((C.AGENCY, R.AGENCY_CLERK),),  # Art. 12
    Op.DELIVER: ((C.AGENCY, R.AGENCY_CLERK),),  # courier's proof of delivery, recorded by the agency
    Op.PICK_UP: ((C.OUTLET, R.BANK_TELLER),),  # Art. 12
    Op.ISSUE_INSTANTLY: ((C.OUTLET, R.BANK_TELLER),),  # Art. 10 ¶2, 25 ¶2: instant outlets only
    Op.ACTIVATE: ((C.OUTLET, R.BANK_TELLER),),  # Art. 6
    Op.REGISTER_LOSS: (  # Art. 21: online, 12345, the bank's hotline, or an outlet
        (C.ONLINE, R.RESIDENT), (C.GOV_HOTLINE, R.HOTLINE_OPERATOR),
        (C.BANK_HOTLINE, R.BANK_TELLER), (C.OUTLET, R.BANK_TELLER),
    ),
    Op.DEREGISTER_LOSS: ((C.OUTLET, R.BANK_TELLER),),  # Art. 22: only in person at an outlet
    Op.REISSUE: ((C.ONLINE, R.RESIDENT), (C.OUTLET, R.BANK_TELLER)),  # Art. 23
    Op.REPLACE: ((C.OUTLET, R.BANK_TELLER),),  # Art. 24: no online channel is named
    Op.CONFIRM_UNBIND: ((C.OUTLET, R.BANK_TELLER),),  # Art. 24 ¶2: the former bank
    Op.CANCEL: (  # Art. 26: the issuing agency, or a government feed; Art. 6: at the bank
        (C.AGENCY, R.AGENCY_CLERK), (C.GOV_FEED, R.SYSTEM), (C.OUTLET, R.BANK_TELLER),
    ),
    Op.LOCK_FIELD: ((C.OUTLET, R.BANK_TELLER), (C.ONLINE, R.RESIDENT)),  # Art. 6
    Op.UNLOCK_FIELD: ((C.OUTLET, R.BANK_TELLER),),  # Art. 6: unlocking needs the holder in person
    Op.INQUIRE_STATUS: (  # Art. 6, 20
        (C.ONLINE, R.RESIDENT), *((C.OUTLET, r) for r in (R.BANK_TELLER,)),
        *((C.AGENCY, r) for r in _ANYONE_STAFF),
    ),
    Op.CHANGE_PIN: ((C.OUTLET, R.BANK_TELLER), (C.ONLINE, R.RESIDENT)),  # Art. 6, 19: knows the old PIN
    Op.RESET_PIN: ((C.OUTLET, R.BANK_TELLER),),  # Art. 19: identity verified in person
    Op.CHANGE_INFO: ((C.OUTLET, R.BANK_TELLER), (C.AGENCY, R.AGENCY_CLERK), (C.ONLINE, R.RESIDENT)),
}

# In-person steps that need the holder's own valid ID document checked, and recorded (持本人有效身份证件):
# the article that requires it. Online and by telephone no document is shown (Art. 7, 21, 23).
ID_CHECK_REQUIRED: dict[tuple[Op, C], str] = {
    (Op.APPLY, C.OUTLET): "Art. 7",  # door-to-door service too: an outlet's way of serving (Art. 8 ¶2)
    (Op.ISSUE_INSTANTLY, C.OUTLET): "Art. 10 ¶2, 25 ¶2",  # urgent first card, reissue or replacement
    (Op.REGISTER_LOSS, C.OUTLET): "Art. 21",
    (Op.DEREGISTER_LOSS, C.OUTLET): "Art. 22",
    (Op.REISSUE, C.OUTLET): "Art. 23",
    (Op.RESET_PIN, C.OUTLET): "Art. 19",  # only the holder uses the card and its PIN
}

# Articles for channel refusals.
CHANNEL_ARTICLES: dict[Op, str] = {
    Op.APPLY: "Art. 7", Op.REGISTER_LOSS: "Art. 21", Op.DEREGISTER_LOSS: "Art. 22",
    Op.REISSUE: "Art. 23", Op.REPLACE: "Art. 24", Op.CANCEL: "Art. 26", Op.RESET_PIN: "Art. 19",
    Op.ISSUE_INSTANTLY: "Art. 10 ¶2, 25 ¶2", Op.CONFIRM_UNBIND: "Art. 24 ¶2",
}


def channel_refusal(op: Op, role: R | str | None, channel: C | None = None) -> ChannelNotAllowed:
    """The refusal of ``op`` by ``role`` (through ``channel``, when known) that the channel table
    does not list, naming the article: the lifecycle service raises it, and so does the API's role
    policy for the endpoint of a lifecycle operation."""
    allowed = ", ".join(f"{c} by {r}" for c, r in CHANNELS[op])
    article = CHANNEL_ARTICLES.get(op) or article_of(op)
    if channel:
        return ChannelNotAllowed("'{op}' cannot be done through {channel} by {role}; allowed: {allowed}.",
                                 article=article, params={"op": op, "channel": channel, "role": role, "allowed": allowed})
    return ChannelNotAllowed("'{op}' cannot be done by {role}; allowed: {allowed}.", article=article,
                             params={"op": op, "role": role, "allowed": allowed})


def roles_for(op: Op) -> tuple[R, ...]:
    """The roles that may do ``op`` through some channel: the API's policy for its endpoint.
    SYSTEM acts through feeds, never through the API."""
    return tuple(dict.fromkeys(r for _, r in CHANNELS[op] if r is not R.SYSTEM))


def markdown_table() -> str:
    """The state table and the channel table as Markdown (docs/lifecycle.md)."""
    lines = [
        "# The card lifecycle", "",
        "Generated by `make lifecycle-doc` from `app/services/lifecycle_rules.py`; a test keeps it current.", "",
        "States: applied → accepted → in_production → produced → (in_transit →) issued → active; "
        "loss_registered and replacement_pending while in use; terminal: rejected, invalidated, replaced, "
        "cancelled. A card in `replacement_pending` becomes `replaced` when its replacement is issued (Art. 24).",
        "", "## State table", "",
        "| operation | from | to | article |", "|---|---|---|---|",
    ]
    for t in TRANSITIONS:
        lines.append(f"| {t.op} | {t.source or '—'} | {t.target or '(unchanged)'} | {t.article} |")
    lines += ["", "## Side effects on the predecessor card", "", "| operation on the new card | predecessor from | to | article |",
              "|---|---|---|---|"]
    for (op, frm, to), article in SIDE_EFFECTS.items():
        lines.append(f"| {op} | {frm} | {to} | {article} |")
    lines += ["", "## Channel table (who, through which channel)", "", "| operation | channel × role |", "|---|---|"]
    for op, pairs in CHANNELS.items():
        lines.append(f"| {op} | " + ", ".join(f"{c} × {r}" for c, r in pairs) + " |")
    lines += ["", "## In person with the holder's own valid ID document (持本人有效身份证件), checked and recorded",
              "", "| operation | channel | article |", "|---|---|---|"]
    for (op, channel), article in ID_CHECK_REQUIRED.items():
        lines.append(f"| {op} | {channel} | {article} |")
    return "\n".join(lines) + "\n"
