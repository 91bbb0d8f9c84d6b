"""Issue 13 #18: every document type's holder gets a version-7 QR code at level M for names of up to
4 hanzi, with the 6-byte card reference the app issues (ecard/README.md §8), because the letters of
an assigned number are packed like its digits instead of travelling as text (Art. 35: the e-card is
shown and scanned like the card)."""
from __future__ import annotations

import pytest

from app.models.enums import CardStatus
from ecard.qr import qr_version
from ecard.token import decode_token
from tests.factories import citizen_id

DOCUMENTS = {  # doc_type -> (doc_number, nationality)
    "resident_id": (lambda: citizen_id(), None),
    "hk_macao_resident_permit": (lambda: citizen_id(region="810000"), None),
    "hk_macao_travel_permit": (lambda: "H12345678", None),
    "taiwan_travel_permit": (lambda: "12345678", None),
    "passport": (lambda: "E12345678", "USA"),
}


@pytest.mark.parametrize("name", ["张三", "欧阳娜娜"])
@pytest.mark.parametrize("doc_type", sorted(DOCUMENTS))
def test_every_document_type_gets_qr_version_7_up_to_4_hanzi_art35(world, issuer, doc_type, name):
    number, nationality = DOCUMENTS[doc_type]
    person = world.person(doc_type=doc_type, doc_number=number(), nationality=nationality, name=name)
    card = world.card(CardStatus.ACTIVE, person=person)
    (issued,) = issuer.issue(world.session, card.person_id)
    claims = decode_token(issued.token).claims
    assert len(claims.card_ref) == 6 and claims.name == name and "*" in claims.masked_id
    assert qr_version(issued.token) == 7, (doc_type, claims.masked_id, len(issued.token))
