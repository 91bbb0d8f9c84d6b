"""Family e-cards (亲情服务, Art. 19, 20, 35): thin views over ``app.services.family``.

* the guardian: ``/api/me/family`` (list, add, consent code, the member's e-card tokens, removal);
* the member: ``/api/me/family/guardians`` (who holds a link to me, every token shown for me, removal);
* staff at a counter: ``/api/family/links/...`` (look up, the member's consent at an outlet, removal).

No person id appears in a resident's URL: a link id, resolved against the caller's own links only.
"""
from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields, validate

from app.api.common import Blueprint, commit
from app.api.ecard import EcardTokenRequest, EcardTokens
from app.api.me import _phone_limited
from app.api.schemas import DocumentQuery
from app.auth import allow, current_actor
from app.extensions import db
from app.models import Person
from app.models.enums import Role
from app.models.family import Relation
from app.privacy import mask_name
from app.services import family, otp

blp = Blueprint("family", __name__, url_prefix="/api",
                description="Family e-cards (亲情服务): a holder shows a family member's e-card (Art. 19, 20, 35)")


def _name(person_id: int) -> str:
    p = db.session.get(Person, person_id)
    return mask_name(p.name) if p else "?"


class LinkOut(Schema):
    id = fields.Integer()
    relation = fields.String()
    status = fields.String(metadata={"description": "pending (gives nothing) | active | removed"})
    consent = fields.String(allow_none=True, metadata={"description": "code | outlet | minor"})
    created_at = fields.DateTime()
    confirmed_at = fields.DateTime(allow_none=True)
    removed_at = fields.DateTime(allow_none=True)
    removed_by = fields.String(allow_none=True)


class MemberOut(LinkOut):
    member = fields.Function(lambda link: _name(link.member_id), metadata={"description": "masked name"})


class GuardianOut(LinkOut):
    guardian = fields.Function(lambda link: _name(link.guardian_id), metadata={"description": "masked name"})


class StaffLinkOut(MemberOut, GuardianOut):
    pass


class AddIn(DocumentQuery):
    relation = fields.String(required=True, validate=validate.OneOf([str(r) for r in Relation]),
                             metadata={"description": "limits per kind: " + ", ".join(
                                 f"{r} {n}" for r, n in family.LIMITS.items())})
    name = fields.String(required=True, validate=validate.Length(min=1, max=60),
                         metadata={"description": "the member's name, as on their document"})


class AddedOut(Schema):
    link = fields.Nested(MemberOut)
    code_sent = fields.Boolean(metadata={"description": "a consent code went to the member's mobile"})
    sent_to = fields.String(allow_none=True, metadata={"description": "the member's mobile, masked"})


class CodeIn(Schema):
    code = fields.String(required=True, load_only=True, validate=validate.Regexp(r"^[0-9]{6}$"))


class ViewOut(Schema):
    ref = fields.Integer(metadata={"description": "audit entry number (quote it in a complaint, Art. 29)"})
    at = fields.DateTime()
    link_id = fields.Integer()
    guardian = fields.String(metadata={"description": "masked name"})
    tokens = fields.Integer()
    valid_until = fields.Integer(allow_none=True)


class ViewsQuery(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class OutletConsentIn(DocumentQuery):
    id_verified = fields.Boolean(required=True, metadata={"description": "the member's own document was checked"})


def _added(a: family.Added) -> dict:
    return {"link": a.link, "code_sent": a.code_sent, "sent_to": a.masked_phone}


# ---------------------------------------------------------------- the guardian


@blp.route("/me/family")
@allow(Role.RESIDENT)
@blp.response(200, MemberOut(many=True))
def my_family():
    """Your family members: pending (waiting for the member's consent) and active links."""
    return family.members_of(db.session, current_actor().person_id)


@blp.route("/me/family", methods=["POST"])
@allow(Role.RESIDENT)
@_phone_limited
@blp.arguments(AddIn)
@blp.response(201, AddedOut)
def add_member(body):
    """Add a family member by their document and name. A child under 18 (``child``) is linked at once;
    an adult agrees with the code sent to THEIR mobile (``…/consent``), or at a bank outlet (Art. 19)."""
    added = family.add_member(db.session, current_actor(), relation=body["relation"], doc_type=body["doc_type"],
                              doc_number=body["doc_number"], nationality=body.get("nationality"),
                              name=body["name"], settings=otp.OtpSettings.from_app())
    commit()
    return _added(added)


@blp.route("/me/family/<int:link_id>")
@allow(Role.RESIDENT)
@blp.response(200, MemberOut)
def my_member(link_id):
    """One of your family members."""
    return family.member_link(db.session, current_actor(), link_id)


@blp.route("/me/family/<int:link_id>/consent-code", methods=["POST"])
@allow(Role.RESIDENT)
@_phone_limited
@blp.response(202, AddedOut)
def resend_consent_code(link_id):
    """A new consent code to the member's mobile (the earlier one stops working)."""
    added = family.resend_code(db.session, current_actor(), link_id, otp.OtpSettings.from_app())
    commit()
    return _added(added)


@blp.route("/me/family/<int:link_id>/consent", methods=["POST"])
@allow(Role.RESIDENT)
@_phone_limited
@blp.arguments(CodeIn)
@blp.response(200, MemberOut)
def confirm_consent(body, link_id):
    """The code the member received (and told you): the link becomes active (5 wrong codes close it)."""
    link = family.confirm_code(db.session, current_actor(), link_id, body["code"], otp.OtpSettings.from_app())
    commit()
    return link


@blp.route("/me/family/<int:link_id>/ecard/tokens", methods=["POST"])
@allow(Role.RESIDENT)
@blp.arguments(EcardTokenRequest)
@blp.response(200, EcardTokens)
def member_tokens(body, link_id):
    """The MEMBER's e-card tokens (their card, status and locks), refused as theirs would be (cancelled
    card: Art. 26). Each batch is recorded for the member to see, naming you (Art. 19, 20)."""
    tokens = family.member_tokens(db.session, current_actor(), link_id, current_app.extensions["ecard_issuer"],
                                  count=body["count"])
    commit()
    first = tokens[0]
    out = {"token": first.token, "issued_at": first.issued_at, "expires_at": first.expires_at,
           "refresh_after": first.refresh_after}
    if len(tokens) > 1:
        out["batch"] = [{"token": t.token, "issued_at": t.issued_at, "expires_at": t.expires_at} for t in tokens]
    return out


@blp.route("/me/family/<int:link_id>/removal", methods=["POST"])
@allow(Role.RESIDENT)
@blp.response(200, MemberOut)
def remove_member(link_id):
    """Remove a family member: their e-card is no longer shown to you, at once."""
    link = family.remove(db.session, current_actor(), link_id)
    commit()
    return link


# ---------------------------------------------------------------- the member


@blp.route("/me/family/guardians")
@allow(Role.RESIDENT)
@blp.response(200, GuardianOut(many=True))
def my_guardians():
    """Who holds (or held) a link to show YOUR e-card (Art. 19, 20)."""
    return family.guardians_of(db.session, current_actor().person_id)


@blp.route("/me/family/guardians/views")
@allow(Role.RESIDENT)
@blp.arguments(ViewsQuery, location="query")
@blp.response(200, ViewOut(many=True))
def my_card_views(query):
    """Every batch of your e-card tokens shown to a family guardian, with who asked, newest first (Art. 20)."""
    return family.views_of(db.session, current_actor().person_id, limit=query["limit"])


@blp.route("/me/family/guardians/<int:link_id>/removal", methods=["POST"])
@allow(Role.RESIDENT)
@blp.response(200, GuardianOut)
def remove_guardian(link_id):
    """End a guardian's link to your e-card: no token is shown to them from now on."""
    link = family.remove(db.session, current_actor(), link_id)
    commit()
    return link


# ---------------------------------------------------------------- staff at a counter


@blp.route("/family/links/lookup", methods=["POST"])
@allow(*family.STAFF_READERS)
@blp.arguments(DocumentQuery)
@blp.response(200, StaffLinkOut(many=True))
def staff_lookup(body):
    """A person's family links, as member and as guardian (audited read, Art. 16)."""
    links = family.staff_links(db.session, current_actor(), body["doc_type"], body["doc_number"],
                               body.get("nationality"))
    commit()
    return links


@blp.route("/family/links/<int:link_id>/consent", methods=["POST"])
@allow(*family.STAFF_CONFIRMERS)
@blp.arguments(OutletConsentIn)
@blp.response(200, StaffLinkOut)
def staff_consent(body, link_id):
    """The member agrees in person at the outlet, with their own document checked (Art. 19)."""
    link = family.confirm_at_outlet(db.session, current_actor(), link_id, doc_type=body["doc_type"],
                                    doc_number=body["doc_number"], nationality=body.get("nationality"),
                                    id_verified=body["id_verified"])
    commit()
    return link


@blp.route("/family/links/<int:link_id>/removal", methods=["POST"])
@allow(*family.STAFF_REMOVERS)
@blp.response(200, StaffLinkOut)
def staff_removal(link_id):
    """Remove a family link at the member's request at a counter: issuance stops at once."""
    link = family.remove(db.session, current_actor(), link_id)
    commit()
    return link
