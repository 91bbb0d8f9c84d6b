"""The card fee and its waivers (Art. 27)."""
from __future__ import annotations

from datetime import date

from app.models.enums import CardKind, FeeWaiver, ReplacementReason


def one_year_after(d: date) -> date:
    try:
        return d.replace(year=d.year + 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year + 1, day=28)


def card_fee(
    kind: CardKind,
    *,
    fee_fen: int,
    today: date,
    replacement_reason: ReplacementReason | None = None,
    quality_defect: bool = False,
    previous_received_on: date | None = None,
) -> tuple[int, FeeWaiver | None]:
    """Return (fee in fen, waiver). Art. 27: waived (1) for a first application, (2) for a
    replacement (换领, never a reissue) within one year of receiving the card, when a quality
    defect made it unusable. Otherwise the configured fee."""
    if kind is CardKind.FIRST:
        return 0, FeeWaiver.FIRST_CARD
    if (
        kind is CardKind.REPLACEMENT
        and replacement_reason is ReplacementReason.DAMAGED
        and quality_defect
        and previous_received_on is not None
        and today <= one_year_after(previous_received_on)
    ):
        return 0, FeeWaiver.QUALITY_DEFECT_WITHIN_YEAR
    return fee_fen, None
